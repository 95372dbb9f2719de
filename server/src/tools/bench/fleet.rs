//! The bench's surroundings: simulated edges in a child process, a Purger server in this one,
//! and memory and CPU readings.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use engine::fleet::Protocol;
use engine::users::{QuotaOverrides, Role};
use engine::{Actor, Engine};

use crate::config::Config;
use crate::startup::Application;

/// Edges served by a child process (`purger edge-sim`, or nginx), stopped on drop.
pub struct EdgeProcess {
    child: Child,
    /// Edge addresses.
    pub addrs: Vec<SocketAddr>,
}

impl EdgeProcess {
    /// The process `child` serving `addrs`.
    pub fn new(child: Child, addrs: Vec<SocketAddr>) -> Self {
        Self { child, addrs }
    }

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

/// Starts `nodes` healthy simulated edges answering `latency_ms` after each request, on
/// consecutive ports from `base_port`.
pub async fn start_edges(
    nodes: usize,
    base_port: u16,
    latency_ms: u64,
) -> anyhow::Result<EdgeProcess> {
    let exe = std::env::current_exe().context("locating the purger binary")?;
    let child = Command::new(exe)
        .args([
            "edge-sim",
            "--nodes",
            &nodes.to_string(),
            "--latency-ms",
            &latency_ms.to_string(),
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
/// The fan-out has its default settings unless `PURGER_FANOUT__…` variables set some.
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
    // Default fan-out settings, unless `PURGER_FANOUT__…` says otherwise (for experiments).
    config.engine.fanout = figment::Figment::from(figment::providers::Serialized::defaults(
        config.engine.fanout.clone(),
    ))
    .merge(figment::providers::Env::prefixed("PURGER_FANOUT__"))
    .extract()
    .context("PURGER_FANOUT__ settings")?;
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

/// Whether `program arg` runs (the program is installed and on the `PATH`).
pub fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}
