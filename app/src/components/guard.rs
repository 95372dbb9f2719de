//! The signed-in user, loaded once per page, and guards for pages that need one.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::auth::current_user;
use crate::api::error::AppError;
use crate::models::SessionUser;

/// The current user, shared through context by [`provide_current_user`].
#[derive(Clone, Copy)]
pub struct CurrentUser(pub Resource<Result<Option<SessionUser>, AppError>>);

/// Loads the current user for the whole page.
pub fn provide_current_user() {
    provide_context(CurrentUser(Resource::new(|| (), |_| current_user())));
}

/// Renders `children` for a signed-in user (an admin when `admin`); sends others to `/login`.
#[component]
pub fn RequireUser(
    /// Only admins may see the page.
    #[prop(optional)]
    admin: bool,
    /// The page.
    children: ChildrenFn,
) -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    let children = StoredValue::new(children);
    let t = crate::i18n::use_texts();
    view! {
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) if !admin || user.is_admin => EitherOf3::A(children.read_value()()),
                    Ok(Some(_)) => EitherOf3::B(view! {
                        <section class="card"><h1>{t.admins_only}</h1><p>{t.admins_only_body}</p></section>
                    }),
                    _ => EitherOf3::C(view! { <Redirect path="/login"/> }),
                }
            })}
        </Transition>
    }
}
