//! The bulk ceiling's fleet: one real nginx (Debian's) listening on many loopback addresses,
//! answering 200 to any method with keep-alive, as issue 18 measured it.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use super::fleet::{runs, EdgeProcess};

/// Where Debian installs nginx, for when `/usr/sbin` is not on the `PATH`.
const DEBIAN_NGINX: &str = "/usr/sbin/nginx";

/// The nginx binary, or a message saying how to install it.
pub fn binary() -> anyhow::Result<PathBuf> {
    if runs("nginx", "-v") {
        return Ok(PathBuf::from("nginx"));
    }
    if Path::new(DEBIAN_NGINX).exists() {
        return Ok(PathBuf::from(DEBIAN_NGINX));
    }
    bail!(
        "nginx is not installed: the bulk scenarios measure Purger against a fleet of real nginx \
         (apt-get install nginx, or ./scripts/install-test-deps.sh)"
    )
}

/// The `n`-th fleet address: 127.0.1.1, 127.0.1.2, … 127.0.1.254, 127.0.2.1, …
pub fn address(n: usize) -> IpAddr {
    let third = 1 + n / 254;
    let fourth = 1 + n % 254;
    IpAddr::V4(Ipv4Addr::new(127, 0, third as u8, fourth as u8))
}

/// Starts one nginx process (no master, one worker) listening on `addresses` loopback addresses
/// at `port`; its files live in `work`. Stopped when the returned process is dropped.
pub async fn start(addresses: usize, port: u16, work: &Path) -> anyhow::Result<EdgeProcess> {
    let nginx = binary()?;
    let addrs: Vec<SocketAddr> = (0..addresses)
        .map(|n| SocketAddr::new(address(n), port))
        .collect();
    let dir = work.join(format!("nginx-{addresses}"));
    std::fs::create_dir_all(&dir)?;
    let mut listens = String::new();
    for addr in &addrs {
        let _ = writeln!(listens, "    listen {addr} backlog=4096;");
    }
    let d = dir.display();
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log error;\nworker_rlimit_nofile 65536;\n\
         events {{ worker_connections 16384; multi_accept on; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 300s;\n\
           client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n{listens}    location / {{ return 200; }}\n  }}\n}}\n"
    );
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config)?;
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", nginx.display()))?;
    let fleet = EdgeProcess::new(child, addrs);
    let last = *fleet.addrs.last().context("at least one address")?;
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(last).await.is_ok() {
            return Ok(fleet);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    bail!("nginx did not start on {last}: {log}")
}
