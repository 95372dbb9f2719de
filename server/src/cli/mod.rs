//! The command line: `purger serve`, the operator commands on this machine's database
//! (`operator.rs`: `purger migrate`, `purger user add`, …), the tools (bench, load, edge-sim,
//! sign-in flood) and the API client (`purger purge`, `purger prefetch`).
//!
//! Output goes to standard output (one line of text, or JSON with `--json`); errors exit non-zero
//! with a message on standard error.

mod listing;
mod operator;

pub use operator::{
    DomainCommand, GroupCommand, KeyCommand, NodesCommand, QuotaCommand, TaskCommand, UserCommand,
};

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use engine::Engine;
use serde_json::json;

use crate::config::Config;
use crate::startup::Application;
use crate::telemetry;
use crate::tools::demo;
use crate::tools::edge_sim::{self, EdgeSimConfig};

/// Purger: a self-hosted CDN cache-purge control plane.
#[derive(Debug, Parser)]
#[command(name = "purger", version, about)]
pub struct Cli {
    /// A TOML configuration file (default: `purger.toml` when it exists).
    #[arg(long, global = true, env = "PURGER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the dashboard, the APIs and the fan-out workers.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage domains.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Manage edge nodes.
    #[command(subcommand)]
    Nodes(NodesCommand),
    /// Manage quotas.
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// Manage edge groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Look at tasks.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Purge through a Purger server's API (for deploy pipelines); `--wait` follows it to the end.
    Purge(crate::client::PurgeArgs),
    /// Prefetch URLs through a Purger server's API; `--wait` follows it to the end.
    Prefetch(crate::client::PrefetchArgs),
    /// Serve a simulated edge fleet on loopback until interrupted.
    EdgeSim(EdgeSimConfig),
    /// Measure fan-out latency and throughput, ingest, memory and history on this machine.
    Bench(crate::tools::bench::BenchArgs),
    /// Load-test the APIs with many concurrent clients while fan-outs run; fails when a check fails.
    Load(crate::tools::load::LoadArgs),
    /// Flood the dashboard's sign-in with wrong passwords from several loopback addresses;
    /// fails when the server's memory grows or `/healthz` slows beyond the bounds.
    SignInFlood(crate::tools::sign_in_flood::FloodArgs),
}

/// Options of `purger serve`.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides `PURGER_ADDR` and the config file).
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Also create demo users, a demo domain and a simulated fleet of 50 edges on loopback.
    #[arg(long)]
    pub demo: bool,
    /// First port of the demo's simulated edges.
    #[arg(long, default_value_t = 18000)]
    pub demo_edge_port: u16,
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The API client needs neither the configuration nor the database.
    match cli.command {
        Some(Command::Purge(args)) => return crate::client::purge(args, cli.json).await,
        Some(Command::Prefetch(args)) => return crate::client::prefetch(args, cli.json).await,
        _ => {}
    }
    run_here(cli).await.map(|()| ExitCode::SUCCESS)
}

/// Runs a command on this machine's database and configuration.
async fn run_here(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if matches!(
        cli.command,
        Some(Command::Bench(_) | Command::Load(_) | Command::SignInFlood(_))
    ) && config.log.filter.is_none()
    {
        // The bench prints figures; per-request log lines would drown them (and slow it down).
        config.log.filter = Some("warn".into());
    }
    telemetry::init(&config.log);
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let out = Output { json: cli.json };
    match command {
        Command::Serve(args) => {
            if let Some(addr) = args.addr {
                config.addr = addr;
            }
            let app = Application::build(config).await?;
            let _fleet = if args.demo {
                Some(demo::prepare(app.engine(), app.local_addr(), args.demo_edge_port).await?)
            } else {
                None
            };
            app.run_until_stopped().await
        }
        Command::EdgeSim(sim) => {
            let fleet = edge_sim::start(&sim)
                .await
                .context("starting the simulated edges")?;
            out.print(
                &format!(
                    "{} simulated edges; CSV for `purger nodes import`:\n{}",
                    fleet.nodes.len(),
                    fleet.csv().trim_end()
                ),
                json!({ "nodes": fleet.nodes }),
            )?;
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            Ok(())
        }
        Command::Load(args) => {
            crate::tools::load::run(args, cli.json).await?;
            Ok(())
        }
        Command::Bench(args) => {
            crate::tools::bench::run(args, cli.json).await?;
            Ok(())
        }
        Command::SignInFlood(args) => {
            crate::tools::sign_in_flood::run(args, cli.json).await?;
            Ok(())
        }
        command => {
            let engine = Engine::open(&config.database_url(), config.engine.clone()).await?;
            operator::manage(&engine, command, &out).await
        }
    }
}

/// Where command results go: text or JSON on standard output.
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn print(&self, text: &str, json: serde_json::Value) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            writeln!(stdout, "{json}")?;
        } else {
            writeln!(stdout, "{text}")?;
        }
        Ok(())
    }
}
