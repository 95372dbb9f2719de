//! Shared test support: engines on fresh SQLite files and PostgreSQL databases, the
//! two-store test macro, waiting, and submitting; real caches in `real_edges`, simulated edges
//! in `sim_edges`.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::fleet::Protocol;
use engine::users::{Role, User};
use engine::{Actor, Engine, EngineConfig};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("engine/ has a parent")
        .to_path_buf()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub mod postgres;
mod real_edges;
mod sim_edges;

pub use real_edges::*;
pub use sim_edges::*;

/// The store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// Runs each listed `async fn name(backend: Backend)` as two tests, `name::sqlite` and
/// `name::postgres`: the store contract is one suite run against both stores. Each name comes
/// with the test attribute both wrappers get; the functions themselves are ordinary ones, beside
/// the list, so rustfmt formats them:
///
/// ```ignore
/// on_both_stores! {
///     #[tokio::test]
///     a_test,
///     #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
///     another_test,
/// }
///
/// async fn a_test(backend: Backend) { /* ... */ }
/// ```
///
/// A module and a function may share a name (they live in different namespaces): `mod a_test`
/// holds the two wrappers, which call the function `a_test` beside it.
#[macro_export]
macro_rules! on_both_stores {
    ($($(#[$meta:meta])+ $name:ident),* $(,)?) => {
        $(
            mod $name {
                $(#[$meta])+
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }

                $(#[$meta])+
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            }
        )*
    };
}

/// An engine on a fresh database, with test-friendly fan-out settings.
pub struct TestEngine {
    pub engine: Engine,
    pub dir: tempfile::TempDir,
    url: String,
    _database: Option<postgres::TestDatabase>,
}

pub fn test_config(dir: &Path) -> EngineConfig {
    let mut config = EngineConfig {
        data_dir: dir.to_path_buf(),
        ..EngineConfig::default()
    };
    config.fanout.request_timeout_ms = 500;
    config.fanout.connect_timeout_ms = 300;
    config.fanout.backoff_base_ms = 20;
    config.fanout.backoff_max_ms = 100;
    config.fanout.poll_interval_ms = 100;
    config.fanout.task_deadline_secs = 30;
    config.callbacks.allow_networks = vec!["127.0.0.0/8".into()];
    config.callbacks.backoff_secs = 1;
    config
}

pub async fn engine_with(backend: Backend, config: impl FnOnce(&mut EngineConfig)) -> TestEngine {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = test_config(dir.path());
    config(&mut settings);
    let (url, database) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.path().join("purger.db").display()),
            None,
        ),
        Backend::Postgres => {
            let database = postgres::TestDatabase::create().await;
            (database.url.clone(), Some(database))
        }
    };
    let engine = Engine::open(&url, settings).await.expect("engine opens");
    TestEngine {
        engine,
        dir,
        url,
        _database: database,
    }
}

pub async fn test_engine(backend: Backend) -> TestEngine {
    engine_with(backend, |_| {}).await
}

/// An engine with the developer `dev`, who may purge www.example.com, served by one edge that
/// refuses connections (for tests of what is accepted, with the workers not started).
pub async fn engine_with_developer(backend: Backend) -> (TestEngine, engine::users::User) {
    let t = test_engine(backend).await;
    let user = t
        .developer_with_fleet(
            "dev",
            "www.example.com",
            Protocol::Varnish,
            &[refusing_addr()],
        )
        .await;
    (t, user)
}

impl TestEngine {
    pub fn database_url(&self) -> String {
        self.url.clone()
    }

    /// Every task stored (up to 1000), newest first.
    pub async fn all_tasks(&self) -> Vec<engine::tasks::TaskRecord> {
        self.engine
            .list_tasks(&engine::store::TaskFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("list")
    }

    /// Submits one `target` as `user` and waits for its task's report (the workers must run).
    pub async fn purge_and_wait(
        &self,
        user: &User,
        kind: engine::target::TargetKind,
        target: &str,
    ) -> engine::report::TaskReport {
        let outcome = submit(&self.engine, user, kind, &[target]).await;
        let task = outcome.accepted().next().expect("accepted").clone();
        finished_report(&self.engine, &task).await
    }

    /// Creates group `name` speaking `protocol` (or updates it) and adds `nodes` to it.
    pub async fn group_with_nodes(&self, name: &str, protocol: Protocol, nodes: &[SocketAddr]) {
        let actor = Actor::cli();
        self.engine
            .upsert_group(&actor, name, protocol)
            .await
            .expect("group");
        let csv: String = nodes
            .iter()
            .map(|addr| format!("{},{}\n", addr.ip(), addr.port()))
            .collect();
        let import = self
            .engine
            .import_nodes(&actor, name, &csv)
            .await
            .expect("nodes");
        assert!(import.refused.is_empty(), "{:?}", import.refused);
    }

    /// A developer who may purge `host`, served by a group of `nodes` with `protocol`.
    pub async fn developer_with_fleet(
        &self,
        name: &str,
        host: &str,
        protocol: Protocol,
        nodes: &[SocketAddr],
    ) -> User {
        let actor = Actor::cli();
        let user = match self.engine.user_by_name(name).await.expect("lookup") {
            Some(user) => user,
            None => self
                .engine
                .create_user(&actor, name, Role::Developer, None)
                .await
                .expect("user"),
        };
        let group = format!("{host}-{}", protocol.name());
        self.group_with_nodes(&group, protocol, nodes).await;
        self.engine
            .add_domain(&actor, host, &[name.to_owned()], &[group])
            .await
            .expect("domain");
        user
    }
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Submits targets of one kind through the engine as `user`.
pub async fn submit(
    engine: &Engine,
    user: &User,
    kind: engine::target::TargetKind,
    targets: &[&str],
) -> engine::submit::SubmitOutcome {
    engine
        .submit(
            user,
            engine::submit::Submission::new(
                engine::submit::Source::V1,
                targets.iter().map(|t| (kind, (*t).to_owned())).collect(),
            ),
        )
        .await
        .expect("submission accepted")
}

/// Waits until a task has ended and returns its report.
pub async fn finished_report(
    engine: &Engine,
    task: &engine::ids::TaskId,
) -> engine::report::TaskReport {
    // Generous: the suite runs many fan-outs at once on two cores.
    let record = wait_for(Duration::from_secs(60), || async {
        let task = engine
            .task(task.as_str(), &Default::default())
            .await
            .expect("read task")?;
        task.status.is_final().then_some(task)
    })
    .await;
    engine.task_report(record).await.expect("report")
}

/// Runs `sql` straight on the database at `url`, behind the engine's back; the integer in the
/// first column of its first row, when it returns rows.
pub async fn raw_sql(url: &str, sql: &str) -> Option<i64> {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
        sqlx::query_scalar(sql)
            .fetch_optional(&mut db)
            .await
            .expect("sql")
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.expect("postgres");
        sqlx::query_scalar(sql)
            .fetch_optional(&mut db)
            .await
            .expect("sql")
    }
}
