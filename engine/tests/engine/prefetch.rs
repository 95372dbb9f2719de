//! Prefetches (预热): every edge fetches the URL, at most `prefetch.per_domain_in_flight` of one
//! domain at once; they count on their own quota and are not purges; against real Varnish, the
//! first visitor after a prefetch gets a HIT with the origin's current object.

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

/// Requests in flight now and at most, across every edge of a fleet.
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
        let app = axum::Router::new().fallback(move |_request: Request| {
            let concurrency = Arc::clone(&concurrency);
            async move {
                let now = concurrency.now.fetch_add(1, Ordering::SeqCst) + 1;
                concurrency.most.fetch_max(now, Ordering::SeqCst);
                concurrency.seen.fetch_add(1, Ordering::SeqCst);
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

async fn prefetches_count_on_their_own_quota_and_are_not_purges(backend: Backend) {
    let t = test_engine(backend).await;
    let user = t
        .developer_with_fleet(
            "dev",
            "www.example.com",
            Protocol::Varnish,
            &[refusing_addr()],
        )
        .await;
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
