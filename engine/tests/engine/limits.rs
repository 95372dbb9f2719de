//! Limits that concurrent requests must not pass together, and what is stored once.

use engine::submit::{Source, Submission};
use engine::target::TargetKind;
use engine::users::Role;
use engine::Actor;

use crate::on_both_stores;
use crate::support::*;

async fn concurrent_key_creations_stop_exactly_at_the_cap(backend: Backend) {
    let t = engine_with(backend, |config| config.max_keys_per_user = 5).await;
    let actor = Actor::cli();
    let user = t
        .engine
        .create_user(&actor, "keys", Role::Developer, None)
        .await
        .expect("user");
    let attempts = (0..12).map(|n| {
        let engine = t.engine.clone();
        let actor = actor.clone();
        async move {
            engine
                .create_key(&actor, user.id, &format!("key {n}"))
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(created, 5, "{results:?}");
    let live = t.engine.list_keys(user.id).await.expect("keys");
    assert_eq!(live.len(), 5);
    let refused = results
        .iter()
        .find_map(|result| result.as_ref().err())
        .expect("refused");
    assert!(
        refused
            .to_string()
            .contains("already holds 5 live API keys"),
        "{refused}"
    );
}

async fn a_batchs_callback_url_is_stored_once_whatever_its_size(backend: Backend) {
    let (t, user) = engine_with_developer(backend).await;
    let callback = format!("http://127.0.0.1:9/{}", "c".repeat(1900));
    let targets = (0..200)
        .map(|n| (TargetKind::Url, format!("http://www.example.com/{n}.png")))
        .collect();
    let submission = Submission {
        callback_url: Some(callback.clone()),
        ..Submission::new(Source::V1, targets)
    };
    let outcome = t.engine.submit(&user, submission).await.expect("accepted");
    let batch = outcome.batch_id.expect("batch");
    let tasks = t
        .engine
        .batch_tasks(batch.as_str(), &Default::default())
        .await
        .expect("read")
        .expect("batch");
    assert_eq!(tasks.len(), 200);
    assert!(tasks
        .iter()
        .all(|task| task.callback_url.as_deref() == Some(callback.as_str())));
    // Where it is stored: once, in its batch; the tasks table has no copy of it at all.
    let copies = count(
        &t.database_url(),
        "SELECT COUNT(*) FROM batches WHERE callback_url IS NOT NULL",
    )
    .await;
    assert_eq!(copies, 1);
    let task_columns = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM pragma_table_info('tasks') WHERE name = 'callback_url'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.columns
             WHERE table_name = 'tasks' AND column_name = 'callback_url'"
        }
    };
    assert_eq!(count(&t.database_url(), task_columns).await, 0);
}

/// The one integer `sql` selects, read straight from the database.
async fn count(url: &str, sql: &str) -> i64 {
    raw_sql(url, sql).await.expect("a count")
}

on_both_stores! {
    #[tokio::test]
    concurrent_key_creations_stop_exactly_at_the_cap,
    #[tokio::test]
    a_batchs_callback_url_is_stored_once_whatever_its_size,
}
