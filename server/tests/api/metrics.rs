//! `/metrics` counts what happened, in Prometheus text format.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn metrics_count_targets_node_requests_fanouts_and_the_queue() {
    let app = spawn_app().await;
    let edges = fleet(2, 1, 0).await;
    let (_, key) = app
        .developer("dev", "www.example.com", &addrs(&edges))
        .await;
    let uri = enc("http://www.example.com/m.png");
    assert_eq!(
        app.get(&format!("/api/purge?uri={uri}&api_key={key}"))
            .await
            .0,
        200
    );
    assert_eq!(
        app.get(&format!(
            "/api/purge?uri={}&api_key={key}",
            enc("http://evil.com/x")
        ))
        .await
        .0,
        403
    );
    // The queue depth is read before the counters are rendered: a task that finishes in between
    // shows as finished and still running in one answer, so wait for both.
    let metrics = wait_for(Duration::from_secs(10), || async {
        let (status, text) = app.get("/metrics").await;
        assert_eq!(status, 200);
        (text.contains("purger_tasks_finished_total{status=\"failed\"} 1")
            && text.contains("purger_queue_depth{status=\"running\"} 0"))
        .then_some(text)
    })
    .await;
    for line in [
        "purger_targets_accepted_total{api=\"api000\"} 1",
        "purger_targets_refused_total{api=\"api000\",code=\"not_your_domain\"} 1",
        "purger_node_requests_total{outcome=\"confirmed\"} 2",
        "purger_node_requests_total{outcome=\"connect_refused\"} 3",
        "purger_queue_depth{status=\"running\"} 0",
        "purger_fanout_seconds_count 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}
