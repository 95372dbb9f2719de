//! The overview's charts: purges per day by kind and finished tasks per day, the user's (an
//! admin's: everyone's) over the last 30 days.

use leptos::prelude::*;

use super::error::AppError;
use crate::models::ChartData;

/// The last 30 days for the signed-in user; for an admin, everyone's.
#[server]
pub async fn overview_charts() -> Result<ChartData, AppError> {
    use engine::target::TargetKind;

    let engine = super::context::engine()?;
    let user = super::context::user().await?;
    let zone = super::context::zone_of(&user, &engine);
    let everyone = user.is_admin();
    let today = engine.quota_day().date;
    let first = today - chrono::Duration::days(29);
    let users = if everyone {
        engine.list_users().await?
    } else {
        vec![user.clone()]
    };
    let days: Vec<chrono::NaiveDate> = (0..30)
        .map(|offset| first + chrono::Duration::days(offset))
        .collect();
    let mut kinds: Vec<(String, Vec<u32>)> = TargetKind::ALL
        .into_iter()
        .map(|kind| (kind.as_str().to_owned(), vec![0; days.len()]))
        .collect();
    for someone in &users {
        for (day, usage) in engine.quota_history(someone.id, first, today).await? {
            let Some(index) = days
                .iter()
                .position(|d| d.format("%Y-%m-%d").to_string() == day)
            else {
                continue;
            };
            for (kind, (_, counts)) in TargetKind::ALL.into_iter().zip(kinds.iter_mut()) {
                counts[index] += usage.get(kind);
            }
        }
    }
    let outcomes = engine
        .daily_outcomes(user.task_scope(), &zone, 30)
        .await?
        .into_iter()
        .map(|d| (d.day.format("%m-%d").to_string(), d.succeeded, d.failed))
        .collect();
    Ok(ChartData {
        everyone,
        days: days.iter().map(|d| d.format("%m-%d").to_string()).collect(),
        kinds,
        outcomes,
    })
}
