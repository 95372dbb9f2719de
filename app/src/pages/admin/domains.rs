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
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <h1>{t.domains_title}</h1>
        <section class="card">
            <h2>{t.add_or_assign}</h2>
            <ActionForm action=add attr:class="inline">
                <label>{t.host} " " <input name="host" required placeholder=t.host_placeholder/></label>
                <label>{t.users} " " <input name="users" placeholder="alice, bob"/></label>
                <label>{t.edge_groups} " " <input name="groups" placeholder="eu-varnish"/></label>
                <button type="submit" class="button">{t.save}</button>
            </ActionForm>
            {move || add.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{locale.error(&e)}</p> })}
        </section>
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match domains.await {
                    Err(error) => view! { <p class="error">{locale.error(&error)}</p> }.into_any(),
                    Ok(domains) => view! {
                        <section class="card">
                            <table class="table">
                                <thead><tr><th>{t.host}</th><th>{t.users}</th><th>{t.edge_groups}</th></tr></thead>
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
