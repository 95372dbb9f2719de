//! libFuzzer's entry for [`purger_fuzz::node_lines`], whose module documentation lists the
//! properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| purger_fuzz::node_lines::check(data));
