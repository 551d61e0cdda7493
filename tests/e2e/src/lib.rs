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

/// One person using the app in their own headless Chromium profile (an independent device), with
/// the steps of the journey as methods. Every wait panics with what was seen last, after saving a
/// screenshot named `<label>-NN-FAILED`.
#[derive(Debug)]
pub struct Person {
    browser: candado_harness::Chromium,
    label: String,
    passphrase: String,
    shots: std::sync::atomic::AtomicU32,
    no_shots: std::sync::atomic::AtomicBool,
}

/// How long a step may take (a first login generates an OTR key; SMP takes a few seconds in wasm).
pub const STEP: std::time::Duration = std::time::Duration::from_secs(60);

impl Person {
    /// Starts a browser whose preferred language is `lang`; `passphrase` is the app passphrase
    /// this person will choose.
    pub async fn start(label: &str, lang: &str, passphrase: &str) -> Person {
        // Screenshots of an earlier run of this person would mix with this run's.
        let shots = candado_harness::target_dir().join("e2e");
        if let Ok(entries) = std::fs::read_dir(&shots) {
            let prefix = format!("{label}-");
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let browser = candado_harness::Chromium::start(label, lang)
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        Person {
            browser,
            label: label.to_string(),
            passphrase: passphrase.to_string(),
            shots: std::sync::atomic::AtomicU32::new(0),
            no_shots: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The app passphrase of this person.
    pub fn passphrase(&self) -> &str {
        &self.passphrase
    }

    /// This person's browser profile folder (it outlives [`Person::close`]).
    pub fn profile(&self) -> &std::path::Path {
        &self.browser.profile
    }

    /// Opens the app.
    pub async fn open(&self, url: &str) {
        self.browser.client.goto(url).await.unwrap();
    }

    /// Reloads the page.
    pub async fn reload(&self) {
        self.browser.client.refresh().await.unwrap();
    }

    /// From now on, [`Person::shot`] saves nothing (a failure still does): a benchmark's figures must
    /// not hold the time the browser spends on screenshots.
    pub fn stop_screenshots(&self) {
        self.no_shots
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Saves `target/e2e/<label>-NN-<step>.png`.
    pub async fn shot(&self, step: &str) {
        if step != "FAILED" && self.no_shots.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let n = self
            .shots
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{}-{n:02}-{step}", self.label);
        let _ = self.browser.screenshot(&name).await;
    }

    /// Saves a screenshot named `<label>-NN-FAILED` and panics with `what`.
    pub async fn fail(&self, what: String) -> ! {
        self.shot("FAILED").await;
        panic!("{}: {what}", self.label);
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            if let Ok(el) = self
                .browser
                .client
                .find(fantoccini::Locator::Css(css))
                .await
            {
                if el.is_displayed().await.unwrap_or(false) {
                    return el;
                }
            }
            if std::time::Instant::now() > deadline {
                self.fail(format!("no visible element {css} after {STEP:?}"))
                    .await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until `css` is on the page and visible.
    pub async fn wait_visible(&self, css: &str) {
        self.find(css).await;
    }

    /// Waits until `css` is on the page (visible or not).
    pub async fn wait_css(&self, css: &str) {
        let deadline = std::time::Instant::now() + STEP;
        while self
            .browser
            .client
            .find(fantoccini::Locator::Css(css))
            .await
            .is_err()
        {
            if std::time::Instant::now() > deadline {
                self.fail(format!("no element {css} after {STEP:?}")).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until `css` has `attr` = `value`.
    pub async fn wait_attr(&self, css: &str, attr: &str, value: &str) {
        if let Err(e) = self.browser.wait_for_attr(css, attr, value, STEP).await {
            self.fail(e).await;
        }
    }

    /// Waits for the screen named `name` (`#screen[data-screen]`).
    pub async fn wait_screen(&self, name: &str) {
        self.wait_attr("#screen", "data-screen", name).await;
    }

    /// Replaces the value of the input `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Clicks `css` once it is visible and enabled.
    pub async fn click(&self, css: &str) {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            let el = self.find(css).await;
            if el.is_enabled().await.unwrap_or(false) && el.click().await.is_ok() {
                return;
            }
            if std::time::Instant::now() > deadline {
                self.fail(format!("{css} never became clickable")).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Chooses `value` in the `<select>` `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.select_by_value(value).await.unwrap();
    }

    /// The text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The current value of the input `css`.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Whether the checkbox `css` is ticked.
    pub async fn is_checked(&self, css: &str) -> bool {
        self.find(css).await.is_selected().await.unwrap()
    }

    /// How many elements match `css` now (visible or not).
    pub async fn count(&self, css: &str) -> usize {
        self.browser
            .client
            .find_all(fantoccini::Locator::Css(css))
            .await
            .map(|all| all.len())
            .unwrap_or(0)
    }

    /// Waits until an item `list` has a `child` whose text is `text`.
    pub async fn wait_text_in(&self, list: &str, child: &str, text: &str) {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            if self.item_with_text(list, child, text).await.is_some() {
                return;
            }
            if std::time::Instant::now() > deadline {
                self.fail(format!("no {list} with {child} {text:?} after {STEP:?}"))
                    .await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn item_with_text(
        &self,
        list: &str,
        child: &str,
        text: &str,
    ) -> Option<fantoccini::elements::Element> {
        let items = self
            .browser
            .client
            .find_all(fantoccini::Locator::Css(list))
            .await
            .ok()?;
        for item in items {
            if let Ok(c) = item.find(fantoccini::Locator::Css(child)).await {
                if c.text().await.ok().as_deref() == Some(text) {
                    return Some(item);
                }
            }
        }
        None
    }

    /// The attribute `attr` of the item of `list` whose `child` reads `text`.
    pub async fn attr_of_item_with_text(
        &self,
        list: &str,
        child: &str,
        text: &str,
        attr: &str,
    ) -> String {
        match self.item_with_text(list, child, text).await {
            Some(item) => item.attr(attr).await.unwrap().unwrap_or_default(),
            None => self.fail(format!("no {list} with {text:?}")).await,
        }
    }

    /// Runs `script` (the body of a JavaScript function; `arguments` holds `args`) in the page
    /// and returns what it returns. Panics with the error, after a screenshot.
    pub async fn script(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        match self.browser.client.execute(script, args).await {
            Ok(value) => value,
            Err(e) => self.fail(format!("script failed: {e}")).await,
        }
    }

    /// Like [`Person::script`] for an asynchronous script, which ends by calling its last
    /// argument (`arguments[arguments.length - 1]`) with the result.
    pub async fn script_async(
        &self,
        script: &str,
        args: Vec<serde_json::Value>,
    ) -> serde_json::Value {
        match self.browser.client.execute_async(script, args).await {
            Ok(value) => value,
            Err(e) => self.fail(format!("script failed: {e}")).await,
        }
    }

    /// Sends one Chrome DevTools Protocol command to the page (see [`candado_harness::Chromium::cdp`]).
    pub async fn cdp(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        match self.browser.cdp(method, params).await {
            Ok(value) => value,
            Err(e) => self.fail(e).await,
        }
    }

    /// The memory of the page's dedicated workers (see [`candado_harness::Chromium::worker_memory`]).
    pub async fn worker_memory(&self) -> Vec<candado_harness::WorkerMemory> {
        match self.browser.worker_memory().await {
            Ok(value) => value,
            Err(e) => self.fail(format!("worker memory: {e}")).await,
        }
    }

    /// Emulates the slow phone of issue #8 from the next page on: 360×740 at 2×, CPU 4× slower,
    /// 150 ms round trips, 1.6 Mbit/s down and 750 kbit/s up. `script` runs in every page before
    /// its own scripts (the benchmarks' observers).
    pub async fn emulate_slow_phone(&self, script: &str) {
        use serde_json::json;
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": script }),
        )
        .await;
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": true }),
        )
        .await;
        self.cdp("Emulation.setCPUThrottlingRate", json!({ "rate": 4 }))
            .await;
        self.cdp("Network.enable", json!({})).await;
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({ "offline": false, "latency": 150, "downloadThroughput": 200_000,
                    "uploadThroughput": 93_750 }),
        )
        .await;
    }

    /// Ends the browser.
    pub async fn close(self) {
        self.browser.close().await;
    }
}

/// The Content-Security-Policy `docs/deploy.md` gives hosts, with `connect` (the XMPP WebSocket
/// endpoints, space-separated) in `connect-src`: exactly the policy of issue #7.
pub fn csp(connect: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' blob: data:; connect-src 'self' {connect}; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The headers `docs/deploy.md` tells hosts to send with every response.
pub fn documented_headers(connect: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Security-Policy", csp(connect)),
        ("Referrer-Policy", "no-referrer".into()),
        ("Permissions-Policy", PERMISSIONS_POLICY.into()),
        ("X-Content-Type-Options", "nosniff".into()),
    ]
}

/// The `Permissions-Policy` of `docs/deploy.md`: nothing the app does not use.
pub const PERMISSIONS_POLICY: &str =
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), \
     geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()";

/// Where the tests' copy of the policy sends violation reports (see [`serve_dist`]).
pub const CSP_REPORT_PATH: &str = "/csp-report";

/// Serves `dist` on loopback with the documented headers (`connect-src` naming `websocket_url`'s origin)
/// and a `config.json` for the domain `localhost`.
///
/// To count violations, the same policy is also sent as `Content-Security-Policy-Report-Only` with a
/// `report-uri` on this server: the browser then reports every violation of the enforced policy (from
/// the page and from its workers) as a `POST /csp-report`, which [`csp_violations`] finds in the request
/// log. The enforced header stays exactly the documented one.
pub fn serve_dist(dist: &std::path::Path, websocket_url: &str) -> candado_harness::StaticServer {
    let server = candado_harness::StaticServer::start(dist, 0).expect("serve dist/");
    let connect = ws_origin(websocket_url);
    for (name, value) in documented_headers(&connect) {
        server.add_header(name, &value);
    }
    server.add_header(
        "Content-Security-Policy-Report-Only",
        &format!("{}; report-uri {CSP_REPORT_PATH}", csp(&connect)),
    );
    let config = serde_json::json!({ "domain": "localhost", "websocket_url": websocket_url });
    server.set_file(
        "/config.json",
        "application/json",
        config.to_string().into_bytes(),
    );
    server
}

/// The built app served as [`serve_dist`] does.
pub fn serve_app(websocket_url: &str) -> candado_harness::StaticServer {
    serve_dist(&dist_dir(), websocket_url)
}

/// `ws://host:port` of a WebSocket URL (what `connect-src` names).
pub fn ws_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("ws", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// The CSP violation reports `server` has received so far (one request-log line each).
pub fn csp_violations(server: &candado_harness::StaticServer) -> Vec<String> {
    server
        .request_log()
        .into_iter()
        .filter(|line| line.contains(CSP_REPORT_PATH))
        .collect()
}

/// What the benchmarks (`tests/e2e/examples/*_bench.rs`, run by `cargo xtask bench`) share: the
/// page instrumentation and the marks they measure between.
pub mod bench {
    use std::time::{Duration, Instant};

    use super::Person;
    use serde_json::json;

    /// Installed before the app's own scripts: a long-task observer, and a note of every
    /// WebAssembly memory the page instantiates.
    pub const INSTRUMENT: &str = r#"
    window.__bench = { longtasks: [], memories: [], handlers: [] };
    // Each message from the runtime worker: when, how long the app's handler took (rendering runs
    // after it, in the same task), the event's kind and the message's length.
    const onmessage = Object.getOwnPropertyDescriptor(Worker.prototype, 'onmessage');
    Object.defineProperty(Worker.prototype, 'onmessage', {
      configurable: true,
      get: onmessage.get,
      set(handler) {
        onmessage.set.call(this, handler && function (ev) {
          const start = performance.now();
          const result = handler.call(this, ev);
          const data = typeof ev.data === 'string' ? ev.data : '';
          const kind = (data.match(/"type":"([a-z_]+)"/) || [])[1] || '?';
          window.__bench.handlers.push([start, performance.now() - start, kind, data.length]);
          return result;
        });
      },
    });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__bench.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
    // Long animation frames: where a slow frame's time went (scripts, then style and layout).
    window.__bench.loafs = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const scripts = e.scripts.map((s) => [s.invoker, Math.round(s.duration), Math.round(s.forcedStyleAndLayoutDuration)]);
          window.__bench.loafs.push([e.startTime, e.duration, e.renderStart ? e.startTime + e.duration - e.renderStart : 0,
            e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0, scripts]);
        }
      }).observe({ type: 'long-animation-frame', buffered: true });
    } catch (_) {}
    for (const name of ['instantiateStreaming', 'instantiate']) {
      const original = WebAssembly[name];
      WebAssembly[name] = async function (...args) {
        const result = await original.apply(this, args);
        const instance = result.instance || result;
        if (instance.exports && instance.exports.memory) window.__bench.memories.push(instance.exports.memory);
        return result;
      };
    }
    "#;

    /// Notes the page's clock as `window.__bench[key]`.
    pub async fn mark(p: &Person, key: &str) {
        p.script(
            "window.__bench[arguments[0]] = performance.now();",
            vec![json!(key)],
        )
        .await;
    }

    /// Polls `window.__bench[key]` until it is a number; `None` after `limit`.
    pub async fn wait_for(p: &Person, key: &str, limit: Duration) -> Option<f64> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(v) = p
                .script(
                    "return window.__bench[arguments[0]] ?? null;",
                    vec![json!(key)],
                )
                .await
                .as_f64()
            {
                return Some(v);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }

    pub async fn number(p: &Person, key: &str) -> f64 {
        p.script(
            "return window.__bench[arguments[0]] ?? null;",
            vec![json!(key)],
        )
        .await
        .as_f64()
        .unwrap_or(f64::NAN)
    }

    /// Prints the 30 functions with the most self time in a DevTools CPU profile (to stderr).
    pub fn print_profile(profile: &serde_json::Value) {
        let nodes = profile["nodes"].as_array().cloned().unwrap_or_default();
        let samples = profile["samples"].as_array().cloned().unwrap_or_default();
        let deltas = profile["timeDeltas"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut name_of = std::collections::HashMap::new();
        for node in &nodes {
            let frame = &node["callFrame"];
            let url = frame["url"].as_str().unwrap_or("");
            let file = url.rsplit('/').next().unwrap_or("");
            name_of.insert(
                node["id"].as_i64().unwrap_or(-1),
                format!("{} ({file})", frame["functionName"].as_str().unwrap_or("?")),
            );
        }
        let mut self_ms: std::collections::HashMap<String, f64> = Default::default();
        for (sample, delta) in samples.iter().zip(deltas.iter().skip(1)) {
            let name = name_of
                .get(&sample.as_i64().unwrap_or(-1))
                .cloned()
                .unwrap_or_default();
            *self_ms.entry(name).or_default() += delta.as_f64().unwrap_or(0.0) / 1000.0;
        }
        let mut top: Vec<_> = self_ms.into_iter().collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (name, ms) in top.into_iter().take(30) {
            eprintln!("profile: {ms:8.1} ms  {name}");
        }
    }

    /// Starts DevTools' sampling CPU profiler (every 200 µs) in `p`'s page.
    pub async fn start_profile(p: &Person) {
        p.cdp("Profiler.enable", json!({})).await;
        p.cdp("Profiler.setSamplingInterval", json!({ "interval": 200 }))
            .await;
        p.cdp("Profiler.start", json!({})).await;
    }

    /// Stops the profiler [`start_profile`] started and prints where the time went.
    pub async fn stop_profile(p: &Person) {
        let stopped = p.cdp("Profiler.stop", json!({})).await;
        print_profile(&stopped["profile"]);
    }

    /// The long tasks (start, duration in ms) the page has observed so far.
    pub async fn long_tasks(p: &Person) -> Vec<(f64, f64)> {
        p.script("return window.__bench.longtasks;", vec![])
            .await
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| Some((t[0].as_f64()?, t[1].as_f64()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The durations of the tasks in `tasks` that started in `[from, to)`.
    pub fn between(tasks: &[(f64, f64)], from: f64, to: f64) -> Vec<f64> {
        tasks
            .iter()
            .filter(|(start, _)| *start >= from && *start < to)
            .map(|(_, d)| *d)
            .collect()
    }
}

/// The steps of the guide that every suite walks, on the element ids the app uses.
pub mod steps {
    use super::Person;

    /// Creates the app passphrase, registers `user` in the app (password `<user>-Contraseña-1`,
    /// remembered only if `remember`: the box must start unticked), confirms the server `endpoint`
    /// as the guide shows it, and waits until the account is online.
    pub async fn first_run_and_register(p: &Person, user: &str, remember: bool, endpoint: &str) {
        p.wait_screen("first-run").await;
        p.shot("first-run").await;
        p.fill("#passphrase", p.passphrase()).await;
        p.fill("#passphrase-confirm", p.passphrase()).await;
        p.click("#create-vault").await;
        p.wait_screen("add-account").await;
        p.shot("add-account").await;
        p.click("#mode-register").await;
        p.fill("#account-user", user).await;
        assert_eq!(p.value("#account-server").await, "localhost");
        let password = format!("{user}-Contraseña-1");
        p.fill("#account-password", &password).await;
        p.fill("#account-password-confirm", &password).await;
        assert!(
            !p.is_checked("#remember-password").await,
            "remember must be off by default"
        );
        if remember {
            p.click("#remember-password").await;
        }
        p.click("#account-submit").await;
        // The guide: "Do you really want to connect to this server?"
        p.wait_visible("#server-confirm").await;
        assert_eq!(p.text("#confirm-domain").await, "localhost");
        assert_eq!(p.text("#confirm-endpoint").await, endpoint);
        p.shot("server-confirm").await;
        p.click("#server-confirm-yes").await;
        p.wait_screen("contacts").await;
        p.wait_attr("#account-state", "data-state", "online").await;
        p.shot("online").await;
    }

    /// `asker` adds `accepter` as a contact, `accepter` accepts the request, and both see each
    /// other online.
    pub async fn befriend(asker: &Person, asker_jid: &str, accepter: &Person, accepter_jid: &str) {
        asker.fill("#add-contact-jid", accepter_jid).await;
        asker.click("#add-contact").await;
        let request = format!("li.request[data-jid='{asker_jid}']");
        accepter.wait_visible(&request).await;
        accepter.shot("request").await;
        accepter.click(&format!("{request} .request-accept")).await;
        for (p, peer) in [(asker, accepter_jid), (accepter, asker_jid)] {
            p.wait_attr(
                &format!("li.contact[data-jid='{peer}']"),
                "data-presence",
                "available",
            )
            .await;
        }
    }

    /// Chooses the OTR policy `policy` (`manual`, `opportunistic`, `always`) in the settings, from
    /// the contacts screen and back to it.
    pub async fn choose_policy(p: &Person, policy: &str) {
        p.click("#settings-open").await;
        p.wait_screen("settings").await;
        p.select("#policy", policy).await;
        p.shot(&format!("settings-{policy}")).await;
        p.click("#settings-close").await;
        p.wait_screen("contacts").await;
    }

    /// Opens the chat with `peer` from the contact list.
    pub async fn open_chat(p: &Person, peer: &str) {
        let contact = format!("li.contact[data-jid='{peer}'] .contact-open");
        p.wait_visible(&contact).await;
        p.click(&contact).await;
        p.wait_attr("#screen", "data-peer", peer).await;
    }

    /// Types `text` and sends it.
    pub async fn send(p: &Person, text: &str) {
        p.fill("#message-input", text).await;
        p.click("#send").await;
    }

    /// Waits for an incoming message with `text`; returns its `data-encrypted`.
    pub async fn wait_incoming(p: &Person, text: &str) -> String {
        let css = "li.message[data-direction='incoming']";
        p.wait_text_in(css, ".message-text", text).await;
        p.attr_of_item_with_text(css, ".message-text", text, "data-encrypted")
            .await
    }

    /// Reloads the page, unlocks with the person's passphrase and waits until the account (whose
    /// password was remembered) is online again.
    pub async fn reload_and_unlock(p: &Person) {
        p.reload().await;
        p.wait_screen("unlock").await;
        p.fill("#unlock-passphrase", p.passphrase()).await;
        p.click("#unlock").await;
        p.wait_screen("contacts").await;
        p.wait_attr("#account-state", "data-state", "online").await;
    }

    /// Waits until the padlock is in `state`.
    pub async fn padlock(p: &Person, state: &str) {
        p.wait_attr("#padlock", "data-padlock", state).await;
    }

    /// Asks the peer `question` whose answer is `answer` (verification with question and answer).
    pub async fn ask(p: &Person, question: &str, answer: &str) {
        p.click("#padlock").await;
        p.click("#verify").await;
        p.wait_visible("#verify-dialog").await;
        p.click("#verify-question-tab").await;
        assert!(
            !p.text("#smp-hint").await.is_empty(),
            "the case-sensitivity hint is shown"
        );
        p.fill("#smp-question", question).await;
        p.fill("#smp-answer", answer).await;
        p.shot("verify-ask").await;
        p.click("#smp-ask-submit").await;
    }

    /// Answers the incoming `question` with `answer`.
    pub async fn answer(p: &Person, question: &str, answer: &str) {
        p.wait_visible("#smp-incoming").await;
        assert_eq!(p.text("#smp-incoming-question").await, question);
        p.fill("#smp-incoming-answer", answer).await;
        p.shot("verify-answer").await;
        p.click("#smp-incoming-submit").await;
    }
}
