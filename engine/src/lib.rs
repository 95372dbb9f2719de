//! Purger's engine: the purge domain, its storage and the fan-out to edge caches.
//!
//! Nothing here knows about HTTP frameworks or Leptos; the server and the dashboard are thin
//! adapters over [`Engine`].

mod account_cache;
pub mod callback_target;
pub mod callbacks;
pub mod config;
pub mod cpu;
mod data_files;
pub mod error;
pub mod fanout;
pub mod fleet;
pub mod fleet_view;
pub mod ids;
pub mod key_scope;
mod key_uses;
pub mod keys;
pub mod passwords;
pub mod quota;
pub mod rate_limit;
pub mod report;
pub mod seed004;
pub mod sessions;
pub mod store;
pub mod submit;
pub mod target;
pub mod tasks;
pub mod time;
pub mod users;

mod engine;
pub mod health_keeper;
mod retention;

pub use config::EngineConfig;
pub use engine::{
    Actor, AuthFailure, DayOutcomes, Engine, NodeImport, QueueDepth, SignInFailure, Workers,
};
pub use error::EngineError;
