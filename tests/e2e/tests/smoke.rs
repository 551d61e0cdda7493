//! The app shell reaches a real Prosody from headless Chromium, and explains when it cannot.

use std::time::Duration;

use candado_e2e::{csp_violations, serve_app};
use candado_harness::{fresh_dir, Chromium, Prosody};
use fantoccini::Locator;

const WAIT: Duration = Duration::from_secs(60);

/// Waits for the status `state` and returns its text. The status area shows with the first screen
/// (a failure shows at once), so any other state is read once the first-run screen is up.
async fn status_of(browser: &Chromium, state: &str) -> Result<String, String> {
    if state != "failed" {
        browser
            .wait_for_attr("#screen", "data-screen", "first-run", WAIT)
            .await?;
    }
    browser
        .wait_for_attr("#connection-status", "data-state", state, WAIT)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shows_connected_in_spanish_when_prosody_answers() {
    let prosody = Prosody::start(&fresh_dir("e2e", "prosody").unwrap(), "localhost").unwrap();
    let server = serve_app(&prosody.websocket_url());
    let browser = Chromium::start("smoke-es", "es-AR").await.unwrap();
    browser.client.goto(&server.url()).await.unwrap();

    let text = status_of(&browser, "connected").await;
    browser.screenshot("smoke-connected-es").await.unwrap();
    let text = text.unwrap_or_else(|e| panic!("{e}\nprosody log:\n{}", prosody.log()));
    assert!(text.contains("Conectado"), "status text: {text:?}");
    let lang = browser
        .client
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(lang.as_deref(), Some("es"));
    let domain = browser
        .client
        .find(Locator::Css("#server-domain"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(domain, "localhost");
    // The page started the runtime worker from our own origin.
    let log = server.request_log();
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /candado-worker_loader.js 200")),
        "{log:?}"
    );
    // Under the documented Content-Security-Policy, nothing was refused.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(csp_violations(&server), Vec::<String>::new());
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shows_connected_in_english_for_english_browsers() {
    let prosody = Prosody::start(&fresh_dir("e2e", "prosody").unwrap(), "localhost").unwrap();
    let server = serve_app(&prosody.websocket_url());
    let browser = Chromium::start("smoke-en", "en-US").await.unwrap();
    browser.client.goto(&server.url()).await.unwrap();

    let text = status_of(&browser, "connected").await;
    browser.screenshot("smoke-connected-en").await.unwrap();
    let text = text.unwrap();
    assert!(text.contains("Connected"), "status text: {text:?}");
    browser.close().await;
}

/// Lua knows a config file by the first 60 characters of its path, and Prosody 0.12 then fails to
/// report an option set twice, refusing to start: CI's checkout is deeper than ours.
#[test]
fn prosody_starts_from_a_deep_folder_with_an_option_overridden() {
    let dir = fresh_dir("e2e", &"a-deep-folder-".repeat(5)).unwrap();
    let config = dir.join("prosody.cfg.lua");
    assert!(
        config.display().to_string().len() > 60,
        "{}",
        config.display()
    );
    let log = "log = { debug = \"@DIR@/prosody.debug.log\"; error = \"@DIR@/prosody.err\"; }";
    let prosody = Prosody::start_with(&dir, "localhost", log).unwrap_or_else(|e| panic!("{e}"));
    prosody.register("deep", "a password").unwrap();
    let debug = std::fs::read_to_string(dir.join("prosody.debug.log")).unwrap();
    assert!(
        debug.contains("debug"),
        "the overriding log setting took no effect"
    );
}

#[test]
fn a_config_prosody_refuses_is_reported_at_once_with_its_log() {
    let started = std::time::Instant::now();
    let err = Prosody::start_with(
        &fresh_dir("e2e", "bad-config").unwrap(),
        "localhost",
        "this is not Lua",
    )
    .unwrap_err();
    assert!(err.contains("config"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explains_when_the_server_is_unreachable() {
    // Start a real Prosody, note its endpoint, then stop it: the port is closed when the page loads.
    let mut prosody = Prosody::start(&fresh_dir("e2e", "prosody").unwrap(), "localhost").unwrap();
    let url = prosody.websocket_url();
    prosody.stop();
    let server = serve_app(&url);
    let browser = Chromium::start("smoke-down", "es-AR").await.unwrap();
    browser.client.goto(&server.url()).await.unwrap();

    let text = status_of(&browser, "failed").await;
    browser.screenshot("smoke-unreachable-es").await.unwrap();
    let text = text.unwrap();
    assert!(
        text.contains("No se pudo conectar"),
        "status text: {text:?}"
    );
    let help = browser
        .client
        .find(Locator::Css("#connection-help"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(help.contains("no responde"), "help text: {help:?}");
    let retry = browser.client.find(Locator::Css("#retry")).await.unwrap();
    assert!(retry.is_displayed().await.unwrap(), "retry button hidden");
    browser.close().await;
}
