//! The fuzz targets' property checks, one module per target. libFuzzer drives them through
//! `fuzz_targets/` (`scripts/fuzz.sh`); `tests/seeds.rs` replays the committed seed inputs through
//! the same checks in every test run.

pub mod node_lines;
pub mod seed004_auth;
pub mod targets;
