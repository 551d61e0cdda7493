//! The first load on a slow phone (issue #8, point 4), run by `cargo xtask bench load`.
//!
//! The release `dist/` is served on loopback under the documented headers (caching included, with
//! `ETag` revalidation as nginx and Caddy do) and brotli-compressed (quality 11, as `cargo xtask
//! bench size` counts it), to headless Chromium under mobile emulation:
//! 360×740 at 2×, CPU 4× slower, 150 ms round trips, 1.6 Mbit/s down, 750 kbit/s up. Measured in
//! the page, from the start of navigation:
//! - a first visit (empty profile): until the first-run screen's passphrase field is on screen;
//! - after creating the vault, a second visit (the service worker serves the app shell): until
//!   the unlock screen's passphrase field is on screen;
//! - the bytes the server sent on each visit (the page's and the worker's files, as sent), and the
//!   main-thread tasks over 50 ms.
//!
//! DevTools' emulated network may not slow the runtime worker's own fetches (its wasm), so the
//! first visit's time is a lower bound: at 1.6 Mbit/s the bytes sent alone take `sent_kb / 200` s.
//!
//! Prints `BENCH load visit=first|again key=value…`. Figures, not a test.

use std::time::{Duration, Instant};

use candado_e2e::{serve_app, Person};
use candado_harness::{fresh_dir, Prosody};
use serde_json::json;

/// Installed before the app's own scripts on every visit: a long-task observer, and the first
/// frame in which `window.__want` (a CSS selector) matches a visible element.
const INSTRUMENT: &str = r#"
window.__load = { longtasks: [], ready: null };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__load.longtasks.push([e.startTime, e.duration]);
}).observe({ type: 'longtask', buffered: true });
const look = () => {
  const want = sessionStorage.getItem('bench-want');
  const el = want && document.querySelector(want);
  if (el && el.offsetParent !== null && !el.disabled) { window.__load.ready = performance.now(); return; }
  requestAnimationFrame(look);
};
requestAnimationFrame(look);
"#;

/// Bytes over the network for this page and everything it loaded (0 for what a service worker
/// or the cache answered).
const TRANSFERRED: &str = r#"
const entries = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));
return entries.reduce((sum, e) => sum + (e.transferSize || 0), 0);
"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = fresh_dir("bench", "load").unwrap();
    let prosody = Prosody::start(&dir, "localhost").unwrap_or_else(|e| panic!("{e}"));
    let server = serve_app(&prosody.websocket_url());
    server.compress_with_brotli();
    server.cache_as_documented();
    // Compress every file once before measuring (quality 11 takes seconds for the wasm).
    let warm = Person::start("load-warmup", "es-AR", "x").await;
    warm.open(&server.url()).await;
    warm.wait_screen("first-run").await;
    warm.close().await;

    let p = Person::start("load", "es-AR", "una frase larga de prueba 1").await;
    p.emulate_slow_phone(INSTRUMENT).await;

    // First visit: an empty profile, on the first-run screen. The selector to wait for travels
    // in sessionStorage, which the instrument reads from the first frame on.
    p.open(&format!("{}empty.html", server.url())).await;
    want(&p, "main[data-screen='first-run'] #passphrase").await;
    let before = server.bytes_sent();
    p.open(&server.url()).await;
    report(&p, &server, before, "first").await;

    p.fill("#passphrase", p.passphrase()).await;
    p.fill("#passphrase-confirm", p.passphrase()).await;
    p.click("#create-vault").await;
    p.wait_screen("add-account").await;
    // Let the service worker finish precaching before the second visit.
    tokio::time::sleep(Duration::from_secs(5)).await;

    want(&p, "main[data-screen='unlock'] #unlock-passphrase").await;
    let before = server.bytes_sent();
    p.reload().await;
    report(&p, &server, before, "again").await;
    p.close().await;
}

async fn want(p: &Person, selector: &str) {
    p.script(
        "sessionStorage.setItem('bench-want', arguments[0]);",
        vec![json!(selector)],
    )
    .await;
}

/// Waits for the wanted field, then prints the visit's figures; `before`: the server's bytes sent
/// when the visit began.
async fn report(p: &Person, server: &candado_harness::StaticServer, before: u64, visit: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let ready = loop {
        let ready = p.script("return window.__load.ready;", vec![]).await;
        if let Some(ms) = ready.as_f64() {
            break Some(ms);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Whatever the page still loads in the background (the worker's files) counts too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let page_bytes = p.script(TRANSFERRED, vec![]).await.as_f64().unwrap_or(0.0);
    let sent = (server.bytes_sent() - before) as f64;
    let tasks: Vec<f64> = p
        .script("return window.__load.longtasks.map(t => t[1]);", vec![])
        .await
        .as_array()
        .map(|a| a.iter().filter_map(|d| d.as_f64()).collect())
        .unwrap_or_default();
    println!(
        "BENCH load visit={visit} interactive_ms={} sent_kb={:.1} page_transferred_kb={:.1} longtasks={} longest_task_ms={:.0}",
        ready.map_or("timeout".to_string(), |ms| format!("{ms:.0}")),
        sent / 1000.0,
        page_bytes / 1000.0,
        tasks.len(),
        tasks.iter().copied().fold(0.0, f64::max),
    );
}
