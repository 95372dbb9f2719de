//! Replays every committed seed input (`fuzz/seeds/<target>/`) through its target's checks, so
//! the properties the fuzzers check hold in every test run, without libFuzzer.

use std::path::Path;

/// Every seed of `target`, as (file name, bytes); at least one.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).expect("a readable seed");
            (path.display().to_string(), bytes)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn replay(target: &str, check: fn(&[u8])) {
    for (name, bytes) in seeds(target) {
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "the seed {name} fails the {target} checks");
    }
}

#[test]
fn target_parser_seeds_hold_their_properties() {
    replay("targets", purger_fuzz::targets::check);
}

#[test]
fn seed004_auth_seeds_hold_their_properties() {
    replay("seed004_auth", purger_fuzz::seed004_auth::check);
}

#[test]
fn node_line_seeds_hold_their_properties() {
    replay("node_lines", purger_fuzz::node_lines::check);
}
