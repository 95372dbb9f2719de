//! The values of the statements both backends share, bound in one order.
//!
//! Each backend writes its own SQL (placeholders `?N` or `$N`, numbered as listed here); what
//! goes into a statement, and in which order, is written once, through the small [`Binds`]
//! trait (the counterpart of the row decoders' `Columns`).

use chrono::{DateTime, Utc};
use sqlx::query_builder::Separated;
use sqlx::QueryBuilder;

use crate::fanout::health::NodeHealth;
use crate::fleet::{NodeId, NodeLine, Protocol};
use crate::fleet_view::HealthSample;
use crate::store::{
    AuditEntry, AuditFilter, ClaimRequest, ClaimedTask, NewApiKey, NewBatch, StoreResult,
    TaskProgress, UserUpdate,
};
use crate::tasks::NodeFailure;
use crate::time::to_millis;
use crate::users::{NewUser, UserId};

/// Typed binding shared by the SQLite and PostgreSQL queries.
pub(super) trait Binds<'q>: Sized {
    /// An integer.
    fn int(self, value: i64) -> Self;
    /// A nullable integer.
    fn opt_int(self, value: Option<i64>) -> Self;
    /// A text.
    fn text(self, value: &'q str) -> Self;
    /// A nullable text.
    fn opt_text(self, value: Option<&'q str>) -> Self;
    /// A boolean.
    fn flag(self, value: bool) -> Self;
    /// A nullable boolean.
    fn opt_flag(self, value: Option<bool>) -> Self;
    /// Bytes.
    fn bytes(self, value: &'q [u8]) -> Self;
    /// A text made for the statement.
    fn owned_text(self, value: String) -> Self;
    /// A nullable text made for the statement.
    fn opt_text_owned(self, value: Option<String>) -> Self;
}

macro_rules! impl_binds {
    ([$($generic:tt)*] $query:ty, $bind:ident) => {
        impl<'q, $($generic)*> Binds<'q> for $query {
            fn int(self, value: i64) -> Self {
                self.$bind(value)
            }
            fn opt_int(self, value: Option<i64>) -> Self {
                self.$bind(value)
            }
            fn text(self, value: &'q str) -> Self {
                self.$bind(value)
            }
            fn opt_text(self, value: Option<&'q str>) -> Self {
                self.$bind(value)
            }
            fn flag(self, value: bool) -> Self {
                self.$bind(value)
            }
            fn opt_flag(self, value: Option<bool>) -> Self {
                self.$bind(value)
            }
            fn bytes(self, value: &'q [u8]) -> Self {
                self.$bind(value)
            }
            fn owned_text(self, value: String) -> Self {
                self.$bind(value)
            }
            fn opt_text_owned(self, value: Option<String>) -> Self {
                self.$bind(value)
            }
        }
    };
}

/// Statements of a backend: plain, decoded into tuples, and the rows of a multi-row `VALUES`.
macro_rules! impl_binds_for {
    ($db:ty) => {
        impl_binds!([] sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>, bind);
        impl_binds!(
            [O] sqlx::query::QueryAs<'q, $db, O, <$db as sqlx::Database>::Arguments<'q>>,
            bind
        );
        impl_binds!(
            ['s, 'b] &'s mut sqlx::query_builder::Separated<'b, 'q, $db, &'static str>,
            push_bind
        );
    };
}

impl_binds_for!(sqlx::Sqlite);
impl_binds_for!(sqlx::Postgres);

/// 1 username, 2 role, 3 password hash, 4 created at.
pub(super) fn new_user<'q, Q: Binds<'q>>(query: Q, user: &'q NewUser, at: DateTime<Utc>) -> Q {
    query
        .text(&user.username)
        .text(user.role.as_str())
        .opt_text(user.password_hash.as_deref())
        .int(to_millis(at))
}

/// 1 role, 2 enabled, 3 may purge, 4 password hash, 5 time zone, 6 whether the quota changes,
/// 7–10 the URL, prefix, regex and batch quotas, 11 the user, 12–14 the tag, everything and
/// prefetch quotas, 15 the dashboard language.
pub(super) fn user_update<'q, Q: Binds<'q>>(query: Q, id: UserId, update: &'q UserUpdate) -> Q {
    let quota = update.quota.unwrap_or_default();
    query
        .opt_text(update.role.map(|r| r.as_str()))
        .opt_flag(update.enabled)
        .opt_flag(update.can_purge)
        .opt_text(update.password_hash.as_deref())
        .opt_text(update.time_zone.as_deref())
        .flag(update.quota.is_some())
        .opt_int(quota.url.map(i64::from))
        .opt_int(quota.prefix.map(i64::from))
        .opt_int(quota.regex.map(i64::from))
        .opt_int(quota.batch.map(i64::from))
        .int(id.0)
        .opt_int(quota.tag.map(i64::from))
        .opt_int(quota.everything.map(i64::from))
        .opt_int(quota.prefetch.map(i64::from))
        .opt_text(update.locale.as_deref())
}

/// 1 token hash, 2 user, 3 created at, 4 expiry.
pub(super) fn new_session<'q, Q: Binds<'q>>(
    query: Q,
    token_hash: &'q [u8],
    user: UserId,
    at: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Q {
    query
        .bytes(token_hash)
        .int(user.0)
        .int(to_millis(at))
        .int(to_millis(expires))
}

/// 1 user, 2 public id, 3 label, 4 key hash, 5 sealed key, 6 created at, 7 scope.
pub(super) fn new_key<'q, Q: Binds<'q>>(query: Q, key: &'q NewApiKey) -> Q {
    query
        .int(key.user_id.0)
        .text(&key.public_id)
        .text(&key.label)
        .bytes(&key.key_hash)
        .bytes(&key.key_sealed)
        .int(to_millis(key.created_at))
        .opt_text_owned(key.scope.to_stored())
}

/// 1 name, 2 protocol name, 3 protocol options, 4 created at.
pub(super) fn group<'q, Q: Binds<'q>>(
    query: Q,
    name: &'q str,
    protocol: &Protocol,
    at: DateTime<Utc>,
) -> StoreResult<Q> {
    let options = super::rows::protocol_json(protocol)?;
    Ok(query
        .text(name)
        .text(protocol.name())
        .owned_text(options)
        .int(to_millis(at)))
}

/// 1 group, 2 address, 3 port, 4 enabled, 5 created at.
pub(super) fn node<'q, Q: Binds<'q>>(query: Q, group: i64, line: &NodeLine, at: i64) -> Q {
    query
        .int(group)
        .owned_text(line.ip.to_string())
        .int(i64::from(line.port))
        .flag(line.enabled)
        .int(at)
}

/// 1 id, 2 user, 3 key, 4 source, 5 idempotency key, 6 callback URL, 7 created at.
pub(super) fn new_batch<'q, Q: Binds<'q>>(query: Q, batch: &'q NewBatch) -> Q {
    query
        .text(batch.id.as_str())
        .int(batch.user_id.0)
        .opt_int(batch.api_key_id)
        .text(batch.source)
        .opt_text(batch.idempotency_key.as_deref())
        .opt_text(batch.callback_url.as_deref())
        .int(to_millis(batch.created_at))
}

/// 1 at, 2 actor id, 3 actor, 4 action, 5 subject, 6 detail.
pub(super) fn audit_entry<'q, Q: Binds<'q>>(query: Q, entry: &'q AuditEntry) -> Q {
    query
        .int(to_millis(entry.at))
        .opt_int(entry.actor_id.map(|id| id.0))
        .text(&entry.actor)
        .text(&entry.action)
        .text(&entry.subject)
        .owned_text(entry.detail.to_string())
}

/// 1 actor, 2 action prefix, 3 below this id, 4 page size.
pub(super) fn audit_filter<'q, Q: Binds<'q>>(query: Q, filter: &'q AuditFilter) -> Q {
    query
        .opt_text(filter.actor.as_deref())
        .opt_text(filter.action_prefix.as_deref())
        .opt_int(filter.before_id)
        .int(i64::from(filter.limit.clamp(1, 1000)))
}

/// Progress of a task still running: 1 success, 2 failed, 3 confirmed, 4 task, 5 lease owner,
/// 6 unverified nodes, 7 prefetched count, 8 unprefetched nodes. Of a finished one: 1 success,
/// 2 failed, 3 status, 4 finished at, 5 task, 6 lease owner, 7 unverified nodes, 8 prefetched
/// count, 9 unprefetched nodes.
pub(super) fn progress<'q, Q: Binds<'q>>(query: Q, update: &'q TaskProgress, owner: &'q str) -> Q {
    let query = query
        .int(i64::from(update.success))
        .int(i64::from(update.failed));
    let query = match update.finished {
        Some((status, at)) => query.text(status.as_str()).int(to_millis(at)),
        None => query.bytes(update.confirmed.as_bytes()),
    };
    query
        .text(update.task_id.as_str())
        .text(owner)
        .opt_text_owned(super::rows::joined_indices(&update.unverified))
        .int(i64::from(update.prefetched))
        .opt_text_owned(super::rows::joined_indices(&update.unprefetched))
}

/// 1 task, 2 node, 3 reason, 4 attempts, 5 detail.
pub(super) fn failure<'q, Q: Binds<'q>>(query: Q, task: &'q str, failure: &'q NodeFailure) -> Q {
    query
        .text(task)
        .int(i64::from(failure.node_index))
        .text(failure.reason.as_str())
        .int(i64::from(failure.attempts))
        .text(&failure.detail)
}

/// 1 node set, 2 total, 3 confirmed, 4 started at, 5 deadline, 6 lease owner, 7 lease end,
/// 8 task.
pub(super) fn claimed<'q, Q: Binds<'q>>(
    query: Q,
    claimed: &'q ClaimedTask,
    request: &'q ClaimRequest,
) -> Q {
    query
        .int(claimed.node_set_id)
        .int(i64::from(claimed.task.total))
        .bytes(claimed.confirmed.as_bytes())
        .int(to_millis(request.now))
        .int(to_millis(claimed.deadline))
        .text(&request.owner)
        .int(to_millis(request.lease_until))
        .text(claimed.task.id.as_str())
}

/// Runs a statement that links or unlinks a domain and a user or group (1 domain, 2 the other).
pub(super) async fn link<'q, DB, E>(
    executor: E,
    sql: &'q str,
    domain_id: i64,
    other: i64,
) -> StoreResult<()>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'q, Database = DB>,
    <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>: Binds<'q>,
{
    let query = sqlx::query::<DB>(sql).int(domain_id).int(other);
    let linked = query.execute(executor).await;
    linked.map_err(super::rows::missing(format!(
        "domain {domain_id} or {other}"
    )))?;
    Ok(())
}

/// `INSERT INTO batches … VALUES …` with a row per batch, in `DB`'s placeholders.
pub(super) fn batch_rows<'q, DB>(batches: &[&'q NewBatch]) -> QueryBuilder<'q, DB>
where
    DB: sqlx::Database,
    for<'s, 'b> &'s mut Separated<'b, 'q, DB, &'static str>: Binds<'q>,
{
    let mut insert = QueryBuilder::new(
        "INSERT INTO batches
            (id, user_id, api_key_id, source, idempotency_key, callback_url, created_at) ",
    );
    insert.push_values(batches, |mut row, batch| {
        new_batch(&mut row, batch);
    });
    insert
}

/// `INSERT INTO audit_log … VALUES …` with a row per entry, in `DB`'s placeholders.
pub(super) fn audit_rows<'q, DB>(entries: &[&'q AuditEntry]) -> QueryBuilder<'q, DB>
where
    DB: sqlx::Database,
    for<'s, 'b> &'s mut Separated<'b, 'q, DB, &'static str>: Binds<'q>,
{
    let mut insert =
        QueryBuilder::new("INSERT INTO audit_log (at, actor_id, actor, action, subject, detail) ");
    insert.push_values(entries, |mut row, entry| {
        audit_entry(&mut row, entry);
    });
    insert
}

/// `INSERT INTO node_health …` with a row per node that still exists, keeping a stored record
/// with a later result (another instance's), in `DB`'s placeholders.
pub(super) fn node_health_rows<'q, DB>(health: &'q [(NodeId, NodeHealth)]) -> QueryBuilder<'q, DB>
where
    DB: sqlx::Database,
    for<'s, 'b> &'s mut Separated<'b, 'q, DB, &'static str>: Binds<'q>,
{
    // `VALUES` columns are named column1… in both SQLite and PostgreSQL.
    let mut insert = QueryBuilder::new(
        "INSERT INTO node_health (node_id, last_success_at, last_failure_at,
            last_failure_reason, recent, outcomes, updated_at)
         SELECT * FROM (",
    );
    insert.push_values(health, |mut row, (node, health)| {
        let failure = health.last_failure.as_ref();
        (&mut row)
            .int(node.0)
            .opt_int(health.last_success.map(to_millis))
            .opt_int(failure.map(|(at, _)| to_millis(*at)))
            .opt_text(failure.map(|(_, reason)| reason.as_str()))
            .int(i64::from(health.recent))
            .int(health.outcome_bits() as i64)
            .int(health.last_activity().map_or(0, to_millis));
    });
    insert.push(
        ") AS v WHERE v.column1 IN (SELECT id FROM edge_nodes)
         ON CONFLICT (node_id) DO UPDATE SET
            last_success_at = excluded.last_success_at,
            last_failure_at = excluded.last_failure_at,
            last_failure_reason = excluded.last_failure_reason,
            recent = excluded.recent,
            outcomes = excluded.outcomes,
            updated_at = excluded.updated_at
         WHERE excluded.updated_at >= node_health.updated_at",
    );
    insert
}

/// `INSERT INTO fleet_health_samples …` replacing a sample of the same time, in `DB`'s
/// placeholders.
pub(super) fn health_sample_row<'q, DB>(sample: &'q HealthSample) -> QueryBuilder<'q, DB>
where
    DB: sqlx::Database,
    for<'s, 'b> &'s mut Separated<'b, 'q, DB, &'static str>: Binds<'q>,
{
    let mut insert = QueryBuilder::new(
        "INSERT INTO fleet_health_samples
            (at, healthy, degraded, failing, disabled, never_purged) ",
    );
    insert.push_values([sample], |mut row, sample| {
        (&mut row).int(to_millis(sample.at));
        for count in sample.counts {
            (&mut row).int(i64::from(count));
        }
    });
    insert.push(
        " ON CONFLICT (at) DO UPDATE SET healthy = excluded.healthy,
            degraded = excluded.degraded, failing = excluded.failing,
            disabled = excluded.disabled, never_purged = excluded.never_purged",
    );
    insert
}
