//! The frame around every page: header with navigation and the language switch, main area,
//! footer.

use leptos::either::Either;
use leptos::prelude::*;

use super::guard::use_current_user;
use crate::api::auth::{set_language, sign_out};
use crate::i18n::{use_locale, use_texts, Locale};

/// Header with the product name, navigation and languages, the page itself, and a footer with
/// the version.
#[component]
pub fn PageFrame(children: Children) -> impl IntoView {
    let t = use_texts();
    let on_sign_out = move |_| {
        leptos::task::spawn_local(async move {
            if sign_out().await.is_ok() {
                let _ = window().location().set_href("/login");
            }
        });
    };
    let nav = match use_current_user() {
        Some(user) => Either::Left(view! {
            <nav class="site-nav" aria-label=t.nav_label>
                <a href="/">{t.nav_overview}</a>
                <a href="/purge">{t.nav_purge}</a>
                <a href="/tasks">{t.nav_tasks}</a>
                <a href="/keys">{t.nav_keys}</a>
                {user.is_admin.then(|| view! {
                    <a href="/admin/users">{t.nav_users}</a>
                    <a href="/admin/domains">{t.nav_domains}</a>
                    <a href="/admin/edges">{t.nav_edges}</a>
                    <a href="/admin/audit">{t.nav_audit}</a>
                })}
            </nav>
            <div class="who">
                <span data-testid="signed-in-as">{user.username}</span>
                <button class="button link" on:click=on_sign_out>{t.sign_out}</button>
            </div>
        }),
        None => Either::Right(view! {
            <nav class="site-nav" aria-label=t.nav_label><a href="/login">{t.sign_in}</a></nav>
        }),
    };
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Purger"</a>
            {nav}
            <LanguageSwitch/>
        </header>
        <main class="site-main">{children()}</main>
        <footer class="site-footer">
            <span>{concat!("Purger ", env!("CARGO_PKG_VERSION"))}</span>
        </footer>
    }
}

/// One button per language; the choice is saved (a cookie, and the user's preference when
/// signed in), then the page loads again in it.
#[component]
fn LanguageSwitch() -> impl IntoView {
    let current = use_locale();
    let t = use_texts();
    let choose = move |locale: Locale| {
        leptos::task::spawn_local(async move {
            if set_language(locale.tag().to_owned()).await.is_ok() {
                let _ = window().location().reload();
            }
        });
    };
    view! {
        <div class="languages" role="group" aria-label=t.language>
            {Locale::ALL.into_iter().map(|locale| view! {
                <button class="button link" lang=locale.tag() aria-pressed=(locale == current).to_string()
                    data-testid=format!("language-{}", locale.tag())
                    on:click=move |_| choose(locale)>
                    {locale.name()}
                </button>
            }).collect_view()}
        </div>
    }
}

/// Shown for any path the router does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let t = use_texts();
    view! {
        <section class="card">
            <h1>{t.not_found_title}</h1>
            <p>{t.not_found_body} <a href="/">{t.back_to_overview}</a></p>
        </section>
    }
}
