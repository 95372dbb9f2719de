//! Prefetches through v1 and the long poll of a batch: `wait=N` answers as soon as every task is
//! final (the test prints how long after the submission), refuses a wait over 60 s, and a
//! prefetch batch reads like a purge batch.

use std::time::Instant;

use serde_json::json;
use server::tools::edge_sim::{self, EdgeSimConfig};

use crate::support::*;

#[tokio::test]
async fn a_prefetch_batch_is_long_polled_until_every_edge_fetched() {
    let app = spawn_app().await;
    // Edges that answer after 400 ms: the batch is still running when the long poll starts.
    let edges = edge_sim::start(&EdgeSimConfig {
        nodes: 3,
        latency_ms: 400,
        ..EdgeSimConfig::default()
    })
    .await
    .expect("edges start");
    let (_, key) = app
        .developer("dev", "www.example.com", &addrs(&edges))
        .await;

    let submitted = Instant::now();
    let (status, answer) = call(
        &app,
        "POST",
        "/api/v1/prefetches",
        &key,
        Some(json!({"urls": ["http://www.example.com/app.js", "http://elsewhere.example.org/x"]})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"][0]["kind"], "prefetch");
    assert_eq!(answer["refused"][0]["code"], "not_your_domain");
    assert_eq!(answer["quota"]["prefetch"]["used"], 1);
    let batch = answer["batch_id"].as_str().expect("batch").to_owned();

    let (status, view) = call(
        &app,
        "GET",
        &format!("/api/v1/prefetches/{batch}?wait=30"),
        &key,
        None,
    )
    .await;
    let waited = submitted.elapsed();
    assert_eq!(status, 200, "{view}");
    let task = &view["tasks"][0];
    assert_eq!(
        (task["kind"].as_str(), task["status"].as_str()),
        (Some("prefetch"), Some("success"))
    );
    assert_eq!(
        (task["total"].as_u64(), task["success"].as_u64()),
        (Some(3), Some(3))
    );
    println!(
        "long poll answered {} ms after the submission (wait=30)",
        waited.as_millis()
    );
    assert!(
        waited.as_secs() < 30,
        "the long poll answered when the batch ended, not at its end"
    );

    // An ended batch answers at once; a wait over 60 s or not a number is refused.
    let (status, again) = call(
        &app,
        "GET",
        &format!("/api/v1/purges/{batch}?wait=5"),
        &key,
        None,
    )
    .await;
    assert_eq!(
        (status, again["tasks"][0]["status"].as_str()),
        (200, Some("success"))
    );
    for wait in ["61", "soon"] {
        let (status, error) = call(
            &app,
            "GET",
            &format!("/api/v1/prefetches/{batch}?wait={wait}"),
            &key,
            None,
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("invalid_request")),
            "{wait}"
        );
    }
    let (status, _) = call(
        &app,
        "GET",
        "/api/v1/prefetches/00000000000000000000000000000000?wait=1",
        &key,
        None,
    )
    .await;
    assert_eq!(status, 404);
}
