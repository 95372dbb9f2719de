//! The bench's surroundings: simulated edges in a child process, a Purger server in this one,
//! memory readings and `wrk`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use engine::fleet::Protocol;
use engine::users::{QuotaOverrides, Role};
use engine::{Actor, Engine};

use crate::config::Config;
use crate::startup::Application;

/// Simulated edges in a child process (`purger edge-sim`), stopped on drop.
pub struct EdgeProcess {
    child: Child,
    /// Edge addresses.
    pub addrs: Vec<SocketAddr>,
}

impl EdgeProcess {
    /// The edge process's id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for EdgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nodes` healthy edges answering at once, on consecutive ports from `base_port`.
pub async fn start_edges(nodes: usize, base_port: u16) -> anyhow::Result<EdgeProcess> {
    let exe = std::env::current_exe().context("locating the purger binary")?;
    let child = Command::new(exe)
        .args([
            "edge-sim",
            "--nodes",
            &nodes.to_string(),
            "--latency-ms",
            "0",
            "--base-port",
            &base_port.to_string(),
        ])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting purger edge-sim")?;
    let addrs: Vec<SocketAddr> = (0..nodes)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], base_port + i as u16)))
        .collect();
    let last = *addrs.last().context("at least one edge")?;
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(last).await.is_ok() {
            return Ok(EdgeProcess { child, addrs });
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the simulated edges did not start on {base_port}…")
}

/// A Purger server on port 0 over a fresh SQLite file.
pub struct Server {
    /// Its address.
    pub addr: SocketAddr,
    /// Its engine.
    pub engine: Engine,
    /// Its data directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// Dropped with the server: the server stops serving and its workers stop, so that one
    /// scenario's connections and memory do not count in the next one's figures.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts a server; `workers` says whether it fans out; `configure` changes the bench settings.
pub async fn start_server(
    workers: bool,
    configure: impl FnOnce(&mut Config),
) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers,
        ..Config::default()
    };
    config.engine.data_dir = dir.path().to_path_buf();
    config.api.rate_limit.per_second = 0.0;
    config.engine.quota.url = 10_000_000;
    configure(&mut config);
    let app = Application::build(config).await?;
    let addr = app.local_addr();
    let engine = app.engine().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    Ok(Server {
        addr,
        engine,
        dir,
        _stop: stop,
    })
}

impl Server {
    /// A developer with a key who may purge `host` on `edges` (Varnish preset); the key.
    /// Developers of one host share its edge group: each edge is in the fleet once.
    pub async fn developer(
        &self,
        name: &str,
        host: &str,
        edges: &[SocketAddr],
    ) -> anyhow::Result<String> {
        let actor = Actor::cli();
        let user = self
            .engine
            .create_user(&actor, name, Role::Developer, None)
            .await?;
        self.engine
            .set_quota(
                &actor,
                user.id,
                QuotaOverrides {
                    url: Some(10_000_000),
                    ..Default::default()
                },
            )
            .await?;
        let (_, key) = self.engine.create_key(&actor, user.id, "bench").await?;
        let group = format!("{host}-edges");
        self.engine
            .upsert_group(&actor, &group, Protocol::Varnish)
            .await?;
        let csv: String = edges
            .iter()
            .map(|a| format!("{},{}\n", a.ip(), a.port()))
            .collect();
        self.engine.import_nodes(&actor, &group, &csv).await?;
        self.engine
            .add_domain(&actor, host, &[name.to_owned()], &[group])
            .await?;
        Ok(key.expose().to_owned())
    }

    /// Size of the database, in bytes, after folding the write-ahead log into it.
    pub async fn database_bytes(&self) -> u64 {
        if let Err(error) = self.engine.checkpoint().await {
            tracing::warn!(%error, "checkpoint failed; the size includes the WAL");
        }
        ["purger.db", "purger.db-wal"]
            .iter()
            .filter_map(|name| std::fs::metadata(self.dir.path().join(name)).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Peak resident memory of this process since the last reset, in MiB (Linux).
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:")
        .map(|kib| kib as f64 / 1024.0)
        .unwrap_or(0.0)
}

/// Starts a new peak-memory window (Linux: `/proc/self/clear_refs`).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Total memory of the machine, for the report's header.
pub fn memory_summary() -> String {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kib| format!("{:.1} GiB memory", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    total
}

/// CPU time (user and system, all threads) process `pid` has used so far, from
/// `/proc/<pid>/stat` (Linux; zero elsewhere).
pub fn cpu_time(pid: u32) -> Duration {
    // Fields 14 and 15 (utime, stime), counted after the parenthesised command name, in ticks of
    // USER_HZ, which Linux fixes at 100 per second in its ABI.
    const TICKS_PER_SEC: u64 = 100;
    let ticks: u64 = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, fields) = stat.rsplit_once(')')?;
            Some(
                fields
                    .split_whitespace()
                    .skip(11)
                    .take(2)
                    .map(|field| field.parse::<u64>().unwrap_or(0))
                    .sum(),
            )
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 1000 / TICKS_PER_SEC)
}

/// One `wrk` run against some of the edges.
#[derive(Clone, Copy, Debug)]
pub struct WrkRun {
    /// Edges it spread its connections over (one wrk thread each).
    pub edges: usize,
    /// Connections, spread evenly over those edges.
    pub connections: usize,
    /// PURGE requests answered per second.
    pub requests_per_sec: f64,
    /// CPU time the edge process spent per request, in microseconds.
    pub edge_cpu_us: f64,
}

/// Runs `wrk` for 5 seconds with one thread per edge on the first `edges` edges, sending PURGE
/// over `connections` connections; `None` when wrk is not installed.
pub async fn wrk_purge(
    fleet: &EdgeProcess,
    edges: usize,
    connections: usize,
    work: &Path,
) -> anyhow::Result<Option<WrkRun>> {
    if Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Ok(None);
    }
    let edges = edges.clamp(1, fleet.addrs.len());
    let connections = connections.max(edges);
    // wrk connects each thread to one address: setup() gives thread n the n-th edge.
    let addrs: Vec<String> = fleet.addrs[..edges]
        .iter()
        .map(|a| format!("\"{}:{}\"", a.ip(), a.port()))
        .collect();
    let script = format!(
        "wrk.method = \"PURGE\"\nwrk.headers[\"Host\"] = \"bench.example.com\"\nwrk.path = \"/wrk.js\"\n\
         local addrs = {{{}}}\nlocal n = 0\n\
         function setup(thread)\n  n = n + 1\n  local host, port = addrs[(n - 1) % #addrs + 1]:match(\"([^:]+):(%d+)\")\n  \
         thread.addr = wrk.lookup(host, port)[1]\nend\n",
        addrs.join(", ")
    );
    let script_path = work.join("purge.lua");
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
    Ok(Some(WrkRun {
        edges,
        connections,
        requests_per_sec,
        edge_cpu_us: edge_cpu.as_secs_f64() * 1e6 / requests.max(1.0),
    }))
}
