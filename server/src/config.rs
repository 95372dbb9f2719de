//! One typed configuration: defaults, then a TOML file, then `PURGER_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use engine::EngineConfig;

use engine::rate_limit::RateLimitConfig;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything the server can be told; every field has a default.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where the web server listens (`PURGER_ADDR`).
    pub addr: SocketAddr,
    /// The database; `sqlite://<data_dir>/purger.db` when unset (`DATABASE_URL`).
    pub database_url: Option<String>,
    /// Where cargo-leptos put the compiled site: WASM, JS, CSS (`PURGER_SITE_ROOT`).
    pub site_root: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// The address people and clients reach this service at, such as
    /// `https://purger.example.com` (`PURGER_PUBLIC_URL`); decides the `secure_cookies` default.
    pub public_url: Option<String>,
    /// `Secure` session cookies with the `__Host-` prefix (`PURGER_SECURE_COOKIES`); on by
    /// default when `public_url` is https.
    pub secure_cookies: Option<bool>,
    /// The HTTP server: timeouts and the connection cap.
    pub server: ServerConfig,
    /// The HTTP APIs.
    pub api: ApiConfig,
    /// Run the fan-out workers in this instance (`false`: serve the APIs and dashboard only).
    pub workers: bool,
    /// The engine: data directory, master key, time zone, quotas, fan-out, callbacks, retention.
    #[serde(flatten)]
    pub engine: EngineConfig,
}

/// Settings of the HTTP APIs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiConfig {
    /// Per-key request rate limits.
    pub rate_limit: RateLimitConfig,
    /// Seed 004: how far the `Date` header may be from the server clock, in seconds. The
    /// signature covers only the Date, so a captured header can be replayed inside this window.
    pub date_skew_secs: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Proxies (CIDRs) whose `X-Forwarded-For` names the client (sign-in throttling counts per
    /// client address); from any other peer the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// The longest this server holds a batch read's long poll (`wait`, at most 60 by the API):
    /// a longer wait is answered after this many seconds with the batch as it then stands.
    pub max_wait_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            rate_limit: RateLimitConfig::default(),
            date_skew_secs: 15 * 60,
            max_body_bytes: 1 << 20,
            trusted_proxies: Vec::new(),
            max_wait_secs: 60,
        }
    }
}

/// Limits of the HTTP server, so that slow or idle clients cannot hold it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Open connections at most; further clients wait in the listen queue.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (idle keep-alive connections included).
    pub header_read_timeout_secs: u64,
    /// Time from a request's headers to the start of its answer, reading the body included
    /// (408 after; the event stream is not cut, only its start is timed).
    pub request_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout_secs: 10,
            request_timeout_secs: 30,
        }
    }
}

/// How logs are written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `auto` (pretty in a terminal, JSON otherwise), `pretty` or `json` (`PURGER_LOG__FORMAT`).
    pub format: LogFormat,
    /// A tracing filter such as `info,engine=debug`; `RUST_LOG` wins when set.
    pub filter: Option<String>,
}

/// The shape of log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty when standard error is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: None,
            site_root: PathBuf::from("target/site"),
            log: LogConfig::default(),
            public_url: None,
            secure_cookies: None,
            server: ServerConfig::default(),
            api: ApiConfig::default(),
            workers: true,
            engine: EngineConfig::default(),
        }
    }
}

/// Settings of earlier releases and the names they go by now.
const RENAMED: [(&str, &str); 1] = [(
    "fanout.idle_connections_per_node",
    "fanout.connections_per_node (keep-alive connections per edge, each pipelining up to \
     fanout.pipeline_depth requests)",
)];

/// The configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Config {
    /// Loads defaults, then `file` (or `purger.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(file) => figment = figment.merge(Toml::file_exact(file)),
            None => figment = figment.merge(Toml::file("purger.toml")),
        }
        let figment = figment.merge(Env::prefixed("PURGER_").split("__")).merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| "database_url".into()),
        );
        // Settings that were renamed: refused by name rather than silently ignored.
        for (old, new) in RENAMED {
            if figment.find_value(old).is_ok() {
                let message = format!("{old} was renamed {new}");
                return Err(ConfigError(Box::new(figment::Error::from(message))));
            }
        }
        figment.extract().map_err(|e| ConfigError(Box::new(e)))
    }

    /// Whether session cookies are `Secure` (and `__Host-` prefixed).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| {
            self.public_url
                .as_deref()
                .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https://"))
        })
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.engine.data_dir.join("purger.db").display()
            )
        })
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail closures return figment::Error"
)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        figment::Jail::expect_with(|_jail| {
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
            assert_eq!(config.database_url(), "sqlite://data/purger.db");
            assert_eq!(config.engine.time_zone.as_str(), "+08:00");
            Ok(())
        });
    }

    #[test]
    fn a_renamed_setting_is_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PURGER_FANOUT__IDLE_CONNECTIONS_PER_NODE", "1");
            let error = Config::load(None).err().map(|e| e.to_string());
            let error = error.unwrap_or_default();
            assert!(
                error.contains(
                    "fanout.idle_connections_per_node was renamed fanout.connections_per_node"
                ),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "purger.toml",
                "addr = \"127.0.0.1:4000\"\n[log]\nformat = \"json\"",
            )?;
            jail.set_env("PURGER_ADDR", "127.0.0.1:5000");
            jail.set_env("DATABASE_URL", "sqlite://elsewhere.db");
            jail.set_env("PURGER_FANOUT__MAX_IN_FLIGHT", "7");
            jail.set_env("PURGER_FANOUT__PIPELINE_DEPTH", "4");
            jail.set_env("PURGER_TIME_ZONE", "Asia/Tokyo");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.addr.to_string(), "127.0.0.1:5000");
            assert_eq!(config.log.format, LogFormat::Json);
            assert_eq!(config.database_url(), "sqlite://elsewhere.db");
            assert_eq!(config.engine.fanout.max_in_flight, 7);
            assert_eq!(config.engine.fanout.pipeline_depth, 4);
            assert_eq!(config.engine.time_zone.as_str(), "Asia/Tokyo");
            Ok(())
        });
    }

    #[test]
    fn cookies_are_secure_by_default_behind_an_https_public_url() {
        let mut config = Config::default();
        assert!(!config.secure_cookies());
        config.public_url = Some("https://purger.example.com".into());
        assert!(config.secure_cookies());
        config.secure_cookies = Some(false);
        assert!(!config.secure_cookies(), "the setting wins");
        config.public_url = Some("http://10.0.0.5:3000".into());
        config.secure_cookies = None;
        assert!(!config.secure_cookies());
    }

    #[test]
    fn a_bad_value_is_a_clear_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PURGER_ADDR", "not an address");
            let error = Config::load(None).expect_err("must refuse");
            assert!(error.to_string().contains("addr"), "{error}");
            Ok(())
        });
    }
}
