//! XEP-0156 connection discovery: reading `/.well-known/host-meta` (XRD, XML) and
//! `/.well-known/host-meta.json` (JRD, JSON) for the WebSocket endpoint. Fetching the file
//! is the runtime's job; this only parses what it fetched.
//!
//! ```
//! use candado_xmpp::host_meta;
//!
//! let xrd = "<?xml version='1.0' encoding='utf-8'?>\
//!     <XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\
//!     <Link rel='urn:xmpp:alt-connections:websocket' href='wss://chat.example.org/xmpp-websocket'/>\
//!     </XRD>";
//! let found = host_meta::parse(xrd)?;
//! assert_eq!(found.websocket, ["wss://chat.example.org/xmpp-websocket"]);
//! # Ok::<(), host_meta::HostMetaError>(())
//! ```
//!
//! Discovery trusts whoever serves HTTPS for the domain. Only `wss://` endpoints land in
//! [`HostMeta::websocket`]; a `ws://` one is kept apart in
//! [`HostMeta::insecure_websocket`], for the caller to refuse (or allow on loopback).

use core::fmt;

use crate::framing::{parse_frame, Limits};

/// `rel` of a WebSocket endpoint (XEP-0156 §3).
pub const REL_WEBSOCKET: &str = "urn:xmpp:alt-connections:websocket";
/// `rel` of a BOSH endpoint.
pub const REL_BOSH: &str = "urn:xmpp:alt-connections:xbosh";
/// The XRD namespace.
pub const NS_XRD: &str = "http://docs.oasis-open.org/ns/xri/xrd-1.0";

/// Largest host-meta document accepted.
pub const MAX_BYTES: usize = 64 * 1024;

/// The endpoints a host-meta document lists, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMeta {
    /// `wss://` WebSocket endpoints.
    pub websocket: Vec<String>,
    /// `ws://` WebSocket endpoints (no TLS).
    pub insecure_websocket: Vec<String>,
    /// `https://` BOSH endpoints (not used by this crate; listed for completeness).
    pub bosh: Vec<String>,
}

/// Why a host-meta document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMetaError {
    /// Larger than [`MAX_BYTES`].
    TooLarge,
    /// Not well-formed XML, or not an `<XRD/>` document.
    BadXml(String),
    /// Not valid JSON, or not a JRD object.
    BadJson(String),
}

impl fmt::Display for HostMetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "host-meta larger than {MAX_BYTES} bytes"),
            Self::BadXml(e) => write!(f, "invalid host-meta XML: {e}"),
            Self::BadJson(e) => write!(f, "invalid host-meta JSON: {e}"),
        }
    }
}

impl std::error::Error for HostMetaError {}

/// Parses either form: JSON when the text starts with `{`, XML otherwise.
pub fn parse(text: &str) -> Result<HostMeta, HostMetaError> {
    if text.trim_start().starts_with('{') {
        parse_jrd(text)
    } else {
        parse_xrd(text)
    }
}

/// Parses the XML form. A document that declares no namespace at all is read as XRD
/// (some hand-written files forget it).
pub fn parse_xrd(text: &str) -> Result<HostMeta, HostMetaError> {
    if text.len() > MAX_BYTES {
        return Err(HostMetaError::TooLarge);
    }
    let limits = Limits {
        max_frame_bytes: MAX_BYTES,
        max_depth: 8,
        max_elements: 1024,
    };
    let root = match parse_frame(text, &limits) {
        Ok(root) => root,
        // Hand-written files sometimes forget the namespace: read them as XRD.
        Err(e) => with_xrd_namespace(text)
            .and_then(|fixed| parse_frame(&fixed, &limits).ok())
            .ok_or_else(|| HostMetaError::BadXml(e.to_string()))?,
    };
    if root.name() != "XRD" {
        return Err(HostMetaError::BadXml(format!(
            "root element is {}, not XRD",
            root.name()
        )));
    }
    let mut meta = HostMeta::default();
    for link in root.children().filter(|c| c.is("Link", NS_XRD)) {
        if let (Some(rel), Some(href)) = (link.attr("rel"), link.attr("href")) {
            meta.add(rel, href);
        }
    }
    Ok(meta)
}

/// `text` with the XRD namespace declared on an `<XRD>` root that declares none.
fn with_xrd_namespace(text: &str) -> Option<String> {
    let start = text.find("<XRD")?;
    let (head, rest) = text.split_at(start);
    let after = rest.get(4..)?;
    let root_tag = after.split('>').next()?;
    if root_tag.contains("xmlns") || !after.starts_with([' ', '>', '/', '\t', '\n', '\r']) {
        return None;
    }
    Some(format!("{head}<XRD xmlns='{NS_XRD}'{after}"))
}

/// Parses the JSON form (`{"links": [{"rel": …, "href": …}]}`).
pub fn parse_jrd(text: &str) -> Result<HostMeta, HostMetaError> {
    if text.len() > MAX_BYTES {
        return Err(HostMetaError::TooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| HostMetaError::BadJson(e.to_string()))?;
    let links = value
        .as_object()
        .ok_or_else(|| HostMetaError::BadJson("not an object".into()))?
        .get("links")
        .map(|l| {
            l.as_array()
                .ok_or_else(|| HostMetaError::BadJson("links is not an array".into()))
        })
        .transpose()?;
    let mut meta = HostMeta::default();
    for link in links.into_iter().flatten() {
        let rel = link.get("rel").and_then(serde_json::Value::as_str);
        let href = link.get("href").and_then(serde_json::Value::as_str);
        if let (Some(rel), Some(href)) = (rel, href) {
            meta.add(rel, href);
        }
    }
    Ok(meta)
}

impl HostMeta {
    fn add(&mut self, rel: &str, href: &str) {
        let href = href.trim();
        let lower = href.to_ascii_lowercase();
        // A URL with whitespace or control characters inside is not one we will dial.
        if href.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return;
        }
        match rel {
            REL_WEBSOCKET if lower.starts_with("wss://") && href.len() > 6 => {
                self.websocket.push(href.to_owned());
            }
            REL_WEBSOCKET if lower.starts_with("ws://") && href.len() > 5 => {
                self.insecure_websocket.push(href.to_owned());
            }
            REL_BOSH if lower.starts_with("https://") => self.bosh.push(href.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prosody 13's mod_http_altconnect serves (XML form).
    const PROSODY_XRD: &str = "<?xml version='1.0' encoding='utf-8'?>\n<XRD \
        xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'><Link \
        rel='urn:xmpp:alt-connections:xbosh' href='https://example.org:5281/http-bind'/><Link \
        rel='urn:xmpp:alt-connections:websocket' \
        href='wss://example.org:5281/xmpp-websocket'/></XRD>";

    #[test]
    fn xml_form() {
        let m = parse(PROSODY_XRD).unwrap();
        assert_eq!(
            m,
            HostMeta {
                websocket: vec!["wss://example.org:5281/xmpp-websocket".into()],
                insecure_websocket: vec![],
                bosh: vec!["https://example.org:5281/http-bind".into()],
            }
        );
        // Links without the namespace, other rels, plain ws://, junk hrefs.
        let sloppy = "<XRD><Link rel='urn:xmpp:alt-connections:websocket' \
            href='ws://127.0.0.1:5280/ws'/><Link rel='lrdd' href='https://x/'/>\
            <Link rel='urn:xmpp:alt-connections:websocket' href='javascript:alert(1)'/>\
            <Link rel='urn:xmpp:alt-connections:websocket' href='wss://a b/'/>\
            <Link rel='urn:xmpp:alt-connections:websocket'/></XRD>";
        let m = parse_xrd(sloppy).unwrap();
        assert!(m.websocket.is_empty());
        assert_eq!(
            m.insecure_websocket,
            vec!["ws://127.0.0.1:5280/ws".to_owned()]
        );
        assert!(m.bosh.is_empty());
    }

    #[test]
    fn json_form() {
        let jrd = r#"{"links":[{"rel":"urn:xmpp:alt-connections:xbosh","href":"https://xmpp.example.org/http-bind"},
            {"rel":"urn:xmpp:alt-connections:websocket","href":"wss://xmpp.example.org:443/websocket"},
            {"rel":"urn:xmpp:alt-connections:websocket"},{"href":"wss://no.rel/"},7]}"#;
        let m = parse(jrd).unwrap();
        assert_eq!(
            m.websocket,
            vec!["wss://xmpp.example.org:443/websocket".to_owned()]
        );
        assert_eq!(m.bosh.len(), 1);
        assert_eq!(parse_jrd("{}").unwrap(), HostMeta::default());
    }

    #[test]
    fn invalid_documents() {
        assert!(matches!(
            parse_jrd("{\"links\": 3}"),
            Err(HostMetaError::BadJson(_))
        ));
        assert!(matches!(parse_jrd("[1]"), Err(HostMetaError::BadJson(_))));
        assert!(matches!(parse("{not json"), Err(HostMetaError::BadJson(_))));
        assert!(matches!(
            parse("<html><body/></html>"),
            Err(HostMetaError::BadXml(_))
        ));
        assert!(matches!(parse("<XRD>"), Err(HostMetaError::BadXml(_))));
        assert!(matches!(parse(""), Err(HostMetaError::BadXml(_))));
        let deep = format!("<XRD>{}{}</XRD>", "<a>".repeat(20), "</a>".repeat(20));
        assert!(matches!(parse(&deep), Err(HostMetaError::BadXml(_))));
        let big = format!("<XRD>{}</XRD>", " ".repeat(MAX_BYTES));
        assert_eq!(parse(&big), Err(HostMetaError::TooLarge));
        assert_eq!(
            parse_jrd(&" ".repeat(MAX_BYTES + 1)),
            Err(HostMetaError::TooLarge)
        );
    }
}
