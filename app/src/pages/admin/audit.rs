//! `/admin/audit`: every change and every purge, filtered and paged.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::admin::admin_audit;
use crate::components::guard::RequireUser;

/// The audit log page.
#[component]
pub fn AuditPage() -> impl IntoView {
    view! { <RequireUser admin=true><Audit/></RequireUser> }
}

#[component]
fn Audit() -> impl IntoView {
    let query = use_query_map();
    let args = move || {
        let q = query.read();
        (
            q.get("actor").unwrap_or_default(),
            q.get("action").unwrap_or_default(),
            q.get("before").and_then(|b| b.parse().ok()),
        )
    };
    let page = Resource::new(args, |(actor, action, before)| {
        admin_audit(actor, action, before)
    });
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <h1>{t.audit_title}</h1>
        <form class="card filters" method="get" action="/admin/audit">
            <label>{t.actor} " " <input name="actor" prop:value=move || query.read().get("actor").unwrap_or_default()/></label>
            <label>{t.action_prefix} " " <input name="action" placeholder="user. / purge. / node." prop:value=move || query.read().get("action").unwrap_or_default()/></label>
            <button type="submit" class="button">{t.filter}</button>
        </form>
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <p class="error">{locale.error(&error)}</p> }.into_any(),
                    Ok((rows, next)) => view! {
                        <section class="card">
                            <table class="table" data-testid="audit-table">
                                <thead><tr><th>{t.col_when}</th><th>{t.col_who}</th><th>{t.col_what}</th><th>{t.col_subject}</th><th>{t.col_detail}</th></tr></thead>
                                <tbody>{rows.into_iter().map(|row| view! {
                                    <tr><td>{row.at}</td><td>{row.actor}</td><td>{row.action}</td><td><code>{row.subject}</code></td><td class="detail">{row.detail}</td></tr>
                                }).collect_view()}</tbody>
                            </table>
                            {next.map(|before| {
                                let mut q = query.get();
                                q.replace("before", before.to_string());
                                view! { <p><a class="button secondary" href=format!("/admin/audit{}", q.to_query_string())>{t.older}</a></p> }
                            })}
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
