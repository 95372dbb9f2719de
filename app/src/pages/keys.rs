//! `/keys`: the user's API keys (create, shown once, copy, revoke) and ready-to-run examples.

use leptos::prelude::*;

use crate::api::keys::{list_keys, my_domains, CreateKey, RevokeKey};
use crate::components::guard::RequireUser;

/// The API keys page.
#[component]
pub fn KeysPage() -> impl IntoView {
    view! { <RequireUser><Keys/></RequireUser> }
}

#[component]
fn Keys() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_keys(),
    );
    // Fetched in the browser only: the examples are plain reactive text (no Suspense), the same
    // on the server and at hydration, and then follow the domain and a newly created key.
    let domains = LocalResource::new(my_domains);
    let username = crate::components::guard::use_current_user()
        .map(|user| user.username)
        .unwrap_or_default();
    // The examples use this page's own address, known in the browser.
    let origin = RwSignal::new("http://127.0.0.1:3000".to_owned());
    Effect::new(move |_| {
        if let Ok(here) = window().location().origin() {
            origin.set(here);
        }
    });
    let shown = move || create.value().get().and_then(Result::ok);
    let domain = move || {
        domains
            .get()
            .and_then(Result::ok)
            .and_then(|d| d.into_iter().find(|d| !d.starts_with('*')))
            .unwrap_or_else(|| "www.example.com".into())
    };
    let key = move || {
        shown()
            .map(|k| k.key)
            .unwrap_or_else(|| "YOUR_API_KEY".into())
    };
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <h1>{t.keys_title}</h1>
        <section class="card">
            <ActionForm action=create>
                <label for="label">{t.label}</label>
                <input id="label" name="label" placeholder="ci-deploy" maxlength="100"/>
                <label for="key-domains">{t.limit_domains}</label>
                <input id="key-domains" name="domains" placeholder="www.example.com"/>
                <label for="key-kinds">{t.limit_kinds}</label>
                <input id="key-kinds" name="kinds" placeholder="url, prefix"/>
                <label><input type="checkbox" name="read_only" value="on" data-testid="key-read-only"/>{t.limit_read_only}</label>
                <button type="submit" class="button" data-testid="create-key">{t.create_key}</button>
            </ActionForm>
            {move || create.value().get().and_then(Result::err).map(|e| view! { <p class="error">{locale.error(&e)}</p> })}
            {move || shown().map(|key| {
                let secret = key.key.clone();
                view! {
                    <div class="secret" data-testid="new-key">
                        <p>{t.copy_now}</p>
                        <code data-testid="new-key-secret">{key.key.clone()}</code>
                        <button class="button secondary" on:click=move |_| {
                            let clipboard = window().navigator().clipboard();
                            let _ = clipboard.write_text(&secret);
                        }>{t.copy}</button>
                    </div>
                }
            })}
        </section>
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match keys.await {
                    Err(error) => view! { <p class="error">{locale.error(&error)}</p> }.into_any(),
                    Ok(keys) => view! {
                        <section class="card">
                            <table class="table" data-testid="key-table">
                                <thead><tr><th>{t.col_id}</th><th>{t.label}</th><th>{t.col_created}</th><th>{t.col_last_used}</th><th>{t.col_limits}</th><th>{t.col_state}</th><th></th></tr></thead>
                                <tbody>
                                    {keys.into_iter().map(|key| {
                                        let id = key.id.clone();
                                        let revoked = key.revoked_at.is_some();
                                        view! {
                                            <tr data-testid="key-row">
                                                <td><code>{key.id.clone()}</code></td>
                                                <td>{key.label.clone()}</td>
                                                <td>{key.created_at.clone()}</td>
                                                <td>{key.last_used_at.clone().unwrap_or_else(|| t.never.into())}</td>
                                                <td data-testid="key-limits">{limits_text(t, &key)}</td>
                                                <td>{if revoked { (t.revoked_at)(&key.revoked_at.clone().unwrap_or_default()) } else { t.active.into() }}</td>
                                                <td>{(!revoked).then(|| view! {
                                                    <button class="button danger" data-testid="revoke-key"
                                                        on:click=move |_| { revoke.dispatch(RevokeKey { id: id.clone() }); }>{t.revoke}</button>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
        <Examples origin=origin.into() username=Signal::stored(username) domain=Signal::derive(domain) key=Signal::derive(key)/>
    }
}

/// What a key may do, in the page's language (domains and kind names as they are).
fn limits_text(t: &crate::i18n::Texts, key: &crate::models::KeyRow) -> String {
    let mut parts = Vec::new();
    if key.read_only {
        parts.push(t.limits_read_only.to_owned());
    }
    if let Some(domains) = &key.domains {
        parts.push(format!("{}: {}", t.limits_domains, domains.join(", ")));
    }
    if let Some(kinds) = &key.kinds {
        parts.push(format!("{}: {}", t.limits_kinds, kinds.join(", ")));
    }
    if parts.is_empty() {
        t.limits_none.to_owned()
    } else {
        parts.join("; ")
    }
}

/// Ready-to-run examples of the three APIs with the user's name, domain and newest key.
#[component]
fn Examples(
    origin: Signal<String>,
    username: Signal<String>,
    domain: Signal<String>,
    key: Signal<String>,
) -> impl IntoView {
    let seed000 = move || {
        format!(
            "curl '{o}/api/purge?uri=http://{d}/hello.gif&api_key={k}'\ncurl '{o}/api/q?uri=http://{d}/hello.gif&api_key={k}'",
            o = origin.get(),
            d = domain.get(),
            k = key.get()
        )
    };
    let seed004 = move || {
        format!(
            "username=\"{u}\"; apiKey='{k}'\ndate=`env LANG=\"en_US.UTF-8\" date -u \"+%a, %d %b %Y %H:%M:%S GMT\"`\npassword=`echo -en \"$date\" | openssl dgst -sha1 -hmac $apiKey -binary | openssl enc -base64`\ncurl -i --url \"{o}/api/content/regular-url/purge\" -X \"POST\" -u \"$username:$password\" -H \"Date:$date\" -H \"Content-Type: application/json\" -d'{{\"urlRegulars\":[\"http://{d}/test/.*\\\\.txt\"]}}'",
            u = username.get(),
            k = key.get(),
            o = origin.get(),
            d = domain.get()
        )
    };
    let v1 = move || {
        format!(
            "curl -H 'Authorization: Bearer {k}' -H 'Content-Type: application/json' -d '{{\"urls\":[\"http://{d}/a.png\"]}}' {o}/api/v1/purges",
            k = key.get(),
            o = origin.get(),
            d = domain.get()
        )
    };
    let t = crate::i18n::use_texts();
    view! {
        <section class="card">
            <h2>{t.examples}</h2>
            <h3>{t.example_000}</h3><pre data-testid="example-000">{seed000}</pre>
            <h3>{t.example_004}</h3><pre data-testid="example-004">{seed004}</pre>
            <h3>{t.example_v1}</h3><pre data-testid="example-v1">{v1}</pre>
        </section>
    }
}
