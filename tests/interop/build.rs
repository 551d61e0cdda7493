//! Compiles the libotr peer (`peer/otrpeer.c`, linked with `-lotr`) into an executable in
//! `OUT_DIR` and tells the tests where it is through `CANDADO_OTRPEER`.
//!
//! If libotr (Debian `libotr5-dev`) is missing, the build still succeeds but the tests
//! get `CANDADO_OTRPEER_ERROR` instead and fail with a message saying what to install:
//! interop tests never skip silently.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=peer/otrpeer.c");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    // Re-check once libotr gets installed (a missing path makes cargo rerun every build).
    println!("cargo:rerun-if-changed=/usr/include/libotr/proto.h");

    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("wasm32") {
        // The harness is native only; nothing to build.
        println!("cargo:rustc-env=CANDADO_OTRPEER=");
        println!("cargo:rustc-env=CANDADO_OTRPEER_ERROR=the libotr interop harness runs on the host only");
        return;
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let exe = out_dir.join("otrpeer");
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .cargo_warnings(false)
        .opt_level(2)
        .get_compiler();
    let mut cmd: Command = compiler.to_command();
    cmd.args(["-std=gnu99", "-Wall", "-Wextra", "-o"])
        .arg(&exe)
        .arg("peer/otrpeer.c")
        .arg("-lotr");
    let result = cmd.output();
    match result {
        Ok(out) if out.status.success() => {
            println!("cargo:rustc-env=CANDADO_OTRPEER={}", exe.display());
            println!("cargo:rustc-env=CANDADO_OTRPEER_ERROR=");
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
            println!("cargo:warning=libotr peer not built (install libotr5-dev): {detail}");
            println!("cargo:rustc-env=CANDADO_OTRPEER=");
            println!(
                "cargo:rustc-env=CANDADO_OTRPEER_ERROR=could not build the libotr peer; install libotr5-dev (apt-get install libotr5-dev) and a C compiler. Compiler said: {}",
                detail.replace(['\n', '\r'], " ")
            );
        }
    }
}
