//! `purger serve --demo`: demo users, a demo domain and a simulated fleet of 50 edges (a few of
//! them failing), so that a newcomer can purge and watch a realistic fan-out at once.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use engine::fleet::Protocol;
use engine::users::Role;
use engine::{Actor, Engine};
use rand::distributions::{Alphanumeric, DistString};

use crate::tools::edge_sim::{self, EdgeSim, EdgeSimConfig};

/// The demo developer.
pub const DEMO_USER: &str = "demo";
/// The demo admin.
pub const DEMO_ADMIN: &str = "admin";
/// The demo domain.
pub const DEMO_DOMAIN: &str = "www.example.com";
/// The demo edge group.
pub const DEMO_GROUP: &str = "demo-edges";

/// Creates what is missing of the demo and starts its simulated edges (kept while the returned
/// fleet lives). Edges listen on `edge_port`, `edge_port + 1`, … so that restarts find them again.
pub async fn prepare(engine: &Engine, site: SocketAddr, edge_port: u16) -> anyhow::Result<EdgeSim> {
    let fleet = edge_sim::start(&EdgeSimConfig {
        nodes: 50,
        base_port: edge_port,
        latency_ms: 3,
        refusing: 2,
        silent: 1,
        failing: 2,
        ..EdgeSimConfig::default()
    })
    .await
    .with_context(|| format!("starting the demo edges on 127.0.0.1:{edge_port}…"))?;

    let actor = Actor::cli();
    let mut lines = vec![format!("Purger demo: open http://{site}/")];
    if engine.user_by_name(DEMO_ADMIN).await?.is_none() {
        let password =
            std::env::var("PURGER_DEMO_ADMIN_PASSWORD").unwrap_or_else(|_| random_password());
        engine
            .create_user(&actor, DEMO_ADMIN, Role::Admin, Some(&password))
            .await?;
        lines.push(format!(
            "  admin:     user {DEMO_ADMIN:<8} password {password}   (shown once)"
        ));
    } else {
        lines.push(format!(
            "  admin:     user {DEMO_ADMIN:<8} (password shown at the first start)"
        ));
    }
    let developer = match engine.user_by_name(DEMO_USER).await? {
        Some(user) => {
            lines.push(format!(
                "  developer: user {DEMO_USER:<8} (password and API key shown at the first start)"
            ));
            user
        }
        None => {
            let password =
                std::env::var("PURGER_DEMO_PASSWORD").unwrap_or_else(|_| random_password());
            let user = engine
                .create_user(&actor, DEMO_USER, Role::Developer, Some(&password))
                .await?;
            let (_, key) = engine.create_key(&actor, user.id, "demo").await?;
            lines.push(format!(
                "  developer: user {DEMO_USER:<8} password {password}   (shown once)"
            ));
            lines.push(format!(
                "  API key of {DEMO_USER}: {}   (shown once)",
                key.expose()
            ));
            lines.push(format!(
                "  try: curl 'http://{site}/api/purge?uri=http://{DEMO_DOMAIN}/hello.gif&api_key={}'",
                key.expose()
            ));
            lines.push(format!(
                "       curl 'http://{site}/api/q?uri=http://{DEMO_DOMAIN}/hello.gif&api_key={}'",
                key.expose()
            ));
            user
        }
    };
    if engine.group_id(DEMO_GROUP).await?.is_none() {
        engine
            .upsert_group(&actor, DEMO_GROUP, Protocol::Varnish)
            .await?;
    }
    engine
        .import_nodes(&actor, DEMO_GROUP, &fleet.csv())
        .await?;
    engine
        .add_domain(
            &actor,
            DEMO_DOMAIN,
            &[developer.username],
            &[DEMO_GROUP.to_owned()],
        )
        .await?;
    lines.push(format!(
        "  fleet:     {} simulated edges on 127.0.0.1:{edge_port}-{} (2 refuse, 1 never answers, 2 answer 503)",
        fleet.nodes.len(),
        edge_port as usize + fleet.nodes.len() - 1
    ));
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", lines.join("\n"))?;
    Ok(fleet)
}

fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 16)
}
