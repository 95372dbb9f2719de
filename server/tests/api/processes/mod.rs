//! Real `purger` processes for tests: the server, the operator CLI and simulated edges.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process, killed (and reaped) on drop.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `purger serve` on `data` and `addr`, with test-friendly settings and `env` on top; its output
/// goes to `output` (or nowhere).
pub fn serve(
    data: &Path,
    addr: SocketAddr,
    env: &[(&str, &str)],
    output: Option<&Path>,
) -> Process {
    let (stdout, stderr) = match output {
        Some(path) => {
            let file = std::fs::File::create(path).expect("output file");
            let copy = file.try_clone().expect("output file");
            (Stdio::from(file), Stdio::from(copy))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    Process(
        Command::new(env!("CARGO_BIN_EXE_purger"))
            .arg("serve")
            .env("PURGER_DATA_DIR", data)
            .env("PURGER_ADDR", addr.to_string())
            .env("PURGER_FANOUT__LEASE_SECS", "3")
            .env("PURGER_API__RATE_LIMIT__PER_SECOND", "0")
            .env("PURGER_QUOTA__URL", "100000")
            .env("RUST_LOG", "error")
            .envs(env.iter().copied())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("purger serve starts"),
    )
}

/// Waits until the server at `addr` is ready (`/readyz`).
pub async fn wait_ready(http: &reqwest::Client, addr: SocketAddr) {
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

/// Runs the operator CLI on `data` with `input` on stdin; its trimmed stdout (panics on failure).
pub fn cli(data: &Path, args: &[&str], input: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_purger"))
        .args(args)
        .env("PURGER_DATA_DIR", data)
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
}

/// `purger edge-sim` with `nodes` edges on free ports: the process and the edges as CSV lines.
pub async fn edge_sim(nodes: usize, latency_ms: u64) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_purger"))
        .args([
            "edge-sim",
            "--nodes",
            &nodes.to_string(),
            "--latency-ms",
            &latency_ms.to_string(),
        ])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("edge-sim starts");
    let stdout = child.stdout.take().expect("stdout");
    let process = Process(child);
    // A header line, then one `ip,port` line per edge.
    let csv = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .skip(1)
            .take(nodes)
            .map(|line| line + "\n")
            .collect::<String>()
    })
    .await
    .expect("edge list");
    assert_eq!(csv.lines().count(), nodes, "{csv}");
    (process, csv)
}

/// A developer `name` with a fresh API key (returned) who may purge `host` on the edges `csv`.
pub fn developer(data: &Path, name: &str, host: &str, csv: &str) -> String {
    cli(data, &["user", "add", name, "--developer"], None);
    let key = cli(data, &["key", "create", name], None);
    let group = format!("{name}-edges");
    cli(
        data,
        &[
            "nodes",
            "import",
            "-",
            "--group",
            &group,
            "--protocol",
            "varnish",
        ],
        Some(csv),
    );
    cli(
        data,
        &["domain", "add", host, "--user", name, "--group", &group],
        None,
    );
    key
}
