//! The operator commands that only read: users, keys, domains, groups and nodes, a task.

use anyhow::{bail, Context};
use engine::Engine;
use serde_json::json;

use super::operator::{
    find_user, DomainCommand, KeyCommand, NodesCommand, TaskCommand, UserCommand,
};
use super::{Command, Output};

/// Prints what a listing command asks for.
pub(super) async fn show(engine: &Engine, command: Command, out: &Output) -> anyhow::Result<()> {
    match command {
        Command::User(UserCommand::List) => {
            let users = engine.list_users().await?;
            let text = lines(users.iter().map(|user| {
                let state = match (user.enabled, user.can_purge) {
                    (false, _) => "disabled",
                    (true, false) => "may not purge",
                    (true, true) => "enabled",
                };
                format!("{}\t{}\t{state}", user.username, user.role.as_str())
            }));
            let json = users
                .iter()
                .map(|u| json!({ "username": u.username, "role": u.role, "enabled": u.enabled, "can_purge": u.can_purge }))
                .collect::<Vec<_>>();
            out.print(&text, json.into())
        }
        Command::Key(KeyCommand::List { user }) => {
            let owner = find_user(engine, &user).await?;
            let keys = engine.list_keys(owner.id).await?;
            let text = lines(keys.iter().map(|key| {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "live".to_owned(),
                };
                format!(
                    "{}\t{}\t{state}\t{}\tcreated {}",
                    key.public_id,
                    key.label,
                    key.scope.describe(),
                    key.created_at.to_rfc3339()
                )
            }));
            out.print(&text, serde_json::to_value(&keys)?)
        }
        Command::Domain(DomainCommand::List) => {
            let domains = engine.list_domains().await?;
            let text = lines(domains.iter().map(|domain| {
                format!(
                    "{}\tusers [{}]\tgroups [{}]",
                    domain.host,
                    domain.users.join(", "),
                    domain.groups.join(", ")
                )
            }));
            out.print(&text, serde_json::to_value(&domains)?)
        }
        Command::Nodes(NodesCommand::List { group }) => {
            let mut groups = engine.list_groups().await?;
            if let Some(name) = &group {
                groups.retain(|g| &g.group.name == name);
                if groups.is_empty() {
                    bail!("no edge group named {name}");
                }
            }
            let text = lines(groups.iter().flat_map(|g| {
                g.nodes.iter().map(move |node| {
                    let state = if node.enabled { "enabled" } else { "disabled" };
                    format!(
                        "{}\t{}\t{}:{}\t{state}",
                        g.group.name,
                        g.group.protocol.name(),
                        node.ip,
                        node.port
                    )
                })
            }));
            out.print(&text, serde_json::to_value(&groups)?)
        }
        Command::Task(TaskCommand::Show { id }) => {
            let task = engine
                .task(&id, &Default::default())
                .await?
                .with_context(|| format!("no task {id}"))?;
            let report = engine.task_report(task).await?;
            let t = &report.task;
            let mut text = format!(
                "{} {} {} ({} · {}): {} of {} confirmed, {} failed",
                t.id,
                t.kind,
                t.target,
                t.host(),
                t.mode,
                t.success,
                t.total,
                t.failed
            );
            for (node, failure) in &report.failures {
                text.push_str(&format!(
                    "\n{node}\t{}\t{} attempts\t{}",
                    failure.reason.as_str(),
                    failure.attempts,
                    failure.detail
                ));
            }
            out.print(
                &format!("{text}\nstatus {}", t.status.as_str()),
                serde_json::to_value(&report)?,
            )
        }
        _ => bail!("not a listing command"),
    }
}

/// One line per item, or a dash for none.
fn lines(items: impl Iterator<Item = String>) -> String {
    let text: Vec<String> = items.collect();
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.join("\n")
    }
}
