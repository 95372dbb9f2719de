//! `kill -9` of a `purger serve` process in the middle of a 500 URL × 300 edge fan-out, then a
//! restart on the same data: every accepted task finishes, none is lost or stuck.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const URLS: usize = 500;
const EDGES: usize = 300;

/// A child process, killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn purger(args: &[&str], data: &std::path::Path, addr: SocketAddr) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_purger"))
            .args(args)
            .env("PURGER_DATA_DIR", data)
            .env("PURGER_ADDR", addr.to_string())
            .env("PURGER_INSTANCE_NAME", format!("crash-{}", free_port()))
            .env("PURGER_FANOUT__LEASE_SECS", "3")
            .env("PURGER_API__RATE_LIMIT__PER_SECOND", "0")
            .env("PURGER_QUOTA__URL", "100000")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("purger starts"),
    )
}

async fn wait_ready(http: &reqwest::Client, addr: SocketAddr) {
    for _ in 0..400 {
        if let Ok(response) = http.get(format!("http://{addr}/readyz")).send().await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("purger never became ready on {addr}");
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
    // The edges take free ports and print them as CSV lines after a header line.
    let mut edge_sim = Command::new(env!("CARGO_BIN_EXE_purger"))
        .args([
            "edge-sim",
            "--nodes",
            &EDGES.to_string(),
            "--latency-ms",
            "3",
        ])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("edge-sim starts");
    let stdout = edge_sim.stdout.take().expect("stdout");
    let edges = Process(edge_sim);
    let csv = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .skip(1)
            .take(EDGES)
            .map(|line| line + "\n")
            .collect::<String>()
    })
    .await
    .expect("edge list");
    assert_eq!(csv.lines().count(), EDGES, "{csv}");

    // Users, key, fleet and domain through the operator CLI, as an operator would.
    let cli = |args: &[&str], input: Option<&str>| -> String {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_purger"))
            .args(args)
            .env("PURGER_DATA_DIR", data.path())
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cli runs");
        if let Some(input) = input {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("stdin");
        }
        drop(child.stdin.take());
        let output = child.wait_with_output().expect("cli ends");
        assert!(
            output.status.success(),
            "purger {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    cli(&["user", "add", "dev", "--developer"], None);
    let key = cli(&["key", "create", "dev"], None);
    cli(
        &[
            "nodes",
            "import",
            "-",
            "--group",
            "edges",
            "--protocol",
            "varnish",
        ],
        Some(&csv),
    );
    cli(
        &[
            "domain",
            "add",
            "www.example.com",
            "--user",
            "dev",
            "--group",
            "edges",
        ],
        None,
    );

    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut server = purger(&["serve"], data.path(), addr);
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
    let _restarted = purger(&["serve"], data.path(), addr);
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
