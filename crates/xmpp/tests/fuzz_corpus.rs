//! Replays the committed fuzz corpus (`fuzz/corpus/xmpp_frames/`, see `fuzz/README.md`)
//! through the entry point the fuzz target calls, so every input libFuzzer kept is checked
//! again by an ordinary `cargo test`: none may panic (nor trip a debug assertion).
#![cfg(not(target_arch = "wasm32"))]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use candado_xmpp::fuzzing::{self, Stage, StageRun};

/// Every input of `fuzz/corpus/<target>`, sorted by name. Fails if there is none.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    files
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).unwrap();
            (path.display().to_string(), data)
        })
        .collect()
}

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
