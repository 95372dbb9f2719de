//! Node health outlives the instance that saw it: saved by the workers, read by another
//! instance (and the CLI), newer records winning, and the fleet's states sampled over time.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use engine::fanout::health::HealthBook;
use engine::fleet::{NodeId, Protocol};
use engine::target::TargetKind;
use engine::Engine;

use crate::on_both_stores;
use crate::support::*;

const FAST: EdgeBehaviour = EdgeBehaviour {
    status: 200,
    delay: Duration::from_millis(5),
};

on_both_stores! {
    #[tokio::test]
    node_health_follows_recent_results_and_outlives_the_instance,
    #[tokio::test]
    a_saved_record_gives_way_only_to_a_newer_one,
}

async fn node_health_follows_recent_results_and_outlives_the_instance(backend: Backend) {
    let t = test_engine(backend).await;
    let healthy = start_sim_edge(FAST).await;
    let broken = refusing_addr();
    let user = t
        .developer_with_fleet(
            "dev",
            "www.example.com",
            Protocol::Varnish,
            &[healthy.addr, broken],
        )
        .await;
    let workers = t.engine.start_workers();
    t.purge_and_wait(&user, TargetKind::Url, "http://www.example.com/h")
        .await;
    workers.shutdown().await;
    let groups = t.engine.list_groups().await.expect("groups");
    let node_of = |addr: SocketAddr| {
        groups[0]
            .nodes
            .iter()
            .find(|n| n.port == addr.port())
            .expect("node")
            .id
    };
    let health = t.engine.node_health().await.expect("health");
    let good = &health[&node_of(healthy.addr)];
    assert!(
        good.last_success.is_some() && good.failure_rate() == 0.0,
        "{good:?}"
    );
    let bad = &health[&node_of(broken)];
    assert_eq!(
        (bad.recent, bad.recent_failures),
        (3, 3),
        "three attempts, all refused"
    );
    assert_eq!(
        bad.last_failure.as_ref().map(|(_, r)| r.as_str()),
        Some("connect_refused")
    );

    // Another process on the database (a second instance, the CLI) reads what was saved.
    let other = other_instance(&t).await;
    let seen = other.node_health().await.expect("saved health");
    assert_eq!(&seen[&node_of(broken)], bad, "saved as it was");
    assert_eq!(&seen[&node_of(healthy.addr)], good);
    assert_eq!(
        other
            .node_health_of(node_of(broken))
            .await
            .expect("one node")
            .map(|h| h.recent_failures),
        Some(3)
    );

    // The history ends with the states counted now.
    let since = Utc::now() - chrono::Duration::hours(1);
    let history = other.fleet_health_history(since).await.expect("history");
    let now = history.last().expect("the current slot");
    assert_eq!(now.counts, [1, 0, 1, 0, 0], "{history:?}");

    // The workers store a sample when they start (and at each 10-minute slot).
    let workers = other.start_workers();
    let store = engine::store::open(&t.database_url()).await.expect("store");
    wait_for(Duration::from_secs(10), || async {
        let stored = store.health_samples(since).await.expect("samples");
        stored.into_iter().find(|s| s.counts == [1, 0, 1, 0, 0])
    })
    .await;
    workers.shutdown().await;
}

async fn a_saved_record_gives_way_only_to_a_newer_one(backend: Backend) {
    let t = test_engine(backend).await;
    let edge = start_sim_edge(FAST).await;
    t.group_with_nodes("east", Protocol::Varnish, &[edge.addr])
        .await;
    let node = t.engine.list_groups().await.expect("groups")[0].nodes[0].id;
    let store = engine::store::open(&t.database_url()).await.expect("store");
    let earlier = Utc::now() - chrono::Duration::minutes(1);
    let (newer, older) = (HealthBook::default(), HealthBook::default());
    newer.record(node, Some("timeout"), Utc::now());
    older.record(node, None, earlier);
    let newer = newer.snapshot().remove(&node).expect("newer");
    let older = older.snapshot().remove(&node).expect("older");

    store
        .save_node_health(&[(node, newer.clone()), (NodeId(i64::MAX), older.clone())])
        .await
        .expect("a node that does not exist is skipped");
    store
        .save_node_health(&[(node, older.clone())])
        .await
        .expect("older");
    let saved = store.saved_node_health().await.expect("saved");
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(saved[&node], newer, "the older record did not replace it");

    let book = HealthBook::default();
    book.record(node, None, Utc::now() + chrono::Duration::seconds(1));
    let newest = book.snapshot().remove(&node).expect("newest");
    store
        .save_node_health(&[(node, newest.clone())])
        .await
        .expect("newest");
    let saved = store.saved_node_health().await.expect("saved");
    assert_eq!(saved[&node], newest, "a newer record replaces it");
}

/// A second engine on the same database, as another instance or the CLI opens it.
async fn other_instance(t: &TestEngine) -> Engine {
    let mut config = test_config(t.dir.path());
    config.instance_name = Some("other".into());
    Engine::open(&t.database_url(), config)
        .await
        .expect("second instance opens")
}
