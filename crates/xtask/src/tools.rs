//! Installing what the project needs, only when the right version is missing.
//!
//! Everything comes from the package registries the project may use: Rust tools from crates.io
//! (`cargo install`), binaryen's `wasm-opt` from npm, servers and browsers from Debian's packages (only
//! when running as root; otherwise one sentence says what to install).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use candado_harness::{running_as_root, which, workspace_root};

/// The Trunk release known to work with this toolchain (0.22 needs a newer rustc).
pub const TRUNK_VERSION: &str = "0.21.14";
/// The binaryen release whose `wasm-opt` handles wasm-bindgen 0.2.130 output (Debian's 108 does not).
pub const BINARYEN_VERSION: &str = "132.0.0";

/// The Lighthouse release `cargo xtask bench lighthouse` runs (13.x needs Node 22.19; 12.x runs on
/// Debian 12's Node 18).
pub const LIGHTHOUSE_VERSION: &str = "12.8.2";

/// Debian packages `cargo xtask run` needs.
pub const RUN_PACKAGES: &[&str] = &["prosody"];
/// Debian packages `cargo xtask test` needs.
pub const TEST_PACKAGES: &[&str] = &[
    "chromium",
    "chromium-driver",
    "prosody",
    "ejabberd",
    "libotr5-dev",
];

/// `$CARGO` (the cargo that runs xtask), or `cargo`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `target/tools` in the workspace: where xtask keeps tools it installs itself.
pub fn tools_dir() -> PathBuf {
    candado_harness::target_dir().join("tools")
}

fn capture(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command, inheriting output; an error names it.
pub fn run_cmd(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("{cmd:?} failed: {status}"))
}

fn dpkg_installed(package: &str) -> bool {
    capture("dpkg-query", &["-W", "-f=${db:Status-Status}", package])
        .is_some_and(|s| s.trim() == "installed")
}

/// Installs the Debian packages that are missing (as root), or says what to install.
pub fn ensure_packages(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if which("apt-get").is_none() || !running_as_root() {
        return Err(format!(
            "missing system packages: install them with `sudo apt-get install {}` (Debian/Ubuntu) and run again",
            missing.join(" ")
        ));
    }
    eprintln!("xtask: installing {} with apt-get", missing.join(" "));
    static UPDATED: OnceLock<()> = OnceLock::new();
    if UPDATED.get().is_none() {
        run_cmd(Command::new("apt-get").args(["update", "-q"]))?;
        let _ = UPDATED.set(());
    }
    run_cmd(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// The `wasm-bindgen` version Cargo.lock pins.
pub fn locked_wasm_bindgen_version() -> Result<String, String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
            {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("Cargo.lock does not pin wasm-bindgen".into())
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

fn ensure_wasm_target() -> Result<(), String> {
    let Some(list) = capture("rustup", &["target", "list", "--installed"]) else {
        // No rustup: trust the toolchain; the build will say if the target is missing.
        return Ok(());
    };
    if list.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    run_cmd(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

fn ensure_trunk() -> Result<(), String> {
    let want = format!("trunk {TRUNK_VERSION}");
    if capture("trunk", &["--version"]).is_some_and(|v| v.trim() == want) {
        return Ok(());
    }
    eprintln!("xtask: installing trunk {TRUNK_VERSION} (about 10 minutes on 2 cores)");
    run_cmd(Command::new(cargo()).args([
        "install",
        "trunk",
        "--version",
        TRUNK_VERSION,
        "--locked",
    ]))
}

/// wasm-bindgen-cli must equal the wasm-bindgen in Cargo.lock. Its published lockfile names a webpki-roots
/// release the registry no longer has, so install from the unpacked crate with that one dependency moved.
fn ensure_wasm_bindgen() -> Result<(), String> {
    let version = locked_wasm_bindgen_version()?;
    let want = format!("wasm-bindgen {version}");
    let have = capture("wasm-bindgen", &["--version"]).is_some_and(|v| v.trim() == want)
        && capture("wasm-bindgen-test-runner", &["--version"])
            .is_some_and(|v| v.contains(&version));
    if have {
        return Ok(());
    }
    eprintln!("xtask: installing wasm-bindgen-cli {version}");
    let work = tools_dir().join(format!("wasm-bindgen-cli-{version}"));
    let fetcher = work.join("fetch");
    std::fs::create_dir_all(fetcher.join("src")).map_err(|e| e.to_string())?;
    std::fs::write(
        fetcher.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fetch-wasm-bindgen-cli\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\nwasm-bindgen-cli = \"={version}\"\n[workspace]\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(fetcher.join("src/main.rs"), "fn main() {}\n").map_err(|e| e.to_string())?;
    run_cmd(Command::new(cargo()).arg("fetch").current_dir(&fetcher))?;
    let crate_file = find_crate_file(&format!("wasm-bindgen-cli-{version}.crate"))
        .ok_or("wasm-bindgen-cli was fetched but its .crate file is not in the cargo cache")?;
    run_cmd(
        Command::new("tar")
            .arg("xzf")
            .arg(&crate_file)
            .arg("-C")
            .arg(&work),
    )?;
    let src = work.join(format!("wasm-bindgen-cli-{version}"));
    // The unpacked crate sits under our `target/`: give it a workspace of its own, or cargo takes it
    // for a stray member of ours and refuses to build it.
    let manifest = src.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
    if !text.lines().any(|l| l.trim() == "[workspace]") {
        std::fs::write(&manifest, format!("{text}\n[workspace]\n")).map_err(|e| e.to_string())?;
    }
    // Only needed while the published lockfile names a yanked/missing webpki-roots; harmless otherwise.
    let _ = Command::new(cargo())
        .args(["update", "-p", "webpki-roots", "--precise", "1.0.10"])
        .current_dir(&src)
        .status();
    run_cmd(
        Command::new(cargo())
            .args(["install", "--path", ".", "--locked"])
            .current_dir(&src),
    )
}

fn find_crate_file(name: &str) -> Option<PathBuf> {
    let cache = cargo_home().join("registry").join("cache");
    std::fs::read_dir(cache)
        .ok()?
        .filter_map(Result::ok)
        .map(|index| index.path().join(name))
        .find(|p| p.is_file())
}

/// Ensures binaryen's `wasm-opt` from npm; returns the folder holding it.
fn ensure_wasm_opt() -> Result<PathBuf, String> {
    let prefix = tools_dir().join("binaryen");
    let bin = prefix.join("node_modules").join(".bin");
    let major = BINARYEN_VERSION.split('.').next().unwrap_or_default();
    if capture(bin.join("wasm-opt"), &["--version"])
        .is_some_and(|v| v.contains(&format!("version {major}")))
    {
        return Ok(bin);
    }
    if which("npm").is_none() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    eprintln!("xtask: installing binaryen {BINARYEN_VERSION} (wasm-opt) from npm");
    std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
    run_cmd(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("binaryen@{BINARYEN_VERSION}")),
    )?;
    Ok(bin)
}

/// Ensures Lighthouse from npm (for `cargo xtask bench lighthouse`); returns its npm prefix (the CLI is
/// `node_modules/.bin/lighthouse` there).
pub fn ensure_lighthouse() -> Result<PathBuf, String> {
    let prefix = tools_dir().join("lighthouse");
    let cli = prefix.join("node_modules").join(".bin").join("lighthouse");
    if capture(&cli, &["--version"]).is_some_and(|v| v.trim() == LIGHTHOUSE_VERSION) {
        return Ok(prefix);
    }
    if which("npm").is_none() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    eprintln!("xtask: installing lighthouse {LIGHTHOUSE_VERSION} from npm");
    std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
    run_cmd(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("lighthouse@{LIGHTHOUSE_VERSION}")),
    )?;
    Ok(prefix)
}

/// Installs the build tools (wasm target, Trunk, wasm-bindgen-cli, wasm-opt) and downloads every crate, so
/// Trunk can build offline. Returns the `PATH` to build with.
pub fn ensure_build_tools() -> Result<OsString, String> {
    ensure_wasm_target()?;
    ensure_trunk()?;
    ensure_wasm_bindgen()?;
    let wasm_opt_dir = ensure_wasm_opt()?;
    run_cmd(
        Command::new(cargo())
            .arg("fetch")
            .current_dir(workspace_root()),
    )?;
    let mut paths = vec![wasm_opt_dir, cargo_home().join("bin")];
    if let Some(old) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(paths).map_err(|e| e.to_string())
}

/// Builds the app into `dist/` with Trunk.
pub fn trunk_build(path: &OsString, release: bool) -> Result<PathBuf, String> {
    let root = workspace_root();
    let mut cmd = Command::new("trunk");
    cmd.arg("build")
        .current_dir(&root)
        .env("PATH", path)
        .env("TRUNK_OFFLINE", "true");
    if release {
        cmd.arg("--release");
    }
    run_cmd(&mut cmd)?;
    Ok(root.join("dist"))
}
