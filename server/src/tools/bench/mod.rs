//! `purger bench`: the fan-out and storage figures of issues 6 and 18, measured on this machine
//! in one run: the seed scenario against simulated edges in a separate process, the bulk
//! scenarios against a fleet of real nginx with `wrk` on the same fleet as the ceiling, distant
//! edges simulated 30 ms away. Figures are printed, never asserted.

pub(crate) mod fleet;
mod nginx;
mod scenarios;
mod single_urls;
mod wrk;

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

/// Options of `purger bench`.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// Runs of the seed scenario (1 URL to 301 edges).
    #[arg(long, default_value_t = 200)]
    pub seed_runs: usize,
    /// nginx fleets of the bulk scenarios: loopback addresses each (127.0.1.1…).
    #[arg(long, value_delimiter = ',', default_value = "301,1000")]
    pub fleets: Vec<usize>,
    /// Rounds of each bulk scenario, each followed by wrk; the rate is their median.
    #[arg(long, default_value_t = 3)]
    pub bulk_rounds: usize,
    /// URLs of each bulk round.
    #[arg(long, default_value_t = 500)]
    pub bulk_urls: usize,
    /// Port the nginx fleet listens on, on each of its addresses.
    #[arg(long, default_value_t = 8080)]
    pub nginx_port: u16,
    /// Simulated edges of the distant scenario.
    #[arg(long, default_value_t = 1000)]
    pub distant_edges: usize,
    /// How far away the distant edges are: each answers this long after a request arrives.
    #[arg(long, default_value_t = 30)]
    pub distant_latency_ms: u64,
    /// Batches of 500 targets in the ingest scenario.
    #[arg(long, default_value_t = 40)]
    pub ingest_batches: usize,
    /// Tasks stored for the history scenario.
    #[arg(long, default_value_t = 1_000_000)]
    pub history_tasks: usize,
    /// First port of the simulated edges.
    #[arg(long, default_value_t = 21000)]
    pub edge_port: u16,
    /// wrk connections of the single-URL scenario (seed 000, one new URL per request).
    #[arg(long, default_value_t = 200)]
    pub single_url_clients: usize,
    /// Seconds of each single-URL run.
    #[arg(long, default_value_t = 15)]
    pub single_url_seconds: u64,
    /// A PostgreSQL server whose user may create databases: the single-URL scenario also runs
    /// on a fresh database there (dropped afterwards).
    #[arg(long, env = "PURGER_BENCH_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// Runs the single-URL scenario alone.
    #[arg(long)]
    pub single_urls_only: bool,
}

/// Latency percentiles of a set of samples.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub n: usize,
    /// Median, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, in milliseconds.
    pub p99_ms: f64,
    /// Largest, in milliseconds.
    pub max_ms: f64,
}

impl Percentiles {
    /// Computes percentiles of `samples`.
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort();
        let at = |q: f64| {
            if samples.is_empty() {
                return 0.0;
            }
            let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[index].as_secs_f64() * 1000.0
        };
        Self {
            n: samples.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// Everything the bench measured.
#[derive(Debug, Default, Serialize)]
pub struct BenchReport {
    /// 1. Submit → final status as a polling client sees it.
    pub seed: Option<Percentiles>,
    /// 2. Bulk on each nginx fleet, compared with wrk.
    pub bulk: Vec<scenarios::Bulk>,
    /// 2c. Bulk on simulated edges 30 ms away.
    pub distant: Option<scenarios::Bulk>,
    /// 3. Targets accepted per second.
    pub ingest_targets_per_sec: Option<f64>,
    /// 3. Latency of a 500-target batch.
    pub ingest_batch: Option<Percentiles>,
    /// 5. Task list latency with the history stored.
    pub history_list: Option<Percentiles>,
    /// 5. Database bytes per stored task (history scenario: no failures).
    pub history_bytes_per_task: Option<f64>,
    /// 6. Single-URL seed-000 submissions, workers off, on SQLite.
    pub single_urls_sqlite: Option<single_urls::SingleUrls>,
    /// 6. The same on PostgreSQL, when a server was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_urls_postgres: Option<single_urls::SingleUrls>,
}

/// Runs every scenario and prints the figures as they come; fails at once when nginx or wrk,
/// which the bulk scenarios need, is missing.
pub async fn run(args: BenchArgs, json: bool) -> anyhow::Result<BenchReport> {
    wrk::check()?;
    let mut report = BenchReport::default();
    let say = |text: String| {
        if !json {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    };
    say(format!(
        "machine: {} cores; {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        fleet::memory_summary()
    ));

    if args.single_urls_only {
        single_urls::measure(&args, &mut report, &say).await?;
        return finish(report, json);
    }
    nginx::binary()?;

    let seed = scenarios::seed(&args).await?;
    say(format!("1. seed scenario, 1 URL → 301 edges via /api/purge + /api/q polled every 2 ms: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} runs", seed.p50_ms, seed.p99_ms, seed.max_ms, seed.n));
    report.seed = Some(seed);

    let work = tempfile::tempdir()?;
    for &addresses in &args.fleets {
        let edges = nginx::start(addresses, args.nginx_port, work.path()).await?;
        let name = format!("nginx on {addresses} addresses");
        let bulk = scenarios::bulk(&args, &edges, name, args.bulk_rounds, true).await?;
        drop(edges);
        say(describe(&args, &bulk));
        report.bulk.push(bulk);
    }
    let edges = fleet::start_edges(
        args.distant_edges,
        args.edge_port + 400,
        args.distant_latency_ms,
    )
    .await?;
    let name = format!(
        "edge-sim, {} edges {} ms away",
        args.distant_edges, args.distant_latency_ms
    );
    let distant = scenarios::bulk(&args, &edges, name, 1, false).await?;
    drop(edges);
    say(describe(&args, &distant));
    report.distant = Some(distant);

    let ingest = scenarios::ingest(&args).await?;
    say(format!(
        "3. ingest through POST /api/v1/purges (SQLite): {:.0} targets/s; 500-target batch p50 {:.1} ms, p99 {:.1} ms",
        ingest.targets_per_sec, ingest.batch.p50_ms, ingest.batch.p99_ms
    ));
    report.ingest_targets_per_sec = Some(ingest.targets_per_sec);
    report.ingest_batch = Some(ingest.batch);

    let history = scenarios::history(&args).await?;
    say(format!(
        "5. history with {} tasks stored: list+filter p50 {:.2} ms, p99 {:.2} ms over {} queries; {:.0} bytes per task (no failures)",
        args.history_tasks, history.list.p50_ms, history.list.p99_ms, history.list.n, history.bytes_per_task
    ));
    let per_filter: Vec<String> = history
        .per_filter
        .iter()
        .map(|(name, p99)| format!("{name} {p99:.2} ms"))
        .collect();
    say(format!("   p99 per filter: {}", per_filter.join(", ")));
    report.history_list = Some(history.list);
    report.history_bytes_per_task = Some(history.bytes_per_task);

    single_urls::measure(&args, &mut report, &say).await?;
    finish(report, json)
}

/// Prints the report as one JSON line when asked, and returns it.
fn finish(report: BenchReport, json: bool) -> anyhow::Result<BenchReport> {
    if json {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string(&report)?
        );
    }
    Ok(report)
}

/// A bulk scenario's figures in a few lines.
fn describe(args: &BenchArgs, bulk: &scenarios::Bulk) -> String {
    let join = |values: Vec<String>| values.join(", ");
    let mut text = format!(
        "2. bulk on {}: {} URLs × {} edges per round, {} round(s): {:.0} node purges/s end to end (median; rounds {}); CPU per node purge: Purger {:.1} µs, edges {:.1} µs; peak RSS {:.1} MiB; {:.0} bytes per finished task",
        bulk.fleet,
        args.bulk_urls,
        bulk.edges,
        bulk.round_rates.len(),
        bulk.node_purges_per_sec,
        join(bulk.round_rates.iter().map(|r| format!("{r:.0}")).collect()),
        bulk.purger_cpu_us,
        bulk.edge_cpu_us,
        bulk.peak_rss_mib,
        bulk.bytes_per_task,
    );
    if let Some(ratio) = bulk.ratio_to_wrk {
        let rates: Vec<f64> = bulk.wrk.iter().map(|r| r.requests_per_sec).collect();
        text.push_str(&format!(
            "\n   wrk PURGE on the same fleet right after each round (one thread per address; best of 2 and 4 connections per address, and 2 pipelined {} deep): {:.0} requests/s (median; rounds {}), edges {:.1} µs CPU per request; Purger's rate is {:.0}% of it (median of the rounds' ratios {})",
            wrk::PIPELINE_DEPTH,
            scenarios::median(&rates).unwrap_or(0.0),
            join(bulk.wrk.iter().map(|r| format!("{:.0} ({}×{})", r.requests_per_sec, r.connections / r.edges, r.pipeline)).collect()),
            bulk.wrk.iter().map(|r| r.edge_cpu_us).sum::<f64>() / bulk.wrk.len().max(1) as f64,
            ratio * 100.0,
            join(bulk.round_rates.iter().zip(&rates).map(|(p, w)| format!("{:.0}%", p * 100.0 / w)).collect()),
        ));
    }
    text
}
