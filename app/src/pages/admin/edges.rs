//! `/admin/edges`: the fleet at scale. Counts per health state at the top, a search and a state
//! filter (in the address, so a filtered view can be shared), a page of nodes as one table per
//! group, bulk enable/disable of the ticked nodes, a node's recent results on click, and the
//! bulk import.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::fleet::{
    admin_fleet, admin_fleet_history, admin_node, AdminImportNodes, AdminSetNodes,
};
use crate::components::charts::FleetHealthChart;
use crate::components::guard::RequireUser;
use crate::models::{GroupRow, NodeDetail};

/// The edges page.
#[component]
pub fn EdgesPage() -> impl IntoView {
    view! { <RequireUser admin=true><Edges/></RequireUser> }
}

#[component]
fn Edges() -> impl IntoView {
    let import = ServerAction::<AdminImportNodes>::new();
    let set = ServerAction::<AdminSetNodes>::new();
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).unwrap_or_default();
    let fleet = Resource::new(
        move || {
            let page = param("page").parse().unwrap_or(0);
            (
                param("q"),
                param("state"),
                page,
                import.version().get(),
                set.version().get(),
            )
        },
        |(search, state, page, _, _)| admin_fleet(search, state, page),
    );
    let selected = RwSignal::new(BTreeSet::<i64>::new());
    // A change of the fleet (or of the filter) starts a new selection.
    Effect::new(move |_| {
        set.version().get();
        query.track();
        selected.set(BTreeSet::new());
    });
    let shown = RwSignal::new(None::<(i64, String)>);
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let href = move |state: &str, page: usize| {
        let mut q = query.get();
        q.replace("state", state.to_owned());
        q.replace("page", page.to_string());
        format!("/admin/edges{}", q.to_query_string())
    };
    let bulk = move |enabled: bool| {
        let ids: Vec<String> = selected.get().iter().map(i64::to_string).collect();
        set.dispatch(AdminSetNodes {
            ids: ids.join(","),
            enabled,
        });
    };
    view! {
        <h1>{t.edges_title}</h1>
        <form class="card filters" method="get" action="/admin/edges">
            <label>{t.search} " " <input name="q" type="search" placeholder=t.search_placeholder
                prop:value=move || param("q") data-testid="fleet-search"/></label>
            <label>{t.col_health} " " <select name="state" prop:value=move || param("state") data-testid="fleet-state">
                <option value="">{t.all_states}</option>
                {["healthy", "degraded", "failing", "disabled", "never_purged"].map(|s| view! {
                    <option value=s>{t.health_state(s)}</option>
                }).collect_view()}
            </select></label>
            <button type="submit" class="button">{t.filter}</button>
        </form>
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match fleet.await {
                    Err(error) => view! { <p class="error">{locale.error(&error)}</p> }.into_any(),
                    Ok(fleet) => {
                        let page = fleet.page;
                        let pages = fleet.pages;
                        view! {
                            <ul class="state-counts" data-testid="fleet-counts">
                                {fleet.counts.into_iter().map(|(state, n)| view! {
                                    <li class=format!("state {state}") data-testid=format!("count-{state}")>
                                        <a href=href(&state, 0)>
                                            <strong>{locale.number(n as u64)}</strong>" "{t.health_state(&state)}
                                        </a>
                                    </li>
                                }).collect_view()}
                            </ul>
                            <section class="card">
                                <div class="inline bulk">
                                    <span class="muted" data-testid="fleet-matching">{(t.nodes_of)(&locale.number(fleet.matching as u64), &locale.number(fleet.total as u64))}</span>
                                    <span data-testid="selected-count">{move || (t.selected_count)(selected.read().len())}</span>
                                    <button type="button" class="button secondary" data-testid="enable-selected"
                                        disabled=move || selected.read().is_empty() || set.pending().get()
                                        on:click=move |_| bulk(true)>{t.enable_selected}</button>
                                    <button type="button" class="button danger" data-testid="disable-selected"
                                        disabled=move || selected.read().is_empty() || set.pending().get()
                                        on:click=move |_| bulk(false)>{t.disable_selected}</button>
                                </div>
                                {move || set.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{locale.error(&e)}</p> })}
                                {if fleet.groups.is_empty() {
                                    view! { <p class="muted">{t.no_matching_node}</p> }.into_any()
                                } else {
                                    fleet.groups.into_iter().map(|group| view! {
                                        <GroupTable group selected shown set/>
                                    }).collect_view().into_any()
                                }}
                                <nav class="pager" aria-label=(t.page_of)(page + 1, pages)>
                                    {(page > 0).then(|| view! { <a class="button secondary" href=href(&param("state"), page - 1)>{t.previous}</a> })}
                                    <span class="muted" data-testid="fleet-page">{(t.page_of)(page + 1, pages)}</span>
                                    {(page + 1 < pages).then(|| view! { <a class="button secondary" data-testid="next-page" href=href(&param("state"), page + 1)>{t.next}</a> })}
                                </nav>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
        <NodePanel shown/>
        <HealthHistory/>
        <ImportForm import/>
    }
}

/// The fleet's health states over the last 24 hours.
#[component]
fn HealthHistory() -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let history = Resource::new(|| (), |_| admin_fleet_history());
    view! {
        <section class="card charts">
            <h2>{t.chart_fleet_health}</h2>
            <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(history) => view! { <FleetHealthChart history/> }.into_any(),
                        Err(error) => view! { <p class="error">{locale.error(&error)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// One group's nodes of this page, with a box to tick each.
#[component]
fn GroupTable(
    group: GroupRow,
    selected: RwSignal<BTreeSet<i64>>,
    shown: RwSignal<Option<(i64, String)>>,
    set: ServerAction<AdminSetNodes>,
) -> impl IntoView {
    let t = crate::i18n::use_texts();
    let ids: Vec<i64> = group.nodes.iter().map(|n| n.id).collect();
    let all_ids = ids.clone();
    let all_ticked = move || {
        let chosen = selected.read();
        !all_ids.is_empty() && all_ids.iter().all(|id| chosen.contains(id))
    };
    view! {
        <table class="table fleet" data-testid=format!("group-{}", group.name)>
            <caption>{group.name.clone()} <span class="muted">" · "{group.protocol.clone()}</span></caption>
            <thead><tr>
                <th><input type="checkbox" aria-label=t.select_page prop:checked=all_ticked
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        selected.update(|chosen| for id in &ids {
                            if on { chosen.insert(*id); } else { chosen.remove(id); }
                        });
                    }/></th>
                <th>{t.col_address}</th><th>{t.col_health}</th><th>{t.col_last_success}</th>
                <th>{t.col_failed_recent}</th><th></th>
            </tr></thead>
            <tbody>
                {group.nodes.into_iter().map(|node| {
                    let id = node.id;
                    let enabled = node.enabled;
                    let addr = node.addr.clone();
                    view! {
                        <tr class=if enabled { "on" } else { "off" } data-testid="node" data-state=node.state.clone()>
                            <td><input type="checkbox" aria-label=t.select_node data-testid="select-node"
                                prop:checked=move || selected.read().contains(&id)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    selected.update(|chosen| { if on { chosen.insert(id); } else { chosen.remove(&id); } });
                                }/></td>
                            <td><button type="button" class="button link" data-testid="node-addr"
                                on:click=move |_| shown.set(Some((id, addr.clone())))><code>{node.addr.clone()}</code></button></td>
                            <td><span class=format!("health {}", node.state) data-testid="node-health">{t.health_state(&node.state)}</span></td>
                            <td>{node.last_success.clone().unwrap_or_else(|| "—".into())}</td>
                            <td>{node.failed_percent.map(|p| (t.failed_of_recent)(f64::from(p), node.recent)).unwrap_or_else(|| "—".into())}</td>
                            <td><button type="button" class="button link" data-testid="toggle-node"
                                on:click=move |_| { set.dispatch(AdminSetNodes { ids: id.to_string(), enabled: !enabled }); }>
                                {if enabled { t.disable } else { t.enable }}
                            </button></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The recent results of the node last clicked.
#[component]
fn NodePanel(shown: RwSignal<Option<(i64, String)>>) -> impl IntoView {
    let detail = LocalResource::new(move || {
        let node = shown.get();
        async move {
            match node {
                Some((id, addr)) => admin_node(id, addr).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let body = move |detail: NodeDetail| {
        view! {
            <section class="card node-detail" data-testid="node-detail" aria-live="polite">
                <h2>{t.recent_results} " " <code>{detail.addr.clone()}</code></h2>
                <p>{detail.last_success.clone().map(|at| (t.last_success)(&at)).unwrap_or_else(|| t.no_success_yet.into())}</p>
                {detail.last_failure.clone().map(|(at, why)| view! { <p>{(t.last_failure)(&at, &why)}</p> })}
                {if detail.outcomes.is_empty() {
                    view! { <p class="muted">{t.no_recent_purge}</p> }.into_any()
                } else {
                    view! {
                        <p class="outcomes" data-testid="node-outcomes" title=t.outcomes_help>
                            {detail.outcomes.iter().map(|failed| if *failed { "✗" } else { "✓" }).collect::<String>()}
                        </p>
                        <p class="muted">{t.outcomes_help}</p>
                    }.into_any()
                }}
                <button type="button" class="button secondary" on:click=move |_| shown.set(None)>{t.close}</button>
            </section>
        }
    };
    move || match detail.get() {
        Some(Ok(Some(detail))) => Some(body(detail).into_any()),
        Some(Err(error)) => Some(view! { <p class="error">{locale.error(&error)}</p> }.into_any()),
        _ => None,
    }
}

/// CSV import into a group (created when new).
#[component]
fn ImportForm(import: ServerAction<AdminImportNodes>) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <section class="card">
            <h2>{t.import_nodes}</h2>
            <ActionForm action=import>
                <div class="inline">
                    <label>{t.group} " " <input name="group" required data-testid="import-group"/></label>
                    <label>{t.protocol_new} " " <select name="protocol">
                        <option value="varnish">"varnish"</option><option value="nginx">"nginx"</option>
                        <option value="squid">"squid"</option><option value="ats">"ats"</option>
                    </select></label>
                </div>
                <label for="csv">{t.csv_help}</label>
                <textarea id="csv" name="csv" rows="4" data-testid="import-csv" placeholder="10.0.0.1,80"></textarea>
                <button type="submit" class="button" data-testid="import-nodes">{t.import}</button>
            </ActionForm>
            {move || import.value().get().map(|result| match result {
                Ok(summary) => view! { <p data-testid="import-summary">{summary}</p> }.into_any(),
                Err(error) => view! { <p class="error" role="alert">{locale.error(&error)}</p> }.into_any(),
            })}
        </section>
    }
}
