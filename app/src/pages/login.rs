//! `/login`: sign in with a user name and password.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::auth::sign_in;

/// The sign-in form; once signed in, the browser loads the overview afresh so that every part
/// of the page sees the new session.
#[component]
pub fn LoginPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let locale = crate::i18n::use_locale();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        pending.set(true);
        spawn_local(async move {
            match sign_in(username.get_untracked(), password.get_untracked()).await {
                Ok(()) => {
                    let _ = window().location().set_href("/");
                }
                Err(failure) => {
                    error.set(locale.error(&failure));
                    pending.set(false);
                }
            }
        });
    };
    let t = locale.texts();
    view! {
        <section class="card narrow">
            <h1>{t.sign_in}</h1>
            <form on:submit=on_submit>
                <label for="username">{t.user_name}</label>
                <input id="username" name="username" autocomplete="username" required
                    on:input=move |ev| username.set(event_target_value(&ev))/>
                <label for="password">{t.password}</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required
                    on:input=move |ev| password.set(event_target_value(&ev))/>
                <button type="submit" class="button" disabled=move || pending.get()>{t.sign_in}</button>
            </form>
            <p class="error" role="alert" data-testid="login-error">{error}</p>
        </section>
    }
}
