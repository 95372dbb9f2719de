//! `wrk` against a fleet: the ceiling of each bulk round, plain and pipelined.

use std::path::Path;

use anyhow::{bail, Context};
use serde::Serialize;

use super::fleet::{cpu_time, runs, EdgeProcess};

/// wrk runs one OS thread per edge it drives; beyond this many edges it drives only the first.
pub const MAX_THREADS: usize = 1000;

/// Requests wrk's pipelined runs write ahead on a connection, as Purger's default depth.
pub const PIPELINE_DEPTH: usize = 16;

/// One `wrk` run against some of the edges.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct WrkRun {
    /// Edges it spread its connections over (one wrk thread each).
    pub edges: usize,
    /// Connections, spread evenly over those edges.
    pub connections: usize,
    /// Requests written ahead per connection (1: no pipelining).
    pub pipeline: usize,
    /// PURGE requests answered per second.
    pub requests_per_sec: f64,
    /// CPU time the edge process spent per request, in microseconds.
    pub edge_cpu_us: f64,
}

/// Whether wrk is installed, or a message saying how to install it.
pub fn check() -> anyhow::Result<()> {
    if !runs("wrk", "--version") {
        bail!(
            "wrk is not installed: every bulk round is compared with wrk on the same fleet \
             (apt-get install wrk, or ./scripts/install-test-deps.sh)"
        );
    }
    Ok(())
}

/// The better of wrk with 2 and 4 connections per edge, and pipelined with 2 per edge, on every
/// edge (up to [`MAX_THREADS`]).
pub async fn best_on(fleet: &EdgeProcess, work: &Path) -> anyhow::Result<WrkRun> {
    let used = fleet.addrs.len().min(MAX_THREADS);
    let mut best: Option<WrkRun> = None;
    for (per_edge, pipeline) in [(2, 1), (4, 1), (2, PIPELINE_DEPTH)] {
        let run = purge(fleet, used, used * per_edge, pipeline, work).await?;
        if best.is_none_or(|best| run.requests_per_sec > best.requests_per_sec) {
            best = Some(run);
        }
    }
    best.context("wrk ran")
}

/// Runs `wrk` for 5 seconds with one thread per edge on the first `edges` edges, sending PURGE
/// over `connections` connections, `pipeline` requests at a time on each.
pub async fn purge(
    fleet: &EdgeProcess,
    edges: usize,
    connections: usize,
    pipeline: usize,
    work: &Path,
) -> anyhow::Result<WrkRun> {
    let edges = edges.clamp(1, fleet.addrs.len());
    let connections = connections.max(edges);
    // wrk connects each thread to one address: setup() gives thread n the n-th edge.
    let addrs: Vec<String> = fleet.addrs[..edges]
        .iter()
        .map(|a| format!("\"{}:{}\"", a.ip(), a.port()))
        .collect();
    // wrk counts the requests in what request() returns and reads that many answers before it
    // writes the next batch (its own pipeline.lua does the same).
    let script = format!(
        "local addrs = {{{}}}\nlocal n = 0\n\
         function setup(thread)\n  n = n + 1\n  local host, port = addrs[(n - 1) % #addrs + 1]:match(\"([^:]+):(%d+)\")\n  \
         thread.addr = wrk.lookup(host, port)[1]\nend\n\
         function init(args)\n  local r = {{}}\n  for i = 1, {pipeline} do\n    \
         r[i] = wrk.format(\"PURGE\", \"/wrk.js\", {{ Host = \"bench.example.com\" }})\n  end\n  \
         batch = table.concat(r)\nend\n\
         function request()\n  return batch\nend\n",
        addrs.join(", ")
    );
    let script_path = work.join(format!("purge-{pipeline}.lua"));
    std::fs::write(&script_path, script)?;
    let first = fleet.addrs[0];
    let edge_cpu_before = cpu_time(fleet.pid());
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{edges}"))
        .arg(format!("-c{connections}"))
        .args(["-d5s", "-s"])
        .arg(&script_path)
        .arg(format!("http://{}:{}/", first.ip(), first.port()))
        .output()
        .await
        .context("running wrk")?;
    let edge_cpu = cpu_time(fleet.pid()).saturating_sub(edge_cpu_before);
    let text = String::from_utf8_lossy(&output.stdout);
    // "  709000 requests in 5.00s, 52.06MB read" and "Requests/sec: 141795.46".
    let figure = |line_has: &str, word: usize| {
        text.lines()
            .find(|l| l.contains(line_has))
            .and_then(|l| l.split_whitespace().nth(word))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let (Some(requests), Some(requests_per_sec)) =
        (figure("requests in", 0), figure("Requests/sec:", 1))
    else {
        bail!(
            "wrk printed no rate: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    Ok(WrkRun {
        edges,
        connections,
        pipeline,
        requests_per_sec,
        edge_cpu_us: edge_cpu.as_secs_f64() * 1e6 / requests.max(1.0),
    })
}
