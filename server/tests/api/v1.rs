//! The native v1 API, black-box through `spawn_app()` (its admin routes in `v1_admin`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::*;

/// Callbacks received: (signature header, body).
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_every_route_answers() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let key = admin_key(&app).await;
    let (status, doc) = call(&app, "GET", "/api/v1/openapi.json", &key, None).await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().expect("version").starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/api/v1/purges"),
        ("GET", "/api/v1/purges/{id}"),
        ("GET", "/api/v1/quota"),
        ("POST", "/api/v1/prefetches"),
        ("GET", "/api/v1/prefetches/{id}"),
        ("GET", "/api/v1/tasks"),
        ("GET", "/api/v1/tasks/{id}"),
        ("POST", "/api/v1/tasks/{id}/retry"),
        ("GET", "/api/v1/admin/users"),
        ("POST", "/api/v1/admin/users"),
        ("PATCH", "/api/v1/admin/users/{username}"),
        ("PUT", "/api/v1/admin/users/{username}/quota"),
        ("GET", "/api/v1/admin/users/{username}/keys"),
        ("POST", "/api/v1/admin/users/{username}/keys"),
        ("DELETE", "/api/v1/admin/users/{username}/keys/{id}"),
        ("GET", "/api/v1/admin/domains"),
        ("POST", "/api/v1/admin/domains"),
        ("GET", "/api/v1/admin/groups"),
        ("PUT", "/api/v1/admin/groups/{name}"),
        ("POST", "/api/v1/admin/groups/{name}/nodes"),
        ("PATCH", "/api/v1/admin/nodes/{id}"),
        ("GET", "/api/v1/admin/audit"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    assert_eq!(documented, expected);
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "1")
            .replace("{username}", "root")
            .replace("{name}", "g");
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let (status, answer) = call(&app, method, &concrete, &key, body).await;
        assert_ne!(status, 405, "{method} {path} is routed");
        assert_ne!(
            answer["message"], "no such API route",
            "{method} {path} is routed"
        );
        assert!(status < 500, "{method} {path} answered {status}: {answer}");
    }
    let (status, answer) = call(&app, "GET", "/api/v1/nothing", &key, None).await;
    assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn a_purge_goes_from_submission_to_per_node_results_and_a_signed_callback() {
    let app = spawn_app().await;
    let edges = fleet(2, 1, 0).await;
    let nodes = addrs(&edges);
    let (_, key) = app.developer("dev", "www.example.com", &nodes).await;

    let received: Received = Arc::default();
    let sink = Arc::clone(&received);
    let receiver = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let sink = Arc::clone(&sink);
        async move {
            let signature = request
                .headers()
                .get("x-purger-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
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
    let callback = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let request = json!({
        "urls": ["http://www.example.com/a.png", "http://www.example.com/a.png", "http://evil.com/x"],
        "prefixes": ["http://www.example.com/img/"],
        "regexes": ["http://www.example.com/(bad"],
        "callback_url": callback,
    });
    let (status, answer) = call(&app, "POST", "/api/v1/purges", &key, Some(request)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["accepted"].as_array().expect("accepted").len(),
        2,
        "{answer}"
    );
    let codes: Vec<&str> = answer["refused"]
        .as_array()
        .expect("refused")
        .iter()
        .map(|r| r["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, vec!["not_your_domain", "invalid_target"]);
    assert_eq!(
        answer["quota"]["url"],
        json!({ "limit": 10000, "used": 1, "left": 9999 })
    );
    let batch = answer["batch_id"].as_str().expect("batch").to_owned();
    let task = answer["accepted"][0]["task_id"]
        .as_str()
        .expect("task")
        .to_owned();

    let (status, answer) = call(&app, "GET", &format!("/api/v1/purges/{batch}"), &key, None).await;
    assert_eq!(
        (status, answer["tasks"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    let detail = wait_for(Duration::from_secs(10), || async {
        let (_, detail) = call(&app, "GET", &format!("/api/v1/tasks/{task}"), &key, None).await;
        (detail["status"] == "failed").then_some(detail)
    })
    .await;
    assert_eq!(detail["total"], 3);
    assert_eq!(
        detail["failed_status"],
        json!({ "connect_refused": [nodes[0].to_string()] })
    );
    assert_eq!(detail["failures"][0]["attempts"], 3);

    let (signature, body) = wait_for(Duration::from_secs(10), || async {
        received.lock().expect("lock").first().cloned()
    })
    .await;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(&body);
    assert_eq!(
        signature,
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let posted: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(posted["status"], "failed");

    // The failed node is asked again on retry; a task with nothing failed cannot be retried.
    let (status, answer) = call(
        &app,
        "POST",
        &format!("/api/v1/tasks/{task}/retry"),
        &key,
        None,
    )
    .await;
    assert_eq!(
        (status, &answer["requeued"]),
        (200, &json!(true)),
        "{answer}"
    );
    let (status, answer) = call(
        &app,
        "POST",
        &format!("/api/v1/tasks/{task}/retry"),
        &key,
        None,
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("nothing_to_retry"))
    );
}

#[tokio::test]
async fn lists_filter_and_page_with_a_cursor() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let edges = fleet(1, 0, 0).await;
    let (_, key) = app
        .developer("dev", "www.example.com", &addrs(&edges))
        .await;
    let urls: Vec<String> = (0..5)
        .map(|i| format!("http://www.example.com/page/{i}"))
        .collect();
    call(
        &app,
        "POST",
        "/api/v1/purges",
        &key,
        Some(json!({ "urls": urls, "regexes": ["http://www.example.com/r/.*"] })),
    )
    .await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = call(
            &app,
            "GET",
            &format!("/api/v1/tasks?kind=url&limit=2{cursor}"),
            &key,
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        for task in page["tasks"].as_array().expect("tasks") {
            seen.push(task["target"].as_str().expect("target").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let mut expected = urls.clone();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, every task once");
    let (_, page) = call(
        &app,
        "GET",
        "/api/v1/tasks?text=page/3&status=created",
        &key,
        None,
    )
    .await;
    assert_eq!(page["tasks"].as_array().map(Vec::len), Some(1));
    let (_, page) = call(&app, "GET", "/api/v1/tasks?domain=other.com", &key, None).await;
    assert_eq!(page["tasks"].as_array().map(Vec::len), Some(0));
    let (status, answer) = call(&app, "GET", "/api/v1/tasks?status=done", &key, None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_request"))
    );

    let response = app
        .http
        .get(app.url("/api/v1/quota"))
        .bearer_auth(&key)
        .header("X-Time-Zone", "GMT+09:00")
        .send()
        .await
        .expect("answer");
    assert!(
        response.headers().get("x-request-id").is_some(),
        "every response carries a request id"
    );
    let quota: Value = response.json().await.expect("JSON");
    assert_eq!(
        quota["url"],
        json!({ "limit": 10000, "used": 5, "left": 9995 })
    );
    assert!(
        quota["window_start"]
            .as_str()
            .expect("start")
            .ends_with("T01:00:00+09:00"),
        "{quota}"
    );
    assert!(
        quota["window_end"]
            .as_str()
            .expect("end")
            .ends_with("T00:59:59+09:00"),
        "{quota}"
    );
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_users_stay_in_their_lane() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let edges = fleet(1, 0, 0).await;
    let (_, alice) = app.developer("alice", "www.a.com", &addrs(&edges)).await;
    let (_, bob) = app.developer("bob", "www.b.com", &addrs(&edges)).await;

    let (status, answer) = call(&app, "GET", "/api/v1/quota", "wrong", None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let response = app
        .http
        .get(app.url("/api/v1/quota"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 401);
    let response = app
        .http
        .post(app.url("/api/v1/purges"))
        .bearer_auth(&alice)
        .header("Content-Type", "application/json")
        .body("{urls")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let response = app
        .http
        .post(app.url("/api/v1/purges"))
        .bearer_auth(&alice)
        .body("x")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 415);
    let huge = format!(r#"{{"urls":["{}"]}}"#, "a".repeat(2 << 20));
    let response = app
        .http
        .post(app.url("/api/v1/purges"))
        .bearer_auth(&alice)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 413);
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/purges",
        &alice,
        Some(json!({ "urls": [], "unknown": 1 })),
    )
    .await;
    assert_eq!(status, 400);

    let (_, answer) = call(
        &app,
        "POST",
        "/api/v1/purges",
        &alice,
        Some(json!({ "urls": ["http://www.a.com/secret"] })),
    )
    .await;
    let task = answer["accepted"][0]["task_id"]
        .as_str()
        .expect("task")
        .to_owned();
    let batch = answer["batch_id"].as_str().expect("batch").to_owned();
    assert_eq!(
        call(&app, "GET", &format!("/api/v1/tasks/{task}"), &alice, None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&app, "GET", &format!("/api/v1/tasks/{task}"), &bob, None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/api/v1/tasks/{task}/retry"),
            &bob,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(&app, "GET", &format!("/api/v1/purges/{batch}"), &bob, None)
            .await
            .0,
        404
    );
    let (_, page) = call(&app, "GET", "/api/v1/tasks", &bob, None).await;
    assert_eq!(page["tasks"].as_array().map(Vec::len), Some(0));
    let (status, answer) = call(&app, "GET", "/api/v1/admin/users", &bob, None).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("forbidden")));
}
