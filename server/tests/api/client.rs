//! `purger purge` and `purger prefetch` against a running server, as a deploy job runs them:
//! exit 0 when every edge confirmed, 1 when one failed (named with its reason), 2 when refused,
//! 3 when the wait timed out; targets from standard input with `-`.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::*;

/// Runs `purger ARGS` against `server` as the holder of `key`: (exit code, stdout, stderr).
fn purger(server: SocketAddr, key: &str, args: &[&str], input: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_purger"))
        .args(args)
        .env("PURGER_SERVER", format!("http://{server}"))
        .env("PURGER_API_KEY", key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("purger runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("stdin written");
    let output = child.wait_with_output().expect("purger ends");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_job_purges_waits_and_reads_the_outcome_in_the_exit_code() {
    let app = spawn_app().await;
    let healthy = fleet(2, 0, 0).await;
    let (_, key) = app
        .developer("dev", "www.example.com", &addrs(&healthy))
        .await;
    let broken = fleet(1, 1, 0).await;
    let (_, broken_key) = app
        .developer("ops", "shop.example.com", &addrs(&broken))
        .await;
    let silent = fleet(0, 0, 1).await;
    let (_, silent_key) = app
        .developer("slow", "slow.example.com", &addrs(&silent))
        .await;

    // Every edge confirms: 0, and --json prints the final batch.
    let input = "http://www.example.com/a.css\n\nhttp://www.example.com/b.js\n";
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let (server, key) = (app.addr, key.clone());
        move || purger(server, &key, &["--json", "purge", "--wait", "-"], input)
    })
    .await
    .expect("ran");
    assert_eq!(code, 0, "{stderr}");
    let batch: Value = serde_json::from_str(stdout.trim()).expect("the batch as JSON");
    let statuses: Vec<_> = batch["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        vec!["success", "success"],
        "both URLs of standard input"
    );

    // One edge refuses connections: 1, with the node and its reason.
    let (code, _, stderr) = tokio::task::spawn_blocking({
        let server = app.addr;
        move || {
            purger(
                server,
                &broken_key,
                &["purge", "--wait", "http://shop.example.com/x"],
                "",
            )
        }
    })
    .await
    .expect("ran");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("connect_refused"), "{stderr}");

    // An edge that never answers and a 1-second budget: 3.
    let (code, _, stderr) = tokio::task::spawn_blocking({
        let server = app.addr;
        move || {
            purger(
                server,
                &silent_key,
                &[
                    "purge",
                    "--wait",
                    "--timeout",
                    "1",
                    "http://slow.example.com/x",
                ],
                "",
            )
        }
    })
    .await
    .expect("ran");
    assert_eq!(code, 3, "{stderr}");

    // Refused (not the caller's domain) or mistyped: 2.
    let (code, _, stderr) = tokio::task::spawn_blocking({
        let (server, key) = (app.addr, key.clone());
        move || {
            purger(
                server,
                &key,
                &["purge", "--wait", "http://shop.example.com/x"],
                "",
            )
        }
    })
    .await
    .expect("ran");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not_your_domain"), "{stderr}");
    let (code, _, _) = tokio::task::spawn_blocking({
        let (server, key) = (app.addr, key.clone());
        move || purger(server, &key, &["purge", "--tag", "t"], "")
    })
    .await
    .expect("ran");
    assert_eq!(code, 2, "--tag without --domain is a usage mistake");

    // A prefetch through every edge.
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let server = app.addr;
        move || {
            purger(
                server,
                &key,
                &["prefetch", "--wait", "http://www.example.com/a.css"],
                "",
            )
        }
    })
    .await
    .expect("ran");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.is_empty() && stderr.contains("2 of 2 edges confirmed"),
        "{stderr}"
    );
}
