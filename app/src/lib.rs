//! Purger's dashboard: the HTML shell, the router and its pages, rendered on the server and
//! hydrated in the browser.

// Deeply nested views make deep types; the release WASM build needs more room.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod i18n;
pub mod models;
pub mod pages;
pub mod routes;

mod shell;

pub use shell::{shell, App};
