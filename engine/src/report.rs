//! A task's result node by node, in the vocabulary of seed 000.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::fleet::NodeTarget;
use crate::store::{Store, StoreError};
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord, TaskStatus};

/// Reads what a task's report needs besides the task: its node set, its failures, and while it
/// runs, which nodes confirmed.
pub async fn load(store: &dyn Store, task: TaskRecord) -> Result<TaskReport, StoreError> {
    let nodes = match task.node_set_id {
        Some(id) => store.node_set(id).await?.unwrap_or_default(),
        None => Vec::new(),
    };
    let failures = if task.failed > 0 {
        store.task_failures(&task.id).await?
    } else {
        Vec::new()
    };
    let confirmed = if task.status == TaskStatus::Running {
        store.task_confirmed(&task.id).await?
    } else {
        None
    };
    Ok(TaskReport::build(
        task,
        &nodes,
        confirmed.as_ref(),
        failures,
    ))
}

/// A task with its per-node results resolved to addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    /// The task.
    pub task: TaskRecord,
    /// Confirmed nodes (`ip`, or `ip:port` when the port is not 80).
    pub success_ips: Vec<String>,
    /// Failed nodes.
    pub failed_ips: Vec<String>,
    /// Failure reason → failed nodes.
    pub failed_status: BTreeMap<String, Vec<String>>,
    /// Each failure with its node address.
    pub failures: Vec<(String, NodeFailure)>,
    /// Confirmed nodes whose purge could not be verified (their answer had no `Age`).
    pub unverified_ips: Vec<String>,
    /// Confirmed nodes whose warming fetch after the purge failed.
    pub unprefetched_ips: Vec<String>,
}

impl TaskReport {
    /// Resolves a task's results against its node set. `confirmed` is the running task's bitmap;
    /// for a finished task every node that did not fail confirmed.
    pub fn build(
        task: TaskRecord,
        nodes: &[NodeTarget],
        confirmed: Option<&NodeBitmap>,
        failures: Vec<NodeFailure>,
    ) -> Self {
        let mut failed = NodeBitmap::new(nodes.len());
        let mut failed_status: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut failed_ips = Vec::with_capacity(failures.len());
        let mut detailed = Vec::with_capacity(failures.len());
        for failure in failures {
            let Some(node) = nodes.get(failure.node_index as usize) else {
                continue;
            };
            let ip = node.display_ip();
            failed.set(failure.node_index as usize);
            failed_ips.push(ip.clone());
            failed_status
                .entry(failure.reason.as_str().to_owned())
                .or_default()
                .push(ip.clone());
            detailed.push((ip, failure));
        }
        let finished = task.status.is_final();
        let success_ips = nodes
            .iter()
            .enumerate()
            .filter(|(index, _)| {
                if finished {
                    !failed.get(*index)
                } else {
                    confirmed.is_some_and(|bitmap| bitmap.get(*index))
                }
            })
            .map(|(_, node)| node.display_ip())
            .collect();
        let success_ips = if task.status == TaskStatus::Created {
            Vec::new()
        } else {
            success_ips
        };
        let ips = |indices: &[u32]| {
            indices
                .iter()
                .filter_map(|index| nodes.get(*index as usize))
                .map(NodeTarget::display_ip)
                .collect()
        };
        let unverified_ips = ips(&task.unverified);
        let unprefetched_ips = ips(&task.unprefetched);
        Self {
            task,
            success_ips,
            failed_ips,
            failed_status,
            failures: detailed,
            unverified_ips,
            unprefetched_ips,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::fleet::{NodeId, Protocol};
    use crate::ids::{BatchId, TaskId};
    use crate::target::TargetKind;
    use crate::tasks::FailureReason;
    use crate::users::UserId;

    fn task(status: TaskStatus) -> TaskRecord {
        TaskRecord {
            id: TaskId::generate(),
            seq: 1,
            batch_id: BatchId::generate(),
            user_id: UserId(1),
            domain_id: 1,
            kind: TargetKind::Url,
            target: "http://a.com/x".into(),
            host: None,
            mode: Default::default(),
            groups: Vec::new(),
            verify: false,
            prefetch_after: false,
            unverified: Vec::new(),
            unprefetched: Vec::new(),
            prefetched: 0,
            client_task_id: None,
            status,
            node_set_id: Some(1),
            total: 3,
            success: 2,
            failed: 1,
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            callback_url: None,
        }
    }

    fn nodes() -> Vec<NodeTarget> {
        ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:6081"]
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                let addr: std::net::SocketAddr = addr.parse().unwrap();
                NodeTarget {
                    node_id: NodeId(i as i64),
                    ip: addr.ip(),
                    port: addr.port(),
                    protocol: Protocol::Varnish,
                }
            })
            .collect()
    }

    #[test]
    fn a_finished_task_lists_every_node_that_did_not_fail() {
        let failure = NodeFailure {
            node_index: 2,
            reason: FailureReason::timeout(),
            attempts: 3,
            detail: String::new(),
        };
        let report = TaskReport::build(task(TaskStatus::Failed), &nodes(), None, vec![failure]);
        assert_eq!(report.success_ips, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(report.failed_ips, vec!["10.0.0.3:6081"]);
        assert_eq!(report.failed_status["timeout"], vec!["10.0.0.3:6081"]);
    }

    #[test]
    fn a_running_task_lists_only_confirmed_nodes() {
        let mut confirmed = NodeBitmap::new(3);
        confirmed.set(1);
        let report = TaskReport::build(
            task(TaskStatus::Running),
            &nodes(),
            Some(&confirmed),
            Vec::new(),
        );
        assert_eq!(report.success_ips, vec!["10.0.0.2"]);
        assert!(report.failed_ips.is_empty() && report.failed_status.is_empty());
    }
}

/// The body of seed 000's `GET /api/q` (and of callbacks): keys in the original's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeedQueryBody {
    /// Creation time, `YYYYMMDDHHMMSS`.
    pub create_at: String,
    /// Failed node count.
    pub failed: u32,
    /// Failed nodes.
    pub failed_ips: Vec<String>,
    /// Failure reason → nodes.
    pub failed_status: BTreeMap<String, Vec<String>>,
    /// Finish time, `""` until finished.
    pub finish_at: String,
    /// Start time, `""` until started.
    pub start_at: String,
    /// `created`, `running`, `success` or `failed`.
    pub status: &'static str,
    /// Confirmed node count.
    pub success: u32,
    /// Confirmed nodes.
    pub success_ips: Vec<String>,
    /// Nodes in the task.
    pub total: u32,
    /// The target as submitted (the seed's example key).
    pub uri: String,
    /// The target again (the seed's table key).
    pub url: String,
}

impl SeedQueryBody {
    /// Formats a report with times in `zone`.
    pub fn from_report(report: TaskReport, zone: &crate::time::Zone) -> Self {
        let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
            at.map(|at| crate::time::seed_compact(at, zone))
                .unwrap_or_default()
        };
        let task = report.task;
        Self {
            create_at: crate::time::seed_compact(task.created_at, zone),
            failed: task.failed,
            failed_ips: report.failed_ips,
            failed_status: report.failed_status,
            finish_at: time(task.finished_at),
            start_at: time(task.started_at),
            status: task.status.as_str(),
            success: task.success,
            success_ips: report.success_ips,
            total: task.total,
            uri: task.target.clone(),
            url: task.target,
        }
    }
}
