//! What the dashboard keeps per user and reads, on both stores: the chosen language, a page of
//! the fleet with health states, and finished tasks per day for the overview's chart.

use engine::fleet::Protocol;
use engine::fleet_view::{FleetQuery, HealthState};
use engine::store::UserUpdate;
use engine::users::Role;
use engine::Actor;

use crate::on_both_stores;
use crate::support::*;

on_both_stores! {
    #[tokio::test]
    a_chosen_language_is_saved_and_outlives_other_changes,
    #[tokio::test]
    a_page_of_the_fleet_counts_every_node_and_shows_one_page,
    #[tokio::test]
    finished_tasks_are_counted_per_day_of_the_zone,
}

async fn finished_tasks_are_counted_per_day_of_the_zone(backend: Backend) {
    let (t, user) = engine_with_developer(backend).await;
    let urls = [
        "http://www.example.com/1",
        "http://www.example.com/2",
        "http://www.example.com/3",
        "http://www.example.com/4",
    ];
    submit(&t.engine, &user, engine::target::TargetKind::Url, &urls).await;
    let url = t.database_url();
    let day_ms = 86_400_000_i64;
    raw_sql(
        &url,
        "UPDATE tasks SET status = 'success' WHERE target LIKE '%/1' OR target LIKE '%/2'",
    )
    .await;
    raw_sql(
        &url,
        "UPDATE tasks SET status = 'failed' WHERE target LIKE '%/3'",
    )
    .await;
    // One of them two days ago, one long before the range.
    raw_sql(
        &url,
        &format!(
            "UPDATE tasks SET created_at = created_at - {} WHERE target LIKE '%/2'",
            2 * day_ms
        ),
    )
    .await;
    raw_sql(&url, &format!("UPDATE tasks SET status = 'failed', created_at = created_at - {} WHERE target LIKE '%/4'", 40 * day_ms)).await;
    let zone = engine::time::Zone::parse("UTC").expect("zone");
    let days = t
        .engine
        .daily_outcomes(Some(user.id), &zone, 30)
        .await
        .expect("outcomes");
    assert_eq!(days.len(), 30);
    let counts: Vec<(u64, u64)> = days.iter().map(|d| (d.succeeded, d.failed)).collect();
    assert_eq!(counts[29], (1, 1));
    assert_eq!(counts[27], (1, 0));
    assert_eq!(counts.iter().map(|(ok, bad)| ok + bad).sum::<u64>(), 3);
    assert_eq!(days[29].day, chrono::Utc::now().date_naive());
    let everyone = t
        .engine
        .daily_outcomes(None, &zone, 30)
        .await
        .expect("outcomes");
    assert_eq!(everyone, days);
    let nobody = t
        .engine
        .daily_outcomes(Some(engine::users::UserId(user.id.0 + 1000)), &zone, 30)
        .await
        .expect("outcomes");
    assert!(nobody.iter().all(|d| d.succeeded + d.failed == 0));
}

async fn a_chosen_language_is_saved_and_outlives_other_changes(backend: Backend) {
    let t = test_engine(backend).await;
    let user = t
        .engine
        .create_user(&Actor::cli(), "wang", Role::Developer, None)
        .await
        .expect("user");
    assert_eq!(user.locale, None);
    let saved = t.engine.set_locale(user.id, "zh-CN").await.expect("saved");
    assert_eq!(saved.locale.as_deref(), Some("zh-CN"));
    let update = UserUpdate {
        can_purge: Some(false),
        ..Default::default()
    };
    let changed = t
        .engine
        .update_user(&Actor::cli(), user.id, update, None)
        .await
        .expect("updated");
    assert_eq!(changed.locale.as_deref(), Some("zh-CN"));
    assert!(t.engine.set_locale(user.id, "zh CN; drop").await.is_err());
    let read = t
        .engine
        .user_by_name("wang")
        .await
        .expect("read")
        .expect("user");
    assert_eq!(read.locale.as_deref(), Some("zh-CN"));
}

async fn a_page_of_the_fleet_counts_every_node_and_shows_one_page(backend: Backend) {
    let t = test_engine(backend).await;
    let actor = Actor::cli();
    let nginx = Protocol::preset("nginx").expect("preset");
    t.engine
        .upsert_group(&actor, "big", nginx)
        .await
        .expect("group");
    let csv: String = (0..300)
        .map(|i| format!("10.7.{}.{},80\n", i / 250, i % 250))
        .collect();
    let report = t
        .engine
        .import_nodes(&actor, "big", &csv)
        .await
        .expect("import");
    assert_eq!(report.added, 300);
    let ids: Vec<_> = t.engine.list_groups().await.expect("groups")[0]
        .nodes
        .iter()
        .take(3)
        .map(|n| n.id)
        .collect();
    t.engine
        .set_nodes_enabled(&actor, &ids, false)
        .await
        .expect("disabled");
    let page = t
        .engine
        .fleet_page(&FleetQuery {
            per_page: 100,
            page: 2,
            ..Default::default()
        })
        .await
        .expect("page");
    assert_eq!((page.total, page.matching, page.pages), (300, 300, 3));
    assert_eq!(page.rows.len(), 100);
    assert_eq!(page.counts[3], (HealthState::Disabled, 3));
    assert_eq!(page.counts[4], (HealthState::NeverPurged, 297));
    let disabled = t
        .engine
        .fleet_page(&FleetQuery {
            state: Some(HealthState::Disabled),
            per_page: 100,
            ..Default::default()
        })
        .await
        .expect("page");
    let mut shown: Vec<_> = disabled.rows.iter().map(|r| r.node.id).collect();
    shown.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(shown, expected);
}
