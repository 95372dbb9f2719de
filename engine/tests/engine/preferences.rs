//! What the dashboard keeps per user and reads of the fleet, on both stores: the chosen
//! language, and a page of the fleet with health states.

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
