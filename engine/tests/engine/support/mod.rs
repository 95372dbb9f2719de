//! Shared test support: engines on fresh SQLite files, an origin server, real Varnish and nginx
//! started from the shipped configurations, and simulated edges with chosen behaviour.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
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

/// An origin whose bodies change on every fetch: `origin <host><path> #<n>`. Paths under
/// `/xkey/` carry the cache tags `product-42 common` in an `xkey` header, paths under `/sk/`
/// `product-42 other` in `Surrogate-Key` only (Fastly's name).
pub struct Origin {
    pub addr: SocketAddr,
    pub fetches: Arc<AtomicU64>,
}

pub async fn start_origin() -> Origin {
    let fetches = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&fetches);
    let app = axum::Router::new().fallback(move |request: Request| {
        let counter = Arc::clone(&counter);
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            let host = request
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let tags = if path.starts_with("/xkey/") {
                Some(("xkey", "product-42 common"))
            } else if path.starts_with("/sk/") {
                Some(("Surrogate-Key", "product-42 other"))
            } else {
                None
            };
            let mut response = axum::response::Response::new(axum::body::Body::from(format!(
                "origin {host}{path} #{n}"
            )));
            let headers = response.headers_mut();
            headers.insert("cache-control", "max-age=3600".parse().expect("header"));
            if let Some((name, value)) = tags {
                headers.insert(name, value.parse().expect("header"));
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind origin");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Origin { addr, fetches }
}

/// A process killed (and reaped) on drop.
pub struct Process {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_listening(port: u16, what: &str, child: &mut Child, log: &Path) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited with {status}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not listen on {port}");
}

/// Real Varnish with `docs/edges/varnish.vcl`, pointed at `origin`.
pub async fn start_varnish(origin: SocketAddr) -> Process {
    let vcl =
        std::fs::read_to_string(repo_root().join("docs/edges/varnish.vcl")).expect("shipped VCL");
    start_varnish_with(origin, &vcl).await
}

/// A Varnish running `vcl` (its backend's `.port = "8080";` pointed at `origin`).
pub async fn start_varnish_with(origin: SocketAddr, vcl: &str) -> Process {
    let dir = tempfile::tempdir().expect("tempdir");
    let vcl = vcl.replace(
        ".port = \"8080\";",
        &format!(".port = \"{}\";", origin.port()),
    );
    let vcl_path = dir.path().join("purger.vcl");
    std::fs::write(&vcl_path, vcl).expect("write vcl");
    let port = free_port();
    let log = dir.path().join("varnishd.log");
    let mut child = Command::new("varnishd")
        .args(["-F", "-j", "none", "-a"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-f")
        .arg(&vcl_path)
        .arg("-n")
        .arg(dir.path().join("work"))
        .args([
            "-s",
            "malloc,32m",
            "-p",
            "ban_lurker_sleep=0.01",
            "-p",
            "thread_pools=1",
        ])
        .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("varnishd.err")).expect("log"),
        ))
        .spawn()
        .expect("varnishd runs (apt-get install varnish)");
    wait_listening(
        port,
        "varnishd",
        &mut child,
        &dir.path().join("varnishd.err"),
    )
    .await;
    Process {
        child,
        port,
        _dir: dir,
    }
}

/// Real nginx with `docs/edges/nginx-purge.conf` (ngx_cache_purge), cache on tmpfs.
pub async fn start_nginx(origin: SocketAddr) -> Process {
    let dir = tempfile::tempdir_in(if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    })
    .expect("tempdir");
    let port = free_port();
    let snippet = std::fs::read_to_string(repo_root().join("docs/edges/nginx-purge.conf"))
        .expect("shipped conf");
    let snippet = snippet
        .replace(
            "/var/cache/nginx/purger",
            &dir.path().join("cache").display().to_string(),
        )
        .replace("server 127.0.0.1:8080;", &format!("server {};", origin))
        .replace(
            "listen 127.0.0.1:8081;",
            &format!("listen 127.0.0.1:{port};"),
        );
    let d = dir.path().display();
    std::fs::write(dir.path().join("purger.conf"), snippet).expect("write snippet");
    let main = format!(
        "load_module /usr/lib/nginx/modules/ngx_http_cache_purge_module.so;\n\
         daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n\
         pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           include {d}/purger.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).expect("write conf");
    let log = dir.path().join("stderr.log");
    let mut child = Command::new("nginx")
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-p")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .spawn()
        .expect("nginx runs (apt-get install nginx libnginx-mod-http-cache-purge)");
    wait_listening(port, "nginx", &mut child, &log).await;
    Process {
        child,
        port,
        _dir: dir,
    }
}

/// GET `path` with `Host: host` through an edge: (X-Cache header, body).
pub async fn fetch(port: u16, host: &str, path: &str) -> (String, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let response = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("Host", host)
        .send()
        .await
        .expect("edge answers");
    let cache = response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (cache, response.text().await.expect("body"))
}

/// How a simulated edge answers.
#[derive(Clone, Copy, Debug)]
pub struct EdgeBehaviour {
    pub status: u16,
    pub delay: Duration,
}

/// Every request a simulated edge got: (method, path and query, Host).
pub type RequestLog = Arc<Mutex<Vec<(String, String, String)>>>;

/// A simulated edge that records every request it gets.
pub struct SimEdge {
    pub addr: SocketAddr,
    pub requests: RequestLog,
}

impl SimEdge {
    pub fn count(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }
    /// Requests per path.
    pub fn per_path(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (_, path, _) in self.requests.lock().expect("lock").iter() {
            *counts.entry(path.clone()).or_default() += 1;
        }
        counts
    }
}

/// A simulated edge on a fresh loopback port.
pub async fn start_sim_edge(behaviour: EdgeBehaviour) -> SimEdge {
    start_sim_edge_on(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await
}

/// A simulated edge on a chosen address (for a node that comes back).
pub async fn start_sim_edge_on(addr: SocketAddr, behaviour: EdgeBehaviour) -> SimEdge {
    let requests: RequestLog = Arc::default();
    let sink = Arc::clone(&requests);
    let app = axum::Router::new().fallback(move |request: Request| {
        let sink = Arc::clone(&sink);
        async move {
            tokio::time::sleep(behaviour.delay).await;
            let host = request
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            sink.lock()
                .expect("lock")
                .push((request.method().to_string(), path, host));
            StatusCode::from_u16(behaviour.status).unwrap_or(StatusCode::OK)
        }
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind edge");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    SimEdge { addr, requests }
}

/// An address where nothing listens: connections are refused.
pub fn refusing_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A listener that accepts connections and never answers: requests time out.
pub async fn silent_addr() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
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
