//! Replays the committed fuzz corpus (`fuzz/corpus/xmpp_frames/`, see `fuzz/README.md`)
//! through the entry point the fuzz target calls, so every input libFuzzer kept is checked
//! again by an ordinary `cargo test`: none may panic (nor trip a debug assertion).
#![cfg(not(target_arch = "wasm32"))]

use std::panic::{catch_unwind, AssertUnwindSafe};

use candado_xmpp::fuzzing::{self, Stage, StageRun};

use candado_harness::fuzz_corpus as corpus;

#[test]
fn xmpp_frames_corpus() {
    assert_eq!(fuzzing::TARGETS, &["frames"]);
    let mut panicked = Vec::new();
    let mut runs: Vec<StageRun> = Vec::new();
    for (name, data) in corpus("xmpp_frames") {
        match catch_unwind(AssertUnwindSafe(|| fuzzing::frames(&data))) {
            Ok(run) => runs.extend(run),
            Err(_) => panicked.push(name),
        }
    }
    assert!(panicked.is_empty(), "inputs that panic: {panicked:?}");
    assert!(runs.iter().all(|r| r.reached), "every stage is reached");
    // Every stage gets inputs.
    for stage in fuzzing::STAGES {
        assert!(
            runs.iter().any(|r| r.stage == *stage),
            "no input for {stage:?}"
        );
    }
    // The corpus goes beyond frames that end the session at once: in some inputs an
    // online session handles stanzas and stays up.
    assert!(runs
        .iter()
        .any(|r| r.stage == Stage::Online && !r.closed && r.events > 0));
}
