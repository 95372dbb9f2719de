//! Real caches for the tests: an origin whose bodies change on every fetch, and Varnish and
//! nginx started from the shipped configurations.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;

use super::{free_port, repo_root};

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
