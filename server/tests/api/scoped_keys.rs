//! Scoped API keys through the three APIs: an admin makes them with limits (shown back by the
//! admin API), a read-only key reads but cannot purge on v1 (`key_read_only`) nor on seed 004
//! (`UserNotAllowedPush`), a key limited to other kinds cannot purge on seed 000, and a key
//! limited to one domain lists only that domain's tasks.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::Utc;
use engine::Actor;
use serde_json::{json, Value};

use crate::support::*;

/// Creates a key for `dev` with `limits` through the admin API; its secret.
async fn key_with(app: &TestApp, admin: &str, limits: Value) -> String {
    let (status, created) = call(
        app,
        "POST",
        "/api/v1/admin/users/dev/keys",
        admin,
        Some(json!({ "label": "scoped", "limits": limits })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["key"].as_str().expect("key").to_owned()
}

#[tokio::test]
async fn scoped_keys_are_enforced_on_every_api() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let edges = fleet(1, 0, 0).await;
    app.developer("dev", "www.example.com", &addrs(&edges))
        .await;
    app.engine
        .add_domain(
            &Actor::cli(),
            "static.example.com",
            &["dev".to_owned()],
            &["dev-edges".to_owned()],
        )
        .await
        .expect("second domain");
    let admin = admin_key(&app).await;

    // Limits that cannot be met are refused, and nothing is made.
    let (status, error) = call(
        &app,
        "POST",
        "/api/v1/admin/users/dev/keys",
        &admin,
        Some(json!({ "label": "bad", "limits": { "domains": ["other.org"] } })),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("not_found")),
        "{error}"
    );

    let read_only = key_with(&app, &admin, json!({ "read_only": true })).await;
    let static_only = key_with(&app, &admin, json!({ "domains": ["static.example.com"] })).await;
    let prefixes = key_with(&app, &admin, json!({ "kinds": ["prefix"] })).await;
    let (status, keys) = call(&app, "GET", "/api/v1/admin/users/dev/keys", &admin, None).await;
    assert_eq!(status, 200);
    let limits: Vec<&Value> = keys
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["label"] == "scoped")
        .map(|k| &k["limits"])
        .collect();
    assert!(limits.contains(&&json!({ "domains": null, "kinds": null, "read_only": true })));
    assert!(limits.contains(
        &&json!({ "domains": ["static.example.com"], "kinds": null, "read_only": false })
    ));
    assert!(limits.contains(&&json!({ "domains": null, "kinds": ["prefix"], "read_only": false })));

    // v1: the read-only key reads, and may not purge.
    let purge = json!({ "urls": ["http://www.example.com/a.png"] });
    let (status, error) = call(
        &app,
        "POST",
        "/api/v1/purges",
        &read_only,
        Some(purge.clone()),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("key_read_only")),
        "{error}"
    );
    let (status, _) = call(&app, "GET", "/api/v1/tasks", &read_only, None).await;
    assert_eq!(status, 200);

    // v1: the domain-limited key purges its domain only, and lists only its tasks.
    let (status, answer) = call(
        &app,
        "POST",
        "/api/v1/purges",
        &static_only,
        Some(
            json!({ "urls": ["http://static.example.com/a.png", "http://www.example.com/b.png"] }),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["accepted"].as_array().map(Vec::len),
        Some(1),
        "{answer}"
    );
    assert_eq!(answer["refused"][0]["code"], "not_your_domain", "{answer}");
    let (status, answer) = call(&app, "POST", "/api/v1/purges", &prefixes, Some(purge)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("key_not_allowed")),
        "{answer}"
    );
    let dev = app
        .engine
        .user_by_name("dev")
        .await
        .expect("read")
        .expect("dev");
    let (_, dev_key) = app
        .engine
        .create_key(&Actor::cli(), dev.id, "all")
        .await
        .expect("key");
    let dev_key = dev_key.expose().to_owned();
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/purges",
        &dev_key,
        Some(json!({ "urls": ["http://www.example.com/c.png"] })),
    )
    .await;
    assert_eq!(status, 200);
    let targets = |page: &Value| -> Vec<String> {
        page["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["target"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (_, all) = call(&app, "GET", "/api/v1/tasks", &dev_key, None).await;
    assert_eq!(targets(&all).len(), 2, "{all}");
    let (_, scoped) = call(&app, "GET", "/api/v1/tasks", &static_only, None).await;
    assert_eq!(
        targets(&scoped),
        vec!["http://static.example.com/a.png"],
        "{scoped}"
    );

    // Seed 000: a key limited to prefixes may not purge URLs.
    let (status, body) = app
        .get(&format!(
            "/api/purge?uri={}&api_key={}",
            enc("http://www.example.com/d.png"),
            enc(&prefixes)
        ))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"status\":\"failed\""), "{body}");

    // Seed 004: a read-only key gets UserNotAllowedPush.
    let date = seed004_date(Utc::now());
    let auth = STANDARD.encode(format!("dev:{}", seed004_password(&read_only, &date)));
    let response = app
        .http
        .post(app.url("/api/content/regular-url/purge"))
        .header("Authorization", format!("Basic {auth}"))
        .header("Date", &date)
        .header("Content-Type", "application/json")
        .body(json!({ "urlRegulars": ["http://www.example.com/.*\\.png"] }).to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({ "Code": "UserNotAllowedPush", "Message": "user not allowed push" })
    );
    assert_eq!(
        app.engine
            .list_tasks(&engine::store::TaskFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("list")
            .len(),
        2
    );
}
