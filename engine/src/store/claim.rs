//! The work queue apart from the SQL: a task that starts now gets its domain's node set frozen
//! (once per domain and claim), every claimed task its lease and what is already done; progress
//! is written task by task, as long as the lease holds.
//!
//! Each backend picks the tasks with its own statement and supplies the others through
//! [`WorkTx`], inside the transaction of a claim or a progress write.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::fleet::NodeTarget;
use crate::ids::TaskId;
use crate::store::{ClaimRequest, ClaimedTask, NodeSet, StoreError, StoreResult, TaskProgress};
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord, TaskStatus};

/// The statements of the work queue, on a backend's connection.
#[async_trait]
pub(super) trait WorkTx: Send {
    /// The enabled nodes of the groups serving a domain (all of them when `groups` is empty, else
    /// those named), each cache once, in a stable order.
    async fn domain_nodes(
        &mut self,
        domain_id: i64,
        groups: &[String],
    ) -> StoreResult<Vec<NodeTarget>>;
    /// Stores a node set under its digest (or finds the equal one stored before); its id.
    async fn freeze_node_set(
        &mut self,
        digest: String,
        json: String,
        at: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// Writes a claimed task: running, its node set, progress, deadline and lease.
    async fn mark_claimed(&mut self, task: &ClaimedTask, claim: &ClaimRequest) -> StoreResult<()>;
    /// The failed nodes of a task, by node.
    async fn failures_of(&mut self, task: &TaskId) -> StoreResult<Vec<NodeFailure>>;
    /// Writes one task's progress if `owner` still holds its lease; whether it did.
    async fn write_progress(&mut self, owner: &str, update: &TaskProgress) -> StoreResult<bool>;
    /// Writes (or overwrites) a failed node of a task.
    async fn write_failure(&mut self, task: &TaskId, failure: &NodeFailure) -> StoreResult<()>;
}

/// A task the claim statement picked, with the confirmed-node bitmap stored for it.
pub(super) struct Picked {
    /// The task as stored.
    pub task: TaskRecord,
    /// Its `confirmed` column (set once it ran).
    pub confirmed: Option<Vec<u8>>,
}

/// Claims the `picked` tasks through `tx`, in order.
pub(super) async fn claim(
    tx: &mut impl WorkTx,
    picked: Vec<Picked>,
    request: &ClaimRequest,
) -> StoreResult<Vec<ClaimedTask>> {
    let deadline = request.now + request.task_deadline;
    // One node set per domain and choice of groups.
    let mut frozen: HashMap<(i64, Vec<String>), (i64, Arc<NodeSet>)> = HashMap::new();
    let mut claimed = Vec::with_capacity(picked.len());
    for Picked {
        mut task,
        confirmed,
    } in picked
    {
        let (node_set_id, nodes, confirmed) = match task.node_set_id {
            Some(id) => (
                id,
                None,
                NodeBitmap::from_bytes(confirmed.unwrap_or_default()),
            ),
            None => {
                let key = (task.domain_id, task.groups.clone());
                let (id, nodes) = match frozen.get(&key) {
                    Some((id, nodes)) => (*id, Arc::clone(nodes)),
                    None => {
                        let nodes = tx.domain_nodes(task.domain_id, &task.groups).await?;
                        let nodes = Arc::new(nodes);
                        let (digest, json) = node_set_digest(&nodes)?;
                        let id = tx.freeze_node_set(digest, json, request.now).await?;
                        frozen.insert(key, (id, Arc::clone(&nodes)));
                        (id, nodes)
                    }
                };
                task.node_set_id = Some(id);
                task.total = nodes.len() as u32;
                task.started_at = Some(request.now);
                (id, Some(nodes), NodeBitmap::new(task.total as usize))
            }
        };
        task.status = TaskStatus::Running;
        let mut task = ClaimedTask {
            task,
            node_set_id,
            nodes,
            confirmed,
            failures: Vec::new(),
            deadline,
        };
        tx.mark_claimed(&task, request).await?;
        if task.task.failed > 0 {
            task.failures = tx.failures_of(&task.task.id).await?;
        }
        claimed.push(task);
    }
    Ok(claimed)
}

/// Writes `progress` through `tx`; the tasks whose lease `owner` lost (nothing written for them).
pub(super) async fn record_progress(
    tx: &mut impl WorkTx,
    owner: &str,
    progress: &[TaskProgress],
) -> StoreResult<Vec<TaskId>> {
    let mut lost = Vec::new();
    for update in progress {
        if !tx.write_progress(owner, update).await? {
            lost.push(update.task_id.clone());
            continue;
        }
        for failure in &update.new_failures {
            tx.write_failure(&update.task_id, failure).await?;
        }
    }
    Ok(lost)
}

/// The digest under which a node set is stored, so that equal sets share one row, and its JSON.
fn node_set_digest(nodes: &[NodeTarget]) -> StoreResult<(String, String)> {
    use sha2::{Digest, Sha256};
    let json =
        serde_json::to_string(nodes).map_err(|e| StoreError::Corrupt(format!("node set: {e}")))?;
    let digest = hex::encode(Sha256::digest(json.as_bytes()));
    Ok((digest, json))
}
