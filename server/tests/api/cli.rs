//! The operator CLI against a database of its own: text and `--json` output, exit codes.

use std::process::Command;

use std::time::Duration;

use serde_json::Value;
use server::tools::edge_sim::Behaviour;

use crate::support::{addrs, call, fleet, spawn_app, wait_for, TestApp};

struct Cli {
    data_dir: std::path::PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Cli {
    fn new() -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        Self {
            data_dir: temp.path().to_path_buf(),
            _temp: Some(temp),
        }
    }

    /// The CLI on a running server's data directory.
    fn beside(app: &TestApp) -> Self {
        Self {
            data_dir: app.dir.path().to_path_buf(),
            _temp: None,
        }
    }

    /// Runs `purger ARGS` with stdin `input`: (exit success, stdout, stderr).
    fn run(&self, args: &[&str], input: Option<&str>) -> (bool, String, String) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_purger"))
            .args(args)
            .env("PURGER_DATA_DIR", &self.data_dir)
            .env("RUST_LOG", "error")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("purger runs");
        if let Some(input) = input {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        let output = child.wait_with_output().expect("purger ends");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn json(&self, args: &[&str], input: Option<&str>) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (ok, stdout, stderr) = self.run(&all, input);
        assert!(ok, "purger {args:?} failed: {stderr}");
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|_| panic!("JSON from {args:?}: {stdout}"))
    }
}

#[test]
fn operators_set_up_users_keys_domains_nodes_and_quotas() {
    let cli = Cli::new();
    assert_eq!(cli.json(&["migrate"], None)["schema_version"], 11);
    let user = cli.json(
        &["user", "add", "alice", "--developer", "--password-stdin"],
        Some("alice-password\n"),
    );
    assert_eq!(
        (user["username"].as_str(), user["role"].as_str()),
        (Some("alice"), Some("developer"))
    );
    let admin = cli.json(&["user", "add", "root", "--admin"], None);
    assert_eq!(admin["role"], "admin");

    let key = cli.json(&["key", "create", "alice", "--label", "ci"], None);
    assert_eq!(key["key"].as_str().map(str::len), Some(43));
    let (ok, text, _) = cli.run(&["key", "create", "alice"], None);
    assert!(
        ok && text.trim().len() == 43,
        "the plain output is the key alone: {text}"
    );
    let imported = cli.json(
        &[
            "key",
            "import",
            "alice",
            "BsZzuSHlwCl8jCupocGDHOpg8kXFGk73NR1GLU9OnKw",
        ],
        None,
    );
    assert!(imported["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("key_")));

    let nodes = cli.json(
        &[
            "nodes",
            "import",
            "-",
            "--group",
            "eu",
            "--protocol",
            "varnish",
        ],
        Some("10.0.0.1,80\n10.0.0.2,6081,false\n# comment\nnot-an-ip,80\n"),
    );
    assert_eq!(
        (nodes["added"].as_u64(), nodes["updated"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        nodes["refused"][0][0], 4,
        "the refused line is named by number"
    );
    let again = cli.json(
        &[
            "nodes",
            "import",
            "-",
            "--group",
            "eu",
            "--protocol",
            "varnish",
        ],
        Some("10.0.0.1,80\n"),
    );
    assert_eq!(
        (again["added"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(1))
    );

    let domain = cli.json(
        &[
            "domain",
            "add",
            "www.example.com",
            "--user",
            "alice",
            "--group",
            "eu",
        ],
        None,
    );
    assert_eq!(domain["users"], serde_json::json!(["alice"]));
    let quota = cli.json(&["quota", "set", "alice", "--regex", "7"], None);
    assert_eq!(
        (
            quota["limits"]["regex"].as_u64(),
            quota["limits"]["url"].as_u64()
        ),
        (Some(7), Some(10000))
    );
    let quota = cli.json(&["quota", "set", "alice", "--url", "5"], None);
    assert_eq!(quota["limits"]["regex"], 7, "other limits keep their value");
    let quota = cli.json(
        &["quota", "set", "alice", "--tag", "30", "--everything", "2"],
        None,
    );
    assert_eq!(
        (
            &quota["limits"]["tag"],
            &quota["limits"]["everything"],
            &quota["limits"]["url"]
        ),
        (
            &serde_json::json!(30),
            &serde_json::json!(2),
            &serde_json::json!(5)
        )
    );
}

#[test]
fn mistakes_exit_non_zero_with_a_clear_message() {
    let cli = Cli::new();
    let (ok, _, stderr) = cli.run(&["key", "create", "nobody"], None);
    assert!(!ok && stderr.contains("no user named nobody"), "{stderr}");
    cli.run(&["user", "add", "alice", "--developer"], None);
    let (ok, _, stderr) = cli.run(&["user", "add", "alice", "--developer"], None);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = cli.run(&["user", "add", "bad name", "--developer"], None);
    assert!(!ok && stderr.contains("user name"), "{stderr}");
    let (ok, _, stderr) = cli.run(&["domain", "add", "not a host", "--user", "alice"], None);
    assert!(!ok && stderr.contains("invalid host"), "{stderr}");
    let (ok, _, _) = cli.run(&["user", "add", "carol"], None);
    assert!(!ok, "a role is required");
}

#[test]
fn operators_create_groups_list_what_they_set_up_and_revoke_keys() {
    let cli = Cli::new();
    cli.json(&["migrate"], None);
    cli.json(&["user", "add", "bob", "--developer"], None);
    // A group before any node: `domain add --group` no longer needs a node import first.
    let group = cli.json(
        &[
            "group",
            "add",
            "east",
            "--protocol",
            "nginx",
            "--prefix-wildcard",
        ],
        None,
    );
    assert_eq!(group["protocol"]["prefix_wildcard"], true, "{group}");
    cli.json(
        &[
            "domain",
            "add",
            "www.bob.example",
            "--user",
            "bob",
            "--group",
            "east",
        ],
        None,
    );
    cli.json(
        &[
            "nodes",
            "import",
            "-",
            "--group",
            "east",
            "--protocol",
            "nginx",
        ],
        Some("127.0.0.1,8080\n"),
    );

    let users = cli.json(&["user", "list"], None);
    assert!(
        users
            .as_array()
            .expect("users")
            .iter()
            .any(|u| u["username"] == "bob" && u["role"] == "developer"),
        "{users}"
    );
    let domains = cli.json(&["domain", "list"], None);
    assert_eq!(domains[0]["host"], "www.bob.example");
    assert_eq!(domains[0]["groups"], serde_json::json!(["east"]));
    let nodes = cli.json(&["nodes", "list", "--group", "east"], None);
    assert_eq!(nodes[0]["nodes"][0]["port"], 8080, "{nodes}");
    let (ok, _, stderr) = cli.run(&["nodes", "list", "--group", "west"], None);
    assert!(
        !ok && stderr.contains("no edge group named west"),
        "{stderr}"
    );
    let (ok, text, _) = cli.run(&["domain", "list"], None);
    assert!(
        ok && text.contains("www.bob.example\tusers [bob]\tgroups [east]"),
        "{text}"
    );

    let key = cli.json(&["key", "create", "bob"], None);
    let id = key["id"].as_str().expect("id").to_owned();
    let keys = cli.json(&["key", "list", "bob"], None);
    assert_eq!(
        (
            keys[0]["public_id"].as_str(),
            keys[0]["revoked_at"].is_null()
        ),
        (Some(id.as_str()), true)
    );
    cli.json(&["key", "revoke", "bob", &id], None);
    let keys = cli.json(&["key", "list", "bob"], None);
    assert!(!keys[0]["revoked_at"].is_null(), "{keys}");
    let (ok, _, stderr) = cli.run(&["key", "revoke", "bob", &id], None);
    assert!(!ok, "a revoked key cannot be revoked again: {stderr}");

    // Scoped keys: limits checked against bob's domains, shown by `key list`.
    let scoped = cli.json(
        &[
            "key",
            "create",
            "bob",
            "--label",
            "deploy",
            "--domain",
            "WWW.bob.example",
            "--kind",
            "url",
            "--kind",
            "prefix",
        ],
        None,
    );
    assert_eq!(
        scoped["limits"],
        serde_json::json!({ "domains": ["www.bob.example"], "kinds": ["url", "prefix"], "read_only": false })
    );
    let (ok, _, stderr) = cli.run(&["key", "create", "bob", "--domain", "other.example"], None);
    assert!(!ok && stderr.contains("other.example"), "{stderr}");
    cli.json(
        &["key", "create", "bob", "--label", "grafana", "--read-only"],
        None,
    );
    let (ok, text, _) = cli.run(&["key", "list", "bob"], None);
    assert!(
        ok && text.contains("\tdeploy\tlive\tdomains www.bob.example; kinds url, prefix\t"),
        "{text}"
    );
    assert!(text.contains("\tgrafana\tlive\tread-only\t"), "{text}");

    let (ok, _, stderr) = cli.run(&["task", "show", "00000000000000000000000000000000"], None);
    assert!(!ok && stderr.contains("no task"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_list_shows_the_health_the_serving_instance_saved() {
    let app = spawn_app().await;
    let edges = fleet(2, 1, 0).await;
    let (_, key) = app
        .developer("ops", "www.ops.example", &addrs(&edges))
        .await;
    let purge = serde_json::json!({ "urls": ["http://www.ops.example/a.css"] });
    let (status, answer) = call(&app, "POST", "/api/v1/purges", &key, Some(purge)).await;
    assert_eq!(status, 200, "{answer}");
    let task = answer["accepted"][0]["task_id"]
        .as_str()
        .expect("task id")
        .to_owned();
    wait_for(Duration::from_secs(10), || async {
        let (_, detail) = call(&app, "GET", &format!("/api/v1/tasks/{task}"), &key, None).await;
        (detail["status"] == "failed").then_some(())
    })
    .await;

    // The server saves health every few seconds; the CLI, another process, reads it.
    let cli = Cli::beside(&app);
    let refused = edges
        .nodes
        .iter()
        .find(|n| matches!(n.behaviour, Behaviour::Refusing))
        .expect("a refusing edge")
        .addr
        .port();
    let failing = wait_for(Duration::from_secs(15), || async {
        let cli = Cli::beside(&app);
        let listed = tokio::task::spawn_blocking(move || {
            cli.json(&["nodes", "list", "--health", "failing"], None)
        })
        .await
        .expect("cli");
        (listed.as_array().is_some_and(|groups| !groups.is_empty())).then_some(listed)
    })
    .await;
    let nodes = failing[0]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 1, "{failing}");
    assert_eq!(nodes[0]["port"], refused, "{failing}");
    assert_eq!(nodes[0]["health"], "failing");
    assert_eq!(
        nodes[0]["last_failure"]["reason"], "connect_refused",
        "{failing}"
    );
    assert!(nodes[0]["recent_failures"].as_u64() >= Some(1), "{failing}");

    let (ok, text, stderr) = tokio::task::spawn_blocking(move || {
        cli.run(&["nodes", "list", "--health", "healthy"], None)
    })
    .await
    .expect("cli");
    assert!(ok, "{stderr}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines()
            .all(|l| l.contains("\tenabled\thealthy\t0 of ")),
        "{text}"
    );
    let (ok, _, stderr) = Cli::beside(&app).run(&["nodes", "list", "--health", "sick"], None);
    assert!(!ok && stderr.contains("sick"), "{stderr}");
}
