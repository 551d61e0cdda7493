//! What `cargo xtask dist` ships, as a browser meets it (issue #7; run by `cargo xtask test web`):
//! `dist/` served on loopback with the headers of `docs/deploy.md` (the Content-Security-Policy naming
//! the test Prosody's `ws://` endpoint), in headless Chromium.
//!
//! - the browser finds no installability error (DevTools `Page.getInstallabilityErrors`), no CSP
//!   violation is reported, and every request went to the app's origin or the XMPP endpoint;
//! - after one visit the app starts to the unlock screen with the web server stopped;
//! - the runtime worker runs only on files the service worker checked against their hashes, from the
//!   first visit on: a modified worker script stops the app with an explanation;
//! - a new release produces the "new version" prompt, and only the person's click reloads;
//! - with WebAssembly disabled, the static explanation appears instead of a blank page.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candado_e2e::{csp_violations, dist_dir, serve_dist, ws_origin};
use candado_harness::{fresh_dir, Chromium, Prosody, StaticServer};
use fantoccini::Locator;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(90);

/// Waits until `css` is displayed; returns its text.
async fn visible(browser: &Chromium, css: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(el) = browser.client.find(Locator::Css(css)).await {
            if el.is_displayed().await.unwrap_or(false) {
                return el.text().await.unwrap();
            }
        }
        if Instant::now() > deadline {
            let _ = browser
                .screenshot(&format!("pwa-FAILED-{}", css.trim_start_matches('#')))
                .await;
            panic!("{css} not visible after {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screen(browser: &Chromium, name: &str) {
    browser
        .wait_for_attr("#screen", "data-screen", name, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Waits until a service worker is active for the page (and, if `controlled`, controls it).
async fn service_worker_ready(browser: &Chromium, controlled: bool) {
    let script = if controlled {
        "const done = arguments[arguments.length - 1];
         const check = () => navigator.serviceWorker.controller ? done(true) : setTimeout(check, 100);
         navigator.serviceWorker.ready.then(check);"
    } else {
        "const done = arguments[arguments.length - 1];
         navigator.serviceWorker.ready.then(() => done(true));"
    };
    let ready = tokio::time::timeout(WAIT, browser.client.execute_async(script, vec![])).await;
    assert!(
        matches!(ready, Ok(Ok(Value::Bool(true)))),
        "service worker not ready: {ready:?}"
    );
}

/// Whether a service worker controls the page now.
async fn controlled(browser: &Chromium) -> bool {
    let controlled = browser
        .client
        .execute(
            "return navigator.serviceWorker.controller !== null;",
            vec![],
        )
        .await
        .unwrap();
    controlled == Value::Bool(true)
}

/// Whether the "new version" banner is on the page.
async fn update_offered(browser: &Chromium) -> bool {
    browser
        .client
        .find(Locator::Css("#update-banner"))
        .await
        .is_ok()
}

/// A copy of `dist/` a test may change.
fn copy_of_dist(label: &str) -> PathBuf {
    let copy = fresh_dir("e2e", label).unwrap();
    copy_dir(&dist_dir(), &copy);
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_shipped_page_has_no_inline_script_and_integrity_everywhere() {
    let dist = dist_dir();
    let html = std::fs::read_to_string(dist.join("index.html")).unwrap();
    let tags: Vec<&str> = html
        .split('<')
        .filter(|t| t.starts_with("script") || t.starts_with("link"))
        .collect();
    let scripts: Vec<&&str> = tags.iter().filter(|t| t.starts_with("script")).collect();
    assert_eq!(scripts.len(), 1, "one boot script: {scripts:?}");
    for tag in &tags {
        assert!(!tag.contains("style="), "inline style: {tag}");
        let loads_code = tag.starts_with("script")
            || ["stylesheet", "modulepreload", "\"preload\""]
                .iter()
                .any(|rel| tag.contains(rel));
        if loads_code {
            assert!(tag.contains("src=\"/") || tag.contains("href=\"/"), "{tag}");
            assert!(tag.contains("integrity=\"sha384-"), "no integrity: {tag}");
            assert!(tag.contains("crossorigin=\"anonymous\""), "{tag}");
        }
    }
    // Every script tag is external (the text after `>` up to `</script>` is empty).
    for part in html.split("<script").skip(1) {
        let body = part.split_once('>').unwrap().1;
        assert!(body.starts_with("</script>"), "inline script: {part}");
    }
    assert!(html.contains("rel=\"manifest\""));
    assert!(html.contains("id=\"no-wasm\""));
    // SHA256SUMS lists every other file of dist/.
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let mut listed: Vec<&str> = sums.lines().filter_map(|l| l.split("  ").nth(1)).collect();
    listed.sort_unstable();
    let mut present: Vec<String> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "SHA256SUMS")
        .collect();
    present.sort();
    assert_eq!(listed, present);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installable_under_the_csp_with_only_allowed_origins() {
    let prosody = Prosody::start(&fresh_dir("e2e", "prosody").unwrap(), "localhost").unwrap();
    let server = serve_dist(&dist_dir(), &prosody.websocket_url());
    let browser = Chromium::start_with("pwa-install", "es-AR", &[], true)
        .await
        .unwrap();
    // What the browser loaded before the app (its own start page) is not the app's doing.
    browser.client.goto("about:blank").await.unwrap();
    browser.requested_urls().await.unwrap();
    browser.client.goto(&server.url()).await.unwrap();
    screen(&browser, "first-run").await;
    browser
        .wait_for_attr("#connection-status", "data-state", "connected", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prosody.log()));
    service_worker_ready(&browser, false).await;

    let manifest = browser
        .cdp("Page.getAppManifest", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(manifest["errors"], serde_json::json!([]), "{manifest}");
    assert!(manifest["url"]
        .as_str()
        .unwrap()
        .ends_with("/manifest.webmanifest"));
    let installability = browser
        .cdp("Page.getInstallabilityErrors", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(
        installability["installabilityErrors"],
        serde_json::json!([]),
        "{installability}"
    );
    browser.screenshot("pwa-installable").await.unwrap();

    // Every request of the page and its worker went to the app's origin or the XMPP endpoint.
    // (chromedriver's log holds the page's requests, not those of its dedicated worker; the worker's
    // WebSocket is held to the policy's `connect-src`, and a refused one would be a reported violation.)
    let urls = browser.requested_urls().await.unwrap();
    let app = server.url().trim_end_matches('/').to_string();
    let xmpp = ws_origin(&prosody.websocket_url());
    assert!(
        urls.iter().any(|u| u.ends_with("_bg.wasm")),
        "the log saw the app load: {urls:?}"
    );
    let foreign: Vec<&String> = urls
        .iter()
        // The browser's own start page, if it was still loading (built in, never on the network).
        .filter(|u| !u.starts_with("chrome://"))
        .filter(|u| {
            !(u.starts_with(&format!("{app}/")) || u.starts_with(&xmpp) || u.starts_with("data:"))
        })
        .collect();
    assert!(foreign.is_empty(), "requests to other origins: {foreign:?}");

    // No violation of the policy so far…
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(csp_violations(&server), Vec::<String>::new());
    // …and the count is real: an image from elsewhere is refused and reported.
    browser
        .client
        .execute(
            "const img = document.createElement('img');
             img.src = 'http://192.0.2.1/probe.png';
             document.body.appendChild(img);",
            vec![],
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while csp_violations(&server).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        csp_violations(&server).len(),
        1,
        "{:?}",
        server.request_log()
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_offline_to_the_unlock_screen_after_one_visit() {
    let prosody = Prosody::start(&fresh_dir("e2e", "prosody").unwrap(), "localhost").unwrap();
    let server = serve_dist(&dist_dir(), &prosody.websocket_url());
    let url = server.url();
    let browser = Chromium::start("pwa-offline", "es-AR").await.unwrap();
    browser.client.goto(&url).await.unwrap();
    screen(&browser, "first-run").await;
    type_passphrase(&browser, "#passphrase").await;
    type_passphrase(&browser, "#passphrase-confirm").await;
    click(&browser, "#create-vault").await;
    screen(&browser, "add-account").await;
    service_worker_ready(&browser, false).await;
    assert_eq!(csp_violations(&server), Vec::<String>::new());

    // The web server goes away (and the XMPP server with it).
    drop(server);
    drop(prosody);
    assert!(
        std::net::TcpStream::connect(url.trim_start_matches("http://").trim_end_matches('/'))
            .is_err(),
        "the web server is really stopped"
    );
    browser.client.goto(&url).await.unwrap();
    screen(&browser, "unlock").await;
    browser.screenshot("pwa-offline-unlock").await.unwrap();
    assert!(controlled(&browser).await);

    // Unlocking works offline too: Argon2id runs in a worker of its own, started from the cached
    // files, and its memory (at least 19 MiB of blocks) leaves with it.
    type_passphrase(&browser, "#unlock-passphrase").await;
    click(&browser, "#unlock").await;
    screen(&browser, "add-account").await;
    let workers = browser.worker_memory().await.unwrap();
    assert_eq!(
        workers.len(),
        1,
        "only the runtime worker is left: {workers:?}"
    );
    let wasm_mib = workers[0].wasm / 1024.0 / 1024.0;
    eprintln!("runtime worker after creating and unlocking the vault: {workers:?}");
    assert!(
        wasm_mib > 0.0 && wasm_mib < 19.0,
        "the runtime worker's WebAssembly memory never held Argon2id's blocks: {wasm_mib:.1} MiB"
    );
    browser.close().await;
}

/// Types the passphrase of these tests into the field `css`.
async fn type_passphrase(browser: &Chromium, css: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys("caballo correcto batería grapa")
        .await
        .unwrap();
}

async fn click(browser: &Chromium, css: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// How many times the server was asked for `path`.
fn requests_for(server: &StaticServer, path: &str) -> usize {
    let line = format!("GET {path} ");
    server
        .request_log()
        .iter()
        .filter(|l| l.starts_with(&line))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_worker_runs_only_on_files_the_service_worker_checked() {
    let prosody = Prosody::start(&fresh_dir("e2e", "prosody").unwrap(), "localhost").unwrap();

    // First visit: the worker starts once the service worker has precached its files (each
    // checked against its hash) and taken the page, and they come from that cache.
    let server = serve_dist(&dist_dir(), &prosody.websocket_url());
    let browser = Chromium::start("pwa-gate", "es-AR").await.unwrap();
    browser.client.goto(&server.url()).await.unwrap();
    screen(&browser, "first-run").await;
    assert!(controlled(&browser).await, "the first visit is taken");
    for file in [
        "/candado-worker_loader.js",
        "/candado-worker.js",
        "/candado-worker_bg.wasm",
    ] {
        assert_eq!(
            requests_for(&server, file),
            1,
            "{file}: fetched by the service worker only: {:?}",
            server.request_log()
        );
    }
    assert!(
        !update_offered(&browser).await,
        "taking the first visit is no new version"
    );
    browser.close().await;
    drop(server);

    // A server whose worker script was changed after the release was hashed: the service worker
    // refuses to install, and the app says so instead of running it.
    let dist = copy_of_dist("dist-tampered");
    let glue = dist.join("candado-worker.js");
    let mut text = std::fs::read_to_string(&glue).unwrap();
    text.push_str("\nself.tampered = true;\n");
    std::fs::write(&glue, text).unwrap();
    let server = serve_dist(&dist, &prosody.websocket_url());
    let browser = Chromium::start("pwa-tampered", "es-AR").await.unwrap();
    browser.client.goto(&server.url()).await.unwrap();
    browser
        .wait_for_attr("#connection-status", "data-state", "failed", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let help = visible(&browser, "#connection-help").await;
    assert!(help.contains("no pudo comprobar sus archivos"), "{help}");
    browser.screenshot("pwa-tampered").await.unwrap();
    assert_eq!(
        requests_for(&server, "/candado-worker_loader.js"),
        1,
        "only the service worker's precache asked for the loader: {:?}",
        server.request_log()
    );
    let screen_now = browser
        .client
        .execute(
            "return document.querySelector('#screen').dataset.screen;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(screen_now, Value::String("starting".into()));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_release_is_offered_and_taken_only_on_request() {
    let prosody = Prosody::start(&fresh_dir("e2e", "prosody").unwrap(), "localhost").unwrap();
    let dist = copy_of_dist("dist-update");
    let server = serve_dist(&dist, &prosody.websocket_url());
    let browser = Chromium::start("pwa-update", "es-AR").await.unwrap();
    browser.client.goto(&server.url()).await.unwrap();
    screen(&browser, "first-run").await;
    service_worker_ready(&browser, false).await;
    // From the second load on, the service worker controls the page.
    browser.client.refresh().await.unwrap();
    screen(&browser, "first-run").await;
    service_worker_ready(&browser, true).await;
    assert!(
        !update_offered(&browser).await,
        "no prompt without a new release"
    );

    // A new release: its sw.js differs (as every release's does: it lists the new files' hashes).
    let sw = dist.join("sw.js");
    let mut text = std::fs::read_to_string(&sw).unwrap();
    text.push_str("// a later release\n");
    std::fs::write(&sw, text).unwrap();

    // The page is marked: a reload would lose the mark.
    browser.client.refresh().await.unwrap();
    screen(&browser, "first-run").await;
    browser
        .client
        .execute("window.__beforeUpdate = 1;", vec![])
        .await
        .unwrap();
    let banner = visible(&browser, "#update-banner").await;
    assert!(banner.contains("Hay una versión nueva"), "{banner:?}");
    assert!(banner.contains("Recargar"), "{banner:?}");
    browser.screenshot("pwa-update-banner").await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kept = browser
        .client
        .execute("return window.__beforeUpdate === 1;", vec![])
        .await
        .unwrap();
    assert_eq!(
        kept,
        Value::Bool(true),
        "the page reloaded without being asked"
    );

    click(&browser, "#update-reload").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let reloaded = browser
            .client
            .execute(
                "return window.__beforeUpdate === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await
            .unwrap_or(Value::Bool(false));
        if reloaded == Value::Bool(true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not reload after the click"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screen(&browser, "first-run").await;
    let state = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             navigator.serviceWorker.getRegistration().then((r) => done([r.waiting === null, r.active.state]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(state, serde_json::json!([true, "activated"]));
    assert!(browser
        .client
        .find(Locator::Css("#update-banner"))
        .await
        .is_err());
    assert_eq!(csp_violations(&server), Vec::<String>::new());
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explains_when_webassembly_is_disabled() {
    let server: StaticServer = serve_dist(&dist_dir(), "ws://127.0.0.1:9/xmpp-websocket");
    // V8 without a JIT has no WebAssembly, as in Lockdown Mode.
    let browser = Chromium::start_with("pwa-no-wasm", "es-AR", &["--js-flags=--jitless"], false)
        .await
        .unwrap();
    browser.client.goto(&server.url()).await.unwrap();
    let text = visible(&browser, "#no-wasm").await;
    browser.screenshot("pwa-no-wasm").await.unwrap();
    assert!(
        text.contains("Este navegador no puede abrir Candado"),
        "{text}"
    );
    assert!(text.contains("This browser cannot open Candado"), "{text}");
    assert!(
        text.contains("Lockdown") && text.contains("Tor Browser"),
        "{text}"
    );
    let has_wasm = browser
        .client
        .execute("return typeof WebAssembly;", vec![])
        .await
        .unwrap();
    assert_eq!(has_wasm, Value::String("undefined".into()));
    assert!(
        browser.client.find(Locator::Css("#screen")).await.is_err(),
        "the app did not start"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(csp_violations(&server), Vec::<String>::new());
    browser.close().await;
}
