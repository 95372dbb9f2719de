//! `/admin/edges`: edge groups and nodes (bulk import, enable/disable).

use leptos::prelude::*;

use crate::api::admin::{admin_groups, AdminImportNodes, AdminSetNode};
use crate::components::guard::RequireUser;

/// The edges page.
#[component]
pub fn EdgesPage() -> impl IntoView {
    view! { <RequireUser admin=true><Edges/></RequireUser> }
}

#[component]
fn Edges() -> impl IntoView {
    let import = ServerAction::<AdminImportNodes>::new();
    let toggle = ServerAction::<AdminSetNode>::new();
    let groups = Resource::new(
        move || (import.version().get(), toggle.version().get()),
        |_| admin_groups(),
    );
    view! {
        <h1>"Edges"</h1>
        <section class="card">
            <h2>"Import nodes"</h2>
            <ActionForm action=import>
                <div class="inline">
                    <label>"Group" <input name="group" required data-testid="import-group"/></label>
                    <label>"Protocol (new groups)" <select name="protocol">
                        <option value="varnish">"varnish"</option><option value="nginx">"nginx"</option>
                        <option value="squid">"squid"</option><option value="ats">"ats"</option>
                    </select></label>
                </div>
                <label for="csv">"One node per line: ip,port[,enabled]"</label>
                <textarea id="csv" name="csv" rows="4" data-testid="import-csv" placeholder="10.0.0.1,80"></textarea>
                <button type="submit" class="button" data-testid="import-nodes">"Import"</button>
            </ActionForm>
            {move || import.value().get().map(|result| match result {
                Ok(summary) => view! { <p data-testid="import-summary">{summary}</p> }.into_any(),
                Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
            })}
        </section>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match groups.await {
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    Ok(groups) => groups.into_iter().map(|group| view! {
                        <section class="card" data-testid=format!("group-{}", group.name)>
                            <h2>{group.name.clone()} <span class="muted">" · "{group.protocol.clone()}" · "{group.nodes.len()}" nodes"</span></h2>
                            <ul class="nodes">
                                {group.nodes.into_iter().map(|node| {
                                    let id = node.id;
                                    let enabled = node.enabled;
                                    view! {
                                        <li class=if enabled { "on" } else { "off" } data-testid="node">
                                            <code>{node.addr.clone()}</code>
                                            <span class=if node.unhealthy { "health bad" } else { "health" } data-testid="node-health">{node.health.clone()}</span>
                                            <button class="button link" data-testid="toggle-node"
                                                on:click=move |_| { toggle.dispatch(AdminSetNode { id, enabled: !enabled }); }>
                                                {if enabled { "Disable" } else { "Enable" }}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    }).collect_view().into_any(),
                }
            })}
        </Transition>
    }
}
