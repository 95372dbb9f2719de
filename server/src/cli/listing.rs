//! The operator commands that only read: users, keys, domains, groups and nodes, a task.

use anyhow::{bail, Context};
use engine::fanout::health::NodeHealth;
use engine::fleet::EdgeNode;
use engine::fleet_view::HealthState;
use engine::store::GroupWithNodes;
use engine::Engine;
use serde_json::{json, Value};

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
        Command::Nodes(NodesCommand::List { group, health }) => {
            let mut groups = engine.list_groups().await?;
            if let Some(name) = &group {
                groups.retain(|g| &g.group.name == name);
                if groups.is_empty() {
                    bail!("no edge group named {name}");
                }
            }
            let wanted = health.as_deref().and_then(HealthState::parse);
            let states = engine.node_health().await?;
            let mut text = Vec::new();
            let mut json = Vec::new();
            for g in &groups {
                let mut nodes = Vec::new();
                for node in &g.nodes {
                    let recent = states.get(&node.id);
                    let state = HealthState::of(node.enabled, recent);
                    if wanted.is_some_and(|w| w != state) {
                        continue;
                    }
                    text.push(node_line(g, node, state, recent));
                    nodes.push(node_json(node, state, recent));
                }
                if wanted.is_none() || !nodes.is_empty() {
                    json.push(json!({ "group": g.group, "nodes": nodes }));
                }
            }
            out.print(&lines(text.into_iter()), json.into())
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

/// A node's line: group, protocol, address, enabled, health state, recent failures, the last
/// failure.
fn node_line(
    g: &GroupWithNodes,
    node: &EdgeNode,
    state: HealthState,
    health: Option<&NodeHealth>,
) -> String {
    let enabled = if node.enabled { "enabled" } else { "disabled" };
    let mut line = format!(
        "{}\t{}\t{}:{}\t{enabled}\t{}",
        g.group.name,
        g.group.protocol.name(),
        node.ip,
        node.port,
        state.as_str()
    );
    if let Some(h) = health.filter(|h| h.recent > 0) {
        line.push_str(&format!(
            "\t{} of {} recent failed",
            h.recent_failures, h.recent
        ));
        if let Some((at, reason)) = &h.last_failure {
            line.push_str(&format!("\tlast failure {} {reason}", at.to_rfc3339()));
        }
    }
    line
}

/// A node in `--json`: the stored node, its health state and its recent results.
fn node_json(node: &EdgeNode, state: HealthState, health: Option<&NodeHealth>) -> Value {
    let mut value = json!(node);
    value["health"] = json!(state.as_str());
    if let Some(h) = health {
        value["recent"] = json!(h.recent);
        value["recent_failures"] = json!(h.recent_failures);
        value["last_success"] = json!(h.last_success);
        value["last_failure"] = json!(h
            .last_failure
            .as_ref()
            .map(|(at, reason)| json!({ "at": at, "reason": reason })));
    }
    value
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
