//! `purger load`: many concurrent API clients on a mix of the seed-000, seed-004 and v1 APIs
//! while fan-outs run. It checks what must hold under load (no 5xx, no quota exceeded, every
//! accepted task finishes, at least the expected accepted rate), prints the figures, and fails
//! when a check fails.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use engine::users::QuotaOverrides;
use engine::Actor;
use hmac::{Hmac, Mac};
use serde::Serialize;

use crate::tools::bench::{fleet, Percentiles};

/// Options of `purger load`.
#[derive(Clone, Debug, clap::Args)]
pub struct LoadArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 200)]
    pub clients: usize,
    /// How long the clients send, in seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Developers (one API key each) the clients are spread over.
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Simulated edges every purge fans out to.
    #[arg(long, default_value_t = 20)]
    pub edges: usize,
    /// Rate limit per key, requests per second (burst: twice that).
    #[arg(long, default_value_t = 100.0)]
    pub rate_per_key: f64,
    /// Daily URL quota of each developer (some clients run into it: it must hold exactly).
    #[arg(long, default_value_t = 20_000)]
    pub url_quota: u32,
    /// The run fails below this many accepted requests per second.
    #[arg(long, default_value_t = 200.0)]
    pub min_accepted_per_sec: f64,
    /// First port of the simulated edges.
    #[arg(long, default_value_t = 22000)]
    pub edge_port: u16,
}

/// What the load run measured.
#[derive(Debug, Default, Serialize)]
pub struct LoadReport {
    /// Requests sent.
    pub requests: u64,
    /// Answered 2xx.
    pub accepted: u64,
    /// Answered 429.
    pub rate_limited: u64,
    /// Answered another 4xx (quota and the like).
    pub refused: u64,
    /// Answered 5xx, or not answered.
    pub errors: u64,
    /// Accepted requests per second.
    pub accepted_per_sec: f64,
    /// Latency of every answered request.
    pub latency: Option<Percentiles>,
    /// Seconds from the end of the load until every accepted task had finished.
    pub drain_secs: f64,
    /// Largest share of a developer's URL quota used (must be ≤ 1).
    pub max_quota_share: f64,
    /// Accepted tasks that ended failed (a node did not confirm before the task deadline).
    pub failed_tasks: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    accepted: AtomicU64,
    rate_limited: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
}

/// One client's identity.
struct Caller {
    user: String,
    key: String,
}

fn seed004_authorization(caller: &Caller, date: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(caller.key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(date.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{signature}", caller.user))
    )
}

/// Sends request number `n` of client `client`: seed 000, seed 004 and v1 in turn.
async fn send(
    http: &reqwest::Client,
    addr: SocketAddr,
    caller: &Caller,
    client: usize,
    n: u64,
) -> reqwest::Result<reqwest::StatusCode> {
    let path = format!("load/{client}/{n}");
    let response = match n % 3 {
        0 => {
            http.get(format!("http://{addr}/api/purge"))
                .query(&[
                    ("uri", format!("http://www.example.com/{path}.js")),
                    ("api_key", caller.key.clone()),
                ])
                .send()
                .await?
        }
        1 => {
            let date = chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            http.post(format!("http://{addr}/api/content/regular-url/purge"))
                .header("Authorization", seed004_authorization(caller, &date))
                .header("Date", date)
                .json(&serde_json::json!({
                    "urlRegulars": [format!("http://www.example.com/{path}/.*\\.png")]
                }))
                .send()
                .await?
        }
        _ => {
            http.post(format!("http://{addr}/api/v1/purges"))
                .bearer_auth(&caller.key)
                .json(&serde_json::json!({
                    "urls": [
                        format!("http://www.example.com/{path}/a.css"),
                        format!("http://www.example.com/{path}/b.css"),
                    ]
                }))
                .send()
                .await?
        }
    };
    let status = response.status();
    // Read the body: a client that hangs up early is not what is measured here.
    let _ = response.bytes().await?;
    Ok(status)
}

/// Runs the load and its checks; `Err` when a check failed (after printing the figures).
pub async fn run(args: LoadArgs, json: bool) -> anyhow::Result<LoadReport> {
    let say = |text: String| {
        if !json {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    };
    let edges = fleet::start_edges(args.edges, args.edge_port, 0).await?;
    let rate = args.rate_per_key;
    let server = fleet::start_server(true, |config| {
        config.api.rate_limit.per_second = rate;
        config.api.rate_limit.burst = rate * 2.0;
    })
    .await?;
    let actor = Actor::cli();
    let mut callers = Vec::with_capacity(args.users.max(1));
    let mut users = Vec::new();
    for i in 0..args.users.max(1) {
        let name = format!("load{i}");
        let key = server
            .developer(&name, "www.example.com", &edges.addrs)
            .await?;
        let user = server
            .engine
            .user_by_name(&name)
            .await?
            .context("the developer exists")?;
        let user = server
            .engine
            .set_quota(
                &actor,
                user.id,
                QuotaOverrides {
                    url: Some(args.url_quota),
                    regex: Some(1_000_000),
                    ..Default::default()
                },
            )
            .await?;
        users.push(user);
        callers.push(Arc::new(Caller { user: name, key }));
    }
    say(format!(
        "load: {} clients for {} s over {} keys (rate limit {rate}/s per key, burst {}), {} edges, URL quota {} per developer",
        args.clients,
        args.seconds,
        callers.len(),
        rate * 2.0,
        args.edges,
        args.url_quota
    ));

    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let mut clients = Vec::with_capacity(args.clients);
    for client in 0..args.clients {
        let http = http.clone();
        let caller = Arc::clone(&callers[client % callers.len()]);
        let counters = Arc::clone(&counters);
        let addr = server.addr;
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while Instant::now() < until {
                let sent = Instant::now();
                let outcome = send(&http, addr, &caller, client, n).await;
                n += 1;
                counters.requests.fetch_add(1, Ordering::Relaxed);
                let counter = match outcome {
                    Ok(status) => {
                        latencies.push(sent.elapsed());
                        match status.as_u16() {
                            200..=299 => &counters.accepted,
                            429 => &counters.rate_limited,
                            400..=499 => &counters.refused,
                            _ => &counters.errors,
                        }
                    }
                    Err(_) => &counters.errors,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.context("a client task panicked")?);
    }
    let elapsed = started.elapsed().as_secs_f64();

    let load_end = Instant::now();
    loop {
        let depth = server.engine.queue_depth().await?;
        let (created, running) = (depth.created, depth.running);
        if created + running == 0 {
            break;
        }
        if load_end.elapsed() > Duration::from_secs(300) {
            bail!("{created} tasks created and {running} running 300 s after the load ended");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut max_quota_share = 0.0f64;
    for user in &users {
        let status = server.engine.quota_status(user).await?;
        max_quota_share = max_quota_share
            .max(f64::from(status.used_before.url) / f64::from(args.url_quota.max(1)));
    }

    let failed_tasks = count_failed(&server.engine).await?;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let report = LoadReport {
        requests: get(&counters.requests),
        accepted: get(&counters.accepted),
        rate_limited: get(&counters.rate_limited),
        refused: get(&counters.refused),
        errors: get(&counters.errors),
        accepted_per_sec: get(&counters.accepted) as f64 / elapsed,
        latency: Some(Percentiles::of(&mut latencies)),
        drain_secs: load_end.elapsed().as_secs_f64(),
        max_quota_share,
        failed_tasks,
    };
    let latency = report.latency.unwrap_or(Percentiles::of(&mut []));
    say(format!(
        "load: {} requests in {elapsed:.1} s: {} accepted ({:.0}/s), {} rate-limited (429), {} refused (other 4xx), {} 5xx or unanswered",
        report.requests, report.accepted, report.accepted_per_sec, report.rate_limited, report.refused, report.errors
    ));
    say(format!(
        "load: latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; every accepted task finished {:.1} s after the load ({} of them failed); largest URL quota use {:.1}%",
        latency.p50_ms, latency.p99_ms, latency.max_ms, report.drain_secs, report.failed_tasks, report.max_quota_share * 100.0
    ));
    if json {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string(&report)?
        );
    }
    let mut failures = Vec::new();
    if report.errors > 0 {
        failures.push(format!("{} requests got a 5xx or no answer", report.errors));
    }
    if report.max_quota_share > 1.0 {
        failures.push("a developer's URL quota was exceeded".to_owned());
    }
    if report.accepted_per_sec < args.min_accepted_per_sec {
        failures.push(format!(
            "{:.0} accepted requests/s, expected at least {:.0}",
            report.accepted_per_sec, args.min_accepted_per_sec
        ));
    }
    if report.accepted * 2 < report.requests {
        failures.push("fewer than half of the requests were accepted".to_owned());
    }
    if !failures.is_empty() {
        bail!("load checks failed: {}", failures.join("; "));
    }
    say("load: every check passed".to_owned());
    Ok(report)
}

/// Tasks that ended failed, counted page by page.
async fn count_failed(engine: &engine::Engine) -> anyhow::Result<u64> {
    let mut count = 0u64;
    let mut before_seq = None;
    loop {
        let page = engine
            .list_tasks(&engine::store::TaskFilter {
                status: Some(engine::tasks::TaskStatus::Failed),
                before_seq,
                limit: 1000,
                ..Default::default()
            })
            .await?;
        count += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == 1000 => before_seq = Some(last.seq),
            _ => return Ok(count),
        }
    }
}
