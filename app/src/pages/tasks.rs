//! `/tasks`: history with filters, keyset paging and CSV export.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::tasks::{list_tasks, TaskListQuery};
use crate::components::guard::RequireUser;
use crate::components::progress::StatusBadge;

/// The history page.
#[component]
pub fn TasksPage() -> impl IntoView {
    view! { <RequireUser><History/></RequireUser> }
}

#[component]
fn History() -> impl IntoView {
    let query_map = use_query_map();
    let query = move || {
        let q = query_map.read();
        let get = |name: &str| q.get(name).unwrap_or_default();
        TaskListQuery {
            status: get("status"),
            kind: get("kind"),
            domain: get("domain"),
            from: get("from"),
            to: get("to"),
            text: get("text"),
            before: q.get("before").and_then(|b| b.parse().ok()),
        }
    };
    let page = Resource::new(query, list_tasks);
    let export = move || {
        let q = query();
        let pairs = [
            ("status", q.status),
            ("kind", q.kind),
            ("domain", q.domain),
            ("from", q.from),
            ("to", q.to),
            ("text", q.text),
        ];
        let encoded: Vec<String> = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", js_free_encode(&v)))
            .collect();
        format!("/export/tasks.csv?{}", encoded.join("&"))
    };
    let value = move |name: &'static str| move || query_map.read().get(name).unwrap_or_default();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let options = |values: &[&'static str], word: &dyn Fn(&'static str) -> &'static str| {
        values
            .iter()
            .map(|v| view! { <option value=*v>{word(v)}</option> })
            .collect_view()
    };
    view! {
        <h1>{t.tasks_title}</h1>
        <form class="card filters" method="get" action="/tasks">
            <label>{t.col_status} " " <select name="status" prop:value=value("status")>
                <option value="">{t.any}</option>
                {options(&["created", "running", "success", "failed"], &|s| t.status(s))}
            </select></label>
            <label>{t.col_kind} " " <select name="kind" prop:value=value("kind")>
                <option value="">{t.any}</option>
                {options(&["url", "prefix", "regex", "tag", "everything", "prefetch"], &|k| t.kind(k))}
            </select></label>
            <label>{t.col_domain} " " <input name="domain" prop:value=value("domain") placeholder="www.example.com"/></label>
            <label>{t.from} " " <input name="from" type="date" prop:value=value("from")/></label>
            <label>{t.to} " " <input name="to" type="date" prop:value=value("to")/></label>
            <label>{t.text} " " <input name="text" prop:value=value("text") placeholder=t.text_placeholder/></label>
            <button type="submit" class="button">{t.filter}</button>
            <a class="button secondary" href=export data-testid="export-csv">{t.export_csv}</a>
        </form>
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <p class="error">{locale.error(&error)}</p> }.into_any(),
                    Ok((tasks, next)) => {
                        let next_link = next.map(|seq| {
                            let mut q = query_map.get();
                            q.replace("before", seq.to_string());
                            format!("/tasks{}", q.to_query_string())
                        });
                        view! {
                            <section class="card">
                                <table class="table" data-testid="task-table">
                                    <thead><tr><th>{t.col_created}</th><th>{t.col_kind}</th><th>{t.col_target}</th><th>{t.col_status}</th><th>{t.col_nodes}</th><th>{t.col_user}</th></tr></thead>
                                    <tbody>
                                        {tasks.into_iter().map(|task| view! {
                                            <tr data-testid="task-row">
                                                <td>{task.created_at.clone()}</td>
                                                <td data-testid="task-kind">{task.describe(t)}</td>
                                                <td class="target"><a href=format!("/tasks/{}", task.id)>{task.target.clone()}</a>{(task.kind == "tag" || task.kind == "everything").then(|| view! { " " <span class="muted">{(t.on_domain)(&task.domain)}</span> })}</td>
                                                <td><StatusBadge status=task.status.clone()/></td>
                                                <td>{(t.node_counts)(task.success, task.total, task.failed)}</td>
                                                <td>{task.username.clone()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {next_link.map(|href| view! { <p><a href=href class="button secondary" data-testid="next-page">{t.older_tasks}</a></p> })}
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Percent-encodes a query value (no JS needed: works on the server too).
fn js_free_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
