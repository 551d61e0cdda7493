//! `cargo xtask test [PART…]`.

use std::process::{Command, ExitCode};

use candado_harness::workspace_root;

use crate::dist;
use crate::steps::Tally;
use crate::tools::{self, cargo};

/// The parts, in the order a full run takes them.
const PARTS: &[(&str, &str)] = &[
    (
        "lint",
        "cargo fmt --check; clippy -D warnings for the host and for wasm32",
    ),
    (
        "native",
        "every native test of the workspace but interop and e2e (includes otr, xmpp, vault)",
    ),
    ("otr", "candado-otr tests, native and in headless Chromium"),
    ("xmpp", "candado-xmpp tests"),
    (
        "vault",
        "candado-vault tests, native and in headless Chromium",
    ),
    (
        "web",
        "wasm-bindgen-test suites in headless Chromium; the shipped dist/ (PWA, CSP, offline, update, no-wasm, reproducible)",
    ),
    ("interop", "candado-otr against real libotr 4.1.1"),
    (
        "e2e",
        "the built app in headless Chromium against a real Prosody",
    ),
    (
        "hostile",
        "the built app against a real Prosody through a fault-injecting proxy (cuts, stalls, refused resumption, offline); storage at rest after a full journey",
    ),
];

/// What a full run does: the parts that are not subsets of another.
const FULL_RUN: &[&str] = &["lint", "native", "web", "interop", "e2e", "hostile"];

/// Crates that only exist natively (test tools); excluded from wasm32 checks.
const NATIVE_ONLY: &[&str] = &["xtask", "candado-harness", "candado-e2e", "candado-interop"];

/// Crates with `wasm-bindgen-test` suites that run in headless Chromium.
const BROWSER_SUITES: &[&str] = &["candado-ui", "candado-vault", "candado-otr"];

pub fn test(args: &[String]) -> ExitCode {
    let mut parts: Vec<&str> = Vec::new();
    for arg in args {
        match PARTS.iter().find(|(name, _)| name == arg) {
            Some((name, _)) => parts.push(name),
            None => {
                eprintln!("xtask: unknown test part {arg:?}; the parts are:");
                for (name, what) in PARTS {
                    eprintln!("  {name:<8} {what}");
                }
                return ExitCode::FAILURE;
            }
        }
    }
    if parts.is_empty() {
        parts = FULL_RUN.to_vec();
    }

    let mut tally = Tally::default();
    let needs_browser = parts
        .iter()
        .any(|p| matches!(*p, "web" | "vault" | "otr" | "e2e" | "hostile"));
    let needs_servers = parts
        .iter()
        .any(|p| matches!(*p, "xmpp" | "native" | "e2e" | "hostile"));
    let needs_libotr = parts.iter().any(|p| matches!(*p, "interop"));
    let mut packages: Vec<&str> = Vec::new();
    if needs_browser {
        packages.extend(["chromium", "chromium-driver"]);
    }
    if needs_servers {
        packages.extend(["prosody", "ejabberd"]);
    }
    if needs_libotr {
        packages.push("libotr5-dev");
    }
    if args.is_empty() {
        packages = tools::TEST_PACKAGES.to_vec();
    }
    if let Err(e) = tools::ensure_packages(&packages) {
        tally.record_failure("install test prerequisites", &e);
        return exit(tally);
    }
    let needs_wasm_tools = parts
        .iter()
        .any(|p| matches!(*p, "web" | "vault" | "otr" | "e2e" | "hostile" | "lint"));
    let path = if needs_wasm_tools {
        match tools::ensure_build_tools() {
            Ok(path) => Some(path),
            Err(e) => {
                tally.record_failure("install build tools", &e);
                return exit(tally);
            }
        }
    } else {
        None
    };

    // `dist/`, once built in this run.
    let mut dist_dir: Option<std::path::PathBuf> = None;
    for part in parts {
        match part {
            "lint" => lint(&mut tally),
            "native" => {
                let mut cmd = cargo_cmd(&["test", "--workspace"]);
                cmd.args(["--exclude", "candado-e2e", "--exclude", "candado-interop"]);
                tally.tests("native tests (workspace)", &mut cmd);
            }
            "otr" => {
                tally.tests(
                    "candado-otr",
                    &mut cargo_cmd(&["test", "-p", "candado-otr"]),
                );
                let mut cmd = browser_test_cmd(path.as_ref());
                cmd.args(["-p", "candado-otr"]);
                tally.tests("candado-otr in headless Chromium", &mut cmd);
            }
            "xmpp" => tally.tests(
                "candado-xmpp",
                &mut cargo_cmd(&["test", "-p", "candado-xmpp"]),
            ),
            "vault" => {
                tally.tests(
                    "candado-vault",
                    &mut cargo_cmd(&["test", "-p", "candado-vault"]),
                );
                let mut cmd = browser_test_cmd(path.as_ref());
                cmd.args(["-p", "candado-vault"]);
                tally.tests("candado-vault in headless Chromium", &mut cmd);
            }
            "web" => {
                for krate in BROWSER_SUITES {
                    let mut cmd = browser_test_cmd(path.as_ref());
                    cmd.args(["-p", krate]);
                    tally.tests(&format!("{krate} in headless Chromium"), &mut cmd);
                }
                web_dist(&mut tally, path.as_ref(), &mut dist_dir);
            }
            "interop" => tally.tests(
                "interop with libotr",
                &mut cargo_cmd(&["test", "-p", "candado-interop"]),
            ),
            "e2e" => e2e(&mut tally, path.as_ref(), &mut dist_dir, Suites::Journeys),
            "hostile" => e2e(&mut tally, path.as_ref(), &mut dist_dir, Suites::Hostile),
            _ => {}
        }
    }
    exit(tally)
}

fn exit(tally: Tally) -> ExitCode {
    if tally.finish() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn cargo_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.args(args).current_dir(workspace_root());
    cmd
}

fn lint(tally: &mut Tally) {
    tally.check(
        "cargo fmt --check",
        &mut cargo_cmd(&["fmt", "--all", "--check"]),
    );
    tally.check(
        "clippy (host)",
        &mut cargo_cmd(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    );
    let mut wasm = cargo_cmd(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    for krate in NATIVE_ONLY {
        wasm.args(["--exclude", krate]);
    }
    wasm.args(["--", "-D", "warnings"]);
    tally.check("clippy (wasm32)", &mut wasm);
}

/// `cargo test --target wasm32-unknown-unknown` with wasm-bindgen-test-runner driving headless Chromium.
pub fn browser_test_cmd(path: Option<&std::ffi::OsString>) -> Command {
    let mut cmd = cargo_cmd(&["test", "--target", "wasm32-unknown-unknown"]);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env(
            "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
            workspace_root().join("web/webdriver.json"),
        )
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120");
    cmd
}

/// The e2e suite file that belongs to the `web` part (the shipped files as a browser meets them).
const PWA_SUITE: &str = "pwa";

/// The e2e suite files of the `hostile` part (issue #9: network faults, and what the browser keeps
/// at rest); every other one but [`PWA_SUITE`] is a journey of the `e2e` part.
const HOSTILE_SUITES: &[&str] = &["hostile", "at_rest"];

/// Which e2e suite files a part runs.
#[derive(Clone, Copy)]
enum Suites {
    Journeys,
    Hostile,
}

fn e2e(
    tally: &mut Tally,
    path: Option<&std::ffi::OsString>,
    built: &mut Option<std::path::PathBuf>,
    which: Suites,
) {
    let name = match which {
        Suites::Journeys => "end-to-end (Chromium + Prosody)",
        Suites::Hostile => "hostile network (Chromium + fault-injecting proxy + Prosody)",
    };
    let Some(path) = path else {
        tally.record_failure(name, "build tools are missing");
        return;
    };
    let dist = match built {
        Some(dist) => dist.clone(),
        None => match dist::build(path, &workspace_root().join("dist")) {
            Ok(dist) => built.insert(dist).clone(),
            Err(e) => return tally.record_failure("build dist/ (cargo xtask dist)", &e),
        },
    };
    let suites = match e2e_suites() {
        Ok(suites) => suites,
        Err(e) => return tally.record_failure("list the e2e suites", &e),
    };
    let mut cmd = cargo_cmd(&["test", "-p", "candado-e2e"]);
    let hostile = |s: &str| HOSTILE_SUITES.contains(&s);
    for suite in suites.iter().filter(|s| *s != PWA_SUITE) {
        if hostile(suite) == matches!(which, Suites::Hostile) {
            cmd.args(["--test", suite]);
        }
    }
    cmd.args(["--", "--test-threads=2"]);
    if matches!(which, Suites::Hostile) {
        // Their figures (cuts, reconnections, times) are part of the report.
        cmd.arg("--nocapture");
    }
    cmd.env("CANDADO_DIST", dist);
    tally.tests(name, &mut cmd);
}

/// The test files of `tests/e2e/tests/`, by name.
fn e2e_suites() -> Result<Vec<String>, String> {
    let dir = workspace_root().join("tests/e2e/tests");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The `web` part's checks of what ships: the PWA suite against `cargo xtask dist`'s output, then the
/// reproducibility check (our crates compiled a second time from source give the same `SHA256SUMS`).
fn web_dist(
    tally: &mut Tally,
    path: Option<&std::ffi::OsString>,
    built: &mut Option<std::path::PathBuf>,
) {
    let Some(path) = path else {
        tally.record_failure("web: dist", "build tools are missing");
        return;
    };
    let dist = match dist::build(path, &workspace_root().join("dist")) {
        Ok(dist) => {
            *built = Some(dist.clone());
            let mut cmd = cargo_cmd(&[
                "test",
                "-p",
                "candado-e2e",
                "--test",
                PWA_SUITE,
                "--",
                "--test-threads=2",
            ]);
            cmd.env("CANDADO_DIST", &dist);
            tally.tests("installable PWA under the documented headers", &mut cmd);
            dist
        }
        Err(e) => return tally.record_failure("build dist/ (cargo xtask dist)", &e),
    };
    eprintln!("\n==> reproducible dist/ (our crates compiled twice)");
    let start = std::time::Instant::now();
    match dist::check_reproducible(path, &dist) {
        Ok(files) => {
            eprintln!("xtask: {files} files identical in both builds");
            tally.steps.push(crate::steps::StepResult {
                name: "reproducible dist/".into(),
                passed: 1,
                failed: 0,
                ok: true,
                elapsed: start.elapsed(),
            });
        }
        Err(e) => tally.record_failure("reproducible dist/", &e),
    }
}
