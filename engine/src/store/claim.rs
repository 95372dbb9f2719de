//! The work queue apart from the SQL: a task that starts now gets its domain's node set frozen
//! (read and digested again only when the fleet changed since the same domain's last one, see
//! [`FrozenSets`]), every claimed task its lease and what is already done; progress is written
//! task by task, as long as the lease holds.
//!
//! Each backend picks the tasks with its own statement and supplies the others through
//! [`WorkTx`], inside the transaction of a claim or a progress write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::fleet::NodeTarget;
use crate::ids::TaskId;
use crate::store::{ClaimRequest, ClaimedTask, NodeSet, StoreError, StoreResult, TaskProgress};
use crate::tasks::{NodeBitmap, NodeFailure, TaskRecord, TaskStatus};

/// The statements of the work queue, on a backend's connection.
#[async_trait]
pub(super) trait WorkTx: Send {
    /// The fleet's version: moved on (by the schema's triggers) by every change to the nodes,
    /// the groups, the domains' groups, and by pruned node sets.
    async fn fleet_version(&mut self) -> StoreResult<i64>;
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

/// A domain and a choice of its groups (none: all of them).
type SetKey = (i64, Vec<String>);

/// The node set a domain and choice of groups got frozen to, and the fleet version it was
/// read at.
#[derive(Clone)]
struct FrozenSet {
    version: i64,
    id: i64,
    nodes: Arc<NodeSet>,
}

/// Node sets frozen by this store's claims, by domain and choice of groups: a claim whose fleet
/// version is the one an entry was read at takes the entry instead of reading the domain's
/// nodes, digesting and storing them again. The version is read inside the claim's transaction
/// before the nodes, so an entry is never newer than its version says.
#[derive(Default)]
pub(super) struct FrozenSets(Mutex<HashMap<SetKey, FrozenSet>>);

impl std::fmt::Debug for FrozenSets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrozenSets")
    }
}

/// Entries kept at most (one per domain and choice of groups in use); past it, all are
/// dropped and read again as claims need them.
const FROZEN_SETS_KEPT: usize = 1024;

impl FrozenSets {
    fn get(&self, key: &SetKey, version: i64) -> Option<FrozenSet> {
        let sets = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sets.get(key).filter(|set| set.version == version).cloned()
    }

    /// Keeps the sets a claim read and froze, once its transaction committed (before, their
    /// ids may still be rolled back).
    pub(super) fn remember(&self, mut claim: ClaimSets) {
        let mut sets = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in claim.read {
            if let Some(set) = claim.used.remove(&key) {
                if sets.len() >= FROZEN_SETS_KEPT {
                    sets.clear();
                }
                sets.insert(key, set);
            }
        }
    }
}

/// The node sets one claim uses: the fleet version it read (once), each set by key, and which
/// of them it read and froze itself (for [`FrozenSets::remember`]).
#[derive(Default)]
pub(super) struct ClaimSets {
    version: Option<i64>,
    used: HashMap<SetKey, FrozenSet>,
    read: Vec<SetKey>,
}

impl ClaimSets {
    /// The node set of `domain_id` and `groups` for a task starting `now`: this claim's, else
    /// the cached one of the same fleet version, else read, digested and frozen through `tx`.
    async fn node_set(
        &mut self,
        tx: &mut impl WorkTx,
        cache: &FrozenSets,
        (domain_id, groups): (i64, &[String]),
        now: DateTime<Utc>,
    ) -> StoreResult<FrozenSet> {
        let key = (domain_id, groups.to_vec());
        if let Some(set) = self.used.get(&key) {
            return Ok(set.clone());
        }
        let version = match self.version {
            Some(version) => version,
            None => *self.version.insert(tx.fleet_version().await?),
        };
        let set = match cache.get(&key, version) {
            Some(set) => set,
            None => {
                let nodes = Arc::new(tx.domain_nodes(domain_id, groups).await?);
                let (digest, json) = node_set_digest(&nodes)?;
                let id = tx.freeze_node_set(digest, json, now).await?;
                self.read.push(key.clone());
                FrozenSet { version, id, nodes }
            }
        };
        self.used.insert(key, set.clone());
        Ok(set)
    }
}

/// Claims the `picked` tasks through `tx`, in order; also what it froze, for the cache.
pub(super) async fn claim(
    tx: &mut impl WorkTx,
    picked: Vec<Picked>,
    request: &ClaimRequest,
    cache: &FrozenSets,
) -> StoreResult<(Vec<ClaimedTask>, ClaimSets)> {
    let deadline = request.now + request.task_deadline;
    let mut sets = ClaimSets::default();
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
                let set = sets
                    .node_set(tx, cache, (task.domain_id, &task.groups), request.now)
                    .await?;
                task.node_set_id = Some(set.id);
                task.total = set.nodes.len() as u32;
                task.started_at = Some(request.now);
                (
                    set.id,
                    Some(set.nodes),
                    NodeBitmap::new(task.total as usize),
                )
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
    Ok((claimed, sets))
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
