//! Purger's server: configuration, telemetry, the HTTP routes and the operator CLI.

pub mod cli;
pub mod client;
pub mod config;
pub mod middleware;
pub mod routes;
pub mod serve;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tools;
