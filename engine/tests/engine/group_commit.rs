//! Group commit: submissions that arrive together are committed together, and each is still
//! decided as if alone — repeats of one idempotency key, task id or regex inside one group, and a
//! batch whose write fails, which must not fail the others.

use std::sync::Arc;

use chrono::Utc;
use engine::ids::{BatchId, TaskId};
use engine::store::{AuditEntry, BatchWrite, NewBatch, NewTask};
use engine::submit::{Refusal, Source, Submission};
use engine::target::TargetKind;
use engine::users::{QuotaLimits, User, UserId};

use crate::on_both_stores;
use crate::support::*;

on_both_stores! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    concurrent_repeats_of_an_idempotency_key_make_one_batch,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    concurrent_repeats_of_a_task_id_make_one_task,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    concurrent_repeats_of_a_regex_accept_it_once,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_batch_whose_write_fails_fails_alone,
}

/// Submits `make(i)` for i in 0..n all at once; the outcomes in order.
async fn all_at_once(
    t: &TestEngine,
    user: &User,
    n: usize,
    make: impl Fn(usize) -> Submission,
) -> Vec<engine::submit::SubmitOutcome> {
    let submitters: Vec<_> = (0..n)
        .map(|i| {
            let (engine, user, submission) = (t.engine.clone(), user.clone(), make(i));
            tokio::spawn(async move { engine.submit(&user, submission).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for submitter in submitters {
        outcomes.push(submitter.await.expect("task").expect("submitted"));
    }
    outcomes
}

fn url(path: &str) -> Vec<(TargetKind, String)> {
    vec![(TargetKind::Url, format!("http://www.example.com/{path}"))]
}

async fn concurrent_repeats_of_an_idempotency_key_make_one_batch(backend: Backend) {
    let (t, user) = engine_with_developer(backend).await;
    let outcomes = all_at_once(&t, &user, 30, |i| {
        let mut submission = Submission::new(Source::V1, url(&format!("k{}", i % 3)));
        submission.idempotency_key = Some(format!("deploy-{}", i % 3));
        submission
    })
    .await;
    for key in 0..3 {
        let of_key: Vec<_> = outcomes.iter().skip(key).step_by(3).collect();
        let firsts = of_key.iter().filter(|o| !o.replayed).count();
        assert_eq!(
            firsts, 1,
            "key {key}: one submission wrote, the rest replayed"
        );
        let batch = of_key[0].batch_id.clone();
        assert!(batch.is_some());
        assert!(
            of_key.iter().all(|o| o.batch_id == batch),
            "key {key}: one batch"
        );
    }
    let quota = t.engine.quota_status(&user).await.expect("quota");
    assert_eq!(quota.used.url, 3, "each key's URL counted once");
}

async fn concurrent_repeats_of_a_task_id_make_one_task(backend: Backend) {
    let (t, user) = engine_with_developer(backend).await;
    let outcomes = all_at_once(&t, &user, 20, |_| {
        let mut submission = Submission::new(Source::Api000, url("same.js"));
        submission.client_task_id = Some("task-1".into());
        submission
    })
    .await;
    let tasks: std::collections::HashSet<_> = outcomes
        .iter()
        .flat_map(|o| o.accepted().cloned())
        .collect();
    assert_eq!(tasks.len(), 1, "twenty submissions of one taskId, one task");
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    assert_eq!(
        t.engine.quota_status(&user).await.expect("quota").used.url,
        1
    );
}

async fn concurrent_repeats_of_a_regex_accept_it_once(backend: Backend) {
    let (t, user) = engine_with_developer(backend).await;
    let regex = r"http://www.example.com/assets/.*\.css";
    let outcomes = all_at_once(&t, &user, 20, |_| {
        Submission::new(Source::Api004, vec![(TargetKind::Regex, regex.to_owned())])
    })
    .await;
    let verdicts: Vec<_> = outcomes
        .iter()
        .map(|o| o.verdicts[0].result.clone())
        .collect();
    assert_eq!(verdicts.iter().filter(|v| v.is_ok()).count(), 1);
    assert!(verdicts
        .iter()
        .filter(|v| v.is_err())
        .all(|v| *v == Err(Refusal::StillRunning)));
    assert_eq!(
        t.engine
            .quota_status(&user)
            .await
            .expect("quota")
            .used
            .regex,
        1
    );
}

/// A one-URL batch of `user` on `domain`.
fn new_batch(user: UserId, domain: i64, path: &str) -> NewBatch {
    NewBatch {
        id: BatchId::generate(),
        user_id: user,
        api_key_id: None,
        source: "v1",
        idempotency_key: None,
        client_task_id: None,
        callback_url: None,
        mode: Default::default(),
        groups: Vec::new(),
        verify: false,
        prefetch_after: false,
        created_at: Utc::now(),
        day: "2026-12-01".into(),
        limits: QuotaLimits::default(),
        tasks: vec![NewTask {
            id: TaskId::generate(),
            kind: TargetKind::Url,
            target: format!("http://www.example.com/{path}"),
            host: None,
            domain_id: domain,
        }],
        audit: AuditEntry {
            id: 0,
            at: Utc::now(),
            actor_id: Some(user),
            actor: "dev".into(),
            action: "purge.accept".into(),
            subject: path.into(),
            detail: serde_json::json!({}),
        },
    }
}

async fn a_batch_whose_write_fails_fails_alone(backend: Backend) {
    let (t, user) = engine_with_developer(backend).await;
    let store = engine::store::open(&t.database_url()).await.expect("store");
    let domain = store
        .domains_of_user(user.id)
        .await
        .expect("domains")
        .first()
        .map(|(id, _)| *id)
        .expect("the developer's domain");
    // Batch 7 belongs to a user who does not exist: its write fails (a foreign key on SQLite,
    // the missing row lock on PostgreSQL), wherever the group around it was cut.
    let writers: Vec<_> = (0..40)
        .map(|i| {
            let owner = if i == 7 { UserId(999_999) } else { user.id };
            let (store, batch) = (
                Arc::clone(&store),
                new_batch(owner, domain, &format!("g{i}")),
            );
            tokio::spawn(async move { store.write_batch(&batch).await })
        })
        .collect();
    for (i, writer) in writers.into_iter().enumerate() {
        let written = writer.await.expect("task");
        if i == 7 {
            assert!(written.is_err(), "the batch of a missing user is refused");
        } else {
            assert!(
                matches!(written, Ok(BatchWrite::Written { ref verdicts, .. }) if verdicts == &[None]),
                "batch {i} is written beside the failing one: {written:?}"
            );
        }
    }
    let stored = t
        .engine
        .list_tasks(&engine::store::TaskFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        stored.len(),
        39,
        "every batch but the failing one is stored"
    );
}
