//! The engine's integration tests, in one binary: the fan-out, edges that fail in every way,
//! several instances on one database, real Varnish and nginx, and submissions. The store contract
//! tests run on both stores (`on_both_stores!`).

mod support;

mod account_cache;
mod fanout;
mod faults;
mod group_commit;
mod instances;
mod key_scopes;
mod limits;
mod node_health;
mod preferences;
mod real_edges;
mod submissions;
mod task_results;
mod upgrade;
mod warming;
