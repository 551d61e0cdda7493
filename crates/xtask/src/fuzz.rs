//! `cargo xtask fuzz [--minutes N] [TARGET…]`: runs the libFuzzer targets in `fuzz/` (all of them, or the
//! named ones) for N minutes each (10 by default), growing the committed corpus in `fuzz/corpus/<target>`,
//! and prints one line per target: executions, executions per second, corpus size before and after, and
//! crashes. Not part of `cargo xtask test` (it takes an hour); the corpus it grows is replayed by every
//! `cargo test` through each crate's `tests/fuzz_corpus.rs`.
//!
//! Needs the nightly toolchain (libFuzzer's sanitizer flags) and cargo-fuzz, which it installs when
//! missing. A crash leaves its input in `fuzz/artifacts/<target>/` and makes the command fail.

use std::path::Path;
use std::process::Command;

use candado_harness::workspace_root;

use crate::tools::run_cmd;

const DEFAULT_MINUTES: u64 = 10;

/// One target's run.
struct Outcome {
    target: String,
    seconds: u64,
    executions: Option<u64>,
    per_second: Option<u64>,
    corpus_before: usize,
    corpus_after: usize,
    crashes: Vec<String>,
    /// Inputs libFuzzer reported as slow (over 10 s for one run; `slow-unit-*`): kept for a look,
    /// not failures.
    slow: Vec<String>,
}

pub fn fuzz(args: &[String]) -> Result<(), String> {
    let mut minutes = DEFAULT_MINUTES;
    let mut wanted = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--minutes" => {
                minutes = rest
                    .next()
                    .and_then(|m| m.parse().ok())
                    .filter(|m| *m > 0)
                    .ok_or("--minutes needs a whole number above 0")?;
            }
            name => wanted.push(name.to_owned()),
        }
    }
    let fuzz_dir = workspace_root().join("fuzz");
    let all = targets(&fuzz_dir)?;
    for name in &wanted {
        if !all.contains(name) {
            return Err(format!("no fuzz target {name:?}; the targets are {all:?}"));
        }
    }
    let targets = if wanted.is_empty() { all } else { wanted };

    ensure_tools()?;
    let target_dir = workspace_root().join("target/fuzz");
    let mut build = Command::new("cargo");
    build
        .args(["+nightly", "fuzz", "build"])
        .current_dir(&fuzz_dir)
        .env("CARGO_TARGET_DIR", &target_dir);
    run_cmd(&mut build)?;

    let mut outcomes = Vec::new();
    for target in &targets {
        println!("\n==> fuzz {target} for {minutes} min");
        outcomes.push(run_one(&fuzz_dir, &target_dir, target, minutes * 60)?);
    }

    println!(
        "\n{:<16} {:>8} {:>14} {:>10} {:>16} {:>8} {:>6}",
        "target", "seconds", "executions", "exec/s", "corpus", "crashes", "slow"
    );
    let mut crashed = Vec::new();
    for o in &outcomes {
        let show = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
        println!(
            "{:<16} {:>8} {:>14} {:>10} {:>16} {:>8} {:>6}",
            o.target,
            o.seconds,
            show(o.executions),
            show(o.per_second),
            format!("{} -> {}", o.corpus_before, o.corpus_after),
            o.crashes.len(),
            o.slow.len()
        );
        crashed.extend(o.crashes.iter().cloned());
        for input in &o.slow {
            println!("xtask: slow input (over 10 s in one run, not a failure): {input}");
        }
    }
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!("crashes (inputs kept): {}", crashed.join(", ")))
    }
}

/// The targets: one file each in `fuzz/fuzz_targets/`.
fn targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Nightly and cargo-fuzz, installed when missing.
fn ensure_tools() -> Result<(), String> {
    let has_nightly = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nightly {
        println!("xtask: installing the nightly toolchain (libFuzzer needs it)");
        run_cmd(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    let has_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        println!("xtask: installing cargo-fuzz");
        run_cmd(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn run_one(
    fuzz_dir: &Path,
    target_dir: &Path,
    target: &str,
    seconds: u64,
) -> Result<Outcome, String> {
    let corpus = fuzz_dir.join("corpus").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let corpus_before = files_in(&corpus).len();
    let artifacts_before = files_in(&artifacts);
    let output = Command::new("cargo")
        .args(["+nightly", "fuzz", "run", target])
        .arg(&corpus)
        .args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
            // Inputs above this are not what a peer or a server can hand us in one go.
            "-max_len=65536",
        ])
        .current_dir(fuzz_dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .map_err(|e| format!("cargo fuzz run {target}: {e}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let stat = |name: &str| {
        log.lines()
            .filter_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .filter_map(|v| v.trim().parse().ok())
            .next_back()
    };
    let (slow, crashes): (Vec<String>, Vec<String>) = files_in(&artifacts)
        .into_iter()
        .filter(|f| !artifacts_before.contains(f))
        .map(|f| format!("fuzz/artifacts/{target}/{f}"))
        .partition(|f| {
            f.rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with("slow-unit-"))
        });
    if !output.status.success() && crashes.is_empty() {
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        return Err(format!(
            "cargo fuzz run {target} failed without leaving an input:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(Outcome {
        target: target.to_owned(),
        seconds,
        executions: stat("number_of_executed_units"),
        per_second: stat("average_exec_per_sec"),
        corpus_before,
        corpus_after: files_in(&corpus).len(),
        crashes,
        slow,
    })
}
