//! Server functions, grouped by resource; each is a thin adapter over the engine.

#[expect(
    missing_docs,
    reason = "#[server] makes argument structs whose fields take no docs"
)]
pub mod admin;
#[expect(
    missing_docs,
    reason = "#[server] makes argument structs whose fields take no docs"
)]
pub mod auth;
pub mod charts;
pub mod error;
#[expect(
    missing_docs,
    reason = "#[server] makes argument structs whose fields take no docs"
)]
pub mod fleet;
#[expect(
    missing_docs,
    reason = "#[server] makes argument structs whose fields take no docs"
)]
pub mod keys;
#[expect(
    missing_docs,
    reason = "#[server] makes argument structs whose fields take no docs"
)]
pub mod purges;
#[expect(
    missing_docs,
    reason = "#[server] makes argument structs whose fields take no docs"
)]
pub mod tasks;

#[cfg(feature = "ssr")]
pub mod context;
