//! `/batches/{id}`: a submission's tasks with live progress.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::tasks::get_batch;
use crate::components::guard::RequireUser;
use crate::components::live::use_live_progress;
use crate::components::progress::{ProgressBar, StatusBadge};

/// The batch page.
#[component]
pub fn BatchPage() -> impl IntoView {
    view! { <RequireUser><Batch/></RequireUser> }
}

#[component]
fn Batch() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let batch = Resource::new(id, get_batch);
    let live = use_live_progress();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <h1>{t.batch_title} <code>{id}</code></h1>
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match batch.await {
                    Err(error) => view! { <p class="error">{locale.error(&error)}</p> }.into_any(),
                    Ok(tasks) => view! {
                        <section class="card">
                            <table class="table">
                                <thead><tr><th>{t.col_target}</th><th>{t.col_status}</th><th>{t.col_progress}</th></tr></thead>
                                <tbody>
                                    {tasks.into_iter().map(|task| {
                                        let task_id = task.id.clone();
                                        let now = move || live.read().get(&task_id).cloned();
                                        let base = task.clone();
                                        let status = Signal::derive({ let base = base.clone(); let now = now.clone(); move || now().map(|p| p.status).unwrap_or(base.status.clone()) });
                                        let success = Signal::derive({ let now = now.clone(); move || now().map(|p| p.success).unwrap_or(base.success) });
                                        let failed = Signal::derive({ let now = now.clone(); move || now().map(|p| p.failed).unwrap_or(base.failed) });
                                        let total = Signal::derive(move || now().map(|p| p.total).unwrap_or(base.total));
                                        view! {
                                            <tr data-testid="batch-task">
                                                <td><a href=format!("/tasks/{}", task.id)>{task.target.clone()}</a></td>
                                                <td><StatusBadge status/></td>
                                                <td><ProgressBar success failed total/></td>
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
    }
}
