//! `/purge`: one box per kind, validated as you type, then a verdict per line.

use leptos::prelude::*;

use crate::api::purges::{CheckTargets, SubmitPurge};
use crate::components::guard::RequireUser;
use crate::models::LineVerdict;

/// The purge form.
#[component]
pub fn PurgePage() -> impl IntoView {
    view! { <RequireUser><PurgeForm/></RequireUser> }
}

#[component]
fn PurgeForm() -> impl IntoView {
    let urls = RwSignal::new(String::new());
    let prefixes = RwSignal::new(String::new());
    let regexes = RwSignal::new(String::new());
    let submit = ServerAction::<SubmitPurge>::new();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        submit.dispatch(SubmitPurge {
            urls: urls.get(),
            prefixes: prefixes.get(),
            regexes: regexes.get(),
        });
    };
    view! {
        <h1>"Purge"</h1>
        <form class="card" on:submit=on_submit>
            <TargetBox kind="url" label="URLs" hint="http://www.example.com/a.png — one per line" text=urls/>
            <TargetBox kind="prefix" label="Prefixes" hint="http://www.example.com/static/ — path ends in / or *" text=prefixes/>
            <TargetBox kind="regex" label="Regexes" hint=r"http://www.example.com/img/.*\.png — the path is a regex" text=regexes/>
            <button type="submit" class="button" data-testid="submit-purge" disabled=move || submit.pending().get()>"Purge"</button>
        </form>
        {move || submit.value().get().map(|result| match result {
            Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
            Ok(result) => view! {
                <section class="card" data-testid="verdicts">
                    <h2>"Result"</h2>
                    {result.batch_id.map(|id| view! {
                        <p><a href=format!("/batches/{id}") data-testid="batch-link">"Watch the purge live"</a></p>
                    })}
                    <Verdicts verdicts=result.verdicts/>
                </section>
            }.into_any(),
        })}
    }
}

/// One textarea with its inline, per-line validation.
#[component]
fn TargetBox(
    kind: &'static str,
    label: &'static str,
    hint: &'static str,
    text: RwSignal<String>,
) -> impl IntoView {
    let check = ServerAction::<CheckTargets>::new();
    let id = format!("targets-{kind}");
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <textarea id=id name=kind rows="4" placeholder=hint data-testid=format!("box-{kind}")
                prop:value=move || text.get()
                on:input=move |event| {
                    let value = event_target_value(&event);
                    text.set(value.clone());
                    check.dispatch(CheckTargets { kind: kind.to_owned(), text: value });
                }
            ></textarea>
            {move || check.value().get().and_then(Result::ok).filter(|v| !v.is_empty()).map(|verdicts| view! {
                <Verdicts verdicts/>
            })}
        </div>
    }
}

/// A verdict per line.
#[component]
fn Verdicts(verdicts: Vec<LineVerdict>) -> impl IntoView {
    view! {
        <ul class="verdicts">
            {verdicts.into_iter().map(|v| {
                let class = if v.ok { "ok" } else { "bad" };
                let detail = match (&v.code, &v.task_id) {
                    (Some(code), _) => format!("{code}: {}", v.message),
                    (None, Some(task)) => format!("{} (task {task})", v.message),
                    _ => v.message.clone(),
                };
                view! {
                    <li class=class data-testid="verdict">
                        <code>{v.target.clone()}</code>" — "{detail}
                        {v.task_id.clone().map(|task| view! { " " <a href=format!("/tasks/{task}")>"details"</a> })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}
