//! Tasks and batches: reading, reports, retries, the queue.

use super::*;

/// Tasks waiting for a worker and tasks being fanned out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// `created` tasks.
    pub created: u64,
    /// `running` tasks.
    pub running: u64,
}

/// One day's finished tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayOutcomes {
    /// The day, in the zone asked for.
    pub day: chrono::NaiveDate,
    /// Tasks that succeeded.
    pub succeeded: u64,
    /// Tasks that failed.
    pub failed: u64,
}

impl Engine {
    /// The tasks created on each of the last `days` days (today included) in `zone` that
    /// succeeded and failed, oldest day first, days without any as zeros; of `user`, or
    /// everyone's with `None`. The zone's offset of today is used for the whole range.
    pub async fn daily_outcomes(
        &self,
        user: Option<UserId>,
        zone: &crate::time::Zone,
        days: u32,
    ) -> Result<Vec<DayOutcomes>, EngineError> {
        const DAY_MS: i64 = 86_400_000;
        let now = Utc::now();
        let offset_ms = i64::from(zone.offset_at(now).local_minus_utc()) * 1000;
        let today = (crate::time::to_millis(now) + offset_ms).div_euclid(DAY_MS);
        let first = today - i64::from(days.max(1)) + 1;
        let since = crate::time::from_millis(first * DAY_MS - offset_ms);
        let counted = self
            .inner
            .store
            .outcomes_by_day(user, since, offset_ms)
            .await?;
        let epoch = chrono::NaiveDate::default();
        Ok((first..=today)
            .map(|day| {
                let (succeeded, failed) = counted
                    .iter()
                    .find(|(d, _, _)| *d == day)
                    .map_or((0, 0), |(_, ok, bad)| (*ok, *bad));
                DayOutcomes {
                    day: epoch + chrono::Duration::days(day),
                    succeeded,
                    failed,
                }
            })
            .collect())
    }

    /// What a reader with `user`'s key limited by `scope` sees: the user's tasks (everyone's
    /// for admins), on the key's domains only when it is limited to some.
    pub async fn key_viewer(&self, user: &User, scope: &KeyScope) -> Result<Viewer, EngineError> {
        let domains = match &scope.domains {
            None => None,
            Some(_) => Some(
                self.user_domains(user.id)
                    .await?
                    .into_iter()
                    .filter(|(_, domain)| scope.allows_domain(domain))
                    .map(|(id, _)| id)
                    .collect(),
            ),
        };
        Ok(Viewer {
            user: user.task_scope(),
            domains,
        })
    }

    /// A task, if `viewer` may see it.
    pub async fn task(&self, id: &str, viewer: &Viewer) -> Result<Option<TaskRecord>, EngineError> {
        let Some(id) = TaskId::parse(id) else {
            return Ok(None);
        };
        let task = self.inner.store.task(&id).await?;
        Ok(task.filter(|task| viewer.sees(task)))
    }

    /// The tasks of a batch that `viewer` may see; `None` when it sees none of them.
    pub async fn batch_tasks(
        &self,
        id: &str,
        viewer: &Viewer,
    ) -> Result<Option<Vec<TaskRecord>>, EngineError> {
        let Some(id) = BatchId::parse(id) else {
            return Ok(None);
        };
        let Some(batch) = self.inner.store.batch(&id).await? else {
            return Ok(None);
        };
        if viewer.user.is_some_and(|viewer| viewer != batch.user_id) {
            return Ok(None);
        }
        let mut tasks = self.inner.store.tasks_of_batch(&id).await?;
        if viewer.domains.is_some() {
            tasks.retain(|task| viewer.sees(task));
            if tasks.is_empty() {
                return Ok(None);
            }
        }
        Ok(Some(tasks))
    }

    /// The tasks of a batch as soon as every one of them is final, or as they stand once `wait`
    /// has passed (a long poll). While it waits it reads nothing: it follows the progress events
    /// (this instance's and, relayed, the others'), and reads the batch again when the last task
    /// ended (or when it fell behind the events).
    pub async fn batch_tasks_when_final(
        &self,
        id: &str,
        viewer: &Viewer,
        wait: std::time::Duration,
    ) -> Result<Option<Vec<TaskRecord>>, EngineError> {
        use tokio::sync::broadcast::error::RecvError;

        // Subscribed before the read, so that no task can end unseen in between.
        let mut events = self.subscribe();
        let Some(tasks) = self.batch_tasks(id, viewer).await? else {
            return Ok(None);
        };
        let mut open = unfinished(&tasks);
        if open.is_empty() || wait.is_zero() {
            return Ok(Some(tasks));
        }
        let deadline = tokio::time::Instant::now() + wait;
        while !open.is_empty() {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_elapsed) => break,
                Ok(Ok(event)) => {
                    if event.status.is_final() {
                        open.remove(&event.task_id);
                    }
                }
                Ok(Err(RecvError::Lagged(_))) => {
                    let tasks = self.batch_tasks(id, viewer).await?.unwrap_or_default();
                    open = unfinished(&tasks);
                }
                Ok(Err(RecvError::Closed)) => break,
            }
        }
        self.batch_tasks(id, viewer).await
    }

    /// The newest exact-URL task of `user` for exactly this URL (seed 000's `/api/q`).
    pub async fn latest_url_task(
        &self,
        user: UserId,
        target: &str,
    ) -> Result<Option<TaskRecord>, EngineError> {
        Ok(self.inner.store.latest_url_task(user, target).await?)
    }

    /// A page of tasks.
    pub async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, EngineError> {
        // No target holds a NUL, and neither database takes one in a query string.
        if filter
            .text
            .as_deref()
            .is_some_and(|text| text.contains('\0'))
        {
            return Err(EngineError::Invalid(
                "the search text may not contain a NUL character".into(),
            ));
        }
        Ok(self.inner.store.list_tasks(filter).await?)
    }

    /// A task's per-node results.
    pub async fn task_report(&self, task: TaskRecord) -> Result<TaskReport, EngineError> {
        Ok(crate::report::load(&*self.inner.store, task).await?)
    }

    /// Seed 000's query body for a task.
    pub async fn seed_query_body(&self, task: &TaskRecord) -> Result<SeedQueryBody, EngineError> {
        let report = self.task_report(task.clone()).await?;
        Ok(SeedQueryBody::from_report(report, self.time_zone()))
    }

    /// Asks a failed task's failed nodes again (not `unsupported` ones); false when there is
    /// nothing to retry.
    pub async fn retry_task(
        &self,
        actor: &Actor,
        id: &str,
        viewer: &Viewer,
    ) -> Result<bool, EngineError> {
        let task = self
            .task(id, viewer)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("task {id}")))?;
        let requeued = self.inner.store.requeue_failed_nodes(&task.id).await?;
        if requeued {
            self.audit(
                actor,
                "task.retry",
                task.id.as_str(),
                serde_json::json!({ "target": task.target }),
            )
            .await?;
            self.inner.wake.notify_one();
        }
        Ok(requeued)
    }

    /// How many tasks wait and run.
    pub async fn queue_depth(&self) -> Result<QueueDepth, EngineError> {
        let (created, running) = self.inner.store.pending_counts().await?;
        Ok(QueueDepth { created, running })
    }
}

/// The ids of the tasks that have not ended.
fn unfinished(tasks: &[TaskRecord]) -> std::collections::HashSet<TaskId> {
    tasks
        .iter()
        .filter(|task| !task.status.is_final())
        .map(|task| task.id.clone())
        .collect()
}
