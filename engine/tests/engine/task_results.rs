//! What follows a task's fan-out: the signed callback, progress events to the end, and
//! retention of finished tasks, against simulated edges on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use engine::fleet::Protocol;
use engine::submit::{Source, Submission};
use engine::target::TargetKind;
use engine::tasks::TaskStatus;
use engine::Actor;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::on_both_stores;
use crate::support::*;

type Received = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

const FAST: EdgeBehaviour = EdgeBehaviour {
    status: 200,
    delay: Duration::from_millis(5),
};

on_both_stores! {
    #[tokio::test]
    a_finished_task_posts_its_signed_result_to_the_callback_url,
    #[tokio::test]
    progress_events_follow_a_task_to_its_end,
    #[tokio::test]
    retention_deletes_finished_tasks_after_the_period_and_keeps_the_rest,
}

async fn a_finished_task_posts_its_signed_result_to_the_callback_url(backend: Backend) {
    let t = test_engine(backend).await;
    let edge = start_sim_edge(FAST).await;
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &[edge.addr])
        .await;
    let (key, secret) = t
        .engine
        .create_key(&Actor::cli(), user.id, "ci")
        .await
        .expect("key");

    let received: Received = Arc::default();
    let sink = Arc::clone(&received);
    let app = axum::Router::new().fallback(move |request: Request| {
        let sink = Arc::clone(&sink);
        async move {
            let signature = request
                .headers()
                .get("x-purger-signature")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .expect("body");
            sink.lock().expect("lock").push((signature, body.to_vec()));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let callback = format!("http://{}/purged", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let workers = t.engine.start_workers();
    let outcome = t
        .engine
        .submit(
            &user,
            Submission {
                targets: vec![(TargetKind::Url, "http://www.example.com/cb.png".into())],
                callback_url: Some(callback),
                idempotency_key: None,
                client_task_id: None,
                source: Source::Api000,
                api_key_id: Some(key.id),
                key_scope: key.scope.clone(),
                domain: None,
                mode: Default::default(),
                groups: Vec::new(),
                verify: false,
                prefetch_after: false,
            },
        )
        .await
        .expect("accepted");
    assert!(outcome.batch_id.is_some());
    let (signature, body) = wait_for(Duration::from_secs(10), || async {
        received.lock().expect("lock").first().cloned()
    })
    .await;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes()).expect("key");
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(signature.as_deref(), Some(expected.as_str()));
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(json["status"], "success");
    assert_eq!(json["uri"], "http://www.example.com/cb.png");
    assert_eq!(
        json["success_ips"],
        serde_json::json!([edge.addr.to_string()])
    );
    workers.shutdown().await;
}

async fn progress_events_follow_a_task_to_its_end(backend: Backend) {
    let t = test_engine(backend).await;
    let mut addrs = Vec::new();
    let mut edges = Vec::new();
    for i in 0..5 {
        let edge = start_sim_edge(EdgeBehaviour {
            status: 200,
            delay: Duration::from_millis(40 * i),
        })
        .await;
        addrs.push(edge.addr);
        edges.push(edge);
    }
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &addrs)
        .await;
    let mut events = t.engine.subscribe();
    let workers = t.engine.start_workers();
    let outcome = submit(
        &t.engine,
        &user,
        TargetKind::Url,
        &["http://www.example.com/e"],
    )
    .await;
    let task = outcome.accepted().next().expect("accepted").clone();
    let mut seen = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        if event.task_id == task {
            seen.push((event.success, event.status));
            if event.status.is_final() {
                break;
            }
        }
    }
    assert_eq!(seen.last(), Some(&(5, TaskStatus::Success)));
    assert!(
        seen.iter().any(|(done, _)| *done > 0 && *done < 5),
        "an intermediate value: {seen:?}"
    );
    workers.shutdown().await;
}

async fn retention_deletes_finished_tasks_after_the_period_and_keeps_the_rest(backend: Backend) {
    let t = engine_with(backend, |config| config.retention_days = 1).await;
    let edge = start_sim_edge(FAST).await;
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &[edge.addr])
        .await;
    let workers = t.engine.start_workers();
    let outcome = submit(
        &t.engine,
        &user,
        TargetKind::Url,
        &["http://www.example.com/old"],
    )
    .await;
    let old = outcome.accepted().next().expect("accepted").clone();
    finished_report(&t.engine, &old).await;
    workers.shutdown().await;
    let pending = submit(
        &t.engine,
        &user,
        TargetKind::Url,
        &["http://www.example.com/pending"],
    )
    .await;
    let pending = pending.accepted().next().expect("accepted").clone();

    // Nothing is old enough yet.
    assert_eq!(t.engine.prune_now().await.expect("prune"), 0);
    // Two days later (the store prunes by cutoff): the finished task goes, the pending one stays.
    let cutoff = chrono::Utc::now() + chrono::Duration::days(2);
    let store = engine::store::open(&t.database_url()).await.expect("store");
    assert_eq!(store.prune_tasks(cutoff).await.expect("prune"), 1);
    assert!(t
        .engine
        .task(old.as_str(), &Default::default())
        .await
        .expect("read")
        .is_none());
    assert!(t
        .engine
        .task(pending.as_str(), &Default::default())
        .await
        .expect("read")
        .is_some());
}
