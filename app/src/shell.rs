//! The HTML document and the top-level router.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, Lazy};

use crate::components::guard::{initial_user, provide_current_user};
use crate::components::layout::{NotFound, PageFrame};
use crate::routes::{
    AuditRoute, BatchRoute, DomainsRoute, EdgesRoute, KeysRoute, LoginRoute, OverviewRoute,
    PurgeRoute, TaskRoute, TasksRoute, UsersRoute,
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

    view! {
        <Stylesheet id="purger" href="/pkg/purger.css"/>
        <Title text="Purger"/>
        <Router>
            <PageFrame>
                <Routes fallback=|| {
                    mark_hydrated();
                    view! { <NotFound/> }
                }>
                    <Route path=path!("/") view={Lazy::<OverviewRoute>::new()}/>
                    <Route path=path!("/login") view={Lazy::<LoginRoute>::new()}/>
                    <Route path=path!("/purge") view={Lazy::<PurgeRoute>::new()}/>
                    <Route path=path!("/tasks") view={Lazy::<TasksRoute>::new()}/>
                    <Route path=path!("/tasks/:id") view={Lazy::<TaskRoute>::new()}/>
                    <Route path=path!("/batches/:id") view={Lazy::<BatchRoute>::new()}/>
                    <Route path=path!("/keys") view={Lazy::<KeysRoute>::new()}/>
                    <Route path=path!("/admin/users") view={Lazy::<UsersRoute>::new()}/>
                    <Route path=path!("/admin/domains") view={Lazy::<DomainsRoute>::new()}/>
                    <Route path=path!("/admin/edges") view={Lazy::<EdgesRoute>::new()}/>
                    <Route path=path!("/admin/audit") view={Lazy::<AuditRoute>::new()}/>
                </Routes>
            </PageFrame>
        </Router>
    }
}

/// Marks `<body data-hydrated="true">` once the page that calls it has hydrated (an effect runs
/// in the browser only, after the view that made it): the marker tells tests, and people, that
/// the page's buttons work. Each page calls it, since a lazy route's page hydrates after its WASM
/// part has loaded, later than the shell.
pub(crate) fn mark_hydrated() {
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
