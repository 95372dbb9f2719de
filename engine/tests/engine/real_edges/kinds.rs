//! Cache tags, invalidation, everything on a domain and edge groups against real Varnish with
//! the shipped VCL (xkey from varnish-modules), proven on the cache: what was purged MISSes,
//! what was invalidated is served stale once and then fresh, what was not purged still HITs.

use std::time::Duration;

use engine::fleet::Protocol;
use engine::submit::{Source, Submission};
use engine::target::{PurgeMode, TargetKind};
use engine::tasks::TaskStatus;
use engine::users::User;

use super::cached;
use crate::support::*;

/// The tenant whose purges the tests send.
const MINE: &str = "www.a.example";
/// Another tenant on the same edges: nothing of it may be purged.
const THEIRS: &str = "www.b.example";

/// Submits one request of `targets` on `MINE` and waits for every task; the tasks' reports.
async fn purge(
    t: &TestEngine,
    user: &User,
    targets: &[(TargetKind, &str)],
    mode: PurgeMode,
    groups: &[&str],
) -> Vec<engine::report::TaskReport> {
    let owned = targets
        .iter()
        .map(|(kind, text)| (*kind, (*text).to_owned()))
        .collect();
    let submission = Submission {
        domain: Some(MINE.to_owned()),
        mode,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..Submission::new(Source::V1, owned)
    };
    let outcome = t.engine.submit(user, submission).await.expect("accepted");
    let tasks: Vec<_> = outcome.accepted().cloned().collect();
    assert_eq!(tasks.len(), targets.len(), "{:?}", outcome.verdicts);
    let mut reports = Vec::new();
    for task in &tasks {
        let report = finished_report(&t.engine, task).await;
        assert_eq!(report.task.status, TaskStatus::Success, "{report:?}");
        reports.push(report);
    }
    reports
}

/// One Varnish from the shipped VCL serving `MINE` for a developer, with the workers running.
async fn one_varnish() -> (Origin, Process, TestEngine, User, engine::Workers) {
    let origin = start_origin().await;
    let varnish = start_varnish(origin.addr).await;
    let t = test_engine(Backend::Sqlite).await;
    let user = t
        .developer_with_fleet(
            "dev",
            MINE,
            Protocol::Varnish,
            &[([127, 0, 0, 1], varnish.port).into()],
        )
        .await;
    let workers = t.engine.start_workers();
    (origin, varnish, t, user, workers)
}

#[tokio::test]
async fn a_tag_purge_evicts_the_tagged_objects_of_its_host_and_nothing_else() {
    let (_origin, varnish, t, user, workers) = one_varnish().await;
    let port = varnish.port;
    cached(port, MINE, "/xkey/a.html").await;
    cached(port, MINE, "/sk/b.html").await;
    let plain = cached(port, MINE, "/plain.html").await;
    let other_tag = cached(port, MINE, "/xkey/c.html?v=1").await;
    let theirs = cached(port, THEIRS, "/xkey/a.html").await;

    let reports = purge(
        &t,
        &user,
        &[(TargetKind::Tag, "product-42")],
        PurgeMode::Delete,
        &[],
    )
    .await;
    assert_eq!((reports[0].task.total, reports[0].task.success), (1, 1));

    assert_eq!(
        fetch(port, MINE, "/xkey/a.html").await.0,
        "MISS",
        "tagged through xkey"
    );
    assert_eq!(
        fetch(port, MINE, "/sk/b.html").await.0,
        "MISS",
        "tagged through Surrogate-Key only"
    );
    assert_eq!(fetch(port, MINE, "/xkey/c.html?v=1").await.0, "MISS");
    assert_ne!(fetch(port, MINE, "/xkey/c.html?v=1").await.1, other_tag);
    assert_eq!(
        fetch(port, MINE, "/plain.html").await,
        ("HIT".into(), plain),
        "untagged objects stay"
    );
    assert_eq!(
        fetch(port, THEIRS, "/xkey/a.html").await,
        ("HIT".into(), theirs),
        "another host's object with the same tag stays"
    );
    // A tag nothing carries: Varnish answers 404, which is success.
    let reports = purge(
        &t,
        &user,
        &[(TargetKind::Tag, "nothing-has-this")],
        PurgeMode::Delete,
        &[],
    )
    .await;
    assert_eq!(reports[0].task.success, 1);
    workers.shutdown().await;
}

/// Fetches until the body differs from `old`, for at most 5 seconds.
async fn fresh_after(port: u16, host: &str, path: &str, old: &str) {
    for _ in 0..100 {
        if fetch(port, host, path).await.1 != old {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{host}{path} was never refetched after its invalidation");
}

#[tokio::test]
async fn an_invalidation_serves_the_old_object_at_once_and_then_the_new_one() {
    let (origin, varnish, t, user, workers) = one_varnish().await;
    let port = varnish.port;
    let url_body = cached(port, MINE, "/soft.css").await;
    let tag_body = cached(port, MINE, "/xkey/soft.html").await;
    let untouched = cached(port, MINE, "/plain.css").await;
    let fetches_before = origin.fetches.load(std::sync::atomic::Ordering::SeqCst);

    purge(
        &t,
        &user,
        &[
            (TargetKind::Url, "http://www.a.example/soft.css"),
            (TargetKind::Tag, "common"),
        ],
        PurgeMode::Invalidate,
        &[],
    )
    .await;
    assert_eq!(
        origin.fetches.load(std::sync::atomic::Ordering::SeqCst),
        fetches_before,
        "an invalidation alone sends nothing to the origin"
    );
    // The first request after it gets the old object at once (grace) and starts the refetch.
    assert_eq!(
        fetch(port, MINE, "/soft.css").await.1,
        url_body,
        "stale first"
    );
    assert_eq!(
        fetch(port, MINE, "/xkey/soft.html").await.1,
        tag_body,
        "stale first"
    );
    fresh_after(port, MINE, "/soft.css", &url_body).await;
    fresh_after(port, MINE, "/xkey/soft.html", &tag_body).await;
    assert_eq!(
        fetch(port, MINE, "/plain.css").await,
        ("HIT".into(), untouched)
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn everything_on_a_domain_evicts_that_host_and_leaves_the_other_one() {
    let (_origin, varnish, t, user, workers) = one_varnish().await;
    let port = varnish.port;
    cached(port, MINE, "/a.js").await;
    cached(port, MINE, "/deep/b.png?x=1").await;
    let theirs = cached(port, THEIRS, "/a.js").await;

    let reports = purge(
        &t,
        &user,
        &[(TargetKind::Everything, "*")],
        PurgeMode::Delete,
        &[],
    )
    .await;
    assert_eq!(reports[0].task.target, "*");

    assert_eq!(fetch(port, MINE, "/a.js").await.0, "MISS");
    assert_eq!(fetch(port, MINE, "/deep/b.png?x=1").await.0, "MISS");
    assert_eq!(fetch(port, THEIRS, "/a.js").await, ("HIT".into(), theirs));
    // Varnish cannot ban softly: an invalidation of everything is refused by the node.
    let submission = Submission {
        domain: Some(MINE.to_owned()),
        mode: PurgeMode::Invalidate,
        ..Submission::new(Source::V1, vec![(TargetKind::Everything, "*".to_owned())])
    };
    let outcome = t.engine.submit(&user, submission).await.expect("accepted");
    let report = finished_report(&t.engine, outcome.accepted().next().expect("task")).await;
    assert_eq!(report.task.status, TaskStatus::Failed);
    assert!(
        report.failed_status.contains_key("unsupported"),
        "{report:?}"
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn a_purge_of_one_group_asks_only_that_groups_edges() {
    let origin = start_origin().await;
    let (near, far) = (
        start_varnish(origin.addr).await,
        start_varnish(origin.addr).await,
    );
    let t = test_engine(Backend::Sqlite).await;
    let user = t
        .developer_with_fleet(
            "dev",
            MINE,
            Protocol::Varnish,
            &[([127, 0, 0, 1], near.port).into()],
        )
        .await;
    t.group_with_nodes(
        "far",
        Protocol::Varnish,
        &[([127, 0, 0, 1], far.port).into()],
    )
    .await;
    t.engine
        .add_domain(&engine::Actor::cli(), MINE, &[], &["far".to_owned()])
        .await
        .expect("second group");
    let workers = t.engine.start_workers();
    cached(near.port, MINE, "/g.png").await;
    let kept = cached(far.port, MINE, "/g.png").await;

    let group = format!("{MINE}-varnish");
    let reports = purge(
        &t,
        &user,
        &[(TargetKind::Url, "http://www.a.example/g.png")],
        PurgeMode::Delete,
        &[&group],
    )
    .await;
    assert_eq!(
        (reports[0].task.total, reports[0].task.groups.clone()),
        (1, vec![group])
    );
    assert_eq!(fetch(near.port, MINE, "/g.png").await.0, "MISS");
    assert_eq!(
        fetch(far.port, MINE, "/g.png").await,
        ("HIT".into(), kept),
        "the other group is not asked"
    );
    workers.shutdown().await;
}
