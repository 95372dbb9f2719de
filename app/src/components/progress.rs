//! A task's progress bar and counters.

use leptos::prelude::*;

/// Confirmed and failed shares of `total`, with the counts as text.
#[component]
pub fn ProgressBar(
    /// Confirmed nodes.
    #[prop(into)]
    success: Signal<u32>,
    /// Failed nodes.
    #[prop(into)]
    failed: Signal<u32>,
    /// All nodes.
    #[prop(into)]
    total: Signal<u32>,
) -> impl IntoView {
    let share = move |part: u32| {
        let total = total.get();
        if total == 0 {
            0.0
        } else {
            f64::from(part) * 100.0 / f64::from(total)
        }
    };
    let t = crate::i18n::use_texts();
    view! {
        <div class="progress" role="progressbar" aria-valuemin="0"
            aria-valuemax=move || total.get() aria-valuenow=move || success.get() + failed.get()>
            <span class="ok" style:width=move || format!("{:.1}%", share(success.get()))></span>
            <span class="bad" style:width=move || format!("{:.1}%", share(failed.get()))></span>
        </div>
        <span class="counts" data-testid="progress-counts">
            {move || (t.progress_counts)(success.get(), total.get(), failed.get())}
        </span>
    }
}

/// A status as a coloured badge.
#[component]
pub fn StatusBadge(
    /// `created`, `running`, `success` or `failed`.
    #[prop(into)]
    status: Signal<String>,
) -> impl IntoView {
    let t = crate::i18n::use_texts();
    // The class and `data-status` keep the stored value; the text is the language's word.
    view! {
        <span class=move || format!("badge {}", status.get()) data-status=status data-testid="task-status">
            {move || t.status(&status.get()).to_owned()}
        </span>
    }
}
