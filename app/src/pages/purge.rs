//! `/purge`: one box per kind, validated as you type, delete or invalidate, a choice of edge
//! groups, everything on a domain behind a typed confirmation, then a verdict per line.

use leptos::prelude::*;

use crate::api::purges::{purge_choices, CheckTargets, SubmitPrefetch, SubmitPurge};
use crate::components::guard::RequireUser;
use crate::models::{DomainGroups, LineVerdict, PurgeForm};

/// The purge form.
#[component]
pub fn PurgePage() -> impl IntoView {
    view! { <RequireUser><PurgeForm/></RequireUser> }
}

/// What the form holds, shared by its parts.
#[derive(Clone, Copy)]
struct FormState {
    urls: RwSignal<String>,
    prefixes: RwSignal<String>,
    regexes: RwSignal<String>,
    tags: RwSignal<String>,
    domain: RwSignal<String>,
    invalidate: RwSignal<bool>,
    groups: RwSignal<Vec<String>>,
    verify: RwSignal<bool>,
    prefetch_after: RwSignal<bool>,
}

impl FormState {
    fn request(&self, everything: bool) -> SubmitPurge {
        let boxes = |signal: RwSignal<String>| {
            if everything {
                String::new()
            } else {
                signal.get()
            }
        };
        SubmitPurge {
            form: PurgeForm {
                urls: boxes(self.urls),
                prefixes: boxes(self.prefixes),
                regexes: boxes(self.regexes),
                tags: boxes(self.tags),
                domain: self.domain.get(),
                everything,
                mode: if self.invalidate.get() {
                    "invalidate"
                } else {
                    "delete"
                }
                .to_owned(),
                groups: self.groups.get().join(","),
                verify: !everything && self.verify.get(),
                prefetch_after: !everything && self.prefetch_after.get(),
            },
        }
    }
}

#[component]
fn PurgeForm() -> impl IntoView {
    let form = FormState {
        urls: RwSignal::new(String::new()),
        prefixes: RwSignal::new(String::new()),
        regexes: RwSignal::new(String::new()),
        tags: RwSignal::new(String::new()),
        domain: RwSignal::new(String::new()),
        invalidate: RwSignal::new(false),
        groups: RwSignal::new(Vec::new()),
        verify: RwSignal::new(false),
        prefetch_after: RwSignal::new(false),
    };
    let choices = Resource::new(|| (), |_| purge_choices());
    // The first plain domain is chosen until the user types another.
    Effect::new(move |_| {
        if let Some(Ok(choices)) = choices.get() {
            if form.domain.get_untracked().is_empty() {
                if let Some((first, _)) = choices.domains.iter().find(|(d, _)| !d.starts_with("*."))
                {
                    form.domain.set(first.clone());
                }
            }
        }
    });
    let submit = ServerAction::<SubmitPurge>::new();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        submit.dispatch(form.request(false));
    };
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <h1>{t.purge_title}</h1>
        <form class="card" on:submit=on_submit>
            <TargetBox kind="url" label=t.urls_label hint=t.urls_hint text=form.urls domain=form.domain/>
            <TargetBox kind="prefix" label=t.prefixes_label hint=t.prefixes_hint text=form.prefixes domain=form.domain/>
            <TargetBox kind="regex" label=t.regexes_label hint=t.regexes_hint text=form.regexes domain=form.domain/>
            <DomainChoices choices form/>
            <TargetBox kind="tag" label=t.tags_label hint=t.tags_hint text=form.tags domain=form.domain/>
            <fieldset class="field">
                <legend>{t.mode_legend}</legend>
                <label><input type="radio" name="mode" value="delete" data-testid="mode-delete"
                    prop:checked=move || !form.invalidate.get() on:change=move |_| form.invalidate.set(false)/>
                    {t.mode_delete}</label>
                <label><input type="radio" name="mode" value="invalidate" data-testid="mode-invalidate"
                    prop:checked=move || form.invalidate.get() on:change=move |_| form.invalidate.set(true)/>
                    {t.mode_invalidate}</label>
            </fieldset>
            <fieldset class="field">
                <legend>{t.after_legend}</legend>
                <label><input type="checkbox" data-testid="verify"
                    prop:checked=move || form.verify.get() on:change=move |ev| form.verify.set(event_target_checked(&ev))/>
                    {t.verify_label}</label>
                <label><input type="checkbox" data-testid="prefetch-after"
                    prop:checked=move || form.prefetch_after.get() on:change=move |ev| form.prefetch_after.set(event_target_checked(&ev))/>
                    {t.prefetch_after_label}</label>
            </fieldset>
            <button type="submit" class="button" data-testid="submit-purge" disabled=move || submit.pending().get()>{t.purge_button}</button>
        </form>
        <Prefetch groups=form.groups/>
        <Everything form submit/>
        {move || submit.value().get().map(|result| match result {
            Err(error) => view! { <p class="error" role="alert">{locale.error(&error)}</p> }.into_any(),
            Ok(result) => view! {
                <section class="card" data-testid="verdicts">
                    <h2>{t.result}</h2>
                    {result.batch_id.map(|id| view! {
                        <p><a href=format!("/batches/{id}") data-testid="batch-link">{t.watch_purge}</a></p>
                    })}
                    {result.warnings.into_iter().map(|warning| view! { <p class="warning" data-testid="warning">{locale.message(&warning)}</p> }).collect_view()}
                    <Verdicts verdicts=result.verdicts/>
                </section>
            }.into_any(),
        })}
    }
}

/// The domain tags and everything are on (one of the user's, or a host under a wildcard one),
/// and the edge groups to purge on (all when none is ticked).
#[component]
fn DomainChoices(
    choices: Resource<Result<DomainGroups, crate::api::error::AppError>>,
    form: FormState,
) -> impl IntoView {
    // The field and the fieldset are there from the first paint (the fieldset keeps a line for
    // its boxes), so that nothing below moves when the choices arrive.
    let loaded = move || choices.get().and_then(Result::ok);
    let t = crate::i18n::use_texts();
    view! {
        <div class="field">
            <label for="purge-domain">{t.domain_label}</label>
            <input id="purge-domain" list="purge-domains" data-testid="purge-domain"
                prop:value=move || form.domain.get() on:input=move |ev| form.domain.set(event_target_value(&ev))/>
            <datalist id="purge-domains">
                <Transition fallback=|| ()>
                    {move || loaded().map(|choices| choices.domains.into_iter().map(|(domain, _)| view! { <option value=domain></option> }).collect_view())}
                </Transition>
            </datalist>
        </div>
        <fieldset class="field groups" data-testid="purge-groups">
            <legend>{t.groups_legend}</legend>
            <Transition fallback=|| ()>
                {move || loaded().map(|choices| choices.groups().into_iter().map(|group| {
                    let name = group.clone();
                    let toggled = group.clone();
                    view! {
                        <label><input type="checkbox" value=group.clone()
                            prop:checked=move || form.groups.get().contains(&name)
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                form.groups.update(|groups| {
                                    groups.retain(|g| *g != toggled);
                                    if on { groups.push(toggled.clone()); }
                                });
                            }/>" "{group}</label>
                    }
                }).collect_view())}
            </Transition>
        </fieldset>
    }
}

/// Prefetch (预热): URLs fetched through the edges (of the ticked groups), at most a few of one
/// domain at once.
#[component]
fn Prefetch(groups: RwSignal<Vec<String>>) -> impl IntoView {
    let urls = RwSignal::new(String::new());
    let prefetch = ServerAction::<SubmitPrefetch>::new();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <section class="card">
            <h2>{t.prefetch_title}</h2>
            <p class="muted">{t.prefetch_help}</p>
            <textarea rows="3" placeholder=t.prefetch_placeholder data-testid="box-prefetch" aria-label=t.prefetch_aria
                prop:value=move || urls.get() on:input=move |ev| urls.set(event_target_value(&ev))></textarea>
            <button type="button" class="button" data-testid="submit-prefetch" disabled=move || prefetch.pending().get()
                on:click=move |_| { prefetch.dispatch(SubmitPrefetch { urls: urls.get(), groups: groups.get().join(",") }); }>
                {t.prefetch_button}
            </button>
            {move || prefetch.value().get().map(|result| match result {
                Err(error) => view! { <p class="error" role="alert">{locale.error(&error)}</p> }.into_any(),
                Ok(result) => view! {
                    <div data-testid="prefetch-verdicts">
                        {result.batch_id.map(|id| view! { <p><a href=format!("/batches/{id}")>{t.watch_prefetch}</a></p> })}
                        <Verdicts verdicts=result.verdicts/>
                    </div>
                }.into_any(),
            })}
        </section>
    }
}

/// "Purge everything on this domain", confirmed by typing the domain.
#[component]
fn Everything(form: FormState, submit: ServerAction<SubmitPurge>) -> impl IntoView {
    let asking = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let confirmed = move || {
        let domain = form.domain.get();
        !domain.trim().is_empty() && typed.get().trim().eq_ignore_ascii_case(domain.trim())
    };
    let t = crate::i18n::use_texts();
    view! {
        <section class="card danger">
            <h2>{t.everything_title}</h2>
            <p class="muted">{t.everything_help}</p>
            <button type="button" class="button danger" data-testid="everything-start"
                on:click=move |_| { typed.set(String::new()); asking.set(true); }>
                {t.everything_start}
            </button>
            <Show when=move || asking.get()>
                <div class="confirm" role="dialog" aria-label=t.everything_dialog data-testid="everything-confirm">
                    <p>{t.everything_type_before} <code>{move || form.domain.get()}</code> {t.everything_type_after}</p>
                    <input data-testid="everything-typed" aria-label=t.everything_typed_aria
                        prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev))/>
                    <button type="button" class="button danger" data-testid="everything-submit"
                        disabled=move || !confirmed() || submit.pending().get()
                        on:click=move |_| { asking.set(false); submit.dispatch(form.request(true)); }>
                        {t.everything_submit}
                    </button>
                    <button type="button" class="button secondary" on:click=move |_| asking.set(false)>{t.cancel}</button>
                </div>
            </Show>
        </section>
    }
}

/// One textarea with its inline, per-line validation (tags are checked on `domain`).
#[component]
fn TargetBox(
    kind: &'static str,
    label: &'static str,
    hint: &'static str,
    text: RwSignal<String>,
    domain: RwSignal<String>,
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
                    check.dispatch(CheckTargets { kind: kind.to_owned(), text: value, domain: domain.get_untracked() });
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
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <ul class="verdicts">
            {verdicts.into_iter().map(|v| {
                let class = if v.ok { "ok" } else { "bad" };
                // Refusal codes stay as they are, beside the translated reason.
                let message = locale.message(&v.message);
                let detail = match (&v.code, &v.task_id) {
                    (Some(code), _) => format!("{code}: {message}"),
                    (None, Some(task)) => (t.verdict_task)(&message, task),
                    _ => message,
                };
                view! {
                    <li class=class data-testid="verdict">
                        <code>{v.target.clone()}</code>" — "{detail}
                        {v.task_id.clone().map(|task| view! { " " <a href=format!("/tasks/{task}")>{t.details}</a> })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}
