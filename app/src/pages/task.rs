//! `/tasks/{id}`: timeline, per-node results grouped by failure reason, retry.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::tasks::{get_task, RetryTask};
use crate::components::guard::RequireUser;
use crate::components::live::use_live_progress;
use crate::components::progress::{ProgressBar, StatusBadge};

/// The task detail page.
#[component]
pub fn TaskPage() -> impl IntoView {
    view! { <RequireUser><Task/></RequireUser> }
}

#[component]
fn Task() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let retry = ServerAction::<RetryTask>::new();
    let live = use_live_progress();
    // Reload when a retry was accepted, and when live progress says the task ended.
    let finished_live = move || {
        live.read()
            .get(&id())
            .map(|p| p.status == "success" || p.status == "failed")
            .unwrap_or(false)
    };
    let detail = Resource::new(
        move || (id(), retry.version().get(), finished_live()),
        |(id, _, _)| get_task(id),
    );
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(error) => view! { <section class="card"><h1>{t.task_title}</h1><p class="error" data-testid="task-error">{locale.error(&error)}</p></section> }.into_any(),
                    Ok(detail) => {
                        let task = detail.task.clone();
                        let task_id = task.id.clone();
                        let now = move || live.read().get(&task_id).cloned();
                        let status = Signal::derive({ let base = task.status.clone(); let now = now.clone(); move || now().map(|p| p.status).unwrap_or(base.clone()) });
                        let success = Signal::derive({ let now = now.clone(); move || now().map(|p| p.success).unwrap_or(task.success) });
                        let failed = Signal::derive({ let now = now.clone(); move || now().map(|p| p.failed).unwrap_or(task.failed) });
                        let total = Signal::derive(move || now().map(|p| p.total).unwrap_or(task.total));
                        let can_retry = task.status == "failed" && detail.failures.iter().any(|g| g.reason != "unsupported");
                        let retry_id = task.id.clone();
                        view! {
                            <h1>{t.task_title}</h1>
                            <section class="card">
                                <p class="target"><code data-testid="task-target">{task.target.clone()}</code></p>
                                <p><StatusBadge status/>" " <span data-testid="task-kind">{task.describe(t)}</span> " · " {task.domain.clone()} " · " {task.username.clone()}</p>
                                <ProgressBar success failed total/>
                                <ol class="timeline">
                                    <li>{t.created_at} {task.created_at.clone()}</li>
                                    <li>{t.started_at} {task.started_at.clone().unwrap_or_else(|| "—".into())}</li>
                                    <li>{t.finished_at} {task.finished_at.clone().unwrap_or_else(|| "—".into())}</li>
                                </ol>
                                <p><a href=format!("/batches/{}", task.batch_id)>{t.whole_batch}</a></p>
                                {can_retry.then(|| view! {
                                    <button class="button" data-testid="retry" disabled=move || retry.pending().get()
                                        on:click=move |_| { retry.dispatch(RetryTask { id: retry_id.clone() }); }>
                                        {t.retry_failed}
                                    </button>
                                })}
                            </section>
                            <section class="card">
                                <h2>{t.failed_by_reason}</h2>
                                {if detail.failures.is_empty() {
                                    view! { <p class="muted">{t.no_node_failed}</p> }.into_any()
                                } else {
                                    let total = task.total.max(1);
                                    view! {
                                        <ul class="reasons" data-testid="failure-groups">
                                            {detail.failures.into_iter().map(|group| {
                                                let width = group.nodes.len() as f64 * 100.0 / f64::from(total);
                                                view! {
                                                    <li>
                                                        <div class="reason"><strong>{group.reason.clone()}</strong>" · "{group.nodes.len()}{t.nodes_suffix}</div>
                                                        <div class="bar"><span style:width=format!("{width:.1}%")></span></div>
                                                        <details>
                                                            <summary>{t.nodes_summary}</summary>
                                                            <ul class="plain">{group.nodes.into_iter().map(|(ip, attempts, detail)| view! {
                                                                <li><code>{ip}</code>" — "{attempts}{t.attempts_suffix}{detail}</li>
                                                            }).collect_view()}</ul>
                                                        </details>
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </section>
                            <section class="card">
                                <h2>{t.confirmed_nodes}</h2>
                                <p class="muted">{detail.success_ips.len()}{t.nodes_suffix}</p>
                                {if task.verify || task.prefetch_after {
                                    // Per node: what the fetch after its purge found.
                                    let (verify, warm) = (task.verify, task.prefetch_after);
                                    let rows = detail.success_ips.iter().map(|ip| {
                                        let mut notes = Vec::new();
                                        if verify {
                                            notes.push(if detail.unverified_ips.contains(ip) { t.note_unverified } else { t.note_verified });
                                        }
                                        if warm {
                                            notes.push(if detail.unprefetched_ips.contains(ip) { t.note_unprefetched } else { t.note_prefetched });
                                        }
                                        view! { <li><code>{ip.clone()}</code>{t.confirmed_with}{notes.join(", ")}</li> }
                                    }).collect_view();
                                    view! { <ul class="plain" data-testid="node-results">{rows}</ul> }.into_any()
                                } else {
                                    view! { <p class="ips">{detail.success_ips.join(", ")}</p> }.into_any()
                                }}
                                {task.verify.then(|| view! {
                                    <p data-testid="verification">{(t.verification)(
                                        detail.success_ips.len().saturating_sub(detail.unverified_ips.len()),
                                        detail.unverified_ips.len(),
                                        &if detail.unverified_ips.is_empty() { String::new() } else { format!(" ({})", detail.unverified_ips.join(", ")) },
                                    )}</p>
                                })}
                                {task.prefetch_after.then(|| view! {
                                    <p data-testid="prefetched">{(t.prefetched_again)(task.prefetched, task.total)}</p>
                                })}
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
