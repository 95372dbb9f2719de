//! The frame around every page: header with navigation, main area, footer.

use leptos::either::Either;
use leptos::prelude::*;

use super::guard::CurrentUser;
use crate::api::auth::sign_out;
use crate::api::system::CheckDatabase;

/// Header with the product name and navigation, the page itself, and a footer with the version.
#[component]
pub fn PageFrame(children: Children) -> impl IntoView {
    let CurrentUser(user) = expect_context::<CurrentUser>();
    let on_sign_out = move |_| {
        leptos::task::spawn_local(async move {
            if sign_out().await.is_ok() {
                let _ = window().location().set_href("/login");
            }
        });
    };
    let nav = move || {
        Suspend::new(async move {
            match user.await {
                Ok(Some(user)) => Either::Left(view! {
                    <nav class="site-nav" aria-label="Main">
                        <a href="/">"Overview"</a>
                        <a href="/purge">"Purge"</a>
                        <a href="/tasks">"Tasks"</a>
                        <a href="/keys">"API keys"</a>
                        {user.is_admin.then(|| view! {
                            <a href="/admin/users">"Users"</a>
                            <a href="/admin/domains">"Domains"</a>
                            <a href="/admin/edges">"Edges"</a>
                            <a href="/admin/audit">"Audit"</a>
                        })}
                    </nav>
                    <div class="who">
                        <span data-testid="signed-in-as">{user.username}</span>
                        <button class="button link" on:click=on_sign_out>"Sign out"</button>
                    </div>
                }),
                _ => Either::Right(
                    view! { <nav class="site-nav" aria-label="Main"><a href="/login">"Sign in"</a></nav> },
                ),
            }
        })
    };
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Purger"</a>
            <Transition fallback=|| ()>{nav}</Transition>
        </header>
        <main class="site-main">{children()}</main>
        <SiteFooter/>
    }
}

/// Version and a database check that only the hydrated page can run.
#[component]
fn SiteFooter() -> impl IntoView {
    let check = ServerAction::<CheckDatabase>::new();
    let result = check.value();
    view! {
        <footer class="site-footer">
            <span>{concat!("Purger ", env!("CARGO_PKG_VERSION"))}</span>
            <button class="button link" data-testid="check-database" on:click=move |_| {
                check.dispatch(CheckDatabase {});
            }>"Check database"</button>
            <output data-testid="database-status" aria-live="polite">
                {move || match result.get() {
                    None => String::new(),
                    Some(Ok(status)) => status.to_string(),
                    Some(Err(error)) => format!("Database check failed: {error}"),
                }}
            </output>
        </footer>
    }
}

/// Shown for any path the router does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Back to the overview"</a></p>
        </section>
    }
}
