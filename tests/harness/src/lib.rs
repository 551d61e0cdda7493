//! Test and demo harness for Candado: real parts started on loopback, stopped by pid.
//!
//! - [`Prosody`]: a private Prosody from `tests/prosody/prosody.cfg.lua`, on free ports, with its data in a
//!   folder of its own; stopped when dropped.
//! - [`StaticServer`]: serves a folder (the built `dist/`) over HTTP on 127.0.0.1, with extra files
//!   (`config.json`) and headers.
//! - [`Chromium`]: headless Chromium driven through chromedriver (WebDriver), with a fresh profile.
//!
//! Used by `cargo xtask run` and by the end-to-end and integration suites.

mod browser;
mod ejabberd;
mod prosody;
mod static_server;
mod ws_proxy;

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use browser::{Chromium, WorkerMemory};
pub use ejabberd::Ejabberd;
pub use prosody::{which, Prosody};
pub use static_server::StaticServer;
pub use ws_proxy::{Cut, Way, WsProxy};

/// The workspace root (the folder with the top-level `Cargo.toml`).
///
/// Found at run time from `CARGO_MANIFEST_DIR` (cargo sets it for `cargo run` and `cargo test`), walking up
/// to the `Cargo.toml` that declares `[workspace]`; the path this crate was compiled at is only the
/// fallback, since a build can be reused from another checkout.
pub fn workspace_root() -> PathBuf {
    let compiled = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| compiled.clone());
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            compiled
                .parent()
                .and_then(|p| p.parent())
                .map(PathBuf::from)
                .unwrap_or(compiled)
        })
}

/// The cargo target folder: `$CARGO_TARGET_DIR`, or `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Every input of the committed fuzz corpus `fuzz/corpus/<target>/`, sorted by name, as (path, bytes).
/// Panics (failing the replay test) when the folder is missing or empty.
pub fn fuzz_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = workspace_root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    files
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), data)
        })
        .collect()
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`, or `timeout` passes.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// True when this process runs as root (some servers need to be told so).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// A fresh, empty folder under `target/<area>/` named after `label` and this process.
pub fn fresh_dir(area: &str, label: &str) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = target_dir()
        .join(area)
        .join(format!("{label}-{}-{n}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Sends SIGTERM to `child` and waits up to `grace` for it to exit, then SIGKILL.
pub(crate) fn stop_child(child: &mut std::process::Child, grace: Duration) {
    stop(child, grace, false)
}

/// Like [`stop_child`], for a child started as the leader of its own process group
/// (`process_group(0)`): the signals go to the whole group, so its own children stop too.
pub(crate) fn stop_group(child: &mut std::process::Child, grace: Duration) {
    stop(child, grace, true)
}

fn stop(child: &mut std::process::Child, grace: Duration, group: bool) {
    let target = if group {
        format!("-{}", child.id())
    } else {
        child.id().to_string()
    };
    let signal = |sig: &str| {
        let _ = std::process::Command::new("kill")
            .args([sig, "--", &target])
            .stderr(std::process::Stdio::null())
            .status();
    };
    if matches!(child.try_wait(), Ok(Some(_))) {
        if group {
            // The leader is gone; make sure nothing it started lingers.
            signal("-KILL");
        }
        return;
    }
    signal("-TERM");
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal("-KILL");
    let _ = child.kill();
    let _ = child.wait();
}
