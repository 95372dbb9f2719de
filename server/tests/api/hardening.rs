//! What a production deployment needs from the server beyond each API's own rules: slow
//! clients cannot hold it, bodies are bounded however they are sent, files are private, caps
//! hold, and seed 000 reports a task it has just made as `created`.

use std::time::{Duration, Instant};

use app::api::auth::SignIn;
use app::api::purges::CheckTargets;
use engine::Actor;
use futures::StreamExt;
use server_fn::ServerFn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Reads what the server sends until it closes the connection or `within` passes; `None` when
/// it is still open then.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let app = spawn_app_with(|c| {
        c.workers = false;
        c.server.header_read_timeout_secs = 1;
    })
    .await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let closed = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the connection is still open after 5 s");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_body_sent_too_slowly_times_out_with_408() {
    let app = spawn_app_with(|c| {
        c.workers = false;
        c.server.request_timeout_secs = 1;
    })
    .await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 1000\r\n\r\nusername=a",
        SignIn::PATH
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("answered and closed within 5 s");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let app = spawn_app_with(|c| {
        c.workers = false;
        c.server.max_connections = 2;
    })
    .await;
    let mut held = vec![
        TcpStream::connect(app.addr).await.expect("connect"),
        TcpStream::connect(app.addr).await.expect("connect"),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(app.addr)
        .await
        .expect("queued by the kernel");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        read_until_closed(&mut third, Duration::from_millis(500)).await,
        None,
        "served although two connections are open"
    );
    held.pop();
    let answer = read_until_closed(&mut third, Duration::from_secs(5))
        .await
        .expect("served once one closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn seed004_checks_the_signature_before_reading_the_body() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    // A body that never ends, from someone who is not a user.
    let head = "POST /api/content/regular-url/purge HTTP/1.1\r\nHost: x\r\n\
                Authorization: Basic bm9ib2R5OnNpZw==\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
                10000\r\n{\"urlRegulars\":[";
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buffer))
        .await
        .expect("answered without waiting for the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&buffer[..read]);
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("UserNameInvalid"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_chunked_server_function_body_is_held_to_the_limit() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        SignIn::PATH
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let chunk = format!("10000\r\nusername={}\r\n", "a".repeat(0x10000 - 9));
    // 512 KiB in 64 KiB chunks; the server may answer (and stop reading) before the end.
    for _ in 0..8 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("answered");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn callback_urls_longer_than_2000_characters_are_refused_by_every_api_that_takes_one() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let edges = fleet(1, 0, 0).await;
    let (_, key) = app
        .developer("dev", "www.example.com", &addrs(&edges))
        .await;
    let long = format!("http://127.0.0.1:9/{}", "c".repeat(2000));
    let expected = "callback_url is longer than 2000 characters";

    let (status, body) = app
        .get(&format!(
            "/api/purge?uri={}&api_key={key}&callback_url={}",
            enc("http://www.example.com/a.png"),
            enc(&long)
        ))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(expected), "{body}");

    let response = app
        .http
        .post(app.url("/api/v1/purges"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"urls": ["http://www.example.com/a.png"], "callback_url": long}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["code"], "invalid_request");
    assert_eq!(body["message"], expected);

    // 2000 characters are still fine (seed 004 and the dashboard take no callback_url).
    let fits = format!("http://127.0.0.1:9/{}", "c".repeat(2000 - 19));
    let (status, body) = app
        .get(&format!(
            "/api/purge?uri={}&api_key={key}&callback_url={}",
            enc("http://www.example.com/b.png"),
            enc(&fits)
        ))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_user_holds_at_most_the_configured_number_of_live_keys() {
    let app = spawn_app_with(|c| {
        c.workers = false;
        c.engine.max_keys_per_user = 3;
    })
    .await;
    let (user, _) = app.developer("dev", "www.example.com", &[]).await;
    let actor = Actor::cli();
    let (second, _) = app
        .engine
        .create_key(&actor, user.id, "two")
        .await
        .expect("2");
    app.engine
        .import_key(&actor, user.id, "an-old-system-key-0123456789", "three")
        .await
        .expect("3");
    let refused = app.engine.create_key(&actor, user.id, "four").await;
    let message = refused.map(|_| ()).expect_err("over the cap").to_string();
    assert!(
        message.contains("at most 3") || message.contains("most is 3"),
        "{message}"
    );
    assert!(app
        .engine
        .import_key(&actor, user.id, "another-old-key-0123456789", "4")
        .await
        .is_err());
    app.engine
        .revoke_key(&actor, user.id, &second.public_id)
        .await
        .expect("revoke");
    app.engine
        .create_key(&actor, user.id, "four")
        .await
        .expect("a revoked key does not count");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_and_shm_files_are_private() {
    use std::os::unix::fs::PermissionsExt;

    let app = spawn_app_with(|c| c.workers = false).await;
    app.developer("dev", "www.example.com", &[]).await;
    let db = app.database_path();
    for path in [
        db.clone(),
        db.with_extension("db-wal"),
        db.with_extension("db-shm"),
    ] {
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
}

#[tokio::test]
async fn inline_checks_are_bounded_and_rate_limited_per_session() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let (user, _) = app.developer("dev", "www.example.com", &[]).await;
    app.engine
        .update_user(
            &Actor::cli(),
            user.id,
            Default::default(),
            Some("dev-password"),
        )
        .await
        .expect("password");
    let signed_in = app
        .http
        .post(app.url(SignIn::PATH))
        .form(&[("username", "dev"), ("password", "dev-password")])
        .send()
        .await
        .expect("answer");
    let cookie = session_cookie(&signed_in).expect("signed in");
    let text: String = (0..1000)
        .map(|n| format!("http://www.example.com/r{n}/.*\\.png\n"))
        .collect();
    let check = || {
        app.http
            .post(app.url(CheckTargets::PATH))
            .header("Cookie", &cookie)
            .header("Origin", format!("http://{}", app.addr))
            .header("Accept", "application/json")
            .form(&[("kind", "regex"), ("text", text.as_str())])
            .send()
    };
    // Three at once: the lines are counted before they are checked.
    let (first, second, third) = tokio::join!(check(), check(), check());
    let mut statuses: Vec<u16> = [&first, &second, &third]
        .iter()
        .map(|r| r.as_ref().expect("answer").status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 200, 429],
        "1000 lines a burst, then 200 a second"
    );
    let ok = [first, second, third]
        .into_iter()
        .map(|r| r.expect("answer"))
        .find(|r| r.status().is_success())
        .expect("one answered");
    let verdicts: Vec<serde_json::Value> = ok.json().await.expect("JSON");
    assert_eq!(verdicts.len(), 500, "at most a request's worth of lines");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_task_is_reported_created_and_a_repeated_task_id_its_real_status() {
    let app = spawn_app().await;
    let edges = fleet(2, 0, 0).await;
    let (_, key) = app
        .developer("dev", "www.example.com", &addrs(&edges))
        .await;
    // Workers claim tasks as soon as they are written; the answer must not say `running`.
    let app = &app;
    let statuses: Vec<String> = futures::stream::iter(0..200)
        .map(|n| {
            let path = format!(
                "/api/purge?uri={}&api_key={key}",
                enc(&format!("http://www.example.com/race/{n}.png"))
            );
            async move {
                let (status, body) = app.get(&path).await;
                assert_eq!(status, 200, "{body}");
                let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                value["status"].as_str().unwrap_or_default().to_owned()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let running = statuses.iter().filter(|s| *s != "created").count();
    assert_eq!(
        running, 0,
        "{running} of 200 new tasks were not reported created"
    );

    let uri = enc("http://www.example.com/once.png");
    let submit = format!("/api/purge?uri={uri}&api_key={key}&taskId=deploy-7");
    let (_, first) = app.get(&submit).await;
    let first: serde_json::Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(first["status"], "created");
    wait_for(Duration::from_secs(10), || async {
        let (_, body) = app.get(&format!("/api/q?uri={uri}&api_key={key}")).await;
        body.contains("\"status\":\"success\"").then_some(())
    })
    .await;
    let (status, again) = app.get(&submit).await;
    assert_eq!(status, 200);
    let again: serde_json::Value = serde_json::from_str(&again).expect("JSON");
    assert_eq!(again["status"], "success", "the existing task as it stands");
    assert_eq!(again["create_at"], first["create_at"]);
}
