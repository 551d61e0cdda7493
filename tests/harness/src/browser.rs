//! Headless Chromium through chromedriver (WebDriver), with a fresh profile per instance.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::{free_port, fresh_dir, stop_group, target_dir, wait_for_port, which};

/// Chromium flags for running headless as root on a machine with no network beyond loopback
/// (see DESIGN.md §6).
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--window-size=412,915",
];

/// A headless Chromium driven through WebDriver. Call [`Chromium::close`] at the end of a test; dropping it
/// stops chromedriver (and with it the browser) by pid.
#[derive(Debug)]
pub struct Chromium {
    driver: Child,
    /// The WebDriver session.
    pub client: Client,
    /// The browser profile folder (a fresh one per instance: an independent "device").
    pub profile: PathBuf,
}

impl Chromium {
    /// Starts chromedriver and a headless Chromium whose preferred language is `lang` (e.g. `es-AR`).
    pub async fn start(label: &str, lang: &str) -> Result<Chromium, String> {
        Chromium::start_with(label, lang, &[], false).await
    }

    /// Like [`Chromium::start`], with `extra_args` for Chromium (e.g. `--js-flags=--noexpose_wasm`) and,
    /// when `network_log` is set, chromedriver's performance log on (read it with
    /// [`Chromium::requested_urls`]).
    pub async fn start_with(
        label: &str,
        lang: &str,
        extra_args: &[&str],
        network_log: bool,
    ) -> Result<Chromium, String> {
        let chromedriver = which("chromedriver").ok_or_else(|| {
            "chromedriver is not installed: install the `chromium-driver` package".to_string()
        })?;
        let binary = which("chromium").ok_or_else(|| {
            "Chromium is not installed: install the `chromium` package".to_string()
        })?;
        let profile = fresh_dir("browser-profiles", label).map_err(|e| e.to_string())?;
        let port = free_port().map_err(|e| e.to_string())?;
        let log = std::fs::File::create(profile.with_extension("chromedriver.log"))
            .map_err(|e| e.to_string())?;
        let mut driver = Command::new(chromedriver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start chromedriver: {e}"))?;
        if !wait_for_port(port, Duration::from_secs(20)) {
            stop_group(&mut driver, Duration::from_secs(2));
            return Err("chromedriver did not start".into());
        }
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--lang={lang}"));
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let mut caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": args,
                "prefs": { "intl": { "accept_languages": lang } },
            },
        });
        if network_log {
            caps["goog:loggingPrefs"] = serde_json::json!({ "performance": "ALL" });
        }
        let serde_json::Value::Object(caps) = caps else {
            return Err("capabilities are not an object".into());
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match client {
            Ok(client) => Ok(Chromium {
                driver,
                client,
                profile,
            }),
            Err(e) => {
                stop_group(&mut driver, Duration::from_secs(2));
                Err(format!("cannot start a WebDriver session: {e}"))
            }
        }
    }

    /// The memory of each dedicated worker of the page (the runtime worker): DevTools'
    /// `Runtime.getHeapUsage` in the worker, read over the browser's own DevTools endpoint
    /// (its port is in the profile's `DevToolsActivePort`), because chromedriver's CDP command
    /// reaches only the page.
    pub async fn worker_memory(&self) -> Result<Vec<WorkerMemory>, String> {
        let file = self.profile.join("DevToolsActivePort");
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut lines = text.lines();
        let port = lines.next().and_then(|l| l.trim().parse::<u16>().ok());
        let path = lines.next().map(str::to_string);
        let (Some(port), Some(path)) = (port, path) else {
            return Err(format!("{}: no port and path", file.display()));
        };
        tokio::task::spawn_blocking(move || devtools::worker_memory(port, &path))
            .await
            .map_err(|e| e.to_string())?
    }

    /// Saves a PNG screenshot as `target/e2e/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, String> {
        let png = self.client.screenshot().await.map_err(|e| e.to_string())?;
        let dir = target_dir().join("e2e");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// Waits until the element matching `css` has attribute `attr` equal to `value`; returns the element's
    /// text. On timeout the error tells what was seen last.
    pub async fn wait_for_attr(
        &self,
        css: &str,
        attr: &str,
        value: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("(element not found)");
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if let Ok(Some(seen)) = el.attr(attr).await {
                    if seen == value {
                        return el.text().await.map_err(|e| e.to_string());
                    }
                    last = format!("{attr}={seen:?}, text {:?}", el.text().await.ok());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "timed out after {timeout:?} waiting for {css}[{attr}={value:?}]; last seen: {last}"
        ))
    }

    /// Sends one Chrome DevTools Protocol command (`Page.getInstallabilityErrors`, …) through
    /// chromedriver's `goog/cdp/execute` endpoint; returns its result.
    pub async fn cdp(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        self.client
            .issue_cmd(Extension {
                path: "goog/cdp/execute",
                body: serde_json::json!({ "cmd": method, "params": params }),
            })
            .await
            .map_err(|e| format!("{method}: {e}"))
    }

    /// Every URL the page and its workers asked the network for since the last call (HTTP requests and
    /// WebSockets), from chromedriver's performance log. Needs `network_log` in
    /// [`Chromium::start_with`].
    pub async fn requested_urls(&self) -> Result<Vec<String>, String> {
        let entries = self
            .client
            .issue_cmd(Extension {
                path: "se/log",
                body: serde_json::json!({ "type": "performance" }),
            })
            .await
            .map_err(|e| format!("performance log: {e}"))?;
        let mut urls = Vec::new();
        for entry in entries.as_array().into_iter().flatten() {
            let Some(text) = entry["message"].as_str() else {
                continue;
            };
            let Ok(message) = serde_json::from_str::<serde_json::Value>(text) else {
                continue;
            };
            let message = &message["message"];
            let url = match message["method"].as_str() {
                Some("Network.requestWillBeSent") => &message["params"]["request"]["url"],
                Some("Network.webSocketCreated") => &message["params"]["url"],
                _ => continue,
            };
            if let Some(url) = url.as_str() {
                urls.push(url.to_string());
            }
        }
        Ok(urls)
    }

    /// Ends the WebDriver session and stops chromedriver.
    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        stop_group(&mut self.driver, Duration::from_secs(5));
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        stop_group(&mut self.driver, Duration::from_secs(2));
    }
}

/// A chromedriver extension command: POST `/session/{id}/<path>` with a JSON body.
#[derive(Debug)]
struct Extension {
    path: &'static str,
    body: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Extension {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// What [`Chromium::worker_memory`] reports of one worker, in bytes.
#[derive(Debug, Clone)]
pub struct WorkerMemory {
    /// The worker script's URL.
    pub url: String,
    /// JavaScript heap in use.
    pub js_used: f64,
    /// JavaScript heap reserved.
    pub js_total: f64,
    /// Backing storage of array buffers (not counting WebAssembly memories).
    pub buffers: f64,
    /// The worker's WebAssembly memories.
    pub wasm: f64,
}

/// A blocking DevTools client for the browser endpoint, just enough for [`Chromium::worker_memory`].
mod devtools {
    use std::net::TcpStream;

    use serde_json::{json, Value};
    use tungstenite::{Message, WebSocket};

    use super::WorkerMemory;

    struct Connection {
        ws: WebSocket<TcpStream>,
        next_id: u64,
        /// Events read while waiting for an answer.
        events: Vec<Value>,
    }

    impl Connection {
        fn call(
            &mut self,
            session: Option<&str>,
            method: &str,
            params: Value,
        ) -> Result<Value, String> {
            self.next_id += 1;
            let id = self.next_id;
            let mut msg = json!({ "id": id, "method": method, "params": params });
            if let Some(session) = session {
                msg["sessionId"] = json!(session);
            }
            self.ws
                .send(Message::text(msg.to_string()))
                .map_err(|e| format!("{method}: {e}"))?;
            loop {
                let text = match self.ws.read().map_err(|e| format!("{method}: {e}"))? {
                    Message::Text(text) => text,
                    _ => continue,
                };
                let value: Value =
                    serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
                if value["id"] == json!(id) {
                    if let Some(error) = value.get("error") {
                        return Err(format!("{method}: {error}"));
                    }
                    return Ok(value["result"].clone());
                }
                if value.get("method").is_some() {
                    self.events.push(value);
                }
            }
        }
    }

    pub(super) fn worker_memory(port: u16, path: &str) -> Result<Vec<WorkerMemory>, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .map_err(|e| format!("DevTools endpoint: {e}"))?;
        let mut c = Connection {
            ws,
            next_id: 0,
            events: Vec::new(),
        };
        let targets = c.call(None, "Target.getTargets", json!({}))?;
        let page = targets["targetInfos"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["targetId"].as_str())
            .ok_or("no page target")?
            .to_string();
        let attached = c.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": page, "flatten": true }),
        )?;
        let page_session = attached["sessionId"]
            .as_str()
            .ok_or("no page session")?
            .to_string();
        // Existing workers are announced as `Target.attachedToTarget` events.
        c.call(
            Some(&page_session),
            "Target.setAutoAttach",
            json!({ "autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true }),
        )?;
        let workers: Vec<(String, String)> = std::mem::take(&mut c.events)
            .iter()
            .filter(|e| e["method"] == "Target.attachedToTarget")
            .filter(|e| e["params"]["targetInfo"]["type"] == "worker")
            .filter_map(|e| {
                let session = e["params"]["sessionId"].as_str()?;
                let url = e["params"]["targetInfo"]["url"].as_str()?;
                Some((session.to_string(), url.to_string()))
            })
            .collect();
        let mut out = Vec::new();
        for (session, url) in workers {
            let heap = c.call(Some(&session), "Runtime.getHeapUsage", json!({}))?;
            let number = |key: &str| heap[key].as_f64().unwrap_or(f64::NAN);
            // Every `WebAssembly.Memory` alive in the worker, found by its prototype.
            let proto = c.call(
                Some(&session),
                "Runtime.evaluate",
                json!({ "expression": "WebAssembly.Memory.prototype" }),
            )?;
            let proto = proto["result"]["objectId"].as_str().ok_or("no prototype")?;
            let found = c.call(
                Some(&session),
                "Runtime.queryObjects",
                json!({ "prototypeObjectId": proto }),
            )?;
            let array = found["objects"]["objectId"].as_str().ok_or("no objects")?;
            let wasm = c.call(
                Some(&session),
                "Runtime.callFunctionOn",
                json!({
                    "objectId": array,
                    "functionDeclaration": "function () { return this.reduce((s, m) => s + m.buffer.byteLength, 0); }",
                    "returnByValue": true,
                }),
            )?;
            out.push(WorkerMemory {
                url,
                js_used: number("usedSize"),
                js_total: number("totalSize"),
                buffers: number("backingStorageSize"),
                wasm: wasm["result"]["value"].as_f64().unwrap_or(f64::NAN),
            });
        }
        c.call(
            Some(&page_session),
            "Target.setAutoAttach",
            json!({ "autoAttach": false, "waitForDebuggerOnStart": false }),
        )?;
        c.call(
            None,
            "Target.detachFromTarget",
            json!({ "sessionId": page_session }),
        )?;
        Ok(out)
    }
}
