//! `/admin/domains`: domains and their assignment to users and edge groups.

use leptos::prelude::*;

use crate::api::admin::{admin_domains, AdminAddDomain};
use crate::components::guard::RequireUser;

/// The domains page.
#[component]
pub fn DomainsPage() -> impl IntoView {
    view! { <RequireUser admin=true><Domains/></RequireUser> }
}

#[component]
fn Domains() -> impl IntoView {
    let add = ServerAction::<AdminAddDomain>::new();
    let domains = Resource::new(move || add.version().get(), |_| admin_domains());
    view! {
        <h1>"Domains"</h1>
        <section class="card">
            <h2>"Add or assign"</h2>
            <ActionForm action=add attr:class="inline">
                <label>"Host" <input name="host" required placeholder="www.example.com or *.example.com"/></label>
                <label>"Users" <input name="users" placeholder="alice, bob"/></label>
                <label>"Edge groups" <input name="groups" placeholder="eu-varnish"/></label>
                <button type="submit" class="button">"Save"</button>
            </ActionForm>
            {move || add.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        </section>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match domains.await {
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    Ok(domains) => view! {
                        <section class="card">
                            <table class="table">
                                <thead><tr><th>"Host"</th><th>"Users"</th><th>"Edge groups"</th></tr></thead>
                                <tbody>{domains.into_iter().map(|d| view! {
                                    <tr><td>{d.host}</td><td>{d.users.join(", ")}</td><td>{d.groups.join(", ")}</td></tr>
                                }).collect_view()}</tbody>
                            </table>
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
