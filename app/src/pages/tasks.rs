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
    view! {
        <h1>"Tasks"</h1>
        <form class="card filters" method="get" action="/tasks">
            <label>"Status" <select name="status" prop:value=value("status")>
                <option value="">"any"</option><option value="created">"created"</option><option value="running">"running"</option>
                <option value="success">"success"</option><option value="failed">"failed"</option>
            </select></label>
            <label>"Kind" <select name="kind" prop:value=value("kind")>
                <option value="">"any"</option><option value="url">"url"</option><option value="prefix">"prefix"</option><option value="regex">"regex"</option>
                <option value="tag">"tag"</option><option value="everything">"everything"</option><option value="prefetch">"prefetch"</option>
            </select></label>
            <label>"Domain" <input name="domain" prop:value=value("domain") placeholder="www.example.com"/></label>
            <label>"From" <input name="from" type="date" prop:value=value("from")/></label>
            <label>"To" <input name="to" type="date" prop:value=value("to")/></label>
            <label>"Text" <input name="text" prop:value=value("text") placeholder="part of the target"/></label>
            <button type="submit" class="button">"Filter"</button>
            <a class="button secondary" href=export data-testid="export-csv">"Export CSV"</a>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    Ok((tasks, next)) => {
                        let next_link = next.map(|seq| {
                            let mut q = query_map.get();
                            q.replace("before", seq.to_string());
                            format!("/tasks{}", q.to_query_string())
                        });
                        view! {
                            <section class="card">
                                <table class="table" data-testid="task-table">
                                    <thead><tr><th>"Created"</th><th>"Kind"</th><th>"Target"</th><th>"Status"</th><th>"Nodes"</th><th>"User"</th></tr></thead>
                                    <tbody>
                                        {tasks.into_iter().map(|task| view! {
                                            <tr data-testid="task-row">
                                                <td>{task.created_at.clone()}</td>
                                                <td data-testid="task-kind">{task.describe()}</td>
                                                <td class="target"><a href=format!("/tasks/{}", task.id)>{task.target.clone()}</a>{(task.kind == "tag" || task.kind == "everything").then(|| view! { " " <span class="muted">{format!("on {}", task.domain)}</span> })}</td>
                                                <td><StatusBadge status=task.status.clone()/></td>
                                                <td>{format!("{}/{} ({} failed)", task.success, task.total, task.failed)}</td>
                                                <td>{task.username.clone()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {next_link.map(|href| view! { <p><a href=href class="button secondary" data-testid="next-page">"Older tasks"</a></p> })}
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
