//! The operator command line: `purger serve`, `purger migrate`, `purger user add`, ….
//!
//! Output goes to standard output (one line of text, or JSON with `--json`); errors exit non-zero
//! with a message on standard error.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use engine::fleet::Protocol;
use engine::users::{QuotaOverrides, Role};
use engine::{Actor, Engine};
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

/// `purger user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        /// User name.
        name: String,
        /// An admin.
        #[arg(
            long,
            conflicts_with = "developer",
            required_unless_present = "developer"
        )]
        admin: bool,
        /// A developer.
        #[arg(long)]
        developer: bool,
        /// Read the dashboard password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `purger key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key for a user and print it once.
    Create {
        /// Owner.
        user: String,
        /// A label.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Carry an existing key of the old systems over as is.
    Import {
        /// Owner.
        user: String,
        /// The key string.
        key: String,
        /// A label.
        #[arg(long, default_value = "imported")]
        label: String,
    },
}

/// `purger domain …`.
#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Create or extend a domain.
    Add {
        /// Host name, such as `www.example.com` or `*.example.com`.
        host: String,
        /// Users who may purge it.
        #[arg(long = "user")]
        users: Vec<String>,
        /// Edge groups that serve it.
        #[arg(long = "group")]
        groups: Vec<String>,
    },
}

/// `purger nodes …`.
#[derive(Debug, Subcommand)]
pub enum NodesCommand {
    /// Create or update nodes from CSV lines `ip,port[,enabled]` (`-` reads standard input).
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The group (created when missing).
        #[arg(long)]
        group: String,
        /// The group's protocol.
        #[arg(long, value_parser = ["varnish", "nginx", "squid", "ats"])]
        protocol: String,
    },
}

/// `purger quota …`.
#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Set a user's limits (others keep their value).
    Set {
        /// The user.
        user: String,
        /// Exact URLs per day.
        #[arg(long)]
        url: Option<u32>,
        /// Prefixes per day.
        #[arg(long)]
        prefix: Option<u32>,
        /// Regexes per day.
        #[arg(long)]
        regex: Option<u32>,
        /// Cache tags per day.
        #[arg(long)]
        tag: Option<u32>,
        /// Everything-on-a-domain purges per day.
        #[arg(long)]
        everything: Option<u32>,
        /// Prefetched URLs per day.
        #[arg(long)]
        prefetch: Option<u32>,
        /// Targets per request.
        #[arg(long)]
        batch: Option<u32>,
    },
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
            manage(&engine, command, &out).await
        }
    }
}

async fn manage(engine: &Engine, command: Command, out: &Output) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match command {
        Command::Migrate => {
            let version = engine.schema_version().await?;
            out.print(
                &format!(
                    "database migrated (schema version {})",
                    version.unwrap_or(0)
                ),
                json!({ "schema_version": version }),
            )
        }
        Command::User(UserCommand::Add {
            name,
            admin,
            password_stdin,
            ..
        }) => {
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let role = if admin { Role::Admin } else { Role::Developer };
            let user = engine
                .create_user(&actor, &name, role, password.as_deref())
                .await?;
            out.print(
                &format!("created {} {}", role.as_str(), user.username),
                json!({ "id": user.id.0, "username": user.username, "role": role }),
            )
        }
        Command::Key(KeyCommand::Create { user, label }) => {
            let owner = find_user(engine, &user).await?;
            let (info, secret) = engine.create_key(&actor, owner.id, &label).await?;
            out.print(secret.expose(), json!({ "id": info.public_id, "user": owner.username, "label": info.label, "key": secret.expose() }))
        }
        Command::Key(KeyCommand::Import { user, key, label }) => {
            let owner = find_user(engine, &user).await?;
            let info = engine.import_key(&actor, owner.id, &key, &label).await?;
            out.print(
                &format!("imported key {} for {}", info.public_id, owner.username),
                json!({ "id": info.public_id, "user": owner.username }),
            )
        }
        Command::Domain(DomainCommand::Add {
            host,
            users,
            groups,
        }) => {
            let domain = engine.add_domain(&actor, &host, &users, &groups).await?;
            out.print(
                &format!(
                    "domain {}: users [{}], groups [{}]",
                    domain.host,
                    domain.users.join(", "),
                    domain.groups.join(", ")
                ),
                json!({ "host": domain.host, "users": domain.users, "groups": domain.groups }),
            )
        }
        Command::Nodes(NodesCommand::Import {
            file,
            group,
            protocol,
        }) => {
            let csv = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                text
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let protocol = Protocol::preset(&protocol).context("unknown protocol")?;
            if engine.group_id(&group).await?.is_none() {
                engine.upsert_group(&actor, &group, protocol).await?;
            }
            let report = engine.import_nodes(&actor, &group, &csv).await?;
            let text = format!(
                "{} added, {} updated, {} refused",
                report.added,
                report.updated,
                report.refused.len()
            );
            let text = report.refused.iter().fold(text, |text, (line, why)| {
                format!("{text}\nline {line}: {why}")
            });
            out.print(&text, json!({ "added": report.added, "updated": report.updated, "refused": report.refused }))
        }
        Command::Quota(QuotaCommand::Set {
            user,
            url,
            prefix,
            regex,
            tag,
            everything,
            prefetch,
            batch,
        }) => {
            let owner = find_user(engine, &user).await?;
            let changes = QuotaOverrides {
                url,
                prefix,
                regex,
                tag,
                everything,
                prefetch,
                batch,
            };
            let quota = changes.or(owner.quota);
            let updated = engine.set_quota(&actor, owner.id, quota).await?;
            let limits = updated.quota.resolve(&engine.config().quota);
            out.print(
                &format!(
                    "{}: url {}, prefix {}, regex {}, tag {}, everything {}, prefetch {} per day; {} per request",
                    updated.username,
                    limits.url,
                    limits.prefix,
                    limits.regex,
                    limits.tag,
                    limits.everything,
                    limits.prefetch,
                    limits.batch
                ),
                json!({ "user": updated.username, "limits": limits }),
            )
        }
        Command::Serve(_)
        | Command::Purge(_)
        | Command::Prefetch(_)
        | Command::EdgeSim(_)
        | Command::Bench(_)
        | Command::Load(_)
        | Command::SignInFlood(_) => {
            bail!("not a management command")
        }
    }
}

async fn find_user(engine: &Engine, name: &str) -> anyhow::Result<engine::users::User> {
    engine
        .user_by_name(name)
        .await?
        .with_context(|| format!("no user named {name}"))
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Where command results go: text or JSON on standard output.
struct Output {
    json: bool,
}

impl Output {
    fn print(&self, text: &str, json: serde_json::Value) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            writeln!(stdout, "{json}")?;
        } else {
            writeln!(stdout, "{text}")?;
        }
        Ok(())
    }
}
