//! XEP-0156: finding a domain's WebSocket endpoint from its host-meta file, over HTTPS.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Response, WorkerGlobalScope};

/// A domain we may put in a URL: letters, digits, dots and hyphens (IDNs arrive as typed and are
/// refused; type the punycode form or the endpoint itself).
fn is_plain_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !domain.starts_with('.')
}

/// Fetches `url` and returns its body, if the server answered 2xx.
async fn fetch_text(url: &str) -> Option<String> {
    let scope = js_sys::global().dyn_into::<WorkerGlobalScope>().ok()?;
    let response = JsFuture::from(scope.fetch_with_str(url)).await.ok()?;
    let response: Response = response.dyn_into().ok()?;
    if !response.ok() {
        return None;
    }
    let text = JsFuture::from(response.text().ok()?).await.ok()?;
    text.as_string()
}

/// The first secure (`wss://`) WebSocket endpoint that `domain` publishes in
/// `/.well-known/host-meta.json` or `/.well-known/host-meta`, if any.
pub async fn websocket_of(domain: &str) -> Option<String> {
    let domain = domain.trim().to_ascii_lowercase();
    if !is_plain_domain(&domain) {
        return None;
    }
    for path in ["host-meta.json", "host-meta"] {
        let Some(text) = fetch_text(&format!("https://{domain}/.well-known/{path}")).await else {
            continue;
        };
        if let Ok(meta) = candado_xmpp::host_meta::parse(&text) {
            if let Some(url) = meta.websocket.into_iter().next() {
                return Some(url);
            }
        }
    }
    None
}
