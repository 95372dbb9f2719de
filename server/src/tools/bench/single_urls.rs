//! The seed-000 pattern at scale: many clients each sending one new URL per
//! `GET /api/purge`, with the fan-out workers off so that what is measured is accepting
//! (issue 22). The clients are wrk's, in their own process, on a fresh SQLite file or a fresh
//! PostgreSQL database.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;
use sqlx::{Connection, Executor, PgConnection};

use super::{fleet, BenchArgs, BenchReport};

/// Runs the scenario on SQLite, then on PostgreSQL when `--postgres-url` names a server,
/// printing each figure through `say` and keeping it in `report`.
pub async fn measure(
    args: &BenchArgs,
    report: &mut BenchReport,
    say: &impl Fn(String),
) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let (clients, seconds) = (args.single_url_clients, args.single_url_seconds);
    for (store, url) in [
        ("SQLite", None),
        ("PostgreSQL", args.postgres_url.as_deref()),
    ] {
        if store == "PostgreSQL" && url.is_none() {
            say("6. single URLs on PostgreSQL: not measured (no --postgres-url)".into());
            continue;
        }
        let run = run(clients, seconds, url, work.path()).await?;
        say(format!(
            "6. single URLs through GET /api/purge ({store}, workers off, {clients} wrk connections, {seconds} s, a new URL each): {:.0} submissions/s, p50 {:.1} ms, p99 {:.1} ms; {} non-2xx, {} socket errors; {:.1} submissions per commit",
            run.per_sec, run.p50_ms, run.p99_ms, run.non_2xx, run.socket_errors, run.batches_per_commit
        ));
        match url {
            None => report.single_urls_sqlite = Some(run),
            Some(_) => report.single_urls_postgres = Some(run),
        }
    }
    Ok(())
}

/// What one run measured, from wrk's own counts.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SingleUrls {
    /// Submissions answered per second (2xx and not).
    pub per_sec: f64,
    /// Median latency, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: f64,
    /// Answers other than 2xx or 3xx (there should be none).
    pub non_2xx: u64,
    /// Connection errors, reads, writes and timeouts.
    pub socket_errors: u64,
    /// Submissions per group commit, on average.
    pub batches_per_commit: f64,
}

/// Runs wrk's `clients` connections for `seconds` against a server whose workers are off, on
/// SQLite (`postgres_admin_url` `None`) or on a fresh database of that PostgreSQL server.
pub async fn run(
    clients: usize,
    seconds: u64,
    postgres_admin_url: Option<&str>,
    work: &Path,
) -> anyhow::Result<SingleUrls> {
    let database = match postgres_admin_url {
        Some(admin) => Some(BenchDatabase::create(admin).await?),
        None => None,
    };
    let url = database.as_ref().map(|d| d.url.clone());
    let server = fleet::start_server(false, |config| {
        if url.is_some() {
            config.database_url = url;
        }
    })
    .await?;
    // The workers are off: the edge is never asked.
    let key = server
        .developer("single", "www.example.com", &["127.0.0.1:9".parse()?])
        .await?;
    let before = group_commits(server.addr).await?;
    let measured = wrk(server.addr, &key, clients, seconds, work).await;
    let after = group_commits(server.addr).await?;
    let measured = measured.map(|run| SingleUrls {
        batches_per_commit: (after.0 - before.0) / (after.1 - before.1).max(1.0),
        ..run
    });
    drop(server);
    // The key uses recorded in the last second are written a moment later: let them land.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    if let Some(database) = database {
        database.drop_it().await;
    }
    measured
}

/// wrk with a script that sends a new URL each time and prints its counts in one line.
async fn wrk(
    addr: std::net::SocketAddr,
    key: &str,
    clients: usize,
    seconds: u64,
    work: &Path,
) -> anyhow::Result<SingleUrls> {
    let script = format!(
        "local started = 0\n\
         function setup(thread)\n  started = started + 1\n  thread:set(\"id\", started)\nend\n\
         local n = 0\n\
         function request()\n  n = n + 1\n  \
         return wrk.format(\"GET\", \"/api/purge?uri=http://www.example.com/single/\" .. id .. \"-\" .. n .. \".js&api_key={key}\")\nend\n\
         function done(summary, latency, requests)\n  local e = summary.errors\n  \
         io.write(string.format(\"PURGER_WRK %d %d %d %d %d %d\\n\", summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))\nend\n"
    );
    let script_path = work.join("single_urls.lua");
    std::fs::write(&script_path, script)?;
    let output = tokio::process::Command::new("wrk")
        .args(["-t2", &format!("-c{}", clients.max(2))])
        .arg(format!("-d{}s", seconds.max(1)))
        .args(["--timeout", "10s", "-s"])
        .arg(&script_path)
        .arg(format!("http://{addr}/"))
        .output()
        .await
        .context("running wrk (Debian's package wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(line) = text.lines().find_map(|l| l.strip_prefix("PURGER_WRK ")) else {
        bail!(
            "wrk printed no counts: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let figures: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("wrk's counts {line:?}"))?;
    let [requests, duration_us, non_2xx, socket_errors, p50_us, p99_us] = figures[..] else {
        bail!("wrk's counts {line:?}: expected six numbers");
    };
    let duration = Duration::from_micros(duration_us.max(1));
    Ok(SingleUrls {
        per_sec: requests as f64 / duration.as_secs_f64(),
        p50_ms: p50_us as f64 / 1000.0,
        p99_ms: p99_us as f64 / 1000.0,
        non_2xx,
        socket_errors,
        batches_per_commit: 0.0,
    })
}

/// The sum and count of `purger_group_commit_batches` in the server's `/metrics`.
async fn group_commits(addr: std::net::SocketAddr) -> anyhow::Result<(f64, f64)> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?;
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        value("purger_group_commit_batches_sum"),
        value("purger_group_commit_batches_count"),
    ))
}

/// A database of its own on a PostgreSQL server, dropped after the run.
struct BenchDatabase {
    admin: String,
    name: String,
    url: String,
}

impl BenchDatabase {
    async fn create(admin: &str) -> anyhow::Result<Self> {
        let mut connection = PgConnection::connect(admin)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {admin}"))?;
        let name = format!("purger_bench_{}", std::process::id());
        connection
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await?;
        connection
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .context("creating the bench database")?;
        let mut url = url::Url::parse(admin).context("the PostgreSQL URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            admin: admin.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    async fn drop_it(self) {
        if let Ok(mut connection) = PgConnection::connect(&self.admin).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(error) = connection.execute(sql.as_str()).await {
                tracing::warn!(%error, "dropping the bench database");
            }
        }
    }
}
