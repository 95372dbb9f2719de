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
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let errors = move || {
        [
            create.value().get().and_then(Result::err),
            update.value().get().and_then(Result::err),
            quota.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .map(|e| locale.error(&e))
        .collect::<Vec<_>>()
        .join(" ")
    };
    view! {
        <h1>{t.users_title}</h1>
        <section class="card">
            <h2>{t.new_user}</h2>
            <ActionForm action=create attr:class="inline">
                <label>{t.user_name} " " <input name="username" required data-testid="new-username"/></label>
                <label>{t.role} " " <select name="role"><option value="developer">{t.role_developer}</option><option value="admin">{t.role_admin}</option></select></label>
                <label>{t.password} " " <input name="password" type="password" required minlength="8" data-testid="new-password"/></label>
                <button type="submit" class="button" data-testid="create-user">{t.create}</button>
            </ActionForm>
            <p class="error" role="alert">{errors}</p>
        </section>
        <Transition fallback=move || view! { <p class="muted">{t.loading}</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Err(error) => view! { <p class="error">{locale.error(&error)}</p> }.into_any(),
                    Ok(users) => view! {
                        <section class="card">
                            <table class="table" data-testid="user-table">
                                <thead><tr><th>{t.col_user}</th><th>{t.role}</th><th>{t.col_state}</th><th>{t.quota_columns}</th><th>{t.last_30_days}</th></tr></thead>
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
                                                    <select aria-label=t.role on:change=move |ev| {
                                                        update.dispatch(AdminUpdateUser { username: n1.clone(), field: "role".into(), value: event_target_value(&ev) });
                                                    }>
                                                        <option value="developer" selected=user.role == "developer">{t.role_developer}</option>
                                                        <option value="admin" selected=user.role == "admin">{t.role_admin}</option>
                                                    </select>
                                                </td>
                                                <td>
                                                    <label><input type="checkbox" checked=user.enabled data-testid="toggle-enabled" on:change=move |ev| {
                                                        update.dispatch(AdminUpdateUser { username: n2.clone(), field: "enabled".into(), value: event_target_checked(&ev).to_string() });
                                                    }/>{t.enabled}</label>
                                                    <label><input type="checkbox" checked=user.can_purge on:change=move |ev| {
                                                        update.dispatch(AdminUpdateUser { username: n3.clone(), field: "can_purge".into(), value: event_target_checked(&ev).to_string() });
                                                    }/>{t.may_purge}</label>
                                                    <details><summary>{t.reset_password}</summary>
                                                        <ActionForm action=update>
                                                            <input type="hidden" name="username" value=name.clone()/>
                                                            <input type="hidden" name="field" value="password"/>
                                                            <input name="value" type="password" minlength="8" aria-label=t.new_password/>
                                                            <button type="submit" class="button secondary">{t.set}</button>
                                                        </ActionForm>
                                                    </details>
                                                </td>
                                                <td>
                                                    <ActionForm action=quota attr:class="quota">
                                                        <input type="hidden" name="username" value=n4/>
                                                        <input name="limits[url]" value=limits.url.to_string() size="6" aria-label=t.per_day_url data-testid="quota-url"/>
                                                        <input name="limits[prefix]" value=limits.prefix.to_string() size="4" aria-label=t.per_day_prefix/>
                                                        <input name="limits[regex]" value=limits.regex.to_string() size="4" aria-label=t.per_day_regex/>
                                                        <input name="limits[tag]" value=limits.tag.to_string() size="4" aria-label=t.per_day_tag data-testid="quota-tag"/>
                                                        <input name="limits[everything]" value=limits.everything.to_string() size="3" aria-label=t.per_day_everything/>
                                                        <input name="limits[prefetch]" value=limits.prefetch.to_string() size="4" aria-label=t.per_day_prefetch/>
                                                        <input name="limits[batch]" value=limits.batch.to_string() size="4" aria-label=t.per_request_aria/>
                                                        <button type="submit" class="button secondary" data-testid="save-quota">{t.save}</button>
                                                    </ActionForm>
                                                </td>
                                                <td>
                                                    <div class="spark" aria-label=t.usage_chart>
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
