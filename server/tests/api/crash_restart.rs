//! `kill -9` of a `purger serve` process in the middle of a 500 URL × 300 edge fan-out, then a
//! restart on the same data: every accepted task finishes, none is lost or stuck. And in the
//! middle of a burst of single-URL submissions, committed in groups: every answered one is there
//! after the restart.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_submission_of_a_burst_survives_a_kill() {
    let data = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    // The workers are off: what is tested is accepting, not the fan-out.
    let key = developer(data.path(), "dev", "www.example.com", "127.0.0.1,9\n");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut server = serve(data.path(), addr, &[("PURGER_WORKERS", "false")], None);
    wait_ready(&http, addr).await;

    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..50)
        .map(|client| {
            let (http, key) = (http.clone(), key.clone());
            let (answered, stop) = (Arc::clone(&answered), Arc::clone(&stop));
            tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let uri = format!("http://www.example.com/burst/{client}/{n}.js");
                    let sent = http
                        .get(format!("http://{addr}/api/purge"))
                        .query(&[("uri", uri.as_str()), ("api_key", key.as_str())])
                        .send()
                        .await;
                    match sent {
                        Ok(answer) if answer.status() == 200 => {
                            answered.lock().expect("list").push(uri);
                        }
                        // The server is gone: this client's last request may or may not have
                        // been committed; it was not answered, so nothing is owed.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    // Kill it once a few hundred are answered, with the other clients' requests in flight.
    for _ in 0..500 {
        if answered.lock().expect("list").len() >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("reaped");
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    let answered = answered.lock().expect("list").clone();
    assert!(answered.len() >= 300, "only {} answered", answered.len());

    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let _restarted = serve(data.path(), addr, &[("PURGER_WORKERS", "false")], None);
    wait_ready(&http, addr).await;
    let mut missing = Vec::new();
    for uri in &answered {
        let found = http
            .get(format!("http://{addr}/api/q"))
            .query(&[("uri", uri.as_str()), ("api_key", key.as_str())])
            .send()
            .await
            .expect("answer");
        if found.status() != 200 {
            missing.push(uri.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} answered submissions lost: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    let quota = get(&http, format!("http://{addr}/api/v1/quota"), &key).await;
    let used = quota["url"]["used"].as_u64().expect("URL use");
    assert!(
        used >= answered.len() as u64,
        "the quota counts every answered one: {quota}"
    );
}
