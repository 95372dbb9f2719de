//! What the scheduler reads from and writes to the store: progress in batches (and what a lost
//! lease or a failed write means for the runs), claims of new tasks with their node sets, and
//! lease renewals. Each store call runs in a task of its own, so that the dispatch loop never
//! waits for the database.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{
    forget_slots_when_idle, mark_ready, Claimed, NodeSetCache, Scheduler, State, WriteBatch,
    WriteHandle, PROGRESS_WRITE_INTERVAL,
};
use crate::fanout::run::Run;
use crate::fanout::ProgressEvent;
use crate::ids::TaskId;
use crate::store::{ClaimRequest, StoreError, TaskProgress};
use crate::users::UserId;

impl Scheduler {
    pub(super) fn start_write(&self, st: &mut State) -> Option<WriteHandle> {
        let now = Instant::now();
        if st.dirty.is_empty() || st.flush_not_before.is_some_and(|at| now < at) {
            return None;
        }
        let recently = st
            .last_write
            .is_some_and(|at| now.duration_since(at) < PROGRESS_WRITE_INTERVAL);
        if recently
            && !st
                .dirty
                .iter()
                .any(|key| st.runs.get(key).is_some_and(Run::is_finished))
        {
            return None;
        }
        st.last_write = Some(now);
        let batch: WriteBatch = st
            .dirty
            .drain()
            .filter_map(|key| st.runs.get_mut(&key).map(|run| (key, run.take_progress())))
            .collect();
        let store = Arc::clone(&self.store);
        let owner = self.owner.clone();
        Some(tokio::spawn(async move {
            let progress: Vec<TaskProgress> = batch.iter().map(|(_, p)| p.clone()).collect();
            let result = store.record_progress(&owner, &progress).await;
            (batch, result)
        }))
    }

    pub(super) fn finish_write(
        &self,
        st: &mut State,
        batch: WriteBatch,
        result: Result<Vec<TaskId>, StoreError>,
    ) {
        let lost = match result {
            Ok(lost) => {
                st.flush_not_before = None;
                lost
            }
            Err(error) => {
                tracing::warn!(%error, tasks = batch.len(), "writing progress failed; will retry");
                st.flush_not_before = Some(Instant::now() + Duration::from_millis(200));
                for (key, progress) in batch {
                    if let Some(run) = st.runs.get_mut(&key) {
                        run.restore_failures(progress.new_failures);
                        st.dirty.insert(key);
                    }
                }
                return;
            }
        };
        let mut callbacks_due = false;
        let mut announced = Vec::with_capacity(batch.len());
        for (key, progress) in batch {
            if lost.contains(&progress.task_id) {
                tracing::warn!(task = %progress.task_id, "lease lost; another instance took the task over");
                self.remove_run(st, key);
                continue;
            }
            let Some(run) = st.runs.get(&key) else {
                continue;
            };
            let event = ProgressEvent {
                task_id: run.task.id.clone(),
                batch_id: run.task.batch_id.clone(),
                user_id: run.task.user_id,
                status: progress
                    .finished
                    .map(|(status, _)| status)
                    .unwrap_or(crate::tasks::TaskStatus::Running),
                total: run.nodes.len() as u32,
                success: progress.success,
                failed: progress.failed,
            };
            let _ = self.events.send(event.clone());
            announced.push(event);
            if let Some((status, finished_at)) = progress.finished {
                let started = run.task.started_at.unwrap_or(run.task.created_at);
                let seconds = (finished_at - started).num_microseconds().unwrap_or(0) as f64 / 1e6;
                metrics::histogram!("purger_fanout_seconds").record(seconds.max(0.0));
                metrics::counter!("purger_tasks_finished_total", "status" => status.as_str())
                    .increment(1);
                tracing::info!(task = %run.task.id, status = status.as_str(), success = progress.success,
                    failed = progress.failed, "task finished");
                callbacks_due |= run.task.callback_url.is_some();
                self.remove_run(st, key);
            }
        }
        if callbacks_due {
            self.callbacks.notify_one();
        }
        if !announced.is_empty() {
            // Browsers connected to other instances follow this progress too; best effort.
            let store = Arc::clone(&self.store);
            let owner = self.owner.clone();
            tokio::spawn(async move {
                if let Err(error) = store.announce_progress(&owner, &announced).await {
                    tracing::debug!(%error, "announcing progress to other instances failed");
                }
            });
        }
    }

    pub(super) fn remove_run(&self, st: &mut State, key: u64) {
        if let Some(run) = st.runs.remove(&key) {
            let user = run.task.user_id;
            if let Some(count) = st.running_per_user.get_mut(&user) {
                *count -= 1;
                if *count == 0 {
                    st.running_per_user.remove(&user);
                }
            }
            st.dirty.remove(&key);
            st.run_slots.remove(&key);
            st.want_claim = true;
            forget_slots_when_idle(st);
        }
    }

    pub(super) fn start_claim(
        &self,
        st: &mut State,
        node_sets: &NodeSetCache,
    ) -> Option<JoinHandle<Result<Claimed, StoreError>>> {
        let room = self.config.max_running_tasks.saturating_sub(st.runs.len());
        if !st.want_claim || room == 0 {
            return None;
        }
        st.want_claim = false;
        let per_user_cap = self.config.max_running_per_user.max(1);
        let skip_users: Vec<UserId> = st
            .running_per_user
            .iter()
            .filter(|(_, count)| **count >= per_user_cap)
            .map(|(user, _)| *user)
            .collect();
        let now = Utc::now();
        let request = ClaimRequest {
            owner: self.owner.clone(),
            now,
            lease_until: now + chrono::Duration::seconds(self.config.lease_secs as i64),
            task_deadline: chrono::Duration::seconds(self.config.task_deadline_secs as i64),
            limit: room.min(256) as u32,
            per_user: per_user_cap.min(64) as u32,
            skip_users,
        };
        let store = Arc::clone(&self.store);
        let node_sets = Arc::clone(node_sets);
        Some(tokio::spawn(async move {
            let claimed = store.claim_tasks(&request).await?;
            let mut out = Vec::with_capacity(claimed.len());
            for task in claimed {
                // A set this claim froze comes with the task; one frozen before is read once.
                let cached = task.nodes.clone().or_else(|| {
                    node_sets
                        .lock()
                        .map(|sets| sets.get(&task.node_set_id).cloned())
                        .unwrap_or(None)
                });
                let nodes = match cached {
                    Some(nodes) => nodes,
                    None => {
                        let nodes =
                            Arc::new(store.node_set(task.node_set_id).await?.unwrap_or_default());
                        if let Ok(mut sets) = node_sets.lock() {
                            if sets.len() > 4096 {
                                sets.clear();
                            }
                            sets.insert(task.node_set_id, Arc::clone(&nodes));
                        }
                        nodes
                    }
                };
                out.push((task, nodes));
            }
            Ok(out)
        }))
    }

    pub(super) fn add_runs(&self, st: &mut State, claimed: Claimed) {
        let full = claimed.len() >= 256;
        for (task, nodes) in claimed {
            tracing::debug!(task = %task.task.id, nodes = nodes.len(), "claimed task");
            let run_slots = st.slots.of_node_set(task.node_set_id, &nodes);
            let run = Run::new(task, nodes, Utc::now());
            let key = st.next_key;
            st.next_key += 1;
            st.run_slots.insert(key, run_slots);
            let user = run.task.user_id;
            *st.running_per_user.entry(user).or_default() += 1;
            if run.dirty {
                st.dirty.insert(key);
            }
            let ready = run.has_pending();
            st.runs.insert(key, run);
            if ready {
                mark_ready(st, user, key, false);
            }
        }
        if full {
            st.want_claim = true;
        }
    }

    pub(super) fn renew_leases(&self, st: &State) {
        if st.runs.is_empty() {
            return;
        }
        let ids: Vec<TaskId> = st.runs.values().map(|run| run.task.id.clone()).collect();
        let store = Arc::clone(&self.store);
        let owner = self.owner.clone();
        let until = Utc::now() + chrono::Duration::seconds(self.config.lease_secs as i64);
        tokio::spawn(async move {
            if let Err(error) = store.renew_leases(&owner, &ids, until).await {
                tracing::warn!(%error, "renewing leases failed");
            }
        });
    }
}
