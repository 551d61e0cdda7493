//! End-to-end suites for Candado: the release build served on loopback, driven in headless Chromium, talking
//! to a real Prosody. Run them with `cargo xtask test e2e`, which builds `dist/` first.
//!
//! Each step saves a screenshot under `target/e2e/` so a reviewer can see the screens.

use std::path::PathBuf;

/// The built app: `$CANDADO_DIST`, or `dist/` in the workspace. Fails (does not skip) when it is missing.
pub fn dist_dir() -> PathBuf {
    let dir = std::env::var_os("CANDADO_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| candado_harness::workspace_root().join("dist"));
    assert!(
        dir.join("index.html").is_file(),
        "the built app is missing at {}: run `cargo xtask test e2e`, which builds it with Trunk",
        dir.display()
    );
    dir
}
