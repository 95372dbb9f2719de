//! Charts drawn as SVG by the server (and the same markup at hydration): no chart library, no
//! script. Each bar carries a `<title>` with its figures, for a pointer and for screen readers.

use leptos::prelude::*;

use crate::i18n::use_texts;
use crate::models::{ChartData, FleetHistory};

/// The drawing's size in SVG units (it scales to the card's width).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
/// Room left under the bars for the day labels.
const AXIS: f64 = 18.0;

/// Both charts of the overview.
#[component]
pub fn OverviewCharts(
    /// The figures.
    data: ChartData,
) -> impl IntoView {
    let t = use_texts();
    let (kinds_title, success_title) = if data.everyone {
        (t.chart_kinds_everyone, t.chart_success_everyone)
    } else {
        (t.chart_kinds, t.chart_success)
    };
    view! {
        <section class="card charts">
            <h2>{kinds_title}</h2>
            <KindsChart days=data.days kinds=data.kinds/>
            <h2>{success_title}</h2>
            <SuccessChart outcomes=data.outcomes/>
        </section>
    }
}

/// Targets per day, stacked by kind, with a legend.
#[component]
fn KindsChart(days: Vec<String>, kinds: Vec<(String, Vec<u32>)>) -> impl IntoView {
    let t = use_texts();
    let totals: Vec<u32> = (0..days.len())
        .map(|i| kinds.iter().map(|(_, counts)| counts[i]).sum())
        .collect();
    let peak = f64::from(totals.iter().copied().max().unwrap_or(0).max(1));
    let slot = WIDTH / days.len().max(1) as f64;
    let scale = (HEIGHT - AXIS) / peak;
    let mut bars = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let mut top = HEIGHT - AXIS;
        for (kind, counts) in &kinds {
            let n = counts[i];
            if n == 0 {
                continue;
            }
            let height = f64::from(n) * scale;
            top -= height;
            let title = format!("{day} · {}: {n}", t.kind(kind));
            bars.push(view! {
                <rect class=format!("kind-{kind}") x=format!("{:.1}", i as f64 * slot + 1.0) y=format!("{top:.1}")
                    width=format!("{:.1}", (slot - 2.0).max(1.0)) height=format!("{height:.1}")>
                    <title>{title}</title>
                </rect>
            });
        }
    }
    let total: u32 = totals.iter().sum();
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" data-testid="chart-kinds"
            aria-label=(t.chart_total)(total)>
            {bars}
            <DayLabels days=days.clone()/>
        </svg>
        <ul class="legend">
            {kinds.iter().map(|(kind, counts)| {
                let sum: u32 = counts.iter().sum();
                view! { <li><span class=format!("swatch kind-{kind}")></span>{t.kind(kind).to_owned()}" "{sum}</li> }
            }).collect_view()}
        </ul>
    }
}

/// The share of each day's finished tasks that succeeded, as bars from 0 to 100 %.
#[component]
fn SuccessChart(outcomes: Vec<(String, u64, u64)>) -> impl IntoView {
    let t = use_texts();
    let slot = WIDTH / outcomes.len().max(1) as f64;
    let finished: u64 = outcomes.iter().map(|(_, ok, bad)| ok + bad).sum();
    let succeeded: u64 = outcomes.iter().map(|(_, ok, _)| ok).sum();
    let bars = outcomes
        .iter()
        .enumerate()
        .filter(|(_, (_, ok, bad))| ok + bad > 0)
        .map(|(i, (day, ok, bad))| {
            let rate = *ok as f64 / (ok + bad) as f64;
            let height = rate * (HEIGHT - AXIS);
            let class = if rate >= 0.99 { "rate good" } else if rate >= 0.5 { "rate fair" } else { "rate poor" };
            view! {
                <rect class=class x=format!("{:.1}", i as f64 * slot + 1.0) y=format!("{:.1}", HEIGHT - AXIS - height)
                    width=format!("{:.1}", (slot - 2.0).max(1.0)) height=format!("{height:.1}")>
                    <title>{(t.chart_day_rate)(day, rate * 100.0, *ok, *bad)}</title>
                </rect>
            }
        })
        .collect_view();
    let days: Vec<String> = outcomes.iter().map(|(day, _, _)| day.clone()).collect();
    let summary = if finished == 0 {
        t.chart_no_tasks.to_owned()
    } else {
        (t.chart_rate_summary)(succeeded as f64 * 100.0 / finished as f64, finished)
    };
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" data-testid="chart-success"
            aria-label=summary.clone()>
            <line class="grid" x1="0" x2=format!("{WIDTH}") y1="0.5" y2="0.5"></line>
            {bars}
            <DayLabels days/>
        </svg>
        <p class="muted" data-testid="chart-success-summary">{summary}</p>
    }
}

/// The first, middle and last day under the bars.
#[component]
fn DayLabels(days: Vec<String>) -> impl IntoView {
    let slot = WIDTH / days.len().max(1) as f64;
    let picks = [0, days.len() / 2, days.len().saturating_sub(1)];
    picks
        .into_iter()
        .filter_map(|i| days.get(i).map(|day| (i, day.clone())))
        .map(|(i, day)| {
            let x = (i as f64 * slot + slot / 2.0).clamp(16.0, WIDTH - 16.0);
            view! { <text class="axis" x=format!("{x:.1}") y=format!("{:.1}", HEIGHT - 4.0) text-anchor="middle">{day}</text> }
        })
        .collect_view()
}

/// Nodes per health state every 10 minutes, stacked (the edges page); a sample's bar carries
/// its time and counts in its `<title>`.
#[component]
pub fn FleetHealthChart(
    /// The samples.
    history: FleetHistory,
) -> impl IntoView {
    let t = use_texts();
    let FleetHistory { states, samples } = history;
    if samples.is_empty() {
        return view! { <p class="muted" data-testid="chart-fleet-empty">{t.chart_no_samples}</p> }
            .into_any();
    }
    let peak = samples
        .iter()
        .map(|(_, counts)| counts.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = (HEIGHT - AXIS) / f64::from(peak);
    let slot = WIDTH / samples.len() as f64;
    let mut bars = Vec::new();
    for (i, (time, counts)) in samples.iter().enumerate() {
        let words: Vec<String> = states
            .iter()
            .zip(counts)
            .map(|(state, n)| format!("{} {n}", t.health_state(state)))
            .collect();
        let title = format!("{time} · {}", words.join(", "));
        let mut top = HEIGHT - AXIS;
        for (state, n) in states.iter().zip(counts).filter(|(_, n)| **n > 0) {
            let height = f64::from(*n) * scale;
            top -= height;
            bars.push(view! {
                <rect class=format!("health-{state}") x=format!("{:.1}", i as f64 * slot) y=format!("{top:.1}")
                    width=format!("{:.2}", slot.max(0.5)) height=format!("{height:.1}")>
                    <title>{title.clone()}</title>
                </rect>
            });
        }
    }
    let times: Vec<String> = samples.iter().map(|(time, _)| time.clone()).collect();
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" data-testid="chart-fleet"
            aria-label=(t.chart_fleet_summary)(samples.len())>
            {bars}
            <DayLabels days=times/>
        </svg>
        <ul class="legend">
            {states.iter().map(|state| view! {
                <li><span class=format!("swatch health-{state}")></span>{t.health_state(state)}</li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}
