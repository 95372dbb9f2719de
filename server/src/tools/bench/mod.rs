//! `purger bench`: the fan-out and storage figures of issue 6, measured on this machine in one
//! run, against simulated edges in a separate process and, for the ceiling, `wrk`.
//! Figures are printed, never asserted.

pub(crate) mod fleet;
mod scenarios;
mod single_urls;

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

/// Options of `purger bench`.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// Runs of the seed scenario (1 URL to 301 edges).
    #[arg(long, default_value_t = 200)]
    pub seed_runs: usize,
    /// Edges of the bulk scenario.
    #[arg(long, default_value_t = 1000)]
    pub bulk_edges: usize,
    /// URLs of the bulk scenario.
    #[arg(long, default_value_t = 500)]
    pub bulk_urls: usize,
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
    /// 2. Node purges per second end to end.
    pub bulk_node_purges_per_sec: Option<f64>,
    /// 2. CPU time of the Purger process per node purge, in microseconds.
    pub bulk_purger_cpu_us: Option<f64>,
    /// 2. CPU time of the simulated edges per node purge, in microseconds.
    pub bulk_edge_cpu_us: Option<f64>,
    /// 2. wrk's PURGE requests per second against the same fleet (one thread per edge), median.
    pub wrk_requests_per_sec: Option<f64>,
    /// 2. Median over the rounds of Purger's rate divided by wrk's on the same fleet.
    pub bulk_ratio_to_wrk: Option<f64>,
    /// 2. wrk's PURGE requests per second concentrated on 2 edges with 64 connections.
    pub wrk_two_edges_requests_per_sec: Option<f64>,
    /// 3. Targets accepted per second.
    pub ingest_targets_per_sec: Option<f64>,
    /// 3. Latency of a 500-target batch.
    pub ingest_batch: Option<Percentiles>,
    /// 4. Peak RSS of the Purger process during (2), in MiB.
    pub bulk_peak_rss_mib: Option<f64>,
    /// 5. Task list latency with the history stored.
    pub history_list: Option<Percentiles>,
    /// 5. Database bytes per stored task (history scenario: no failures).
    pub history_bytes_per_task: Option<f64>,
    /// 5. Database bytes per finished bulk task (1000 nodes each).
    pub bulk_bytes_per_task: Option<f64>,
    /// 6. Single-URL seed-000 submissions, workers off, on SQLite.
    pub single_urls_sqlite: Option<single_urls::SingleUrls>,
    /// 6. The same on PostgreSQL, when a server was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_urls_postgres: Option<single_urls::SingleUrls>,
}

/// Runs every scenario and prints the figures as they come.
pub async fn run(args: BenchArgs, json: bool) -> anyhow::Result<BenchReport> {
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

    let seed = scenarios::seed(&args).await?;
    say(format!("1. seed scenario, 1 URL → 301 edges via /api/purge + /api/q polled every 2 ms: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} runs", seed.p50_ms, seed.p99_ms, seed.max_ms, seed.n));
    report.seed = Some(seed);

    let bulk = scenarios::bulk(&args).await?;
    let join = |values: &mut dyn Iterator<Item = String>| values.collect::<Vec<_>>().join(", ");
    say(format!(
        "2. bulk, {} URLs × {} edges = {} node purges per round, {} rounds: {:.0} node purges/s end to end (median; rounds {}); CPU per node purge: Purger {:.1} µs, edges {:.1} µs",
        args.bulk_urls,
        args.bulk_edges,
        args.bulk_urls * args.bulk_edges,
        bulk.round_rates.len(),
        bulk.node_purges_per_sec,
        join(&mut bulk.round_rates.iter().map(|r| format!("{r:.0}"))),
        bulk.purger_cpu_us,
        bulk.edge_cpu_us,
    ));
    match (bulk.fleet_ratio, bulk.wrk_fleet.first()) {
        (Some(ratio), Some(first)) => {
            let rates: Vec<f64> = bulk.wrk_fleet.iter().map(|r| r.requests_per_sec).collect();
            say(format!(
                "   wrk PURGE against the same fleet right after each round ({} edges, one thread each, better of 2 and 4 connections per edge): {:.0} requests/s (median; rounds {}), edges {:.1} µs CPU per request; Purger's rate is {:.0}% of it (median of the rounds' ratios {})",
                first.edges,
                scenarios::median(&rates).unwrap_or(0.0),
                join(&mut rates.iter().map(|r| format!("{r:.0}"))),
                bulk.wrk_fleet.iter().map(|r| r.edge_cpu_us).sum::<f64>() / bulk.wrk_fleet.len() as f64,
                ratio * 100.0,
                join(&mut bulk.round_rates.iter().zip(&rates).map(|(p, w)| format!("{:.0}%", p * 100.0 / w))),
            ));
        }
        _ => say("   wrk PURGE against the same fleet: not measured (wrk is not installed)".into()),
    }
    match bulk.wrk_two_edges {
        Some(run) => say(format!(
            "   wrk PURGE concentrated on 2 edges ({} connections): {:.0} requests/s, edges {:.1} µs CPU per request; Purger's rate is {:.0}% of it",
            run.connections,
            run.requests_per_sec,
            run.edge_cpu_us,
            bulk.node_purges_per_sec * 100.0 / run.requests_per_sec
        )),
        None => say("   wrk PURGE concentrated on 2 edges: not measured (wrk is not installed)".into()),
    }
    say(format!(
        "4. peak RSS of Purger during (2): {:.1} MiB",
        bulk.peak_rss_mib
    ));
    report.bulk_node_purges_per_sec = Some(bulk.node_purges_per_sec);
    report.bulk_purger_cpu_us = Some(bulk.purger_cpu_us);
    report.bulk_edge_cpu_us = Some(bulk.edge_cpu_us);
    report.wrk_requests_per_sec = scenarios::median(
        &bulk
            .wrk_fleet
            .iter()
            .map(|run| run.requests_per_sec)
            .collect::<Vec<_>>(),
    );
    report.bulk_ratio_to_wrk = bulk.fleet_ratio;
    report.wrk_two_edges_requests_per_sec = bulk.wrk_two_edges.map(|run| run.requests_per_sec);
    report.bulk_peak_rss_mib = Some(bulk.peak_rss_mib);
    report.bulk_bytes_per_task = Some(bulk.bytes_per_task);

    let ingest = scenarios::ingest(&args).await?;
    say(format!(
        "3. ingest through POST /api/v1/purges (SQLite): {:.0} targets/s; 500-target batch p50 {:.1} ms, p99 {:.1} ms",
        ingest.targets_per_sec, ingest.batch.p50_ms, ingest.batch.p99_ms
    ));
    report.ingest_targets_per_sec = Some(ingest.targets_per_sec);
    report.ingest_batch = Some(ingest.batch);

    let history = scenarios::history(&args).await?;
    say(format!(
        "5. history with {} tasks stored: list+filter p50 {:.2} ms, p99 {:.2} ms over {} queries; {:.0} bytes per task (no failures); {:.0} bytes per finished 1000-node task in (2)",
        args.history_tasks, history.list.p50_ms, history.list.p99_ms, history.list.n, history.bytes_per_task, bulk.bytes_per_task
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
