//! The signed-in user, known before the page renders, and guards for pages that need one.
//!
//! The server looks the session up once per page request (`server/src/middleware/page_user.rs`)
//! and puts the user into the request; the page renders with it synchronously and writes it into
//! `<body data-user>`, which the browser reads back before hydrating. No resource is shared
//! between the header and the page, so nothing waits on a second reader of one future.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::models::SessionUser;

/// The body attribute carrying the signed-in user, as JSON, from the server to the browser.
pub const USER_ATTRIBUTE: &str = "data-user";

/// The signed-in user of this page (`None` when nobody is), shared by [`provide_current_user`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser(pub Option<SessionUser>);

/// The page's user as the server found it: from the request on the server, from
/// `<body data-user>` in the browser.
pub fn initial_user() -> Option<SessionUser> {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<SessionUser>().cloned())
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .body()
            .and_then(|body| body.get_attribute(USER_ATTRIBUTE))
            .and_then(|json| serde_json::from_str(&json).ok())
    }
}

/// Puts the page's user into the context of every component.
pub fn provide_current_user() {
    provide_context(CurrentUser(initial_user()));
}

/// The page's user (`None` when nobody is signed in).
pub fn use_current_user() -> Option<SessionUser> {
    use_context::<CurrentUser>().and_then(|current| current.0)
}

/// Renders `children` for a signed-in user (an admin when `admin`); sends others to `/login`
/// (a `302` when the server renders the page).
#[component]
pub fn RequireUser(
    /// Only admins may see the page.
    #[prop(optional)]
    admin: bool,
    /// The page.
    children: Children,
) -> impl IntoView {
    let t = crate::i18n::use_texts();
    match use_current_user() {
        Some(user) if !admin || user.is_admin => EitherOf3::A(children()),
        Some(_) => EitherOf3::B(view! {
            <section class="card"><h1>{t.admins_only}</h1><p>{t.admins_only_body}</p></section>
        }),
        None => EitherOf3::C(view! { <Redirect path="/login"/> }),
    }
}
