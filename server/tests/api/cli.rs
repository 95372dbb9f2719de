//! The operator CLI against a database of its own: text and `--json` output, exit codes.

use std::process::Command;

use serde_json::Value;

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Runs `purger ARGS` with stdin `input`: (exit success, stdout, stderr).
    fn run(&self, args: &[&str], input: Option<&str>) -> (bool, String, String) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_purger"))
            .args(args)
            .env("PURGER_DATA_DIR", self.dir.path())
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
    assert_eq!(cli.json(&["migrate"], None)["schema_version"], 8);
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

    let (ok, _, stderr) = cli.run(&["task", "show", "00000000000000000000000000000000"], None);
    assert!(!ok && stderr.contains("no task"), "{stderr}");
}
