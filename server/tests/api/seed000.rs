//! Seed 000, the URL purge API: exact bodies (golden files) for every state and refusal.

use std::time::Duration;

use chrono::{FixedOffset, NaiveDateTime, Utc};
use engine::Actor;

use crate::support::*;

const URI: &str = "http://www.iqiyi.com/hello.gif";

fn create_at_of(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).expect("JSON");
    value["create_at"].as_str().expect("create_at").to_owned()
}

fn field(body: &str, name: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).expect("JSON");
    value[name]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value[name].to_string())
}

#[tokio::test]
async fn an_accepted_purge_and_its_query_have_the_seed_shape() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let edges = fleet(1, 0, 0).await;
    let (_, key) = app.developer("dev", "www.iqiyi.com", &addrs(&edges)).await;
    let (status, body) = app
        .get(&format!("/api/purge?uri={}&api_key={key}", enc(URI)))
        .await;
    assert_eq!(status, 200, "{body}");
    let create_at = create_at_of(&body);
    assert_golden(
        "seed000/purge_created.json",
        &body,
        &[("create_at", &create_at), ("uri", URI)],
    );
    // YYYYMMDDHHMMSS in the service zone (+08:00), now.
    let at = NaiveDateTime::parse_from_str(&create_at, "%Y%m%d%H%M%S").expect("compact time");
    let now = Utc::now()
        .with_timezone(&FixedOffset::east_opt(8 * 3600).expect("offset"))
        .naive_local();
    assert!(
        (now - at).num_seconds().abs() < 5,
        "{create_at} is not now in +08:00"
    );

    let (status, body) = app
        .get(&format!("/api/q?uri={}&api_key={key}", enc(URI)))
        .await;
    assert_eq!(status, 200);
    assert_golden(
        "seed000/query_created.json",
        &body,
        &[("create_at", &create_at), ("uri", URI)],
    );
}

#[tokio::test]
async fn a_task_reports_running_then_success_node_by_node() {
    let app = spawn_app_with(|c| c.engine.fanout.request_timeout_ms = 1500).await;
    // Two answering nodes and one that holds the task running until its requests time out.
    let edges = fleet(2, 0, 1).await;
    let nodes = addrs(&edges);
    let (_, key) = app.developer("dev", "www.iqiyi.com", &nodes).await;
    let (status, _) = app
        .get(&format!("/api/purge?uri={}&api_key={key}", enc(URI)))
        .await;
    assert_eq!(status, 200);
    let query = format!("/api/q?uri={}&api_key={key}", enc(URI));
    let running = wait_for(Duration::from_secs(5), || async {
        let (_, body) = app.get(&query).await;
        (field(&body, "status") == "running" && field(&body, "success") == "2").then_some(body)
    })
    .await;
    let ips = nodes.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    // The simulated fleet puts its silent node first.
    let silent = ips[0].clone();
    let success_ips = format!("[\"{}\",\"{}\"]", ips[1], ips[2]);
    assert_golden(
        "seed000/query_running.json",
        &running,
        &[
            ("create_at", &field(&running, "create_at")),
            ("start_at", &field(&running, "start_at")),
            ("success", "2"),
            ("success_ips", &success_ips),
            ("uri", URI),
        ],
    );
    let failed = wait_for(Duration::from_secs(15), || async {
        let (_, body) = app.get(&query).await;
        (field(&body, "status") == "failed").then_some(body)
    })
    .await;
    let value: serde_json::Value = serde_json::from_str(&failed).expect("JSON");
    assert_eq!(
        value["failed_status"],
        serde_json::json!({ "timeout": [silent] })
    );
    assert_eq!(value["total"], 3);
}

#[tokio::test]
async fn finished_tasks_list_confirmed_and_failed_nodes_with_reasons() {
    let app = spawn_app().await;
    let edges = fleet(2, 1, 0).await;
    let nodes = addrs(&edges);
    let (_, key) = app.developer("dev", "www.iqiyi.com", &nodes).await;
    app.get(&format!("/api/purge?uri={}&api_key={key}", enc(URI)))
        .await;
    let query = format!("/api/q?uri={}&api_key={key}", enc(URI));
    let body = wait_for(Duration::from_secs(10), || async {
        let (_, body) = app.get(&query).await;
        (field(&body, "status") == "failed").then_some(body)
    })
    .await;
    // The refusing node comes first in the simulated fleet.
    let ips: Vec<String> = nodes.iter().map(|a| a.to_string()).collect();
    assert_golden(
        "seed000/query_failed.json",
        &body,
        &[
            ("create_at", &field(&body, "create_at")),
            ("start_at", &field(&body, "start_at")),
            ("finish_at", &field(&body, "finish_at")),
            ("bad", &ips[0]),
            ("ip1", &ips[1]),
            ("ip2", &ips[2]),
            ("uri", URI),
        ],
    );

    // A healthy fleet ends in success.
    let healthy = fleet(2, 0, 0).await;
    let nodes = addrs(&healthy);
    let (_, key) = app.developer("other", "img.example.com", &nodes).await;
    let uri = "http://img.example.com/a.png?v=1";
    app.get(&format!("/api/purge?uri={}&api_key={key}", enc(uri)))
        .await;
    let query = format!("/api/q?uri={}&api_key={key}", enc(uri));
    let body = wait_for(Duration::from_secs(10), || async {
        let (_, body) = app.get(&query).await;
        (field(&body, "status") == "success").then_some(body)
    })
    .await;
    assert_golden(
        "seed000/query_success.json",
        &body,
        &[
            ("create_at", &field(&body, "create_at")),
            ("start_at", &field(&body, "start_at")),
            ("finish_at", &field(&body, "finish_at")),
            ("ip1", &nodes[0].to_string()),
            ("ip2", &nodes[1].to_string()),
            ("uri", uri),
        ],
    );
}

async fn assert_refusal(app: &TestApp, path: &str, status: u16, message: &str, uri: &str) {
    let (got, body) = app.get(path).await;
    assert_eq!(got, status, "{path}: {body}");
    assert_golden(
        "seed000/refusal.json",
        &body,
        &[("message", message), ("uri", uri)],
    );
}

#[tokio::test]
async fn every_refusal_has_its_status_and_the_seed_shape() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let edges = fleet(1, 0, 0).await;
    let (user, key) = app.developer("dev", "www.iqiyi.com", &addrs(&edges)).await;
    let u = enc(URI);

    assert_refusal(
        &app,
        &format!("/api/purge?uri={u}"),
        401,
        "api_key is required",
        URI,
    )
    .await;
    assert_refusal(
        &app,
        &format!("/api/purge?uri={u}&api_key=nope-nope-nope"),
        401,
        "invalid api_key",
        URI,
    )
    .await;
    assert_refusal(
        &app,
        &format!("/api/purge?api_key={key}"),
        400,
        "uri is required",
        "",
    )
    .await;
    let bad = "ftp://www.iqiyi.com/x";
    assert_refusal(
        &app,
        &format!("/api/purge?uri={}&api_key={key}", enc(bad)),
        400,
        &format!("invalid uri: not an absolute http(s) URL: {bad}"),
        bad,
    )
    .await;
    let foreign = "http://www.other.com/x.gif";
    assert_refusal(
        &app,
        &format!("/api/purge?uri={}&api_key={key}", enc(foreign)),
        403,
        "the uri's domain is not one of yours",
        foreign,
    )
    .await;
    assert_refusal(
        &app,
        &format!(
            "/api/q?uri={}&api_key={key}",
            enc("http://www.iqiyi.com/none")
        ),
        404,
        "no purge task for this uri",
        "http://www.iqiyi.com/none",
    )
    .await;

    // taskId: the same uri returns the same task, another uri is a conflict.
    let (status, first) = app
        .get(&format!("/api/purge?uri={u}&api_key={key}&taskId=t-1"))
        .await;
    assert_eq!(status, 200);
    let (status, again) = app
        .get(&format!("/api/purge?uri={u}&api_key={key}&taskId=t-1"))
        .await;
    assert_eq!((status, again), (200, first));
    let other = "http://www.iqiyi.com/other.gif";
    assert_refusal(
        &app,
        &format!("/api/purge?uri={}&api_key={key}&taskId=t-1", enc(other)),
        409,
        "taskId t-1 was already used for another uri",
        other,
    )
    .await;

    // Quota: one URL a day, already spent by the taskId purge.
    let actor = Actor::cli();
    let quota = engine::users::QuotaOverrides {
        url: Some(1),
        ..Default::default()
    };
    app.engine
        .set_quota(&actor, user.id, quota)
        .await
        .expect("quota");
    let third = "http://www.iqiyi.com/3.gif";
    assert_refusal(
        &app,
        &format!("/api/purge?uri={}&api_key={key}", enc(third)),
        429,
        "the number of url out of today limit(1)",
        third,
    )
    .await;

    // May not purge, then disabled, then a revoked key.
    let update = engine::store::UserUpdate {
        can_purge: Some(false),
        ..Default::default()
    };
    app.engine
        .update_user(&actor, user.id, update, None)
        .await
        .expect("update");
    assert_refusal(
        &app,
        &format!("/api/purge?uri={u}&api_key={key}"),
        403,
        "user not allowed to purge",
        URI,
    )
    .await;
    let update = engine::store::UserUpdate {
        enabled: Some(false),
        ..Default::default()
    };
    app.engine
        .update_user(&actor, user.id, update, None)
        .await
        .expect("update");
    assert_refusal(
        &app,
        &format!("/api/purge?uri={u}&api_key={key}"),
        403,
        "user is disabled",
        URI,
    )
    .await;
    let (_, key2) = app.developer("dev2", "www.two.com", &addrs(&edges)).await;
    let dev2 = app
        .engine
        .user_by_name("dev2")
        .await
        .expect("read")
        .expect("dev2");
    let public_id = app.engine.list_keys(dev2.id).await.expect("keys")[0]
        .public_id
        .clone();
    app.engine
        .revoke_key(&actor, dev2.id, &public_id)
        .await
        .expect("revoke");
    assert_refusal(
        &app,
        &format!(
            "/api/purge?uri={}&api_key={key2}",
            enc("http://www.two.com/a")
        ),
        401,
        "invalid api_key",
        "http://www.two.com/a",
    )
    .await;
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.workers = false;
        c.api.rate_limit.per_second = 1.0;
        c.api.rate_limit.burst = 2.0;
    })
    .await;
    let edges = fleet(1, 0, 0).await;
    let (_, key) = app.developer("dev", "www.iqiyi.com", &addrs(&edges)).await;
    let path = format!("/api/q?uri={}&api_key={key}", enc(URI));
    assert_eq!(app.get(&path).await.0, 404);
    assert_eq!(app.get(&path).await.0, 404);
    let response = app.http.get(app.url(&path)).send().await.expect("answer");
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let body = response.text().await.expect("body");
    assert_golden(
        "seed000/refusal.json",
        &body,
        &[("message", "rate limit exceeded"), ("uri", URI)],
    );
}
