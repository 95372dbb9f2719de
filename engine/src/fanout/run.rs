//! One task being fanned out: which nodes are pending, confirmed, retrying or failed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::follow_up::{FetchVerdict, FollowUp};
use super::http1::PreparedRequest;
use super::outcome::NodeOutcome;
use super::protocol::{build_request, fetch_request};
use crate::fleet::NodeTarget;
use crate::store::{ClaimedTask, TaskProgress};
use crate::target::Target;
use crate::tasks::{FailureReason, NodeBitmap, NodeFailure, TaskRecord, TaskStatus};

/// Retry policy of a fan-out.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Requests per node at most.
    pub max_attempts: u32,
    /// First backoff.
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
}

impl RetryPolicy {
    /// Exponential backoff with jitter: a random time in the upper half of `base × 2^(n-1)`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(16);
        let full = self
            .backoff_base
            .saturating_mul(1 << exponent)
            .min(self.backoff_max);
        let half = full / 2;
        half + full.saturating_sub(half).mul_f64(rand::random::<f64>())
    }
}

/// Why a node gets no request: its protocol preset has no form for the task's kind of target.
pub const CANNOT_EXPRESS: &str = "the node's protocol cannot express this target";

/// What happened to a node's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Confirmed or failed for good.
    Settled,
    /// Ask again at this instant.
    RetryAt(Instant),
    /// The purge is confirmed: ask the node for the URL next (the follow-up).
    Again,
}

/// A task in the hands of this instance.
#[derive(Debug)]
pub struct Run {
    /// The task.
    pub task: TaskRecord,
    /// Its frozen node set.
    pub nodes: Arc<Vec<NodeTarget>>,
    /// Per protocol preset position, the request to send, or why none can be sent.
    requests: Vec<Result<Arc<PreparedRequest>, String>>,
    /// Index of each node's request in `requests`.
    request_of_node: Vec<u16>,
    /// The fetch after each node's purge, when the task asked for one.
    follow_up: Option<FollowUp>,
    confirmed: NodeBitmap,
    success: u32,
    failed: u32,
    attempts: Vec<u8>,
    pending: VecDeque<u32>,
    /// Requests sent and not answered yet.
    pub in_flight: u32,
    /// Nodes waiting for a retry.
    pub retrying: u32,
    new_failures: Vec<NodeFailure>,
    /// Written state differs from this one.
    pub dirty: bool,
    /// How long the task may take once its first request goes out.
    budget: Duration,
    /// When the task must end: set when its first request goes out, so that a task claimed
    /// while the fleet is busy with others does not spend its time waiting in line.
    pub deadline: Option<Instant>,
    finished: Option<(TaskStatus, DateTime<Utc>)>,
}

impl Run {
    /// Prepares a claimed task: decides each node's request and what is left to ask.
    pub fn new(claimed: ClaimedTask, nodes: Arc<Vec<NodeTarget>>, now: DateTime<Utc>) -> Self {
        let ClaimedTask {
            task,
            confirmed,
            failures,
            deadline,
            ..
        } = claimed;
        let target = task.parsed_target().ok();
        let follow_up = match &target {
            Some(Target::Url(url)) => PreparedRequest::new(&fetch_request(url))
                .ok()
                .and_then(|request| FollowUp::of(&task, Arc::new(request))),
            _ => None,
        };
        // Nodes of one set share a handful of protocols: build each distinct request once.
        let mut protocols: Vec<&crate::fleet::Protocol> = Vec::new();
        let mut requests = Vec::new();
        let mut request_of_node = Vec::with_capacity(nodes.len());
        for node in nodes.iter() {
            let position = match protocols.iter().position(|p| **p == node.protocol) {
                Some(position) => position,
                None => {
                    protocols.push(&node.protocol);
                    requests.push(
                        target
                            .as_ref()
                            .and_then(|t| build_request(t, task.mode, &node.protocol))
                            .ok_or_else(|| CANNOT_EXPRESS.to_owned())
                            .and_then(|request| PreparedRequest::new(&request).map(Arc::new)),
                    );
                    protocols.len() - 1
                }
            };
            request_of_node.push(position as u16);
        }
        let mut settled = confirmed.clone();
        for failure in &failures {
            settled.set(failure.node_index as usize);
        }
        let mut run = Self {
            success: confirmed.count() as u32,
            failed: failures.len() as u32,
            attempts: vec![0; nodes.len()],
            pending: VecDeque::new(),
            in_flight: 0,
            retrying: 0,
            new_failures: Vec::new(),
            dirty: false,
            budget: (deadline - now).to_std().unwrap_or(Duration::ZERO),
            deadline: None,
            finished: None,
            confirmed,
            task,
            nodes,
            requests,
            request_of_node,
            follow_up,
        };
        for index in 0..run.nodes.len() {
            if settled.get(index) {
                continue;
            }
            let position = run.request_of_node[index] as usize;
            match &run.requests[position] {
                Ok(_) => run.pending.push_back(index as u32),
                Err(detail) => {
                    let detail = detail.clone();
                    run.fail(index as u32, FailureReason::unsupported(), detail);
                }
            }
        }
        run.check_finished(now);
        run
    }

    /// The request for node `index`, `None` when none can be sent.
    pub fn request_for(&self, index: u32) -> Option<&Arc<PreparedRequest>> {
        if let Some(follow_up) = self.follow_up.as_ref().filter(|f| f.is_due(index)) {
            return Some(&follow_up.request);
        }
        let position = *self.request_of_node.get(index as usize)? as usize;
        self.requests.get(position)?.as_ref().ok()
    }

    /// Whether the request for node `index` fetches the URL (a prefetch, or the fetch after the
    /// node's purge) rather than purges: such requests may reach the origin.
    pub fn fetches(&self, index: u32) -> bool {
        self.task.kind == crate::target::TargetKind::Prefetch
            || self.follow_up.as_ref().is_some_and(|f| f.is_due(index))
    }

    /// Gives back node `index`, taken by [`Run::next_node`] but not sent: it is asked later.
    pub fn put_back(&mut self, index: u32) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.pending.push_back(index);
    }

    /// Takes the next node to ask, skipping (for now) the nodes, by index, that are `busy`.
    pub fn next_node(&mut self, mut busy: impl FnMut(u32) -> bool) -> Option<u32> {
        for _ in 0..self.pending.len().min(32) {
            let index = self.pending.pop_front()?;
            if busy(index) {
                self.pending.push_back(index);
                continue;
            }
            self.in_flight += 1;
            if self.deadline.is_none() {
                self.deadline = Some(Instant::now() + self.budget);
            }
            return Some(index);
        }
        None
    }

    /// Whether a node is waiting to be asked.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Records a node's answer.
    pub fn record(
        &mut self,
        index: u32,
        outcome: NodeOutcome,
        policy: &RetryPolicy,
        now: DateTime<Utc>,
    ) -> Recorded {
        self.in_flight = self.in_flight.saturating_sub(1);
        let attempts = {
            let slot = &mut self.attempts[index as usize];
            *slot = slot.saturating_add(1);
            u32::from(*slot)
        };
        let following = self.follow_up.as_ref().is_some_and(|f| f.is_due(index));
        let recorded = match outcome {
            NodeOutcome::Confirmed | NodeOutcome::Fetched { .. }
                if !following && self.follow_up.is_some() =>
            {
                // The purge is confirmed; the node is confirmed once its fetch is done too, so
                // a crash in between asks it again, purge and fetch.
                if let Some(follow_up) = self.follow_up.as_mut() {
                    follow_up.start(index, Instant::now());
                }
                self.attempts[index as usize] = 0;
                self.pending.push_front(index);
                return Recorded::Again;
            }
            NodeOutcome::Fetched { age } if following => {
                let verdict = match self.follow_up.as_mut() {
                    Some(follow_up) => follow_up.judge(index, age, Instant::now()),
                    None => FetchVerdict::Fresh,
                };
                match verdict {
                    FetchVerdict::Stale(detail) => self.fail(index, FailureReason::stale(), detail),
                    FetchVerdict::Fresh | FetchVerdict::Unverified => self.confirm(index),
                }
                Recorded::Settled
            }
            NodeOutcome::Confirmed | NodeOutcome::Fetched { .. } => {
                self.confirm(index);
                Recorded::Settled
            }
            NodeOutcome::Failed {
                reason,
                retryable,
                detail,
            } => {
                let retry_at = Instant::now() + policy.backoff(attempts);
                if retryable
                    && attempts < policy.max_attempts
                    && self.deadline.is_some_and(|deadline| retry_at < deadline)
                {
                    self.retrying += 1;
                    Recorded::RetryAt(retry_at)
                } else {
                    let kept = following
                        && self
                            .follow_up
                            .as_ref()
                            .is_some_and(FollowUp::failure_keeps_the_purge);
                    if let Some(follow_up) = self.follow_up.as_mut() {
                        follow_up.give_up(index);
                    }
                    if kept {
                        // Only the warming fetch failed: the purge itself held.
                        self.confirm(index);
                    } else {
                        self.fail(index, reason, detail);
                    }
                    Recorded::Settled
                }
            }
        };
        self.check_finished(now);
        recorded
    }

    /// A retry is due: the node goes back to the front of the queue.
    pub fn retry_due(&mut self, index: u32) {
        self.retrying = self.retrying.saturating_sub(1);
        self.pending.push_front(index);
    }

    /// The deadline passed: every node not asked yet, or waiting for a retry, fails as `timeout`.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        let pending: Vec<u32> = self.pending.drain(..).collect();
        for index in pending {
            self.fail(
                index,
                FailureReason::timeout(),
                "task deadline passed before the node answered".into(),
            );
        }
        self.check_finished(now);
    }

    fn confirm(&mut self, index: u32) {
        self.confirmed.set(index as usize);
        self.success += 1;
        self.dirty = true;
    }

    fn fail(&mut self, index: u32, reason: FailureReason, detail: String) {
        self.failed += 1;
        self.dirty = true;
        self.new_failures.push(NodeFailure {
            node_index: index,
            reason,
            attempts: u32::from(self.attempts[index as usize]),
            detail,
        });
    }

    fn check_finished(&mut self, now: DateTime<Utc>) {
        if self.finished.is_none() && self.success + self.failed >= self.nodes.len() as u32 {
            let status = if self.failed == 0 {
                TaskStatus::Success
            } else {
                TaskStatus::Failed
            };
            self.finished = Some((status, now));
            self.dirty = true;
        }
    }

    /// Whether every node is settled.
    pub fn is_finished(&self) -> bool {
        self.finished.is_some()
    }

    /// The progress to write, taking the new failures; clears `dirty`.
    pub fn take_progress(&mut self) -> TaskProgress {
        self.dirty = false;
        TaskProgress {
            task_id: self.task.id.clone(),
            confirmed: self.confirmed.clone(),
            success: self.success,
            failed: self.failed,
            new_failures: std::mem::take(&mut self.new_failures),
            unverified: self
                .follow_up
                .as_ref()
                .map(|f| f.unverified.clone())
                .unwrap_or_else(|| self.task.unverified.clone()),
            unprefetched: self
                .follow_up
                .as_ref()
                .map(|f| f.unprefetched.clone())
                .unwrap_or_else(|| self.task.unprefetched.clone()),
            prefetched: self
                .follow_up
                .as_ref()
                .map_or(self.task.prefetched, |f| f.prefetched),
            finished: self.finished,
        }
    }

    /// A write failed: keep its failures for the next one.
    pub fn restore_failures(&mut self, failures: Vec<NodeFailure>) {
        self.new_failures.extend(failures);
        self.dirty = true;
    }

    /// (success, failed) counts.
    #[cfg(test)]
    pub fn counts(&self) -> (u32, u32) {
        (self.success, self.failed)
    }

    /// The final status, once finished.
    #[cfg(test)]
    pub fn finished_status(&self) -> Option<TaskStatus> {
        self.finished.map(|(status, _)| status)
    }
}

#[cfg(test)]
mod tests;
