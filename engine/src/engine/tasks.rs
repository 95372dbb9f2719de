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
    /// everyone's with `None`. Each task counts on its own day in `zone`, with the offset of
    /// that moment (a day of a daylight-saving change keeps its tasks).
    pub async fn daily_outcomes(
        &self,
        user: Option<UserId>,
        zone: &crate::time::Zone,
        days: u32,
    ) -> Result<Vec<DayOutcomes>, EngineError> {
        let now = Utc::now();
        let today = zone.local(now).date_naive();
        let first = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
        // A day more than asked, so that the first local day is whole whatever the offset.
        let since = now - chrono::Duration::days(i64::from(days.max(1)) + 1);
        let counted = self
            .inner
            .store
            .outcomes_by_quarter_hour(user, since)
            .await?;
        Ok(per_day(&counted, zone, first, today))
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

/// The counts of quarter hours `counted` on each day `first..=today` of `zone`, each quarter
/// hour on its own local day.
fn per_day(
    counted: &[(i64, u64, u64)],
    zone: &crate::time::Zone,
    first: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> Vec<DayOutcomes> {
    const QUARTER_HOUR_MS: i64 = 900_000;
    let mut outcomes: Vec<DayOutcomes> = first
        .iter_days()
        .take_while(|day| *day <= today)
        .map(|day| DayOutcomes {
            day,
            succeeded: 0,
            failed: 0,
        })
        .collect();
    for (slot, succeeded, failed) in counted {
        let day = zone
            .local(crate::time::from_millis(slot * QUARTER_HOUR_MS))
            .date_naive();
        if let Some(entry) = outcomes.iter_mut().find(|o| o.day == day) {
            entry.succeeded += succeeded;
            entry.failed += failed;
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_counts_on_its_own_local_day_across_a_daylight_saving_change() {
        let zone = crate::time::Zone::parse("America/New_York").expect("zone");
        let date = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date");
        let slot = |text: &str| {
            let at = chrono::DateTime::parse_from_rfc3339(text).expect("time");
            at.timestamp_millis() / 900_000
        };
        // 00:30 on 30 October in New York (EDT, UTC-4); in November the zone is UTC-5, which
        // would put it at 23:30 on the 29th.
        let counted = [
            (slot("2026-10-30T04:30:00Z"), 1, 0),
            (slot("2026-11-09T04:30:00Z"), 0, 2),
            (slot("2026-09-01T12:00:00Z"), 5, 5),
        ];
        let days = per_day(&counted, &zone, date("2026-10-20"), date("2026-11-10"));
        assert_eq!(days.len(), 22);
        let on = |day: &str| {
            let found = days.iter().find(|d| d.day == date(day)).expect("in range");
            (found.succeeded, found.failed)
        };
        assert_eq!(on("2026-10-30"), (1, 0));
        assert_eq!(on("2026-10-29"), (0, 0));
        assert_eq!(on("2026-11-08"), (0, 2), "23:30 EST on the 8th");
        let total: u64 = days.iter().map(|d| d.succeeded + d.failed).sum();
        assert_eq!(total, 3, "the September slot is outside the range");
    }
}
