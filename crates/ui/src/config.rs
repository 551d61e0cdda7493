//! The deployment's configuration: `config.json` next to `index.html`.
//!
//! ```json
//! { "domain": "example.org", "websocket_url": "wss://example.org/xmpp-websocket" }
//! ```
//!
//! Without a `config.json` (HTTP 404), the app assumes the XMPP server is on the same host as the page:
//! domain = the page's host name, endpoint = `wss://<host>/xmpp-websocket` (`ws://` on plain HTTP).

use candado_api::ServerConfig;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCache, RequestInit, Response};

/// Why the configuration could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

/// Loads the server configuration as described in the module docs.
pub async fn load() -> Result<ServerConfig, ConfigError> {
    let window = web_sys::window().ok_or_else(|| ConfigError("no window".into()))?;
    let init = RequestInit::new();
    init.set_cache(RequestCache::NoCache);
    let response = JsFuture::from(window.fetch_with_str_and_init("config.json", &init))
        .await
        .map_err(|e| ConfigError(format!("fetch failed: {e:?}")))?;
    let response: Response = response
        .dyn_into()
        .map_err(|_| ConfigError("not a response".into()))?;
    if response.status() == 404 {
        return same_origin_default(&window);
    }
    if !response.ok() {
        return Err(ConfigError(format!("HTTP {}", response.status())));
    }
    let text = JsFuture::from(response.text().map_err(|e| ConfigError(format!("{e:?}")))?)
        .await
        .map_err(|e| ConfigError(format!("{e:?}")))?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str::<ServerConfig>(&text).map_err(|e| ConfigError(e.to_string()))
}

fn same_origin_default(window: &web_sys::Window) -> Result<ServerConfig, ConfigError> {
    let location = window.location();
    let host = location.host().map_err(|e| ConfigError(format!("{e:?}")))?;
    let hostname = location
        .hostname()
        .map_err(|e| ConfigError(format!("{e:?}")))?;
    let secure = location.protocol().map(|p| p == "https:").unwrap_or(true);
    Ok(ServerConfig {
        domain: hostname,
        websocket_url: format!(
            "{}://{host}/xmpp-websocket",
            if secure { "wss" } else { "ws" }
        ),
    })
}
