//! The HTML document and the top-level router.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::guard::{initial_user, provide_current_user};
use crate::components::layout::{NotFound, PageFrame};
use crate::pages::admin::{
    audit::AuditPage, domains::DomainsPage, edges::EdgesPage, users::UsersPage,
};
use crate::pages::{
    batch::BatchPage, keys::KeysPage, login::LoginPage, overview::OverviewPage, purge::PurgePage,
    task::TaskPage, tasks::TasksPage,
};

/// The whole HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    // The browser reads the language back from here before hydrating (see `i18n`).
    let lang = crate::i18n::initial_locale().tag();
    // And the signed-in user from here (see `components::guard`).
    let user = initial_user().and_then(|user| serde_json::to_string(&user).ok());
    view! {
        <!DOCTYPE html>
        <html lang=lang>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body data-user=user>
                <App/>
            </body>
        </html>
    }
}

/// Sends this page's Content-Security-Policy: inline scripts only with this response's nonce
/// (the hydration script), script files only from this origin, WASM compilation allowed,
/// everything else from this origin, no framing. Inline style attributes stay allowed (progress bar widths).
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The dashboard application: stylesheet, title and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    crate::i18n::provide_locale();
    provide_current_user();
    // Effects only run in the browser: the marker tells tests (and people) hydration finished.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="purger" href="/pkg/purger.css"/>
        <Title text="Purger"/>
        <Router>
            <PageFrame>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=OverviewPage/>
                    <Route path=path!("/login") view=LoginPage/>
                    <Route path=path!("/purge") view=PurgePage/>
                    <Route path=path!("/tasks") view=TasksPage/>
                    <Route path=path!("/tasks/:id") view=TaskPage/>
                    <Route path=path!("/batches/:id") view=BatchPage/>
                    <Route path=path!("/keys") view=KeysPage/>
                    <Route path=path!("/admin/users") view=UsersPage/>
                    <Route path=path!("/admin/domains") view=DomainsPage/>
                    <Route path=path!("/admin/edges") view=EdgesPage/>
                    <Route path=path!("/admin/audit") view=AuditPage/>
                </Routes>
            </PageFrame>
        </Router>
    }
}
