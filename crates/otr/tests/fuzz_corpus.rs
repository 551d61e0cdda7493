//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`, see `fuzz/README.md`)
//! through the entry points the fuzz targets call, so every input libFuzzer kept is checked
//! again by an ordinary `cargo test`: none may panic (nor trip a debug assertion).
#![cfg(not(target_arch = "wasm32"))]

use std::panic::{catch_unwind, AssertUnwindSafe};

use candado_otr::fuzzing;

use candado_harness::fuzz_corpus as corpus;

/// Runs `entry` on every input of `target`; returns how many inputs `pick` liked.
fn replay<T>(target: &str, entry: impl Fn(&[u8]) -> T, pick: impl Fn(&T) -> bool) -> usize {
    let mut panicked = Vec::new();
    let mut picked = 0;
    for (name, data) in corpus(target) {
        match catch_unwind(AssertUnwindSafe(|| entry(&data))) {
            Ok(out) => picked += usize::from(pick(&out)),
            Err(_) => panicked.push(name),
        }
    }
    assert!(panicked.is_empty(), "inputs that panic: {panicked:?}");
    picked
}

/// Fuzz target (directory) → entry point. Every entry point has a target.
const TARGETS: &[(&str, &str)] = &[
    ("otr_wire", "decode_wire"),
    ("otr_fragments", "reassemble"),
    ("otr_session", "established_session"),
    ("otr_smp", "smp_tlvs"),
];

#[test]
fn every_entry_point_has_a_corpus() {
    let mut entries: Vec<&str> = TARGETS.iter().map(|(_, e)| *e).collect();
    entries.sort_unstable();
    let mut known = fuzzing::TARGETS.to_vec();
    known.sort_unstable();
    assert_eq!(entries, known);
    for (target, entry) in TARGETS {
        for (name, data) in corpus(target).into_iter().take(1) {
            assert!(fuzzing::run(entry, &data), "{name}");
        }
    }
}

#[test]
fn otr_wire_corpus() {
    // Some inputs are whole binary messages, not only noise.
    assert!(replay("otr_wire", fuzzing::decode_wire, |ok| *ok) > 0);
}

#[test]
fn otr_fragments_corpus() {
    // Some inputs reassemble into a complete message.
    assert!(replay("otr_fragments", fuzzing::reassemble, |n| *n > 0) > 0);
}

#[test]
fn otr_session_corpus() {
    // Some inputs leave the session encrypted.
    assert!(replay("otr_session", fuzzing::established_session, |ok| *ok) > 0);
}

#[test]
fn otr_smp_corpus() {
    // Some inputs carry TLVs.
    assert!(replay("otr_smp", fuzzing::smp_tlvs, |n| *n > 0) > 0);
}
