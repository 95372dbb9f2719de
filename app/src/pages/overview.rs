//! `/`: today's quota per kind, recent tasks and their success rate.

use leptos::prelude::*;

use crate::api::auth::ChangePassword;
use crate::api::charts::overview_charts;
use crate::api::purges::today_quota;
use crate::api::tasks::{list_tasks, TaskListQuery};
use crate::components::charts::OverviewCharts;
use crate::components::guard::RequireUser;
use crate::components::progress::StatusBadge;

/// The landing page of the dashboard.
#[component]
pub fn OverviewPage() -> impl IntoView {
    view! { <RequireUser><Overview/></RequireUser> }
}

/// Changes the signed-in user's own password.
#[component]
fn ChangePasswordForm() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <section class="card">
            <h2>{t.change_password}</h2>
            <ActionForm action=change attr:class="inline">
                <label>{t.current_password} " " <input name="current" type="password" autocomplete="current-password" required data-testid="current-password"/></label>
                <label>{t.new_password} " " <input name="new_password" type="password" autocomplete="new-password" minlength="8" required data-testid="new-password"/></label>
                <button type="submit" class="button" data-testid="change-password">{t.change}</button>
            </ActionForm>
            <p role="status" data-testid="password-result">{move || match change.value().get() {
                None => String::new(),
                Some(Ok(())) => t.password_changed.to_owned(),
                Some(Err(error)) => locale.error(&error),
            }}</p>
        </section>
    }
}

#[component]
fn Overview() -> impl IntoView {
    let quota = Resource::new(|| (), |_| today_quota());
    let recent = Resource::new(|| (), |_| list_tasks(TaskListQuery::default()));
    let charts = Resource::new(|| (), |_| overview_charts());
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <h1>{t.overview_title}</h1>
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            <ErrorBoundary fallback=move |errors| view! { <p class="error">{move || errors.get().into_iter().map(|(_, error)| {
                match error.downcast_ref::<crate::api::error::AppError>() {
                    Some(error) => locale.error(error),
                    None => error.to_string(),
                }
            }).collect::<Vec<_>>().join(" ")}</p> }>
                {move || Suspend::new(async move {
                    let quota = quota.await?;
                    Ok::<_, crate::api::error::AppError>(view! {
                        <section class="card">
                            <h2>{t.quota_today}</h2>
                            <p class="muted" data-testid="quota-window">{quota.window.clone()}</p>
                            <div class="gauges">
                                {quota.kinds.into_iter().map(|kind| {
                                    let label = (t.quota_used_of)(&locale.number(kind.used.into()), &locale.number(kind.limit.into()));
                                    view! {
                                        <div class="gauge" data-testid=format!("quota-{}", kind.kind)>
                                            <h3>{t.kind(&kind.kind).to_owned()}</h3>
                                            <meter min="0" max=kind.limit value=kind.used aria-label=label.clone()></meter>
                                            <p><strong>{locale.number(kind.left.into())}</strong>{t.quota_left}{label}</p>
                                        </div>
                                    }
                                }).collect_view()}
                            </div>
                            <p class="muted">{(t.per_request)(quota.per_request)}</p>
                        </section>
                    })
                })}
                {move || Suspend::new(async move {
                    let (tasks, _) = recent.await?;
                    let finished: Vec<_> = tasks.iter().filter(|t| t.status == "success" || t.status == "failed").collect();
                    let rate = if finished.is_empty() {
                        t.no_finished_task.to_owned()
                    } else {
                        let ok = finished.iter().filter(|t| t.status == "success").count();
                        (t.success_rate)(ok as f64 * 100.0 / finished.len() as f64, finished.len())
                    };
                    Ok::<_, crate::api::error::AppError>(view! {
                        <section class="card">
                            <h2>{t.recent_tasks}</h2>
                            <p class="muted" data-testid="success-rate">{rate}</p>
                            <ul class="plain">
                                {tasks.into_iter().take(10).map(|task| view! {
                                    <li>
                                        <StatusBadge status=task.status.clone()/>" "
                                        <a href=format!("/tasks/{}", task.id)>{task.target.clone()}</a>
                                        <span class="muted">" · "{task.created_at.clone()}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                            <p><a href="/purge" class="button">{t.new_purge}</a></p>
                        </section>
                        <ChangePasswordForm/>
                    })
                })}
            </ErrorBoundary>
        </Transition>
        // Apart and last: the charts read 30 days and may come after the first paint; then
        // only what is below them (the footer, off screen) moves.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                charts.await.ok().map(|data| view! { <OverviewCharts data/> })
            })}
        </Transition>
    }
}
