//! The operator commands on this machine's database and configuration: users, keys, domains,
//! groups and nodes, quotas, tasks.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use engine::fleet::Protocol;
use engine::key_scope::KeyScope;
use engine::target::TargetKind;
use engine::users::{QuotaOverrides, Role};
use engine::{Actor, Engine};
use serde_json::json;

use super::{Command, Output};

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
    /// List the users with their role and state.
    List,
}

/// `purger key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key for a user and print it once; `--domain`, `--kind` and `--read-only`
    /// limit what it may do within the user's rights.
    Create {
        /// Owner.
        user: String,
        /// A label.
        #[arg(long, default_value = "")]
        label: String,
        /// Only this domain of the user's (repeat for more; default: all of them).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Only this purge kind (repeat for more; default: every kind).
        #[arg(long = "kind", value_parser = ["url", "prefix", "regex", "tag", "everything", "prefetch"])]
        kinds: Vec<String>,
        /// Status and history only: no purge, prefetch or retry.
        #[arg(long)]
        read_only: bool,
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
    /// List a user's keys (never the secrets).
    List {
        /// Owner.
        user: String,
    },
    /// Revoke a user's key by its public id.
    Revoke {
        /// Owner.
        user: String,
        /// The key's public id, as `key list` shows it.
        id: String,
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
    /// List the domains with their users and groups.
    List,
}

/// `purger group …`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create an edge group or change its protocol.
    Add {
        /// The group's name.
        name: String,
        /// How its nodes are purged.
        #[arg(long, value_parser = ["varnish", "nginx", "squid", "ats"])]
        protocol: String,
        /// nginx only: the purge module takes `PURGE /prefix*` (prefixes and everything).
        #[arg(long)]
        prefix_wildcard: bool,
    },
}

/// `purger task …`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// A task with its per-node results.
    Show {
        /// The task id.
        id: String,
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
    /// List the groups and their nodes, with each node's health from its recent results (as the
    /// serving instances saved them, every few seconds).
    List {
        /// Only this group.
        #[arg(long)]
        group: Option<String>,
        /// Only the nodes in this health state.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            engine::fleet_view::HealthState::ALL.map(engine::fleet_view::HealthState::as_str)
        ))]
        health: Option<String>,
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

/// Runs an operator command.
pub(super) async fn manage(engine: &Engine, command: Command, out: &Output) -> anyhow::Result<()> {
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
        Command::Key(KeyCommand::Create {
            user,
            label,
            domains,
            kinds,
            read_only,
        }) => {
            let owner = find_user(engine, &user).await?;
            let scope = KeyScope {
                domains: (!domains.is_empty()).then_some(domains),
                kinds: (!kinds.is_empty())
                    .then(|| kinds.iter().filter_map(|k| TargetKind::parse(k)).collect()),
                read_only,
            };
            let (info, secret) = engine
                .create_scoped_key(&actor, owner.id, &label, scope)
                .await?;
            out.print(
                secret.expose(),
                json!({ "id": info.public_id, "user": owner.username, "label": info.label, "key": secret.expose(), "limits": info.scope }),
            )
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
        Command::Group(GroupCommand::Add {
            name,
            protocol,
            prefix_wildcard,
        }) => {
            let protocol = match (Protocol::preset(&protocol), prefix_wildcard) {
                (Some(Protocol::Nginx { .. }), wildcard) => Protocol::Nginx {
                    prefix_wildcard: wildcard,
                },
                (Some(_), true) => bail!("--prefix-wildcard is an nginx option"),
                (Some(protocol), false) => protocol,
                (None, _) => bail!("unknown protocol"),
            };
            let group = engine.upsert_group(&actor, &name, protocol).await?;
            out.print(
                &format!("group {} ({})", group.name, group.protocol.name()),
                json!({ "name": group.name, "protocol": group.protocol }),
            )
        }
        Command::Key(KeyCommand::Revoke { user, id }) => {
            let owner = find_user(engine, &user).await?;
            engine.revoke_key(&actor, owner.id, &id).await?;
            out.print(
                &format!("revoked key {id} of {}", owner.username),
                json!({ "revoked": id, "user": owner.username }),
            )
        }
        Command::User(UserCommand::List)
        | Command::Key(KeyCommand::List { .. })
        | Command::Domain(DomainCommand::List)
        | Command::Nodes(NodesCommand::List { .. })
        | Command::Task(_) => super::listing::show(engine, command, out).await,
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

pub(super) async fn find_user(engine: &Engine, name: &str) -> anyhow::Result<engine::users::User> {
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
