//! The database locked by someone else for longer than the busy timeout: writes fail cleanly
//! (503 with Retry-After on v1, the seeds' own failure shapes), reads go on, nothing is half
//! written, and everything works again once the lock is gone.

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, SqliteConnection};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_fails_writes_cleanly_and_recovers() {
    let app = spawn_app().await;
    let edges = fleet(2, 0, 0).await;
    let (_, key) = app
        .developer("dev", "www.example.com", &addrs(&edges))
        .await;
    let purge = |url: &'static str| {
        app.http
            .post(app.url("/api/v1/purges"))
            .bearer_auth(&key)
            .json(&serde_json::json!({ "urls": [url] }))
            .send()
    };

    // Another process's exclusive transaction, held past the store's 10 s busy timeout.
    let url = format!("sqlite://{}", app.database_path().display());
    let mut locker = SqliteConnection::connect(&url).await.expect("connect");
    locker.execute("BEGIN EXCLUSIVE").await.expect("lock");
    let started = Instant::now();
    let seed000 = app
        .http
        .get(app.url("/api/purge"))
        .query(&[
            ("uri", "http://www.example.com/locked0.png"),
            ("api_key", key.as_str()),
        ])
        .send();
    let (v1, seed000, quota) = tokio::join!(
        purge("http://www.example.com/locked.png"),
        seed000,
        app.http
            .get(app.url("/api/v1/quota"))
            .bearer_auth(&key)
            .send(),
    );
    let v1 = v1.expect("v1 answers");
    assert_eq!(v1.status(), 503);
    assert_eq!(
        v1.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = v1.json().await.expect("JSON");
    assert_eq!(body["code"], "unavailable");
    let seed000 = seed000.expect("seed 000 answers");
    assert_eq!(seed000.status(), 500);
    let body: serde_json::Value = seed000.json().await.expect("JSON");
    assert_eq!(body["status"], "failed");
    assert_eq!(quota.expect("quota answers").status(), 200, "reads go on");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no request hung"
    );
    locker.execute("ROLLBACK").await.expect("unlock");

    // Nothing of the refused writes was kept; a new write works and its task completes.
    let tasks = app
        .engine
        .list_tasks(&engine::store::TaskFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("tasks");
    assert!(tasks.is_empty(), "{tasks:?}");
    let again = purge("http://www.example.com/after.png")
        .await
        .expect("answer");
    assert_eq!(again.status(), 200);
    let body: serde_json::Value = again.json().await.expect("JSON");
    let task = body["accepted"][0]["task_id"]
        .as_str()
        .expect("task")
        .to_owned();
    let status = wait_for(Duration::from_secs(20), || async {
        let record = app
            .engine
            .task(&task, &Default::default())
            .await
            .expect("read")?;
        record.status.is_final().then_some(record.status)
    })
    .await;
    assert_eq!(status, engine::tasks::TaskStatus::Success);
}
