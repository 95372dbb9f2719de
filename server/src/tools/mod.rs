//! Tools beside the product, each a `purger` subcommand: the demo (users, a domain and a
//! simulated fleet), the edge simulator, the bench, the load generator and the sign-in flood.
//! Nothing in the serving path depends on them.

pub mod bench;
pub mod demo;
pub mod edge_sim;
pub mod load;
pub mod sign_in_flood;
