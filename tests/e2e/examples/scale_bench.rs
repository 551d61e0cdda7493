//! Big rosters in the real app (issue #8, points 1 and 3), run by `cargo xtask bench scale`.
//!
//! For each roster size, a real Prosody holds an account with that many contacts (each an
//! existing account with the subscription mutual, so the server's presence probes stay quiet),
//! and the built app in headless Chromium, under mobile emulation (360×740 at 2×, CPU 4× slower,
//! 150 ms round trips, 1.6 Mbit/s down), logs in to it. Measured in the page:
//! - from the click that logs in to the first frame that shows the roster, with its length;
//! - long tasks (over 50 ms) on the main thread from that click until 5 s after the roster shows,
//!   while the list scrolls, and while the vault is created (key derivation runs in the worker);
//! - frame times while the contact list scrolls from top to bottom, 240 px a frame;
//! - the page's JavaScript heap (DevTools `Performance.getMetrics`) and the page's WebAssembly
//!   memory, and the runtime worker's JavaScript heap, array buffers and WebAssembly memory, over
//!   the browser's DevTools endpoint (`Runtime.getHeapUsage`, and the `WebAssembly.Memory`
//!   objects found by `Runtime.queryObjects`).
//!
//! Prints one `BENCH scale_roster contacts=N key=value…` line per size. Figures, not a test.

use std::time::Duration;

use candado_e2e::bench::{
    between, long_tasks, mark, number, start_profile, stop_profile, wait_for, INSTRUMENT,
};
use candado_e2e::{serve_app, Person};
use candado_harness::{fresh_dir, Prosody};
use serde_json::json;

/// Logs in, then marks the first frame where the contact list holds `arguments[0]` contacts
/// (its `data-total`, or its rows when it renders them all).
const LOGIN_AND_WATCH: &str = r#"
const want = arguments[0];
const b = window.__bench;
b.t0 = performance.now();
document.querySelector('#server-confirm-yes').click();
const look = () => {
  const list = document.querySelector('#contacts');
  const rows = list ? list.querySelectorAll('li.contact').length : 0;
  const total = list && list.dataset.total ? Number(list.dataset.total) : rows;
  if (rows > 0 && total >= want) { b.t1 = performance.now(); b.rows = rows; return; }
  requestAnimationFrame(look);
};
requestAnimationFrame(look);
"#;

/// Scrolls the contact list (or the page, if the list does not scroll by itself) to the bottom,
/// 240 px a frame, noting each frame's duration.
const SCROLL: &str = r#"
const b = window.__bench;
const list = document.querySelector('#contacts-scroll') || document.querySelector('#contacts');
const own = list.scrollHeight > list.clientHeight + 1 && getComputedStyle(list).overflowY !== 'visible';
const el = own ? list : document.scrollingElement;
b.scroller = own ? 'list' : 'page';
b.frames = [];
let last = performance.now();
const step = (now) => {
  b.frames.push(now - last);
  last = now;
  const before = el.scrollTop;
  el.scrollTop = before + 240;
  if (el.scrollTop === before || b.frames.length > 2000) { b.t2 = performance.now(); return; }
  requestAnimationFrame(step);
};
requestAnimationFrame((now) => { last = now; requestAnimationFrame(step); });
"#;

const PASSWORD: &str = "big-roster-password";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![2000, 5000]
    } else {
        sizes
    };
    for n in sizes {
        measure(n).await;
    }
}

async fn measure(n: usize) {
    let dir = fresh_dir("bench", &format!("scale-{n}")).unwrap();
    let prosody = Prosody::start(&dir, "localhost").unwrap_or_else(|e| panic!("{e}"));
    let user = format!("big{n}");
    prosody.register(&user, PASSWORD).unwrap();
    write_roster(&dir.join("data/localhost"), &user, n);
    let server = serve_app(&prosody.websocket_url());
    let p = Person::start(
        &format!("scale-{n}"),
        "es-AR",
        "una frase larga de prueba 1",
    )
    .await;

    p.emulate_slow_phone(INSTRUMENT).await;
    p.cdp("Performance.enable", json!({})).await;
    p.open(&server.url()).await;

    p.wait_screen("first-run").await;
    p.fill("#passphrase", p.passphrase()).await;
    p.fill("#passphrase-confirm", p.passphrase()).await;
    mark(&p, "vault0").await;
    p.click("#create-vault").await;
    p.wait_screen("add-account").await;
    mark(&p, "vault1").await;
    p.click("#mode-login").await;
    p.fill("#account-user", &user).await;
    p.fill("#account-password", PASSWORD).await;
    p.click("#account-submit").await;
    p.wait_visible("#server-confirm-yes").await;

    // CANDADO_SCALE_PROFILE=login profiles from the login click, `=after` once the roster shows.
    let profile = std::env::var("CANDADO_SCALE_PROFILE").unwrap_or_default();
    if profile == "login" {
        start_profile(&p).await;
    }
    p.script(LOGIN_AND_WATCH, vec![json!(n)]).await;
    let t0 = number(&p, "t0").await;
    let login_ms = wait_for(&p, "t1", Duration::from_secs(300)).await;
    let login_ms = login_ms.map(|t1| t1 - t0);
    let rows = number(&p, "rows").await;
    if profile == "after" {
        start_profile(&p).await;
    }
    if !profile.is_empty() {
        // Let the work that follows the first rendering finish, then print where the time went.
        tokio::time::sleep(Duration::from_secs(5)).await;
        stop_profile(&p).await;
    }

    let (scroll, frames) = if login_ms.is_some() {
        // The first login also generates the account's OTR key in the worker, which competes for
        // this machine's two cores: the list is scrolled once that is done and the page is quiet.
        tokio::time::sleep(Duration::from_secs(5)).await;
        mark(&p, "scroll0").await;
        p.script(SCROLL, vec![]).await;
        wait_for(&p, "t2", Duration::from_secs(300)).await;
        let frames: Vec<f64> = p
            .script("return window.__bench.frames.slice(2);", vec![])
            .await
            .as_array()
            .map(|a| a.iter().filter_map(|f| f.as_f64()).collect())
            .unwrap_or_default();
        let scroller = p.script("return window.__bench.scroller;", vec![]).await;
        (scroller.as_str().unwrap_or("?").to_string(), frames)
    } else {
        ("none".to_string(), Vec::new())
    };
    let tasks = long_tasks(&p).await;
    let scroll0 = number(&p, "scroll0").await;
    let after_login = between(&tasks, t0, scroll0);
    let scrolling = between(&tasks, scroll0, f64::INFINITY);
    let vault = between(
        &tasks,
        number(&p, "vault0").await,
        number(&p, "vault1").await,
    );
    let metrics = p.cdp("Performance.getMetrics", json!({})).await;
    let js_heap = metrics["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "JSHeapUsedSize"))
        .and_then(|m| m["value"].as_f64())
        .unwrap_or(f64::NAN);
    let wasm = p
        .script(
            "return window.__bench.memories.reduce((s, m) => s + m.buffer.byteLength, 0);",
            vec![],
        )
        .await
        .as_f64()
        .unwrap_or(f64::NAN);
    // The page's own figure from the same DevTools call as the workers', to compare with the
    // WebAssembly memories the page script sees.
    let page_heap = p.cdp("Runtime.getHeapUsage", json!({})).await;
    let workers = p.worker_memory().await;
    eprintln!(
        "{n} contacts: page Runtime.getHeapUsage {page_heap}; page wasm memories {wasm} bytes; workers: {workers:?}"
    );
    let worker_js = workers.iter().map(|w| w.js_used).sum::<f64>();
    let worker_buffers = workers.iter().map(|w| w.buffers).sum::<f64>();
    let worker_wasm = workers.iter().map(|w| w.wasm).sum::<f64>();
    p.shot("scrolled").await;
    let shape = p
        .script(
            "const l = document.querySelector('#contacts-scroll'); return [l.scrollHeight, l.clientHeight, l.scrollTop, getComputedStyle(l).paddingTop, getComputedStyle(l).paddingBottom, getComputedStyle(l).maxHeight, getComputedStyle(l).overflowY, innerHeight, l.className];",
            vec![],
        )
        .await;
    let handlers = p
        .script(
            "return window.__bench.handlers.filter(h => h[1] > 10 || (h[0] > arguments[0] && h[0] < arguments[0] + 1500)).map(h => [Math.round(h[0] - arguments[0]), Math.round(h[1]), h[2], h[3]]);",
            vec![json!(t0)],
        )
        .await;
    let loafs = p
        .script(
            "return window.__bench.loafs.filter(l => l[0] >= arguments[0] && l[0] < arguments[0] + 8000).map(l => [Math.round(l[0] - arguments[0]), Math.round(l[1]), Math.round(l[2]), Math.round(l[3]), l[4]]);",
            vec![json!(t0)],
        )
        .await;
    eprintln!("{n} contacts: long animation frames in the 8 s after the click (ms after, duration, render, style+layout, scripts [invoker, ms, forced layout ms]): {loafs}");
    let kinds = p
        .script(
            "const k = {}; for (const h of window.__bench.handlers) { if (h[0] < arguments[0]) continue; const e = k[h[2]] || (k[h[2]] = [0, 0, 0]); e[0]++; e[1] += h[1]; e[2] = Math.max(e[2], h[1]); } return k;",
            vec![json!(t0)],
        )
        .await;
    eprintln!("{n} contacts: worker messages handled in over 10 ms or in the 1.5 s after the click (ms after the click, ms, kind, length): {handlers}");
    eprintln!("{n} contacts: worker messages after the click by kind (count, total ms, longest ms): {kinds}");
    eprintln!(
        "{n} contacts: long tasks after login (start ms after the click, duration): {:?}; list (scrollHeight, clientHeight, scrollTop, padding top and bottom, max-height, overflow-y, window height, class): {shape}",
        tasks
            .iter()
            .filter(|(start, _)| *start >= t0)
            .map(|(start, d)| ((start - t0).round(), d.round()))
            .collect::<Vec<_>>()
    );

    let mut sorted = frames.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let mb = |bytes: f64| bytes / 1_000_000.0;
    println!(
        "BENCH scale_roster contacts={n} login_to_roster_ms={} rows_rendered={rows} \
         longtasks={} longest_task_ms={:.0} scroller={scroll} frames={} frames_over_50ms={} \
         p95_frame_ms={:.1} worst_frame_ms={:.1} js_heap_mb={:.1} wasm_mb={:.1} \
         workers={} worker_js_heap_mb={:.1} worker_buffers_mb={:.1} worker_wasm_mb={:.1} \
         vault_longtasks={} vault_longest_task_ms={:.0} scroll_longtasks={} scroll_longest_task_ms={:.0}",
        login_ms.map_or("timeout".to_string(), |ms| format!("{ms:.0}")),
        after_login.len(),
        after_login.iter().copied().fold(0.0, f64::max),
        frames.len(),
        frames.iter().filter(|f| **f > 50.0).count(),
        pct(0.95),
        sorted.last().copied().unwrap_or(f64::NAN),
        mb(js_heap),
        mb(wasm),
        workers.len(),
        mb(worker_js),
        mb(worker_buffers),
        mb(worker_wasm),
        vault.len(),
        vault.iter().copied().fold(0.0, f64::max),
        scrolling.len(),
        scrolling.iter().copied().fold(0.0, f64::max),
    );
    p.close().await;
}

/// Writes Prosody's internal storage directly: `user`'s roster of `n` contacts, each contact an
/// account whose roster holds `user`, all subscriptions mutual. One contact in three has a name.
fn write_roster(host_dir: &std::path::Path, user: &str, n: usize) {
    let roster_dir = host_dir.join("roster");
    let accounts_dir = host_dir.join("accounts");
    std::fs::create_dir_all(&roster_dir).unwrap();
    std::fs::create_dir_all(&accounts_dir).unwrap();
    let mut roster = String::from(
        "return {\n\t[false] = {\n\t\t[\"version\"] = 1;\n\t\t[\"pending\"] = {};\n\t};\n",
    );
    for i in 0..n {
        let contact = format!("c{i:05}");
        let name = if i % 3 == 0 {
            format!("\t\t[\"name\"] = \"Persona {i}\";\n")
        } else {
            String::new()
        };
        roster.push_str(&format!(
            "\t[\"{contact}@localhost\"] = {{\n\t\t[\"subscription\"] = \"both\";\n\t\t[\"groups\"] = {{}};\n{name}\t}};\n"
        ));
        std::fs::write(
            accounts_dir.join(format!("{contact}.dat")),
            "return {\n\t[\"password\"] = \"not used\";\n};\n",
        )
        .unwrap();
        std::fs::write(
            roster_dir.join(format!("{contact}.dat")),
            format!(
                "return {{\n\t[false] = {{\n\t\t[\"version\"] = 1;\n\t\t[\"pending\"] = {{}};\n\t}};\n\t[\"{user}@localhost\"] = {{\n\t\t[\"subscription\"] = \"both\";\n\t\t[\"groups\"] = {{}};\n\t}};\n}};\n"
            ),
        )
        .unwrap();
    }
    roster.push_str("};\n");
    std::fs::write(roster_dir.join(format!("{user}.dat")), roster).unwrap();
}
