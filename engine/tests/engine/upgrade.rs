//! An existing SQLite database of the schema before purge kinds (version 6), with tasks in every
//! state, a callback URL and a failed node, upgraded by opening it: every row, failure and
//! callback survives, read through the engine.

use std::borrow::Cow;

use engine::target::{PurgeMode, TargetKind};
use engine::tasks::TaskStatus;

use crate::support::*;

const BATCH: &str = "0123456789abcdef0123456789abcdef";

fn task_id(n: u8) -> String {
    format!("{n:02x}{}", "ab".repeat(15))
}

#[tokio::test]
async fn a_database_of_the_schema_before_purge_kinds_keeps_every_task_when_upgraded() {
    use sqlx::{ConnectOptions, Executor};

    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("purger.db").display());
    {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
        let mut db = options
            .create_if_missing(true)
            .foreign_keys(true)
            .connect()
            .await
            .expect("sqlite");
        let mut migrator = sqlx::migrate::Migrator::new(repo_root().join("migrations/sqlite"))
            .await
            .expect("migrations");
        let before: Vec<_> = migrator
            .migrations
            .iter()
            .filter(|m| m.version <= 6)
            .cloned()
            .collect();
        assert_eq!(before.len(), 6);
        migrator.migrations = Cow::Owned(before);
        migrator.run_direct(&mut db).await.expect("schema 6");
        let now = 1_764_590_000_000_i64;
        db.execute(sqlx::query("INSERT INTO users (id, username, role, created_at) VALUES (1, 'dev', 'developer', ?1)").bind(now))
            .await
            .expect("user");
        db.execute(
            sqlx::query(
                "INSERT INTO domains (id, host, created_at) VALUES (1, 'www.example.com', ?1)",
            )
            .bind(now),
        )
        .await
        .expect("domain");
        db.execute(
            sqlx::query("INSERT INTO batches (id, user_id, source, callback_url, created_at) VALUES (?1, 1, 'v1', 'http://cb.example/x', ?2)")
                .bind(BATCH)
                .bind(now),
        )
        .await
        .expect("batch");
        for (n, kind, status, callback_state) in [
            (0, "url", "running", None),
            (1, "regex", "failed", Some("delivered")),
            (2, "prefix", "created", None),
        ] {
            let insert = sqlx::query(
                "INSERT INTO tasks (id, batch_id, user_id, domain_id, kind, target, status, total,
                                    success, failed, created_at, callback_url, callback_state)
                 VALUES (?1, ?2, 1, 1, ?3, ?4, ?5, 3, 1, 1, ?6, 'http://cb.example/x', ?7)",
            );
            let insert = insert
                .bind(task_id(n))
                .bind(BATCH)
                .bind(kind)
                .bind(format!("http://www.example.com/{n}/"))
                .bind(status)
                .bind(now)
                .bind(callback_state);
            db.execute(insert).await.expect("task");
        }
        db.execute(
            sqlx::query("INSERT INTO task_failures (task_id, node_index, reason, attempts) VALUES (?1, 2, 'timeout', 3)")
                .bind(task_id(1)),
        )
        .await
        .expect("failure");
    }

    // Opening it migrates it.
    let engine = engine::Engine::open(&url, test_config(dir.path()))
        .await
        .expect("engine opens");
    let tasks = engine
        .batch_tasks(BATCH, &Default::default())
        .await
        .expect("read")
        .expect("batch");
    let seen: Vec<_> = tasks
        .iter()
        .map(|t| {
            (
                t.kind,
                t.status,
                t.success,
                t.failed,
                t.mode,
                t.callback_url.as_deref(),
            )
        })
        .collect();
    let callback = Some("http://cb.example/x");
    assert_eq!(
        seen,
        vec![
            (
                TargetKind::Url,
                TaskStatus::Running,
                1,
                1,
                PurgeMode::Delete,
                callback
            ),
            (
                TargetKind::Regex,
                TaskStatus::Failed,
                1,
                1,
                PurgeMode::Delete,
                callback
            ),
            (
                TargetKind::Prefix,
                TaskStatus::Created,
                1,
                1,
                PurgeMode::Delete,
                callback
            ),
        ]
    );
    assert_eq!(tasks[1].target, "http://www.example.com/1/");
    // The failed node survived the column swap (no cascade from the tasks table's rewrite).
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
    let mut db = options.connect().await.expect("sqlite");
    let failures: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT task_id, node_index, reason FROM task_failures")
            .fetch_all(&mut db)
            .await
            .expect("failures");
    assert_eq!(failures, vec![(task_id(1), 2, "timeout".to_owned())]);
    // The unfinished tasks wait for their callback; the delivered one stays delivered.
    let states: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT callback_state FROM tasks ORDER BY id")
            .fetch_all(&mut db)
            .await
            .expect("states");
    let states: Vec<_> = states.into_iter().map(|(s,)| s).collect();
    assert_eq!(
        states,
        vec![
            Some("waiting".to_owned()),
            Some("delivered".to_owned()),
            Some("waiting".to_owned())
        ]
    );
}
