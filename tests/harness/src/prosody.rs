//! A private Prosody on loopback.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, running_as_root, stop_child, wait_for_port, workspace_root};

/// A running private Prosody. Stopped (by pid) when dropped.
#[derive(Debug)]
pub struct Prosody {
    child: Child,
    dir: PathBuf,
    config: PathBuf,
    /// The XMPP domain it serves.
    pub domain: String,
    /// The client-to-server TCP port.
    pub c2s_port: u16,
    /// The HTTP port that carries the WebSocket endpoint.
    pub http_port: u16,
}

impl Prosody {
    /// The config template kept in the repository.
    pub fn template() -> PathBuf {
        workspace_root().join("tests/prosody/prosody.cfg.lua")
    }

    /// Starts Prosody serving `domain`, with its config, data and logs in `dir` (created if needed).
    /// Returns once its WebSocket port accepts connections.
    pub fn start(dir: &Path, domain: &str) -> Result<Prosody, String> {
        Prosody::start_with(dir, domain, "")
    }

    /// Like [`Prosody::start`], with `global` (Lua lines, such as `smacks_hibernation_time = 2`)
    /// added to the global section of the config in place of the template's own settings of the
    /// same names; its placeholders are filled in like the template's.
    pub fn start_with(dir: &Path, domain: &str, global: &str) -> Result<Prosody, String> {
        which("prosody").ok_or_else(|| {
            "Prosody is not installed: install the `prosody` package (Debian: apt-get install prosody)"
                .to_string()
        })?;
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir.join("certs")).map_err(|e| e.to_string())?;
        let template = std::fs::read_to_string(Self::template())
            .map_err(|e| format!("cannot read {}: {e}", Self::template().display()))?;
        let c2s_port = free_port().map_err(|e| e.to_string())?;
        let mut http_port = free_port().map_err(|e| e.to_string())?;
        while http_port == c2s_port {
            http_port = free_port().map_err(|e| e.to_string())?;
        }
        let config_text = with_global(&template, global)?
            .replace("@DIR@", &dir.display().to_string())
            .replace("@DOMAIN@", domain)
            .replace("@C2S_PORT@", &c2s_port.to_string())
            .replace("@HTTP_PORT@", &http_port.to_string())
            .replace(
                "@RUN_AS_ROOT@",
                if running_as_root() { "true" } else { "false" },
            );
        let config = dir.join("prosody.cfg.lua");
        std::fs::write(&config, config_text).map_err(|e| e.to_string())?;
        let out = std::fs::File::create(dir.join("stdout.log")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        // Its own process group: a Ctrl-C in the terminal reaches only us, and we stop it by pid.
        let child = Command::new("prosody")
            .process_group(0)
            .arg("-F")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start prosody: {e}"))?;
        let mut prosody = Prosody {
            child,
            dir: dir.to_path_buf(),
            config,
            domain: domain.to_string(),
            c2s_port,
            http_port,
        };
        // Up to 30 s, but no longer than the process lives (a config it refuses ends it at once).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut listening = false;
        while !listening && prosody.is_running() && std::time::Instant::now() < deadline {
            listening = wait_for_port(http_port, Duration::from_millis(500));
        }
        if !listening {
            let log = prosody.log();
            prosody.stop();
            return Err(format!("prosody did not start listening; its log:\n{log}"));
        }
        Ok(prosody)
    }

    /// The RFC 7395 WebSocket endpoint.
    pub fn websocket_url(&self) -> String {
        format!("ws://127.0.0.1:{}/xmpp-websocket", self.http_port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Creates an account with `prosodyctl register`.
    pub fn register(&self, user: &str, password: &str) -> Result<(), String> {
        let status = Command::new("prosodyctl")
            .arg("--config")
            .arg(&self.config)
            .args(["register", user, &self.domain, password])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("prosodyctl register {user} failed: {status}"))
    }

    /// Prosody's logs so far (for failure messages).
    pub fn log(&self) -> String {
        ["prosody.log", "prosody.err", "stdout.log"]
            .iter()
            .filter_map(|name| std::fs::read_to_string(self.dir.join(name)).ok())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stops the server (SIGTERM to its pid, SIGKILL after 5 s).
    pub fn stop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(5));
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `template` with the `global` statements in its global section (before the first
/// `VirtualHost`), each replacing the template's own top-level statement of that name.
///
/// Prosody refuses a config that sets an option twice in one section whenever the config's path
/// is longer than Lua's 60-character source names (its "duplicate option" warning then fails to
/// format), so an override must replace, never repeat.
fn with_global(template: &str, global: &str) -> Result<String, String> {
    if global.trim().is_empty() {
        return Ok(template.to_string());
    }
    let at = template
        .find("\nVirtualHost ")
        .ok_or("the Prosody config template has no VirtualHost line")?;
    let (head, hosts) = template.split_at(at);
    let mut head: Vec<&str> = head.lines().collect();
    for name in global.lines().filter_map(option_name) {
        if let Some(start) = head.iter().position(|line| option_name(line) == Some(name)) {
            let mut end = start;
            let mut depth = brace_depth(head[start]);
            while depth > 0 {
                end += 1;
                let line = head.get(end).ok_or_else(|| {
                    format!("the template's `{name}` statement never closes its braces")
                })?;
                depth += brace_depth(line);
            }
            head.drain(start..=end);
        }
    }
    Ok(format!("{}\n{global}\n{hosts}", head.join("\n")))
}

/// The option a top-level `name = value` line sets.
fn option_name(line: &str) -> Option<&str> {
    let (name, _) = line.split_once('=')?;
    let name = name.trim_end();
    let is_name = !name.is_empty()
        && !line.starts_with(char::is_whitespace)
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_name.then_some(name)
}

/// Opening minus closing braces on a line (the template keeps braces out of its strings).
fn brace_depth(line: &str) -> i32 {
    line.chars()
        .map(|c| match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        })
        .sum()
}

/// The full path of `program` on `PATH`, if any.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "pidfile = \"x\"\nlog = {\n    info = \"a\";\n}\nmodules_enabled = { \"ping\" }\n\nVirtualHost \"d\"\n    log = \"host\"\n";

    #[test]
    fn an_override_replaces_the_templates_statement_of_that_name_whole() {
        let config = with_global(
            TEMPLATE,
            "log = { debug = \"b\"; }\nsmacks_hibernation_time = 2",
        )
        .unwrap();
        assert_eq!(
            config,
            "pidfile = \"x\"\nmodules_enabled = { \"ping\" }\nlog = { debug = \"b\"; }\nsmacks_hibernation_time = 2\n\nVirtualHost \"d\"\n    log = \"host\"\n"
        );
    }

    #[test]
    fn no_override_leaves_the_template_as_it_is() {
        assert_eq!(with_global(TEMPLATE, "").unwrap(), TEMPLATE);
    }

    #[test]
    fn the_kept_template_sets_each_global_option_once_with_any_override() {
        let template = std::fs::read_to_string(Prosody::template()).unwrap();
        let config = with_global(&template, "log = { debug = \"b\"; }\nc2s_ports = { 1 }").unwrap();
        let global = &config[..config.find("\nVirtualHost ").unwrap()];
        let mut names: Vec<&str> = global.lines().filter_map(option_name).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "an option set twice in:\n{global}");
        assert!(names.contains(&"log") && names.contains(&"c2s_ports"));
    }

    #[test]
    fn a_statement_whose_braces_never_close_is_an_error() {
        let err = with_global("log = {\n\nVirtualHost \"d\"\n", "log = 1").unwrap_err();
        assert!(err.contains("`log`"), "{err}");
    }
}
