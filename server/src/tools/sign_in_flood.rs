//! `purger sign-in-flood`: concurrent sign-in loops with wrong passwords, from several loopback
//! source addresses, against a `purger serve` child process, while `/healthz` is probed. It
//! prints the server's memory and the probe's latency and fails when either goes beyond its
//! bound: what an anonymous attacker can do to the dashboard's sign-in.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use engine::users::{Role, MAX_USERNAME_LEN};
use engine::{Actor, Engine, EngineConfig};
use leptos::server_fn::ServerFn;
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;

use crate::tools::bench::Percentiles;

/// Options of `purger sign-in-flood`.
#[derive(Clone, Debug, clap::Args)]
pub struct FloodArgs {
    /// How long the loops run, in seconds.
    #[arg(long, default_value_t = 600)]
    pub seconds: u64,
    /// Concurrent sign-in loops.
    #[arg(long, default_value_t = 32)]
    pub loops: usize,
    /// Loopback source addresses the loops are spread over (127.0.0.2 and up).
    #[arg(long, default_value_t = 16)]
    pub addresses: u8,
    /// Port of the server under test.
    #[arg(long, default_value_t = 23100)]
    pub port: u16,
    /// The run fails when the server grows more than this after the warm-up, in MiB.
    #[arg(long, default_value_t = 20.0)]
    pub max_rss_growth_mib: f64,
    /// The run fails when the `/healthz` p99 is above this, in milliseconds.
    #[arg(long, default_value_t = 20.0)]
    pub max_healthz_p99_ms: f64,
}

/// What the flood measured.
#[derive(Debug, Default, Serialize)]
pub struct FloodReport {
    /// Sign-in attempts answered.
    pub attempts: u64,
    /// Answered 400 (wrong user name or password).
    pub refused: u64,
    /// Answered 429 (throttled).
    pub throttled: u64,
    /// Answered 503 (every password check slot taken).
    pub busy: u64,
    /// Any other answer, or none.
    pub other: u64,
    /// The server's resident memory before the flood, in MiB.
    pub rss_idle_mib: f64,
    /// After the warm-up (one sign-in per loop at once: the password checks' working memory).
    pub rss_warm_mib: f64,
    /// At the end.
    pub rss_end_mib: f64,
    /// The largest reading.
    pub rss_max_mib: f64,
    /// `/healthz` latency during the flood.
    pub healthz: Option<Percentiles>,
}

/// The server under test, killed on drop.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident memory of process `pid`, in MiB (Linux).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Sends one sign-in with a wrong password; the answer's status, 0 for none.
async fn attempt(http: &reqwest::Client, url: &str, username: &str) -> u16 {
    let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 16);
    let sent = http
        .post(url)
        .header("Accept", "application/json")
        .form(&[("username", username), ("password", password.as_str())])
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

/// Runs the flood and its checks; `Err` when a check failed (after printing the figures).
pub async fn run(args: FloodArgs, json: bool) -> anyhow::Result<FloodReport> {
    let say = |text: String| {
        if !json {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    };
    let dir = tempfile::tempdir()?;
    let config = EngineConfig {
        data_dir: dir.path().to_path_buf(),
        ..EngineConfig::default()
    };
    let database = format!("sqlite://{}", dir.path().join("purger.db").display());
    let engine = Engine::open(&database, config).await?;
    engine
        .create_user(
            &Actor::cli(),
            "flood-victim",
            Role::Developer,
            Some("the-right-password"),
        )
        .await?;
    drop(engine);

    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let exe = std::env::current_exe().context("locating the purger binary")?;
    let server = ServerProcess(
        Command::new(exe)
            .args(["serve", "--addr", &addr.to_string()])
            .env("PURGER_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting purger serve")?,
    );
    let pid = server.0.id();
    let probe = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?;
    let healthz = format!("http://{addr}/healthz");
    let mut up = false;
    for _ in 0..400 {
        if probe.get(&healthz).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    if !up {
        bail!("the server did not start on {addr}");
    }
    let sign_in = format!("http://{addr}{}", app::api::auth::SignIn::PATH);
    let clients = (0..args.loops)
        .map(|i| {
            let source = Ipv4Addr::new(
                127,
                0,
                0,
                2 + (i % usize::from(args.addresses.max(1))) as u8,
            );
            reqwest::Client::builder()
                .no_proxy()
                .local_address(IpAddr::V4(source))
                .timeout(Duration::from_secs(30))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = FloodReport {
        rss_idle_mib: rss_mib(pid),
        ..FloodReport::default()
    };
    // Warm-up: every loop once at the same time, so that the password checks' working memory
    // (one argon2 buffer per core, kept for reuse) is in the baseline.
    let warm: Vec<_> = clients
        .iter()
        .map(|http| attempt(http, &sign_in, "flood-victim"))
        .collect();
    futures::future::join_all(warm).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.rss_warm_mib = rss_mib(pid);
    say(format!(
        "sign-in flood: {} loops from {} addresses for {} s against pid {pid}; RSS idle {:.1} MiB, after warm-up {:.1} MiB",
        args.loops, args.addresses, args.seconds, report.rss_idle_mib, report.rss_warm_mib
    ));

    let until = Instant::now() + Duration::from_secs(args.seconds);
    let counts: Arc<[AtomicU64; 5]> = Arc::new(Default::default());
    let mut loops = Vec::with_capacity(clients.len());
    for http in clients {
        let (sign_in, counts) = (sign_in.clone(), Arc::clone(&counts));
        loops.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                // Mostly fresh names of the longest allowed length, now and then the real one.
                let name = if n.is_multiple_of(8) {
                    "flood-victim".to_owned()
                } else {
                    Alphanumeric.sample_string(&mut rand::thread_rng(), MAX_USERNAME_LEN)
                };
                let slot = match attempt(&http, &sign_in, &name).await {
                    400 => 1,
                    429 => 2,
                    503 => 3,
                    _ => 4,
                };
                counts[0].fetch_add(1, Ordering::Relaxed);
                counts[slot].fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut next_rss = Instant::now();
    while Instant::now() < until {
        let sent = Instant::now();
        match probe.get(&healthz).send().await {
            Ok(response) if response.status().is_success() => latencies.push(sent.elapsed()),
            _ => bail!("/healthz did not answer during the flood"),
        }
        if Instant::now() >= next_rss {
            report.rss_max_mib = report.rss_max_mib.max(rss_mib(pid));
            next_rss += Duration::from_secs(5);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for handle in loops {
        handle.await.context("a sign-in loop panicked")?;
    }
    report.rss_end_mib = rss_mib(pid);
    report.rss_max_mib = report.rss_max_mib.max(report.rss_end_mib);
    let count = |slot: usize| counts[slot].load(Ordering::Relaxed);
    (report.attempts, report.refused, report.throttled) = (count(0), count(1), count(2));
    (report.busy, report.other) = (count(3), count(4));
    let healthz = Percentiles::of(&mut latencies);
    report.healthz = Some(healthz);
    let growth = report.rss_end_mib - report.rss_warm_mib;
    say(format!(
        "sign-in flood: {} attempts: {} refused (400), {} throttled (429), {} busy (503), {} other",
        report.attempts, report.refused, report.throttled, report.busy, report.other
    ));
    say(format!(
        "sign-in flood: RSS end {:.1} MiB (max {:.1}): {growth:+.1} MiB after the warm-up, {:+.1} MiB from idle; /healthz p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} probes)",
        report.rss_end_mib,
        report.rss_max_mib,
        report.rss_end_mib - report.rss_idle_mib,
        healthz.p50_ms,
        healthz.p99_ms,
        healthz.max_ms,
        healthz.n
    ));
    if json {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string(&report)?
        );
    }
    let mut failures = Vec::new();
    if growth > args.max_rss_growth_mib {
        failures.push(format!("the server grew {growth:.1} MiB"));
    }
    if healthz.p99_ms > args.max_healthz_p99_ms {
        failures.push(format!("/healthz p99 {:.1} ms", healthz.p99_ms));
    }
    if report.other > 0 {
        failures.push(format!(
            "{} attempts got another answer or none",
            report.other
        ));
    }
    if !failures.is_empty() {
        bail!("sign-in flood checks failed: {}", failures.join("; "));
    }
    say("sign-in flood: every check passed".to_owned());
    Ok(report)
}
