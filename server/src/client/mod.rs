//! `purger purge` and `purger prefetch`: a client of a Purger server's v1 API for deploy
//! pipelines. It submits, and with `--wait` follows the batch to its end (a progress bar on a
//! terminal, plain lines otherwise), then names every node that failed and why.
//!
//! Exit codes: 0 every node confirmed (or, without `--wait`, everything accepted), 1 some node
//! failed, 2 refused or bad usage, 3 the wait timed out.

mod progress;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};

use self::progress::Progress;

/// A line on standard output (the result), ignoring a closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// A line on standard error (progress, refusals, failures), ignoring a closed pipe.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Where the server is and who asks.
#[derive(Debug, Args)]
pub struct Connection {
    /// The Purger server's base URL.
    #[arg(long, env = "PURGER_SERVER", default_value = "http://127.0.0.1:3000")]
    pub server: String,
    /// An API key of the user who purges.
    #[arg(long, env = "PURGER_API_KEY", hide_env_values = true)]
    pub key: String,
}

/// How a submission is followed.
#[derive(Debug, Args)]
pub struct Following {
    /// Wait until every task ended; exit 0 when every node confirmed, 1 when one failed.
    #[arg(long)]
    pub wait: bool,
    /// With `--wait`: give up (exit 3) after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// Options of `purger purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Exact URLs (`-` reads one target per line from standard input).
    pub urls: Vec<String>,
    /// URL prefixes (path ending in `/` or `*`).
    #[arg(long = "prefix")]
    pub prefixes: Vec<String>,
    /// URL regexes.
    #[arg(long = "regex")]
    pub regexes: Vec<String>,
    /// The domain of `--tag` and `--everything`.
    #[arg(long)]
    pub domain: Option<String>,
    /// Cache tags of `--domain`.
    #[arg(long = "tag", requires = "domain")]
    pub tags: Vec<String>,
    /// Every object of `--domain`.
    #[arg(long, requires = "domain")]
    pub everything: bool,
    /// Mark stale instead of deleting (served stale while the edge refetches).
    #[arg(long)]
    pub invalidate: bool,
    /// Only the edges of these groups.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// After each edge confirms a URL, fetch it through the edge and check its `Age`.
    #[arg(long)]
    pub verify: bool,
    /// After each edge confirms a URL, fetch it through the edge to warm it.
    #[arg(long)]
    pub prefetch: bool,
    /// `--wait` and `--timeout`.
    #[command(flatten)]
    pub follow: Following,
    /// `--server` and `--key`.
    #[command(flatten)]
    pub connection: Connection,
}

/// Options of `purger prefetch`.
#[derive(Debug, Args)]
pub struct PrefetchArgs {
    /// Exact URLs (`-` reads one per line from standard input).
    #[arg(required = true)]
    pub urls: Vec<String>,
    /// Only the edges of these groups.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// `--wait` and `--timeout`.
    #[command(flatten)]
    pub follow: Following,
    /// `--server` and `--key`.
    #[command(flatten)]
    pub connection: Connection,
}

/// The exit code of a refusal or a usage mistake.
const REFUSED: u8 = 2;
/// The exit code of a wait that ran out.
const TIMED_OUT: u8 = 3;

/// `purger purge`.
pub async fn purge(args: PurgeArgs, json_output: bool) -> anyhow::Result<ExitCode> {
    let body = json!({
        "urls": with_stdin(args.urls)?,
        "prefixes": with_stdin(args.prefixes)?,
        "regexes": with_stdin(args.regexes)?,
        "domain": args.domain,
        "tags": with_stdin(args.tags)?,
        "everything": args.everything,
        "mode": if args.invalidate { "invalidate" } else { "delete" },
        "groups": args.groups,
        "verify": args.verify,
        "prefetch": args.prefetch,
    });
    Client::new(args.connection)?
        .run("purges", body, &args.follow, json_output)
        .await
}

/// `purger prefetch`.
pub async fn prefetch(args: PrefetchArgs, json_output: bool) -> anyhow::Result<ExitCode> {
    let body = json!({ "urls": with_stdin(args.urls)?, "groups": args.groups });
    Client::new(args.connection)?
        .run("prefetches", body, &args.follow, json_output)
        .await
}

/// `targets`, with a `-` replaced by the non-empty lines of standard input.
fn with_stdin(targets: Vec<String>) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::with_capacity(targets.len());
    for target in targets {
        if target != "-" {
            out.push(target);
            continue;
        }
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading targets from standard input")?;
            let line = line.trim();
            if !line.is_empty() {
                out.push(line.to_owned());
            }
        }
    }
    Ok(out)
}

/// A v1 client of one server with one key.
struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    fn new(connection: Connection) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .user_agent(concat!("purger-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: connection.server.trim_end_matches('/').to_owned(),
            key: connection.key,
        })
    }

    /// Sends `request` and reads its JSON answer: (status, body).
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
        let response = request
            .bearer_auth(&self.key)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Submits `body` to `/api/v1/{resource}`, then follows it as `follow` says.
    async fn run(
        &self,
        resource: &str,
        body: Value,
        follow: &Following,
        json_output: bool,
    ) -> anyhow::Result<ExitCode> {
        let url = format!("{}/api/v1/{resource}", self.base);
        let (status, answer) = self.send(self.http.post(&url).json(&body)).await?;
        if status != 200 {
            tell!("refused (HTTP {status}): {}", message(&answer));
            return Ok(ExitCode::from(REFUSED));
        }
        let refused = answer["refused"].as_array().cloned().unwrap_or_default();
        for refusal in &refused {
            tell!(
                "refused {} {}: {} ({})",
                refusal["kind"].as_str().unwrap_or("?"),
                refusal["target"].as_str().unwrap_or("?"),
                refusal["message"].as_str().unwrap_or(""),
                refusal["code"].as_str().unwrap_or("")
            );
        }
        let Some(batch) = answer["batch_id"].as_str().map(str::to_owned) else {
            tell!("nothing was accepted");
            return Ok(ExitCode::from(REFUSED));
        };
        let refused_code = if refused.is_empty() { 0 } else { REFUSED };
        if !follow.wait {
            if json_output {
                say!("{answer}");
            } else {
                let accepted = answer["accepted"].as_array().map_or(0, Vec::len);
                say!(
                    "batch {batch}: {accepted} accepted, {} refused",
                    refused.len()
                );
            }
            return Ok(ExitCode::from(refused_code));
        }
        let (view, timed_out) = self
            .wait_for(&format!("{url}/{batch}"), follow.timeout)
            .await?;
        let failed = self.report_failures(&view).await?;
        if json_output {
            say!("{view}");
        }
        let code = match (refused_code, timed_out, failed) {
            (REFUSED, _, _) => REFUSED,
            (_, true, _) => TIMED_OUT,
            (_, _, true) => 1,
            _ => 0,
        };
        Ok(ExitCode::from(code))
    }

    /// Follows the batch at `url` with long polls until every task ended or `timeout` seconds
    /// passed: (the last view, whether it timed out).
    async fn wait_for(&self, url: &str, timeout: u64) -> anyhow::Result<(Value, bool)> {
        let deadline = Instant::now() + Duration::from_secs(timeout);
        let mut progress = Progress::new(std::io::stderr().is_terminal());
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Short polls while it runs, so that progress shows; each answers at once when the
            // batch ends.
            let wait = left.as_secs().clamp(0, 2);
            let (status, view) = self
                .send(self.http.get(url).query(&[("wait", wait)]))
                .await?;
            anyhow::ensure!(
                status == 200,
                "reading the batch: HTTP {status}: {}",
                message(&view)
            );
            let tasks = view["tasks"].as_array().cloned().unwrap_or_default();
            let done = tasks
                .iter()
                .all(|task| matches!(task["status"].as_str(), Some("success" | "failed")));
            progress.show(&tasks);
            if done {
                progress.finish();
                return Ok((view, false));
            }
            if left.is_zero() {
                progress.finish();
                tell!("timed out after {timeout} s; the batch goes on");
                return Ok((view, true));
            }
        }
    }

    /// Prints each failed node of each failed task; whether there was one.
    async fn report_failures(&self, view: &Value) -> anyhow::Result<bool> {
        let mut any = false;
        for task in view["tasks"].as_array().into_iter().flatten() {
            if task["status"] != "failed" {
                continue;
            }
            any = true;
            let id = task["id"].as_str().unwrap_or_default();
            let (_, detail) = self
                .send(self.http.get(format!("{}/api/v1/tasks/{id}", self.base)))
                .await?;
            for failure in detail["failures"].as_array().into_iter().flatten() {
                tell!(
                    "failed {} on {}: {} {}",
                    task["target"].as_str().unwrap_or("?"),
                    failure["node"].as_str().unwrap_or("?"),
                    failure["reason"].as_str().unwrap_or("?"),
                    failure["detail"].as_str().unwrap_or("")
                );
            }
        }
        Ok(any)
    }
}

/// The `message` of a v1 error body, or the body itself.
fn message(body: &Value) -> String {
    body["message"]
        .as_str()
        .map_or_else(|| body.to_string(), str::to_owned)
}
