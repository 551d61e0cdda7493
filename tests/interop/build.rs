//! Compiles the libotr peer (`peer/otrpeer.c`, linked with `-lotr`) and the libotr
//! benchmark (`peer/otrbench.c`, linked with `-lotr -lgcrypt`) into executables in
//! `OUT_DIR` and tells the crate where they are through `CANDADO_OTRPEER` and
//! `CANDADO_OTRBENCH`.
//!
//! If libotr (Debian `libotr5-dev`) is missing, the build still succeeds but the tests
//! get `CANDADO_OTRPEER_ERROR` (and the benchmark `CANDADO_OTRBENCH_ERROR`) instead and
//! fail with a message saying what to install: interop tests never skip silently.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=peer/otrpeer.c");
    println!("cargo:rerun-if-changed=peer/otrbench.c");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    // Re-check once libotr gets installed (a missing path makes cargo rerun every build).
    println!("cargo:rerun-if-changed=/usr/include/libotr/proto.h");

    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("wasm32") {
        // The harness is native only; nothing to build.
        for var in ["CANDADO_OTRPEER", "CANDADO_OTRBENCH"] {
            println!("cargo:rustc-env={var}=");
            println!(
                "cargo:rustc-env={var}_ERROR=the libotr interop harness runs on the host only"
            );
        }
        return;
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    build("CANDADO_OTRPEER", &out_dir, "otrpeer", &["-lotr"]);
    build(
        "CANDADO_OTRBENCH",
        &out_dir,
        "otrbench",
        &["-lotr", "-lgcrypt"],
    );
}

/// Compiles `peer/{name}.c` into `{out_dir}/{name}` and sets `{var}` (its path) and
/// `{var}_ERROR` (empty, or why it could not be built).
fn build(var: &str, out_dir: &std::path::Path, name: &str, libs: &[&str]) {
    let exe = out_dir.join(name);
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .cargo_warnings(false)
        .opt_level(2)
        .get_compiler();
    let mut cmd: Command = compiler.to_command();
    cmd.args(["-std=gnu99", "-Wall", "-Wextra", "-o"])
        .arg(&exe)
        .arg(format!("peer/{name}.c"))
        .args(libs);
    let result = cmd.output();
    match result {
        Ok(out) if out.status.success() => {
            println!("cargo:rustc-env={var}={}", exe.display());
            println!("cargo:rustc-env={var}_ERROR=");
        }
        other => {
            let detail = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" | "),
                Err(e) => format!("could not run the C compiler: {e}"),
            };
            println!(
                "cargo:warning=libotr {name} not built (install libotr5-dev and libgcrypt20-dev): {detail}"
            );
            println!("cargo:rustc-env={var}=");
            println!(
                "cargo:rustc-env={var}_ERROR=could not build peer/{name}.c; install libotr5-dev and libgcrypt20-dev (apt-get install libotr5-dev libgcrypt20-dev) and a C compiler. Compiler said: {}",
                detail.replace(['\n', '\r'], " ")
            );
        }
    }
}
