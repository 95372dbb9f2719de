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

impl Engine {
    /// A task, if `viewer` may see it (`None` sees every task: admins and the CLI).
    pub async fn task(
        &self,
        id: &str,
        viewer: Option<UserId>,
    ) -> Result<Option<TaskRecord>, EngineError> {
        let Some(id) = TaskId::parse(id) else {
            return Ok(None);
        };
        let task = self.inner.store.task(&id).await?;
        Ok(task.filter(|task| viewer.is_none_or(|viewer| viewer == task.user_id)))
    }

    /// The tasks of a batch, if `viewer` may see it.
    pub async fn batch_tasks(
        &self,
        id: &str,
        viewer: Option<UserId>,
    ) -> Result<Option<Vec<TaskRecord>>, EngineError> {
        let Some(id) = BatchId::parse(id) else {
            return Ok(None);
        };
        let Some(batch) = self.inner.store.batch(&id).await? else {
            return Ok(None);
        };
        if viewer.is_some_and(|viewer| viewer != batch.user_id) {
            return Ok(None);
        }
        Ok(Some(self.inner.store.tasks_of_batch(&id).await?))
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
        viewer: Option<UserId>,
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
