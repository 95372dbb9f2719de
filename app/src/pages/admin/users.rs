//! `/admin/users`: create, disable, role, may-purge, reset password, quotas with usage charts.

use leptos::prelude::*;

use crate::api::admin::{admin_users, AdminCreateUser, AdminSetQuota, AdminUpdateUser};
use crate::components::guard::RequireUser;

/// The users page.
#[component]
pub fn UsersPage() -> impl IntoView {
    view! { <RequireUser admin=true><Users/></RequireUser> }
}

#[component]
fn Users() -> impl IntoView {
    let create = ServerAction::<AdminCreateUser>::new();
    let update = ServerAction::<AdminUpdateUser>::new();
    let quota = ServerAction::<AdminSetQuota>::new();
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                update.version().get(),
                quota.version().get(),
            )
        },
        |_| admin_users(),
    );
    let errors = move || {
        [
            create.value().get().and_then(Result::err),
            update.value().get().and_then(Result::err),
            quota.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(" ")
    };
    view! {
        <h1>"Users"</h1>
        <section class="card">
            <h2>"New user"</h2>
            <ActionForm action=create attr:class="inline">
                <label>"User name" <input name="username" required data-testid="new-username"/></label>
                <label>"Role" <select name="role"><option value="developer">"developer"</option><option value="admin">"admin"</option></select></label>
                <label>"Password" <input name="password" type="password" required minlength="8" data-testid="new-password"/></label>
                <button type="submit" class="button" data-testid="create-user">"Create"</button>
            </ActionForm>
            <p class="error" role="alert">{errors}</p>
        </section>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                    Ok(users) => view! {
                        <section class="card">
                            <table class="table" data-testid="user-table">
                                <thead><tr><th>"User"</th><th>"Role"</th><th>"State"</th><th>"Quota per day (url / prefix / regex / tag / everything / prefetch) and per request"</th><th>"Last 30 days"</th></tr></thead>
                                <tbody>
                                    {users.into_iter().map(|user| {
                                        let name = user.username.clone();
                                        let (n1, n2, n3, n4) = (name.clone(), name.clone(), name.clone(), name.clone());
                                        let peak = user.usage.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
                                        let limits = user.limits;
                                        view! {
                                            <tr data-testid=format!("user-{}", user.username)>
                                                <td>{user.username.clone()}</td>
                                                <td>
                                                    <select aria-label="Role" on:change=move |ev| {
                                                        update.dispatch(AdminUpdateUser { username: n1.clone(), field: "role".into(), value: event_target_value(&ev) });
                                                    }>
                                                        <option value="developer" selected=user.role == "developer">"developer"</option>
                                                        <option value="admin" selected=user.role == "admin">"admin"</option>
                                                    </select>
                                                </td>
                                                <td>
                                                    <label><input type="checkbox" checked=user.enabled data-testid="toggle-enabled" on:change=move |ev| {
                                                        update.dispatch(AdminUpdateUser { username: n2.clone(), field: "enabled".into(), value: event_target_checked(&ev).to_string() });
                                                    }/>" enabled"</label>
                                                    <label><input type="checkbox" checked=user.can_purge on:change=move |ev| {
                                                        update.dispatch(AdminUpdateUser { username: n3.clone(), field: "can_purge".into(), value: event_target_checked(&ev).to_string() });
                                                    }/>" may purge"</label>
                                                    <details><summary>"Reset password"</summary>
                                                        <ActionForm action=update>
                                                            <input type="hidden" name="username" value=name.clone()/>
                                                            <input type="hidden" name="field" value="password"/>
                                                            <input name="value" type="password" minlength="8" aria-label="New password"/>
                                                            <button type="submit" class="button secondary">"Set"</button>
                                                        </ActionForm>
                                                    </details>
                                                </td>
                                                <td>
                                                    <ActionForm action=quota attr:class="quota">
                                                        <input type="hidden" name="username" value=n4/>
                                                        <input name="limits[url]" value=limits.url.to_string() size="6" aria-label="URLs per day" data-testid="quota-url"/>
                                                        <input name="limits[prefix]" value=limits.prefix.to_string() size="4" aria-label="Prefixes per day"/>
                                                        <input name="limits[regex]" value=limits.regex.to_string() size="4" aria-label="Regexes per day"/>
                                                        <input name="limits[tag]" value=limits.tag.to_string() size="4" aria-label="Tags per day" data-testid="quota-tag"/>
                                                        <input name="limits[everything]" value=limits.everything.to_string() size="3" aria-label="Everything purges per day"/>
                                                        <input name="limits[prefetch]" value=limits.prefetch.to_string() size="4" aria-label="Prefetches per day"/>
                                                        <input name="limits[batch]" value=limits.batch.to_string() size="4" aria-label="Targets per request"/>
                                                        <button type="submit" class="button secondary" data-testid="save-quota">"Save"</button>
                                                    </ActionForm>
                                                </td>
                                                <td>
                                                    <div class="spark" aria-label="Targets per day, last 30 days">
                                                        {user.usage.into_iter().map(|(day, n)| view! {
                                                            <span title=format!("{day}: {n}") style:height=format!("{}%", (n * 100 / peak).max(2))></span>
                                                        }).collect_view()}
                                                    </div>
                                                </td>
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
