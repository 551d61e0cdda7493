//! Lighthouse's scores (issue #8, point 4), run by `cargo xtask bench lighthouse`.
//!
//! The release `dist/` is served on loopback as a host following `docs/deploy.md` serves it (the
//! documented headers and caching, brotli-compressed), with a real Prosody behind `config.json`.
//! Lighthouse (`$CANDADO_LIGHTHOUSE_DIR`, installed from npm by xtask) runs on headless Chromium
//! (`$CHROME_PATH`, `/usr/bin/chromium` by default) with its default mobile settings (a Moto G
//! Power-sized screen, simulated 4× CPU slowdown and slow 4G), in Spanish:
//! - page loads (the Lighthouse CLI, categories performance, accessibility and best practices):
//!   `first-run`, a fresh profile (Lighthouse clears the origin's storage) on the first-run screen;
//!   `unlock`, a profile where a vault was created and the service worker installed beforehand,
//!   audited with `--disable-storage-reset`: the unlock screen, served by the service worker;
//! - the screens a page load cannot reach (Lighthouse's snapshot mode through its Node API on the
//!   page WebDriver drives, accessibility and best practices): the skip-passphrase warning, the
//!   server confirmation, contacts, a chat, the verification dialog, settings and a group chat,
//!   as alice sees them in a journey with bob.
//!
//! Prints `BENCH lighthouse page=… mode=navigation performance=… accessibility=… best_practices=…
//! fcp_ms=… lcp_ms=… tbt_ms=… si_ms=… cls=…` per page load and `BENCH lighthouse page=…
//! mode=snapshot accessibility=… best_practices=…` per screen; to stderr, every audit of those
//! categories that scores below 1, with the elements or files it names. The reports land in
//! `target/bench/lighthouse-<page>.*`. With `CANDADO_LIGHTHOUSE_TRACE` set, the page loads' traces
//! too. Figures, not a test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use candado_e2e::steps::{befriend, first_run_and_register, open_chat, send, wait_incoming};
use candado_e2e::{dist_dir, serve_app, Person};
use candado_harness::{fresh_dir, target_dir, Prosody};
use serde_json::Value;

/// The metrics reported, as Lighthouse names the audits, and the `BENCH` keys they print as.
const METRICS: &[(&str, &str)] = &[
    ("first-contentful-paint", "fcp_ms"),
    ("largest-contentful-paint", "lcp_ms"),
    ("total-blocking-time", "tbt_ms"),
    ("speed-index", "si_ms"),
    ("cumulative-layout-shift", "cls"),
];

/// Where Lighthouse is installed (its npm prefix).
fn lighthouse_dir() -> PathBuf {
    std::env::var_os("CANDADO_LIGHTHOUSE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("tools/lighthouse"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cli = lighthouse_dir().join("node_modules/.bin/lighthouse");
    assert!(
        cli.is_file(),
        "Lighthouse is missing at {}: run `cargo xtask bench lighthouse`, which installs it",
        cli.display()
    );
    let dir = fresh_dir("bench", "lighthouse").unwrap();
    let prosody = Prosody::start(&dir, "localhost").unwrap_or_else(|e| panic!("{e}"));
    let endpoint = prosody.websocket_url();
    let server = serve_app(&endpoint);
    server.compress_with_brotli();
    server.cache_as_documented();
    // Compress every file once before measuring (quality 11 takes seconds for the wasm).
    warm_up(server.port(), &dist_dir());
    let url = server.url();

    // A fresh profile that prefers Spanish, as WebDriver's profiles do.
    let fresh = fresh_dir("browser-profiles", "lighthouse-first-run").unwrap();
    std::fs::create_dir_all(fresh.join("Default")).unwrap();
    std::fs::write(
        fresh.join("Default/Preferences"),
        r#"{"intl":{"accept_languages":"es-AR,es"}}"#,
    )
    .unwrap();
    navigation(&cli, &url, "first-run", &fresh, false).await;

    // alice's journey, with a snapshot of each screen a page load does not show.
    let alice = Person::start("lighthouse-alice", "es-AR", "alce azul 7 montañas").await;
    let bob = Person::start("lighthouse-bob", "en-US", "bob's long passphrase 42").await;
    alice.stop_screenshots();
    bob.stop_screenshots();
    alice.open(&url).await;
    bob.open(&url).await;
    alice.wait_screen("first-run").await;
    alice.click("#skip-passphrase").await;
    alice.wait_visible("#skip-warning").await;
    snapshot(&alice, &url, "skip-warning").await;
    alice.click("#skip-cancel").await;
    alice.fill("#passphrase", alice.passphrase()).await;
    alice.fill("#passphrase-confirm", alice.passphrase()).await;
    alice.click("#create-vault").await;
    alice.wait_screen("add-account").await;
    alice.click("#mode-register").await;
    alice.fill("#account-user", "alice").await;
    alice.fill("#account-password", "alice-Contraseña-1").await;
    alice
        .fill("#account-password-confirm", "alice-Contraseña-1")
        .await;
    alice.click("#account-submit").await;
    alice.wait_visible("#server-confirm").await;
    snapshot(&alice, &url, "server-confirm").await;
    alice.click("#server-confirm-yes").await;
    alice.wait_screen("contacts").await;
    alice
        .wait_attr("#account-state", "data-state", "online")
        .await;
    first_run_and_register(&bob, "bob", false, &endpoint).await;
    befriend(&alice, "alice@localhost", &bob, "bob@localhost").await;
    snapshot(&alice, &url, "contacts").await;

    open_chat(&alice, "bob@localhost").await;
    open_chat(&bob, "alice@localhost").await;
    send(&alice, "Hola Bob, ¿me leés?").await;
    wait_incoming(&bob, "Hola Bob, ¿me leés?").await;
    send(&bob, "Yes, loud and clear").await;
    wait_incoming(&alice, "Yes, loud and clear").await;
    snapshot(&alice, &url, "chat").await;
    alice.click("#padlock").await;
    alice.click("#verify").await;
    alice.wait_visible("#verify-dialog").await;
    snapshot(&alice, &url, "verify").await;
    alice.click("#verify-close").await;
    alice.click("#back").await;
    alice.wait_screen("contacts").await;

    alice.click("#settings-open").await;
    alice.wait_screen("settings").await;
    snapshot(&alice, &url, "settings").await;
    alice.click("#settings-close").await;
    alice.wait_screen("contacts").await;
    alice
        .fill("#join-room-jid", "sala@conference.localhost")
        .await;
    alice.fill("#join-room-nick", "alice").await;
    alice.click("#join-room").await;
    alice.wait_screen("group").await;
    alice.wait_visible("#group-banner").await;
    alice.fill("#room-input", "Hola, sala").await;
    alice.click("#room-send").await;
    alice
        .wait_text_in("#room-messages li", ".message-text", "Hola, sala")
        .await;
    snapshot(&alice, &url, "group").await;

    // The unlock screen: alice's profile holds a vault and the service worker.
    let profile = alice.profile().to_path_buf();
    alice.close().await;
    bob.close().await;
    navigation(&cli, &url, "unlock", &profile, true).await;
    drop(server);
    drop(prosody);
}

/// Fetches every file of `dist` once, accepting brotli, so the server has compressed it.
fn warm_up(port: u16, dist: &Path) {
    for entry in std::fs::read_dir(dist).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET /{name} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: br\r\n\r\n"
        )
        .unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
}

/// Runs `cmd`, off the async threads; false (and a note on stderr) when it fails.
async fn run(mut cmd: Command, what: &str) -> bool {
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .unwrap();
    match status {
        Ok(s) if s.success() => true,
        other => {
            eprintln!("lighthouse {what}: failed: {other:?}");
            false
        }
    }
}

/// The report at `file`, or `None` (with a note) when Lighthouse wrote none or reports an error.
fn read_report(file: &Path, page: &str) -> Option<Value> {
    let report: Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    if let Some(error) = report.get("runtimeError") {
        eprintln!("lighthouse {page}: {error}");
        return None;
    }
    for warning in report["runWarnings"].as_array().into_iter().flatten() {
        eprintln!(
            "lighthouse {page}: warning: {}",
            warning.as_str().unwrap_or("")
        );
    }
    Some(report)
}

/// A category's score out of 100, or `?`.
fn score(report: Option<&Value>, category: &str) -> String {
    report
        .and_then(|r| r["categories"][category]["score"].as_f64())
        .map_or("?".to_string(), |s| format!("{:.0}", s * 100.0))
}

/// The Lighthouse CLI loading `url` in a Chromium on `profile` (its storage kept when `keep`).
async fn navigation(cli: &Path, url: &str, page: &str, profile: &Path, keep: bool) {
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).unwrap();
    let base = out.join(format!("lighthouse-{page}"));
    let json = out.join(format!("lighthouse-{page}.report.json"));
    let _ = std::fs::remove_file(&json);
    // chrome-launcher names a temporary profile first; Chromium takes the last `--user-data-dir`.
    let flags = format!(
        "--headless=new --no-sandbox --disable-dev-shm-usage --user-data-dir={}",
        profile.display()
    );
    let mut cmd = Command::new(cli);
    cmd.arg(url)
        .args(["--output=json", "--output=html", "--quiet"])
        .arg(format!("--output-path={}", base.display()))
        .arg("--only-categories=performance,accessibility,best-practices")
        .arg(format!("--chrome-flags={flags}"))
        .env(
            "CHROME_PATH",
            std::env::var_os("CHROME_PATH").unwrap_or_else(|| "/usr/bin/chromium".into()),
        );
    if keep {
        cmd.arg("--disable-storage-reset");
    }
    if std::env::var_os("CANDADO_LIGHTHOUSE_TRACE").is_some() {
        cmd.arg("--save-assets");
    }
    let report = if run(cmd, page).await {
        read_report(&json, page)
    } else {
        None
    };
    let mut line = format!(
        "BENCH lighthouse page={page} mode=navigation performance={} accessibility={} best_practices={}",
        score(report.as_ref(), "performance"),
        score(report.as_ref(), "accessibility"),
        score(report.as_ref(), "best-practices")
    );
    for (id, key) in METRICS {
        let value = report
            .as_ref()
            .and_then(|r| r["audits"][id]["numericValue"].as_f64());
        let value = match (value, *key) {
            (Some(v), "cls") => format!("{v:.3}"),
            (Some(v), _) => format!("{v:.0}"),
            (None, _) => "?".to_string(),
        };
        line.push_str(&format!(" {key}={value}"));
    }
    println!("{line}");
    if let Some(report) = report {
        eprintln!(
            "lighthouse {page}: report in {}",
            base.with_extension("report.html").display()
        );
        print_losses(&report, page);
    }
}

/// Lighthouse's snapshot of the page `p` shows now (`lighthouse_snapshot.mjs`, through the
/// DevTools port of `p`'s Chromium).
async fn snapshot(p: &Person, url: &str, page: &str) {
    // Let the screen settle (focus moves, live regions fill) before it is audited.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let port = std::fs::read_to_string(p.profile().join("DevToolsActivePort"))
        .ok()
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_default();
    let json = target_dir()
        .join("bench")
        .join(format!("lighthouse-{page}.json"));
    let _ = std::fs::remove_file(&json);
    let script =
        candado_harness::workspace_root().join("tests/e2e/examples/lighthouse_snapshot.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .arg(lighthouse_dir().join("node_modules"))
        .arg(&port)
        .arg(url)
        .arg(&json);
    let report = if run(cmd, page).await {
        read_report(&json, page)
    } else {
        None
    };
    println!(
        "BENCH lighthouse page={page} mode=snapshot accessibility={} best_practices={}",
        score(report.as_ref(), "accessibility"),
        score(report.as_ref(), "best-practices")
    );
    if let Some(report) = report {
        print_losses(&report, page);
    }
}

/// Prints every audit of the report's categories that scores below 1: its category, id, weight,
/// score, title and the elements (selector and snippet) or files it names.
fn print_losses(report: &Value, page: &str) {
    let Some(categories) = report["categories"].as_object() else {
        return;
    };
    for (category, body) in categories {
        for r in body["auditRefs"].as_array().into_iter().flatten() {
            let id = r["id"].as_str().unwrap_or("");
            let audit = &report["audits"][id];
            let Some(score) = audit["score"].as_f64() else {
                continue;
            };
            if score >= 1.0 || audit["scoreDisplayMode"] == "informative" {
                continue;
            }
            eprintln!(
                "lighthouse {page}: {category}: {id} (weight {}, score {score:.2}{}): {}",
                r["weight"],
                audit["displayValue"]
                    .as_str()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default(),
                audit["title"].as_str().unwrap_or("")
            );
            for item in audit["details"]["items"]
                .as_array()
                .into_iter()
                .flatten()
                .take(10)
            {
                eprintln!("    {}", describe(item));
            }
        }
    }
}

/// One line for an item of an audit's details: the element it names, or its file, or its text.
fn describe(item: &Value) -> String {
    let node = &item["node"];
    if node["type"] == "node" {
        let mut s = format!(
            "{}  {}",
            node["selector"].as_str().unwrap_or(""),
            node["snippet"].as_str().unwrap_or("")
        );
        if let Some(why) = node["explanation"].as_str() {
            s.push_str(&format!("\n      {}", why.replace('\n', "\n      ")));
        }
        return s;
    }
    for key in ["url", "source", "description", "label"] {
        if let Some(text) = item[key].as_str() {
            let more = ["wastedMs", "wastedBytes", "totalBytes", "duration"]
                .iter()
                .filter_map(|k| item[*k].as_f64().map(|v| format!(" {k}={v:.0}")))
                .collect::<String>();
            return format!("{text}{more}");
        }
    }
    item.to_string().chars().take(300).collect()
}
