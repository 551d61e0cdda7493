//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`, see `fuzz/README.md`)
//! through the entry points the fuzz targets call, so every input libFuzzer kept is checked
//! again by an ordinary `cargo test`: none may panic (nor trip a debug assertion).
#![cfg(not(target_arch = "wasm32"))]

use std::panic::{catch_unwind, AssertUnwindSafe};

use candado_vault::fuzzing;

use candado_harness::fuzz_corpus as corpus;

/// Runs `entry` on every input of `target`; returns how many inputs it accepted.
fn replay(target: &str, entry: fn(&[u8]) -> bool) -> usize {
    let mut panicked = Vec::new();
    let mut accepted = 0;
    for (name, data) in corpus(target) {
        match catch_unwind(AssertUnwindSafe(|| entry(&data))) {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panicked.push(name),
        }
    }
    assert!(panicked.is_empty(), "inputs that panic: {panicked:?}");
    accepted
}

#[test]
fn every_entry_point_has_a_corpus() {
    assert_eq!(fuzzing::TARGETS, &["header", "record"]);
    for (target, entry) in [("vault_header", "header"), ("vault_record", "record")] {
        let (name, data) = corpus(target).remove(0);
        assert!(fuzzing::run(entry, &data), "{name}");
    }
}

#[test]
fn vault_header_corpus() {
    // Some inputs are valid headers, so the corpus reaches past the range checks.
    assert!(replay("vault_header", fuzzing::header) > 0);
}

#[test]
fn vault_record_corpus() {
    // Some inputs open, so the corpus reaches the decoding behind the tag.
    assert!(replay("vault_record", fuzzing::record) > 0);
}
