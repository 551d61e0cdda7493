//! libotr 4.1.1 figures for `cargo xtask bench otr` (the anchor for candado-otr's): runs
//! `peer/otrbench.c`, built by `build.rs`, which prints one `BENCH name median_ms=…
//! min_ms=… runs=…` line per figure (the same names as `candado-otr`'s
//! `examples/otr_bench.rs`). Its stdout is passed through; it fails if libotr is missing or
//! a protocol run fails.
//!
//! `cargo run --profile bench-native -p candado-interop --example libotr_bench`

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let exe = env!("CANDADO_OTRBENCH");
    if exe.is_empty() {
        eprintln!("libotr_bench: {}", env!("CANDADO_OTRBENCH_ERROR"));
        return ExitCode::FAILURE;
    }
    match Command::new(exe).status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("libotr_bench: {exe} failed: {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("libotr_bench: cannot run {exe}: {e}");
            ExitCode::FAILURE
        }
    }
}
