//! Submitting purges, and the quota they count against.

use super::*;

impl Engine {
    /// The quota day containing now.
    pub fn quota_day(&self) -> QuotaDay {
        QuotaDay::containing(Utc::now(), self.time_zone())
    }

    /// A user's quota today.
    pub async fn quota_status(&self, user: &User) -> Result<QuotaSnapshot, EngineError> {
        let day = self.quota_day();
        let used = self.inner.store.quota_used(user.id, &day.key()).await?;
        Ok(QuotaSnapshot {
            day,
            limits: user.quota.resolve(&self.inner.config.quota),
            used_before: used,
            used,
        })
    }

    /// A user's daily usage between two quota days (inclusive), as `(YYYY-MM-DD, usage)`.
    pub async fn quota_history(
        &self,
        user: UserId,
        first: chrono::NaiveDate,
        last: chrono::NaiveDate,
    ) -> Result<Vec<(String, crate::quota::QuotaUsage)>, EngineError> {
        let key = |day: chrono::NaiveDate| day.format("%Y-%m-%d").to_string();
        Ok(self
            .inner
            .store
            .quota_history(user, &key(first), &key(last))
            .await?)
    }

    /// Accepts what fits of a submission in one transaction and wakes the workers.
    #[tracing::instrument(skip_all, fields(user = %user.username, targets = submission.targets.len()))]
    pub async fn submit(
        &self,
        user: &User,
        submission: Submission,
    ) -> Result<SubmitOutcome, SubmitError> {
        let now = Utc::now();
        let submission_source = submission.source;
        if let Some(url) = &submission.callback_url {
            self.inner.callback_policy.resolve(url).await?;
        }
        // A key limited to some domains reaches only those: the others are not the caller's.
        let mut domains = self.user_domains(user.id).await?;
        domains.retain(|(_, domain)| submission.key_scope.allows_domain(domain));
        let limits = user.quota.resolve(&self.inner.config.quota);
        let day = QuotaDay::containing(now, self.time_zone());
        // Compiling up to 500 regexes takes a while: not on an async worker.
        let mut prepared = if submission
            .targets
            .iter()
            .any(|(kind, _)| *kind == crate::target::TargetKind::Regex)
        {
            let (owner, zone_day, known) = (user.clone(), day, domains.clone());
            self.inner
                .cpu
                .run(move || submit::prepare(&owner, &submission, &known, limits, &zone_day, now))
                .await??
        } else {
            submit::prepare(user, &submission, &domains, limits, &day, now)?
        };
        self.check_groups(&prepared.batch, &domains).await?;
        if prepared.batch.tasks.is_empty() {
            count_verdicts(submission_source, &prepared.verdicts);
            return Ok(SubmitOutcome {
                batch_id: None,
                replayed: false,
                verdicts: prepared.verdicts,
                quota: self.unchanged_quota(user, day, limits).await?,
                warnings: Vec::new(),
            });
        }
        match self.inner.store.write_batch(&prepared.batch).await? {
            crate::store::BatchWrite::Replayed { batch_id } => {
                let tasks = self.inner.store.tasks_of_batch(&batch_id).await?;
                let verdicts = tasks
                    .into_iter()
                    .map(|task| submit::TargetVerdict {
                        kind: task.kind,
                        result: Ok(submit::AcceptedTask::existing(&task)),
                        target: task.target,
                    })
                    .collect();
                Ok(SubmitOutcome {
                    batch_id: Some(batch_id),
                    replayed: true,
                    verdicts,
                    quota: self.unchanged_quota(user, day, limits).await?,
                    warnings: Vec::new(),
                })
            }
            crate::store::BatchWrite::ClientTaskExists { task } => {
                let same = prepared.batch.tasks.len() == 1
                    && prepared.batch.tasks[0].target == task.target;
                if !same {
                    return Err(SubmitError::ClientTaskConflict(
                        task.client_task_id.unwrap_or_default(),
                    ));
                }
                Ok(SubmitOutcome {
                    batch_id: Some(task.batch_id.clone()),
                    replayed: true,
                    verdicts: vec![submit::TargetVerdict {
                        kind: task.kind,
                        target: task.target.clone(),
                        result: Ok(submit::AcceptedTask::existing(&task)),
                    }],
                    quota: self.unchanged_quota(user, day, limits).await?,
                    warnings: Vec::new(),
                })
            }
            crate::store::BatchWrite::Written {
                verdicts,
                used_before,
                used_after,
            } => {
                submit::apply_refusals(&mut prepared, &verdicts);
                count_verdicts(submission_source, &prepared.verdicts);
                let accepted = prepared.verdicts.iter().any(|v| v.result.is_ok());
                if accepted {
                    self.inner.wake.notify_one();
                }
                let warnings = self.edge_warnings(&prepared).await?;
                Ok(SubmitOutcome {
                    batch_id: accepted.then(|| prepared.batch.id.clone()),
                    replayed: false,
                    verdicts: prepared.verdicts,
                    quota: QuotaSnapshot {
                        day,
                        limits,
                        used_before,
                        used: used_after,
                    },
                    warnings,
                })
            }
        }
    }

    /// The quota of a submission that wrote nothing: as it stands.
    async fn unchanged_quota(
        &self,
        user: &User,
        day: QuotaDay,
        limits: crate::users::QuotaLimits,
    ) -> Result<QuotaSnapshot, SubmitError> {
        let used = self.inner.store.quota_used(user.id, &day.key()).await?;
        Ok(QuotaSnapshot {
            day,
            limits,
            used_before: used,
            used,
        })
    }

    /// A warning per accepted kind of target and domain that some of the domain's edges (of the
    /// batch's groups) cannot express: they will report `unsupported`. Exact URLs deleted and
    /// prefetches need no look: every preset sends them.
    async fn edge_warnings(&self, prepared: &submit::Prepared) -> Result<Vec<String>, SubmitError> {
        use crate::target::{PurgeMode, Target, TargetKind};

        let batch = &prepared.batch;
        let mut looked = std::collections::HashSet::new();
        let mut warnings = Vec::new();
        for (index, task) in batch.tasks.iter().enumerate() {
            let accepted = prepared.verdicts[prepared.task_verdicts[index]]
                .result
                .is_ok();
            let plain = matches!(task.kind, TargetKind::Url | TargetKind::Prefetch)
                && batch.mode == PurgeMode::Delete;
            if !accepted || plain || !looked.insert((task.domain_id, task.kind)) {
                continue;
            }
            let Ok(target) = Target::parse_on(task.kind, &task.target, task.host.as_deref()) else {
                continue;
            };
            let store = &self.inner.store;
            let nodes = store
                .nodes_for_domain(task.domain_id, &batch.groups)
                .await?;
            for (protocol, count) in fanout::protocol::unexpressible(&target, batch.mode, &nodes) {
                warnings.push(format!(
                    "{count} of the {} edges of {} ({protocol}) cannot {} a {} target: they will report unsupported",
                    nodes.len(),
                    target.host(),
                    batch.mode,
                    task.kind,
                ));
            }
        }
        Ok(warnings)
    }

    /// Refuses a batch naming an edge group that does not serve one of its tasks' domains.
    async fn check_groups(
        &self,
        batch: &crate::store::NewBatch,
        domains: &[(i64, crate::target::DomainName)],
    ) -> Result<(), SubmitError> {
        if batch.groups.is_empty() {
            return Ok(());
        }
        let mut checked = std::collections::HashSet::new();
        for task in &batch.tasks {
            if !checked.insert(task.domain_id) {
                continue;
            }
            let serving = self.inner.store.domain_group_names(task.domain_id).await?;
            if let Some(group) = batch.groups.iter().find(|g| !serving.contains(g)) {
                let domain = domains
                    .iter()
                    .find(|(id, _)| *id == task.domain_id)
                    .map(|(_, name)| name.to_string())
                    .unwrap_or_default();
                return Err(SubmitError::UnknownGroup {
                    group: group.clone(),
                    domain,
                });
            }
        }
        Ok(())
    }

    /// The user's domains with the names of the edge groups serving each, for the purge form.
    pub async fn purge_choices(
        &self,
        user: &User,
    ) -> Result<Vec<(crate::target::DomainName, Vec<String>)>, EngineError> {
        let mut choices = Vec::new();
        for (id, domain) in self.user_domains(user.id).await? {
            choices.push((domain, self.inner.store.domain_group_names(id).await?));
        }
        Ok(choices)
    }

    /// Checks lines of one kind (tags on `host`) as the dashboard validates them while the user types: at most the
    /// user's per-request number of lines, parsed on the CPU pool, and no more lines per second
    /// per session than 200 (after a burst of 1000). `Err(wait)` when the session must wait.
    pub async fn check_targets(
        &self,
        session_token: &str,
        user: &User,
        kind: crate::target::TargetKind,
        text: &str,
        host: Option<String>,
    ) -> Result<Result<Vec<submit::LineCheck>, std::time::Duration>, EngineError> {
        let limit = user.quota.resolve(&self.inner.config.quota).batch as usize;
        let lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .take(limit)
            .map(str::to_owned)
            .collect();
        if let Err(wait) = self
            .inner
            .check_budget
            .take(lookup_hash(session_token), lines.len() as f64)
        {
            return Ok(Err(wait));
        }
        let domains = self.user_domains(user.id).await?;
        let checks = self
            .inner
            .cpu
            .run(move || submit::check_lines(kind, lines, host.as_deref(), &domains))
            .await?;
        Ok(Ok(checks))
    }
}

/// Counts accepted and refused targets for `/metrics`.
pub(super) fn count_verdicts(source: submit::Source, verdicts: &[submit::TargetVerdict]) {
    for verdict in verdicts {
        match &verdict.result {
            Ok(_) => metrics::counter!("purger_targets_accepted_total", "api" => source.as_str())
                .increment(1),
            Err(refusal) => {
                metrics::counter!("purger_targets_refused_total", "api" => source.as_str(), "code" => refusal.code()).increment(1);
            }
        }
    }
}
