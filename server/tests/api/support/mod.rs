//! `spawn_app()`: a real Purger server on port 0 over a fresh SQLite file, plus helpers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use engine::fleet::Protocol;
use engine::users::{Role, User};
use engine::{Actor, Engine};
use server::config::Config;
use server::startup::Application;
use server::tools::edge_sim::{self, EdgeSim, EdgeSimConfig};

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub engine: Engine,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// Starts a server with test-friendly settings, changed by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Config::default()
    };
    config.engine.data_dir = dir.path().to_path_buf();
    config.engine.fanout.request_timeout_ms = 500;
    config.engine.fanout.connect_timeout_ms = 300;
    config.engine.fanout.backoff_base_ms = 10;
    config.engine.fanout.backoff_max_ms = 50;
    config.engine.callbacks.allow_networks = vec!["127.0.0.0/8".into()];
    config.api.rate_limit.per_second = 0.0;
    configure(&mut config);
    let app = Application::build(config).await.expect("the app builds");
    let addr = app.local_addr();
    let engine = app.engine().clone();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    TestApp {
        addr,
        engine,
        http,
        dir,
    }
}

/// Starts a server with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn database_path(&self) -> std::path::PathBuf {
        self.dir.path().join("purger.db")
    }

    /// A developer with an API key who may purge `host`, served by `fleet` (Varnish preset).
    pub async fn developer(&self, name: &str, host: &str, fleet: &[SocketAddr]) -> (User, String) {
        let actor = Actor::cli();
        let user = self
            .engine
            .create_user(&actor, name, Role::Developer, None)
            .await
            .expect("user");
        let (_, key) = self
            .engine
            .create_key(&actor, user.id, "test")
            .await
            .expect("key");
        let group = format!("{name}-edges");
        self.engine
            .upsert_group(&actor, &group, Protocol::Varnish)
            .await
            .expect("group");
        let csv: String = fleet
            .iter()
            .map(|a| format!("{},{}\n", a.ip(), a.port()))
            .collect();
        self.engine
            .import_nodes(&actor, &group, &csv)
            .await
            .expect("nodes");
        self.engine
            .add_domain(&actor, host, &[name.to_owned()], &[group])
            .await
            .expect("domain");
        (user, key.expose().to_owned())
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .expect("server answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// A simulated fleet: `healthy` answering nodes, then `refusing` ones.
pub async fn fleet(healthy: usize, refusing: usize, silent: usize) -> EdgeSim {
    edge_sim::start(&EdgeSimConfig {
        nodes: healthy + refusing + silent,
        refusing,
        silent,
        latency_ms: 1,
        ..EdgeSimConfig::default()
    })
    .await
    .expect("edges start")
}

pub fn addrs(fleet: &EdgeSim) -> Vec<SocketAddr> {
    fleet.nodes.iter().map(|n| n.addr).collect()
}

/// The session cookie (`name=value`) a response sets, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Percent-encodes a query value.
pub fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Compares `actual` with `tests/golden/<name>` after putting `values` into its `{placeholders}`.
pub fn assert_golden(name: &str, actual: &str, values: &[(&str, &str)]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let mut expected =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("golden file {}", path.display()));
    for (placeholder, value) in values {
        expected = expected.replace(&format!("{{{placeholder}}}"), value);
    }
    assert_eq!(actual, expected.trim_end(), "golden file {name}");
}

/// Polls until `check` returns `Some`.
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

/// Sends a v1 request with `key` as bearer: (status, JSON body, or the text when it is none).
pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    key: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = app.http.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Seed 004's `Date` header for `at`.
pub fn seed004_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Seed 004's password for `date`: base64(HMAC-SHA1(key, date)).
pub fn seed004_password(key: &str, date: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut mac =
        <hmac::Hmac<sha1::Sha1> as hmac::Mac>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(date.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// An admin `root` with one API key; the key.
pub async fn admin_key(app: &TestApp) -> String {
    let actor = Actor::cli();
    let admin = app
        .engine
        .create_user(&actor, "root", Role::Admin, None)
        .await
        .expect("admin");
    let (_, key) = app
        .engine
        .create_key(&actor, admin.id, "admin")
        .await
        .expect("key");
    key.expose().to_owned()
}
