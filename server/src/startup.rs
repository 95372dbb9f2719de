//! Builds the application (engine, router, listener) and runs it until a shutdown signal.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use engine::{Engine, Workers};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tokio::net::TcpListener;

use axum::handler::Handler;
use axum::routing::any;

use crate::config::{Config, ServerConfig};
use crate::middleware;
use crate::routes;
use crate::state::AppState;
use engine::rate_limit::RateLimiter;

/// A bound, ready-to-run Purger server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    engine: Engine,
    workers: Workers,
    server: ServerConfig,
}

impl Application {
    /// Opens and migrates the database, builds the routes and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        routes::metrics::recorder();
        let database_url = config.database_url();
        let engine = Engine::open(&database_url, config.engine.clone())
            .await
            .with_context(|| {
                format!(
                    "opening the database {}",
                    engine::store::redact_password(&database_url)
                )
            })?;
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        let addr = listener.local_addr()?;
        let router = router(&config, addr, engine.clone())?;
        let workers = if config.workers {
            engine.start_workers()
        } else {
            engine.start_relay()
        };
        Ok(Self {
            listener,
            router,
            engine,
            workers,
            server: config.server,
        })
    }

    /// The address the server listens on (useful when the configured port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The engine behind this server.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then finishes the requests in flight and stops the
    /// workers (as `run_until_stopped` does on a signal).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(url = %format!("http://{}", self.local_addr()), "Purger is listening");
        crate::serve::serve(self.listener, self.router, &self.server, stop).await;
        self.workers.shutdown().await;
        Ok(())
    }
}

/// The whole HTTP surface: probes, APIs, the dashboard and its static files.
fn router(config: &Config, addr: SocketAddr, engine: Engine) -> anyhow::Result<Router> {
    let leptos_options = LeptosOptions::builder()
        .output_name("purger")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let state = AppState {
        engine: engine.clone(),
        leptos_options: leptos_options.clone(),
        rate_limiter: Arc::new(RateLimiter::new(config.api.rate_limit.clone())),
        api: Arc::new(config.api.clone()),
        cookies: app::api::context::CookiePolicy {
            secure: config.secure_cookies(),
        },
    };
    let cookies = state.cookies;
    let trusted = middleware::client_ip::TrustedProxies::parse(&config.api.trusted_proxies)
        .map_err(anyhow::Error::msg)?;
    let routes = generate_route_list(app::App);
    // Pages (and the fallback, which renders the not-found page) get the session's user before
    // they render.
    let page_user =
        axum::middleware::from_fn_with_state(state.clone(), middleware::page_user::page_user);
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(engine.clone());
                provide_context(cookies);
            },
            move || app::shell(leptos_options.clone()),
        )
        .layer(page_user.clone());
    let fallback = leptos_axum::file_and_error_handler::<AppState, _>(app::shell).layer(page_user);
    let router = Router::new()
        .merge(routes::health::router())
        .merge(routes::legacy_url::router())
        .merge(routes::legacy_regex::router())
        .merge(routes::legacy_doc::router())
        .merge(routes::v1::router())
        .merge(routes::metrics::router())
        .merge(routes::dashboard::router())
        .route("/api/{*rest}", any(routes::not_found))
        .merge(pages)
        .fallback(fallback)
        .with_state(state);
    Ok(middleware::apply(
        router,
        Arc::new(trusted),
        std::time::Duration::from_secs(config.server.request_timeout_secs.max(1)),
    ))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
