//! Purger's server: configuration, telemetry, the HTTP routes and the operator CLI.

pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod edge_sim;
pub mod load;
pub mod middleware;
pub mod routes;
pub mod serve;
pub mod sign_in_flood;
pub mod startup;
pub mod state;
pub mod telemetry;
