//! API keys stay secret: encrypted in the database file, absent from every later response and
//! from the complete output of a server run at the most verbose log level (access logs and
//! spans included), whichever API carried them.

use std::net::SocketAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;

use crate::processes::{cli, developer, edge_sim, free_port, serve, wait_ready};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_appear_in_output_responses_or_the_database_file() {
    let data = tempfile::tempdir().expect("tempdir");
    let (_edges, csv) = edge_sim(3, 1).await;
    let key = developer(data.path(), "dev", "www.example.com", &csv);
    cli(data.path(), &["user", "add", "root", "--admin"], None);
    let admin_key = cli(data.path(), &["key", "create", "root"], None);
    assert_eq!(key.len(), 43);

    let output = data.path().join("server.log");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = serve(
        data.path(),
        addr,
        &[("RUST_LOG", "trace"), ("PURGER_LOG__FORMAT", "json")],
        Some(&output),
    );
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    wait_ready(&http, addr).await;
    let base = format!("http://{addr}");

    let mut bodies = Vec::new();
    // Seed 000 carries the key in the query string, accepted and refused.
    for (uri, api_key) in [
        ("http://www.example.com/s.png", key.clone()),
        ("http://evil.example/s.png", key.clone()),
        ("http://www.example.com/s.png", format!("{key}x")),
    ] {
        let response = http
            .get(format!("{base}/api/purge"))
            .query(&[("uri", uri), ("api_key", api_key.as_str())])
            .send()
            .await
            .expect("answer");
        bodies.push(response.text().await.expect("body"));
        let response = http
            .get(format!("{base}/api/q"))
            .query(&[("uri", uri), ("api_key", api_key.as_str())])
            .send()
            .await
            .expect("answer");
        bodies.push(response.text().await.expect("body"));
    }
    // Seed 004 signs with it.
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(date.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let response = http
        .post(format!("{base}/api/content/regular-url/purge"))
        .header(
            "Authorization",
            format!("Basic {}", STANDARD.encode(format!("dev:{signature}"))),
        )
        .header("Date", &date)
        .json(&json!({ "urlRegulars": ["http://www.example.com/s/.*"] }))
        .send()
        .await
        .expect("answer");
    bodies.push(response.text().await.expect("body"));
    // v1 carries it as a bearer token; lists of keys show only their public ids.
    for (path, bearer) in [
        ("/api/v1/quota", key.as_str()),
        ("/api/v1/tasks", key.as_str()),
        ("/api/v1/admin/users/dev/keys", admin_key.as_str()),
        ("/api/v1/admin/users", admin_key.as_str()),
    ] {
        let response = http
            .get(format!("{base}{path}"))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("answer");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        bodies.push(response.text().await.expect("body"));
    }
    let response = http
        .post(format!("{base}/api/v1/purges"))
        .bearer_auth(&key)
        .json(&json!({ "urls": ["http://www.example.com/v1.png"] }))
        .send()
        .await
        .expect("answer");
    bodies.push(response.text().await.expect("body"));
    // Let the fan-out and its logging happen, then stop the server and read everything it wrote.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    drop(server);

    let log = std::fs::read_to_string(&output).expect("server output");
    assert!(
        log.lines().count() > 50,
        "the trace log was written: {} lines",
        log.lines().count()
    );
    assert!(log.contains("/api/purge"), "access lines are in the log");
    for secret in [&key, &admin_key] {
        assert!(
            !log.contains(secret.as_str()),
            "a key is in the server output"
        );
        for body in &bodies {
            assert!(
                !body.contains(secret.as_str()),
                "a key is in a response: {body}"
            );
        }
    }
    // At rest: the database (and its write-ahead log) hold the keys only encrypted and hashed.
    for file in ["purger.db", "purger.db-wal"] {
        let Ok(bytes) = std::fs::read(data.path().join(file)) else {
            continue;
        };
        for secret in [&key, &admin_key] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a key is stored in clear in {file}"
            );
        }
    }
}
