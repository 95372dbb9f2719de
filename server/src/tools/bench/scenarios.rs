//! The measured scenarios.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use engine::store::TaskFilter;
use engine::submit::{Source, Submission};
use engine::target::TargetKind;
use engine::tasks::TaskStatus;
use serde_json::{json, Value};

use serde::Serialize;

use super::fleet::{self, start_edges, start_server, EdgeProcess};
use super::wrk::{self, WrkRun};
use super::{BenchArgs, Percentiles};

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .build()?)
}

/// 1. One URL to 301 healthy edges through seed 000; a client polls `/api/q` every 2 ms.
pub async fn seed(args: &BenchArgs) -> anyhow::Result<Percentiles> {
    let edges = start_edges(301, args.edge_port, 0).await?;
    let server = start_server(true, |_| {}).await?;
    let key = server
        .developer("seed", "seed.example.com", &edges.addrs)
        .await?;
    let http = client()?;
    let base = format!("http://{}", server.addr);
    let mut samples = Vec::with_capacity(args.seed_runs);
    for run in 0..args.seed_runs + 5 {
        let uri = format!("http://seed.example.com/hello-{run}.gif");
        let started = Instant::now();
        let created = http
            .get(format!("{base}/api/purge"))
            .query(&[("uri", uri.as_str()), ("api_key", key.as_str())])
            .send()
            .await?;
        if !created.status().is_success() {
            bail!("purge refused: {}", created.text().await?);
        }
        loop {
            let body: Value = http
                .get(format!("{base}/api/q"))
                .query(&[("uri", uri.as_str()), ("api_key", key.as_str())])
                .send()
                .await?
                .json()
                .await?;
            match body["status"].as_str() {
                Some("success") => break,
                Some("failed") => bail!("a seed run failed: {body}"),
                _ => tokio::time::sleep(Duration::from_millis(2)).await,
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("a seed run did not finish in 30 s");
            }
        }
        // The first runs warm the connection pools up.
        if run >= 5 {
            samples.push(started.elapsed());
        }
    }
    Ok(Percentiles::of(&mut samples))
}

/// Figures of one bulk scenario.
#[derive(Debug, Serialize)]
pub struct Bulk {
    /// The fleet, for people.
    pub fleet: String,
    /// Edges in it.
    pub edges: usize,
    /// Node purges per second, submit to last task final: the median round.
    pub node_purges_per_sec: f64,
    /// Each round's node purges per second, in order.
    pub round_rates: Vec<f64>,
    /// CPU time of the Purger process (bench client included) per node purge, in microseconds.
    pub purger_cpu_us: f64,
    /// CPU time of the edge process per node purge, in microseconds.
    pub edge_cpu_us: f64,
    /// wrk against the same fleet right after each round (the better of plain and pipelined);
    /// empty when not compared.
    pub wrk: Vec<WrkRun>,
    /// Median over the rounds of Purger's rate divided by wrk's right after it; absent when
    /// not compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_to_wrk: Option<f64>,
    /// Peak RSS of the Purger process during the rounds, in MiB.
    pub peak_rss_mib: f64,
    /// Database bytes per finished task.
    pub bytes_per_task: f64,
}

/// 2: `bulk_urls` URLs to every edge of `edges` through v1, `rounds` times, each round followed
/// by wrk against the same fleet when `compare` is set. The machine's speed drifts by ±20 %
/// within minutes here, so each round is compared with a wrk run right after it.
pub async fn bulk(
    args: &BenchArgs,
    edges: &EdgeProcess,
    fleet_name: String,
    rounds: usize,
    compare: bool,
) -> anyhow::Result<Bulk> {
    let server = start_server(true, |_| {}).await?;
    let host = format!("bulk{}.example.com", edges.addrs.len());
    let key = server.developer("bulk", &host, &edges.addrs).await?;
    let http = client()?;
    let base = format!("http://{}", server.addr);
    let work = tempfile::tempdir()?;
    let before = server.database_bytes().await;
    let node_purges = (args.bulk_urls * edges.addrs.len()) as f64;
    let (mut purger_cpu, mut edge_cpu) = (Duration::ZERO, Duration::ZERO);
    let mut round_rates = Vec::with_capacity(rounds);
    let mut wrk_runs = Vec::with_capacity(rounds);
    fleet::reset_peak_rss();
    for round in 0..rounds {
        let urls: Vec<String> = (0..args.bulk_urls)
            .map(|i| format!("http://{host}/{round}/asset/{i}.js"))
            .collect();
        let (purger_before, edge_before) = (
            fleet::cpu_time(std::process::id()),
            fleet::cpu_time(edges.pid()),
        );
        let elapsed = bulk_round(&http, &base, &key, &urls).await?;
        purger_cpu += fleet::cpu_time(std::process::id()).saturating_sub(purger_before);
        edge_cpu += fleet::cpu_time(edges.pid()).saturating_sub(edge_before);
        round_rates.push(node_purges / elapsed.as_secs_f64());
        if compare {
            wrk_runs.push(wrk::best_on(edges, work.path()).await?);
        }
    }
    let peak_rss_mib = fleet::peak_rss_mib();
    let bytes_per_task = (server.database_bytes().await.saturating_sub(before)) as f64
        / (args.bulk_urls * rounds) as f64;
    drop(server);
    let all_purges = node_purges * rounds as f64;
    let ratios: Vec<f64> = round_rates
        .iter()
        .zip(&wrk_runs)
        .map(|(rate, wrk)| rate / wrk.requests_per_sec)
        .collect();
    Ok(Bulk {
        fleet: fleet_name,
        edges: edges.addrs.len(),
        node_purges_per_sec: median(&round_rates).unwrap_or(0.0),
        ratio_to_wrk: median(&ratios),
        round_rates,
        purger_cpu_us: purger_cpu.as_secs_f64() * 1e6 / all_purges,
        edge_cpu_us: edge_cpu.as_secs_f64() * 1e6 / all_purges,
        wrk: wrk_runs,
        peak_rss_mib,
        bytes_per_task,
    })
}

/// The middle value (the upper one of an even count), `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

/// Submits `urls` as one batch through v1 and polls it until every task is final; the time
/// from submit to that answer.
async fn bulk_round(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    urls: &[String],
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let answer: Value = http
        .post(format!("{base}/api/v1/purges"))
        .bearer_auth(key)
        .json(&json!({ "urls": urls }))
        .send()
        .await?
        .json()
        .await?;
    let batch = answer["batch_id"]
        .as_str()
        .with_context(|| format!("no batch: {answer}"))?
        .to_owned();
    loop {
        let status: Value = http
            .get(format!("{base}/api/v1/purges/{batch}"))
            .bearer_auth(key)
            .send()
            .await?
            .json()
            .await?;
        let tasks = status["tasks"].as_array().context("tasks")?;
        if tasks
            .iter()
            .all(|t| matches!(t["status"].as_str(), Some("success" | "failed")))
        {
            let failed = tasks.iter().filter(|t| t["status"] == "failed").count();
            if failed > 0 {
                bail!("{failed} bulk tasks failed");
            }
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("the bulk fan-out did not finish in 5 minutes");
        }
        // Each poll reads and prints all the batch's tasks; every 50 ms that costs the process
        // under measurement little and resolves the end within 0.5 % of a 10-second round.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Figures of the ingest scenario.
pub struct Ingest {
    /// Targets accepted per second.
    pub targets_per_sec: f64,
    /// Batch latency.
    pub batch: Percentiles,
}

/// 3. Batches of 500 URLs through `POST /api/v1/purges`, one after another (no fan-out).
pub async fn ingest(args: &BenchArgs) -> anyhow::Result<Ingest> {
    let server = start_server(false, |_| {}).await?;
    let key = server
        .developer(
            "ingest",
            "ingest.example.com",
            &[std::net::SocketAddr::from(([127, 0, 0, 1], 9))],
        )
        .await?;
    let http = client()?;
    let base = format!("http://{}", server.addr);
    let mut samples = Vec::with_capacity(args.ingest_batches);
    let started = Instant::now();
    for batch in 0..args.ingest_batches {
        let urls: Vec<String> = (0..500)
            .map(|i| format!("http://ingest.example.com/{batch}/{i}.css"))
            .collect();
        let sent = Instant::now();
        let response = http
            .post(format!("{base}/api/v1/purges"))
            .bearer_auth(&key)
            .json(&json!({ "urls": urls }))
            .send()
            .await?;
        let answer: Value = response.json().await?;
        samples.push(sent.elapsed());
        let accepted = answer["accepted"].as_array().map(Vec::len).unwrap_or(0);
        if accepted != 500 {
            bail!("only {accepted} of 500 accepted: {answer}");
        }
    }
    let targets = (args.ingest_batches * 500) as f64;
    Ok(Ingest {
        targets_per_sec: targets / started.elapsed().as_secs_f64(),
        batch: Percentiles::of(&mut samples),
    })
}

/// Figures of the history scenario.
pub struct History {
    /// List latency.
    pub list: Percentiles,
    /// Database bytes per task.
    pub bytes_per_task: f64,
    /// p99 per filter, in milliseconds.
    pub per_filter: Vec<(&'static str, f64)>,
}

/// 5. Stores `history_tasks` tasks, then times filtered, paged lists.
pub async fn history(args: &BenchArgs) -> anyhow::Result<History> {
    let server = start_server(false, |_| {}).await?;
    let user_key = server
        .developer(
            "history",
            "history.example.com",
            &[std::net::SocketAddr::from(([127, 0, 0, 1], 9))],
        )
        .await?;
    let _ = user_key;
    let user = server
        .engine
        .user_by_name("history")
        .await?
        .context("user")?;
    let before = server.database_bytes().await;
    let kinds = [
        TargetKind::Url,
        TargetKind::Url,
        TargetKind::Url,
        TargetKind::Prefix,
    ];
    let mut stored = 0;
    while stored < args.history_tasks {
        let n = (args.history_tasks - stored).min(500);
        let targets = (0..n)
            .map(|i| {
                let id = stored + i;
                match kinds[id % kinds.len()] {
                    TargetKind::Prefix => (
                        TargetKind::Prefix,
                        format!("http://history.example.com/dir{id}/"),
                    ),
                    _ => (
                        TargetKind::Url,
                        format!("http://history.example.com/asset/{id}.js"),
                    ),
                }
            })
            .collect();
        let submission = Submission {
            targets,
            callback_url: None,
            idempotency_key: None,
            client_task_id: None,
            source: Source::V1,
            api_key_id: None,
            key_scope: Default::default(),
            domain: None,
            mode: Default::default(),
            groups: Vec::new(),
            verify: false,
            prefetch_after: false,
        };
        let mut user = user.clone();
        user.quota.prefix = Some(10_000_000);
        user.quota.url = Some(10_000_000);
        server
            .engine
            .submit(&user, submission)
            .await
            .map_err(|e| anyhow::anyhow!("seeding: {e}"))?;
        stored += n;
    }
    let bytes_per_task =
        (server.database_bytes().await.saturating_sub(before)) as f64 / args.history_tasks as f64;
    let newest = server
        .engine
        .list_tasks(&TaskFilter {
            limit: 1,
            ..Default::default()
        })
        .await?;
    let top = newest.first().map(|t| t.seq).unwrap_or(0);
    let mut samples = Vec::new();
    let names = [
        "own tasks",
        "by kind",
        "by status, deep",
        "by text",
        "by date",
    ];
    let mut by_filter: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    for query in 0..200u32 {
        let filter = match query % 5 {
            0 => TaskFilter {
                user_id: Some(user.id),
                limit: 50,
                ..Default::default()
            },
            1 => TaskFilter {
                user_id: Some(user.id),
                kind: Some(TargetKind::Prefix),
                limit: 50,
                ..Default::default()
            },
            2 => TaskFilter {
                user_id: Some(user.id),
                status: Some(TaskStatus::Created),
                before_seq: Some(top - (i64::from(query) * 4000) % top.max(1)),
                limit: 50,
                ..Default::default()
            },
            3 => TaskFilter {
                user_id: Some(user.id),
                text: Some(format!("asset/{}", 999_000 - query)),
                limit: 50,
                ..Default::default()
            },
            _ => TaskFilter {
                user_id: Some(user.id),
                from: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
                limit: 50,
                ..Default::default()
            },
        };
        let started = Instant::now();
        let page = server.engine.list_tasks(&filter).await?;
        samples.push(started.elapsed());
        by_filter[(query % 5) as usize].push(started.elapsed());
        if page.is_empty() && query % 5 != 3 {
            bail!("an empty page for query {query}");
        }
    }
    let per_filter = names
        .iter()
        .zip(by_filter.iter_mut())
        .map(|(name, samples)| (*name, Percentiles::of(samples).p99_ms))
        .collect();
    Ok(History {
        list: Percentiles::of(&mut samples),
        bytes_per_task,
        per_filter,
    })
}
