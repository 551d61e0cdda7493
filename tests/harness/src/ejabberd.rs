//! A private ejabberd (Debian's 23.01) for integration tests, started with `erl` directly.
//!
//! Nothing is shared with a system ejabberd: the config is rendered from
//! `tests/ejabberd/ejabberd.yml` into a private folder that also holds the Mnesia spool, the
//! logs and `HOME`. The Erlang node gets a unique name and a random cookie, and runs without
//! EPMD: its distribution port is a free loopback port (`-start_epmd false -erl_epmd_port`,
//! bound to 127.0.0.1), so no daemon outlives the test. Stopped by pid when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, stop_child, which, workspace_root};

static CTL_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Where Debian installs ejabberd's Erlang applications (`ERL_LIBS`, as `ejabberdctl` sets it).
const ERL_LIBS: &str = "/usr/lib/x86_64-linux-gnu";

/// A running private ejabberd. Stopped (by pid) when dropped.
#[derive(Debug)]
pub struct Ejabberd {
    child: Child,
    dir: PathBuf,
    node: String,
    cookie: String,
    /// The XMPP domain it serves.
    pub domain: String,
    /// The client-to-server TCP port.
    pub c2s_port: u16,
    /// The HTTP port that carries the WebSocket endpoint (`/ws`).
    pub http_port: u16,
    /// The Erlang distribution port (loopback only), used by [`Ejabberd::register`].
    pub dist_port: u16,
}

impl Ejabberd {
    /// The config template kept in the repository.
    pub fn template() -> PathBuf {
        workspace_root().join("tests/ejabberd/ejabberd.yml")
    }

    /// Starts ejabberd serving `domain` (and `conference.<domain>` for MUC), with its config,
    /// spool and logs in `dir` (created if needed). Returns once its WebSocket port accepts
    /// connections; fails with ejabberd's log if it exits or does not listen within 30 s.
    pub fn start(dir: &Path, domain: &str) -> Result<Ejabberd, String> {
        let erl = which("erl").ok_or_else(|| {
            "Erlang is not installed: install the `ejabberd` package (Debian: apt-get install ejabberd)"
                .to_string()
        })?;
        if !Path::new(ERL_LIBS).join("ejabberd-23.01").exists()
            && !has_ejabberd_app(Path::new(ERL_LIBS))
        {
            return Err(format!(
                "ejabberd is not installed under {ERL_LIBS}: install the `ejabberd` package"
            ));
        }
        let spool = dir.join("spool");
        let logs = dir.join("logs");
        for d in [&spool, &logs] {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let template = std::fs::read_to_string(Self::template())
            .map_err(|e| format!("cannot read {}: {e}", Self::template().display()))?;
        let [c2s_port, http_port, dist_port] = distinct_free_ports()?;
        let config_text = template
            .replace("@DOMAIN@", domain)
            .replace("@C2S_PORT@", &c2s_port.to_string())
            .replace("@HTTP_PORT@", &http_port.to_string());
        let config = dir.join("ejabberd.yml");
        std::fs::write(&config, config_text).map_err(|e| e.to_string())?;

        let node = format!(
            "candado-{}-{}@127.0.0.1",
            std::process::id(),
            dir.file_name()
                .map(|n| n
                    .to_string_lossy()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), ""))
                .unwrap_or_default()
        );
        let cookie = random_cookie()?;
        let out = std::fs::File::create(dir.join("stdout.log")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut command = erl_command(&erl, dir, &cookie, dist_port);
        command
            .env("EJABBERD_CONFIG_PATH", &config)
            .env("EJABBERD_LOG_PATH", logs.join("ejabberd.log"))
            .args(["-name", &node])
            // Distribution listens on loopback only.
            .args(["-kernel", "inet_dist_use_interface", "{127,0,0,1}"])
            .args(["+K", "true", "+P", "250000", "-noinput"])
            .args(["-mnesia", "dir", &format!("\"{}\"", spool.display())])
            .args(["-s", "ejabberd"])
            .stdout(out)
            .stderr(err);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start ejabberd ({}): {e}", erl.display()))?;
        let mut ejabberd = Ejabberd {
            child,
            dir: dir.to_path_buf(),
            node,
            cookie,
            domain: domain.to_string(),
            c2s_port,
            http_port,
            dist_port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if !ejabberd.is_running() {
                return Err(format!(
                    "ejabberd exited during start-up; its log:\n{}",
                    ejabberd.log()
                ));
            }
            if crate::wait_for_port(http_port, Duration::from_millis(200)) {
                break;
            }
            if Instant::now() > deadline {
                let log = ejabberd.log();
                ejabberd.stop();
                return Err(format!(
                    "ejabberd did not start listening within 30 s; its log:\n{log}"
                ));
            }
        }
        Ok(ejabberd)
    }

    /// The RFC 7395 WebSocket endpoint.
    pub fn websocket_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.http_port)
    }

    /// The process id (of `beam.smp`: `erl` execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The Erlang node name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Creates an account through `ejabberd_ctl` over the private Erlang distribution port
    /// (what `ejabberdctl register` does, without the system service's settings).
    pub fn register(&self, user: &str, password: &str) -> Result<(), String> {
        let erl = which("erl").ok_or("erl is not installed")?;
        // A short, unique name of letters, digits and dashes.
        let ctl_node = format!(
            "ctl-{}-{}@127.0.0.1",
            std::process::id(),
            CTL_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let output = erl_command(&erl, &self.dir, &self.cookie, self.dist_port)
            .args([
                "-name",
                &ctl_node,
                "-dist_listen",
                "false",
                "-hidden",
                "-noinput",
            ])
            .args(["-s", "ejabberd_ctl", "-extra", &self.node])
            .args(["register", user, &self.domain, password])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ejabberd_ctl register {user} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// ejabberd's logs so far (for failure messages).
    pub fn log(&self) -> String {
        ["logs/ejabberd.log", "logs/error.log", "stdout.log"]
            .iter()
            .filter_map(|name| std::fs::read_to_string(self.dir.join(name)).ok())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stops the server (SIGTERM to its pid, which makes the VM shut down cleanly; SIGKILL
    /// after 10 s).
    pub fn stop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(10));
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `erl` with a private environment: `HOME` and the working folder in `dir`, the cookie on
/// the command line, and no EPMD (the distribution port is fixed and on loopback).
fn erl_command(erl: &Path, dir: &Path, cookie: &str, dist_port: u16) -> Command {
    let mut command = Command::new(erl);
    command
        .current_dir(dir)
        .env("HOME", dir)
        .env("ERL_LIBS", ERL_LIBS)
        .env("ERL_EPMD_ADDRESS", "127.0.0.1")
        .env("ERL_CRASH_DUMP", dir.join("logs").join("erl_crash.dump"))
        .env("ERL_CRASH_DUMP_BYTES", "0")
        .args(["-setcookie", cookie])
        .args(["-start_epmd", "false"])
        .args(["-erl_epmd_port", &dist_port.to_string()])
        .stdin(Stdio::null());
    command
}

fn has_ejabberd_app(libs: &Path) -> bool {
    std::fs::read_dir(libs)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("ejabberd-"))
        })
        .unwrap_or(false)
}

fn distinct_free_ports() -> Result<[u16; 3], String> {
    let mut ports: Vec<u16> = Vec::new();
    while ports.len() < 3 {
        let p = free_port().map_err(|e| e.to_string())?;
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    Ok([ports[0], ports[1], ports[2]])
}

/// 128 random bits from the kernel, hex-encoded.
fn random_cookie() -> Result<String, String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_ejabberd_refuses_fails_loudly_with_the_log() {
        let dir = crate::fresh_dir("harness", "ejabberd-bad").unwrap();
        let err = Ejabberd::start(&dir, "not a domain!").unwrap_err();
        assert!(err.contains("ejabberd exited during start-up"), "{err}");
        // The log says why.
        assert!(err.contains("hosts"), "{err}");
    }

    #[test]
    fn starts_registers_and_stops_by_pid() {
        let dir = crate::fresh_dir("harness", "ejabberd").unwrap();
        let mut server = Ejabberd::start(&dir, "harness.test").unwrap();
        assert!(server.websocket_url().ends_with("/ws"));
        server.register("dave", "pw").unwrap();
        // Registering twice is refused by ejabberd, and reported.
        assert!(server.register("dave", "pw").is_err());
        let pid = server.pid();
        server.stop();
        assert!(!server.is_running());
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        assert!(!crate::wait_for_port(
            server.http_port,
            Duration::from_millis(200)
        ));
    }
}
