//! Warming and proof: prefetches (预热) go to every edge, at most
//! `prefetch.per_domain_in_flight` of one domain at once, count on their own quota and are not
//! purges; against real Varnish the first visitor after one gets a HIT. A verified purge fetches
//! the URL through each edge after it confirmed: an edge that answered 200 and kept the old copy
//! fails as `stale`, one without `Age` is confirmed and unverified.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use engine::fleet::Protocol;
use engine::submit::{Refusal, Source, Submission};
use engine::target::TargetKind;
use engine::tasks::TaskStatus;
use engine::users::QuotaOverrides;
use engine::Actor;

use crate::on_both_stores;
use crate::support::*;

/// Fetches (`GET`s) in flight now and at most, and requests of any method seen, across every
/// edge of a fleet.
#[derive(Default)]
struct Concurrency {
    now: AtomicU32,
    most: AtomicU32,
    seen: AtomicU32,
}

/// `count` edges on loopback that answer every request after 40 ms, counting in `concurrency`.
async fn counting_edges(count: usize, concurrency: &Arc<Concurrency>) -> Vec<std::net::SocketAddr> {
    let mut addrs = Vec::new();
    for _ in 0..count {
        let concurrency = Arc::clone(concurrency);
        let app = axum::Router::new().fallback(move |request: Request| {
            let concurrency = Arc::clone(&concurrency);
            async move {
                concurrency.seen.fetch_add(1, Ordering::SeqCst);
                if request.method() != axum::http::Method::GET {
                    return "purged";
                }
                let now = concurrency.now.fetch_add(1, Ordering::SeqCst) + 1;
                concurrency.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(40)).await;
                concurrency.now.fetch_sub(1, Ordering::SeqCst);
                "the object"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addrs.push(listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    addrs
}

fn prefetch(urls: &[&str]) -> Submission {
    Submission::new(
        Source::V1,
        urls.iter()
            .map(|url| (TargetKind::Prefetch, (*url).to_owned()))
            .collect(),
    )
}

/// A purge of one exact URL, verified and/or warmed after each edge confirms.
fn url_purge(url: &str, verify: bool, prefetch_after: bool) -> Submission {
    Submission {
        verify,
        prefetch_after,
        ..Submission::new(Source::V1, vec![(TargetKind::Url, url.to_owned())])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_asks_every_edge_but_never_more_than_the_domain_limit_at_once() {
    let t = engine_with(Backend::Sqlite, |config| {
        config.prefetch.per_domain_in_flight = 4
    })
    .await;
    let concurrency = Arc::new(Concurrency::default());
    let edges = counting_edges(24, &concurrency).await;
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &edges)
        .await;
    let workers = t.engine.start_workers();
    let urls = [
        "http://www.example.com/a.js",
        "http://www.example.com/b.css",
    ];
    let outcome = t
        .engine
        .submit(&user, prefetch(&urls))
        .await
        .expect("accepted");
    for task in outcome.accepted() {
        let report = finished_report(&t.engine, task).await;
        assert_eq!(report.task.kind, TargetKind::Prefetch);
        assert_eq!(
            (report.task.status, report.task.total, report.task.success),
            (TaskStatus::Success, 24, 24),
            "{report:?}"
        );
    }
    let most = concurrency.most.load(Ordering::SeqCst);
    println!("prefetch: 48 requests, at most {most} in flight at once (limit 4)");
    assert_eq!(concurrency.seen.load(Ordering::SeqCst), 48);
    assert!(
        most <= 4,
        "{most} prefetch requests of one domain were in flight at once"
    );
    assert!(
        most >= 2,
        "prefetches should still run side by side ({most})"
    );
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fetches_after_purges_keep_to_the_domain_limit_too() {
    let t = engine_with(Backend::Sqlite, |config| {
        config.prefetch.per_domain_in_flight = 3
    })
    .await;
    let concurrency = Arc::new(Concurrency::default());
    let edges = counting_edges(24, &concurrency).await;
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &edges)
        .await;
    let workers = t.engine.start_workers();
    let submission = url_purge("http://www.example.com/app.js", false, true);
    let outcome = t.engine.submit(&user, submission).await.expect("accepted");
    let report = finished_report(&t.engine, outcome.accepted().next().expect("task")).await;
    assert_eq!(
        (
            report.task.status,
            report.task.success,
            report.task.prefetched
        ),
        (TaskStatus::Success, 24, 24),
        "{report:?}"
    );
    let most = concurrency.most.load(Ordering::SeqCst);
    println!("purge + prefetch on 24 edges: at most {most} fetches in flight at once (limit 3)");
    assert_eq!(
        concurrency.seen.load(Ordering::SeqCst),
        48,
        "a purge and a fetch per edge"
    );
    assert!(
        most <= 3,
        "{most} fetches of one domain were in flight at once"
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn a_warming_fetch_that_fails_leaves_the_purge_confirmed_and_names_the_node() {
    let t = test_engine(Backend::Sqlite).await;
    // Edges that purge, but answer 404 to the fetch after it.
    let app = axum::Router::new().fallback(|request: Request| async move {
        if request.method() == axum::http::Method::GET {
            axum::http::StatusCode::NOT_FOUND
        } else {
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let edge = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &[edge])
        .await;
    let workers = t.engine.start_workers();
    let submission = url_purge("http://www.example.com/gone.js", false, true);
    let outcome = t.engine.submit(&user, submission).await.expect("accepted");
    let report = finished_report(&t.engine, outcome.accepted().next().expect("task")).await;
    assert_eq!(
        (
            report.task.status,
            report.task.success,
            report.task.prefetched
        ),
        (TaskStatus::Success, 1, 0),
        "{report:?}"
    );
    assert_eq!(
        report.unprefetched_ips,
        vec![format!("127.0.0.1:{}", edge.port())]
    );
    workers.shutdown().await;
}

async fn prefetches_count_on_their_own_quota_and_are_not_purges(backend: Backend) {
    let (t, user) = engine_with_developer(backend).await;
    let user = t
        .engine
        .set_quota(
            &Actor::cli(),
            user.id,
            QuotaOverrides {
                prefetch: Some(2),
                ..Default::default()
            },
        )
        .await
        .expect("quota");
    let url = "http://www.example.com/a.js";
    let outcome = t
        .engine
        .submit(
            &user,
            prefetch(&[
                url,
                "http://www.example.com/b.js",
                "http://www.example.com/c.js",
                "http://other.example.org/x",
            ]),
        )
        .await
        .expect("accepted in part");
    let results: Vec<_> = outcome
        .verdicts
        .iter()
        .map(|v| v.result.clone().map(|_| ()))
        .collect();
    assert_eq!(
        results,
        vec![
            Ok(()),
            Ok(()),
            Err(Refusal::OverQuota),
            Err(Refusal::NotYourDomain)
        ]
    );
    assert_eq!(
        (outcome.quota.used.prefetch, outcome.quota.used.url),
        (2, 0)
    );
    // Seed 000's /api/q shows the latest purge of a URL, never a prefetch of it.
    assert_eq!(
        t.engine.latest_url_task(user.id, url).await.expect("read"),
        None
    );
}

on_both_stores! {
    #[tokio::test]
    prefetches_count_on_their_own_quota_and_are_not_purges,
}

#[tokio::test]
async fn after_a_prefetch_the_first_visitor_of_each_varnish_gets_a_hit() {
    let origin = start_origin().await;
    let (one, two) = (
        start_varnish(origin.addr).await,
        start_varnish(origin.addr).await,
    );
    let t = test_engine(Backend::Sqlite).await;
    let host = "www.example.com";
    let user = t
        .developer_with_fleet(
            "dev",
            host,
            Protocol::Varnish,
            &[
                ([127, 0, 0, 1], one.port).into(),
                ([127, 0, 0, 1], two.port).into(),
            ],
        )
        .await;
    let workers = t.engine.start_workers();
    let outcome = t
        .engine
        .submit(&user, prefetch(&["http://www.example.com/warm.js?v=2"]))
        .await
        .expect("accepted");
    let report = finished_report(&t.engine, outcome.accepted().next().expect("task")).await;
    assert_eq!(
        (report.task.status, report.task.success),
        (TaskStatus::Success, 2)
    );
    for edge in [&one, &two] {
        let (cache, body) = fetch(edge.port, host, "/warm.js?v=2").await;
        assert_eq!(cache, "HIT", "the first visitor after the prefetch");
        assert!(
            body.starts_with("origin www.example.com/warm.js?v=2 #"),
            "{body}"
        );
    }
    assert_eq!(
        origin.fetches.load(Ordering::SeqCst),
        2,
        "one origin fetch per edge"
    );
    workers.shutdown().await;
}

/// An edge that answers 200 to PURGE and purges nothing (the bug verification exists for).
const LYING_VCL: &str = r#"vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv {
    if (req.method == "PURGE") { return (synth(200, "Purged")); }
}
sub vcl_deliver {
    if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
"#;

#[tokio::test]
async fn a_verified_purge_fails_the_edge_that_kept_the_old_copy_and_warms_the_honest_one() {
    let origin = start_origin().await;
    let honest = start_varnish(origin.addr).await;
    let lying = start_varnish_with(origin.addr, LYING_VCL).await;
    let t = test_engine(Backend::Sqlite).await;
    let host = "www.example.com";
    let user = t
        .developer_with_fleet(
            "dev",
            host,
            Protocol::Varnish,
            &[
                ([127, 0, 0, 1], honest.port).into(),
                ([127, 0, 0, 1], lying.port).into(),
            ],
        )
        .await;
    let path = "/v.css";
    for edge in [&honest, &lying] {
        fetch(edge.port, host, path).await;
        assert_eq!(fetch(edge.port, host, path).await.0, "HIT");
    }
    let (_, old) = fetch(lying.port, host, path).await;
    // Objects two seconds old: older than any purge confirmed from now on (1 s tolerance).
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let workers = t.engine.start_workers();
    let outcome = t
        .engine
        .submit(&user, url_purge("http://www.example.com/v.css", true, true))
        .await
        .expect("accepted");
    let report = finished_report(&t.engine, outcome.accepted().next().expect("task")).await;
    assert_eq!(report.task.status, TaskStatus::Failed, "{report:?}");
    assert_eq!((report.task.success, report.task.failed), (1, 1));
    let lying_ip = format!("127.0.0.1:{}", lying.port);
    assert_eq!(report.failed_status.get("stale"), Some(&vec![lying_ip]));
    let (_, failure) = &report.failures[0];
    assert!(failure.detail.starts_with("Age: "), "{}", failure.detail);
    assert_eq!(
        (report.task.prefetched, report.unverified_ips.len()),
        (1, 0)
    );
    // The honest edge was purged and warmed again by the verifying fetch; the lying one kept
    // its old copy.
    let (cache, fresh) = fetch(honest.port, host, path).await;
    assert_eq!(cache, "HIT");
    assert_ne!(fresh, old);
    assert_eq!(fetch(lying.port, host, path).await.1, old);
    workers.shutdown().await;
}

async fn a_purge_verified_on_edges_without_age_is_confirmed_and_unverified(backend: Backend) {
    let t = test_engine(backend).await;
    let concurrency = Arc::new(Concurrency::default());
    let edges = counting_edges(3, &concurrency).await;
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &edges)
        .await;
    let invalidate = Submission {
        mode: engine::target::PurgeMode::Invalidate,
        ..url_purge("http://www.example.com/a.js", true, false)
    };
    assert!(matches!(
        t.engine.submit(&user, invalidate).await,
        Err(engine::submit::SubmitError::VerifyNeedsDelete)
    ));
    let workers = t.engine.start_workers();
    let outcome = t
        .engine
        .submit(&user, url_purge("http://www.example.com/a.js", true, false))
        .await
        .expect("accepted");
    let report = finished_report(&t.engine, outcome.accepted().next().expect("task")).await;
    assert_eq!(
        (
            report.task.status,
            report.task.success,
            report.unverified_ips.len()
        ),
        (TaskStatus::Success, 3, 3),
        "{report:?}"
    );
    assert!(report.task.verify && !report.task.prefetch_after);
    assert_eq!(
        concurrency.seen.load(Ordering::SeqCst),
        6,
        "a purge and a fetch per edge"
    );
    workers.shutdown().await;
}

on_both_stores! {
    #[tokio::test]
    a_purge_verified_on_edges_without_age_is_confirmed_and_unverified,
}
