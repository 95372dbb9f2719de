//! The server's integration tests, in one binary: the seed APIs and v1 black-box through
//! `spawn_app()`, the dashboard's sessions and sign-in, hardening and hostile input, metrics,
//! the operator CLI, and real `purger` processes (crashes, scale-out on PostgreSQL, secrets).
//! Files read at run time stay beside this folder: `tests/golden/` and `tests/fixtures/`.

mod processes;
mod support;

// Throwaway PostgreSQL databases, shared with the engine's tests.
#[path = "../../../engine/tests/engine/support/postgres.rs"]
mod postgres;

mod cli;
mod client;
mod crash_restart;
mod dashboard_session;
mod database_faults;
mod hardening;
mod hostile_input;
mod languages;
mod metrics;
mod pages;
mod scale_out;
mod scoped_keys;
mod secrets;
mod seed000;
mod seed004;
mod self_lockout;
mod sign_in;
mod v1;
mod v1_admin;
mod warming;
