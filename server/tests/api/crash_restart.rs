//! `kill -9` of a `purger serve` process in the middle of a 500 URL × 300 edge fan-out, then a
//! restart on the same data: every accepted task finishes, none is lost or stuck.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use crate::processes::{self, developer, edge_sim, free_port, serve, wait_ready};

const URLS: usize = 500;
const EDGES: usize = 300;

fn purger(data: &std::path::Path, addr: SocketAddr) -> processes::Process {
    let instance = format!("crash-{}", free_port());
    serve(data, addr, &[("PURGER_INSTANCE_NAME", &instance)], None)
}

async fn get(http: &reqwest::Client, url: String, key: &str) -> Value {
    http.get(url)
        .bearer_auth(key)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON")
}

/// (finished, confirmed by every edge) among the batch's tasks.
async fn progress(
    http: &reqwest::Client,
    addr: SocketAddr,
    key: &str,
    batch: &str,
) -> (usize, usize) {
    let answer = get(http, format!("http://{addr}/api/v1/purges/{batch}"), key).await;
    let tasks = answer["tasks"].as_array().cloned().unwrap_or_default();
    let finished = tasks
        .iter()
        .filter(|t| t["status"] == "success" || t["status"] == "failed")
        .count();
    let complete = tasks
        .iter()
        .filter(|t| t["status"] == "success" && t["success"] == EDGES)
        .count();
    (finished, complete)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_restarts_and_finishes_every_accepted_task() {
    let data = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let (edges, csv) = edge_sim(EDGES, 3).await;
    let key = developer(data.path(), "dev", "www.example.com", &csv);

    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut server = purger(data.path(), addr);
    wait_ready(&http, addr).await;
    let urls: Vec<String> = (0..URLS)
        .map(|i| format!("http://www.example.com/crash/{i}.css"))
        .collect();
    let answer: Value = http
        .post(format!("http://{addr}/api/v1/purges"))
        .bearer_auth(&key)
        .json(&json!({ "urls": urls }))
        .send()
        .await
        .expect("submitted")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        answer["accepted"].as_array().map(Vec::len),
        Some(URLS),
        "{answer}"
    );
    let batch = answer["batch_id"].as_str().expect("batch id").to_owned();

    // Mid-way: some tasks finished, most not.
    let mut at_kill = (0, 0);
    for _ in 0..600 {
        at_kill = progress(&http, addr, &key, &batch).await;
        if at_kill.0 >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        at_kill.0 >= 20 && at_kill.0 < URLS,
        "not mid-way: {at_kill:?}"
    );
    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("reaped");

    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let _restarted = purger(data.path(), addr);
    wait_ready(&http, addr).await;
    let mut done = (0, 0);
    for _ in 0..1200 {
        done = progress(&http, addr, &key, &batch).await;
        if done.0 == URLS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "crash-restart: {URLS} URLs x {EDGES} edges; killed with {} tasks finished; after restart {} of {URLS} finished, {} confirmed by all {EDGES} edges",
        at_kill.0, done.0, done.1
    );
    assert_eq!(
        done,
        (URLS, URLS),
        "every accepted task finished, confirmed by every edge"
    );
    let queue = get(
        &http,
        format!("http://{addr}/api/v1/tasks?status=running"),
        &key,
    )
    .await;
    assert_eq!(
        queue["tasks"].as_array().map(Vec::len),
        Some(0),
        "nothing stuck: {queue}"
    );
    drop(edges);
}
