//! RFC 7395 framing: one WebSocket text frame carries exactly one complete XML element.
//!
//! Incoming frames go through [`parse_frame`], which checks the frame size before looking at
//! it and the nesting depth and element count *while* parsing, so a hostile frame is
//! rejected before a large or deep tree is built. Outgoing elements go through
//! [`serialise`], which always writes the element's namespace on the root (`xmlns=
//! 'jabber:client'` for stanzas), as RFC 7395 §3.3.3 requires and Prosody enforces.

use core::fmt;

use minidom::rxml::{self, Parse, RawEvent, RawParser, WithOptions};
use minidom::tree_builder::TreeBuilder;
use minidom::Element;

/// `urn:ietf:params:xml:ns:xmpp-framing` (RFC 7395 §3.3.1).
pub const NS_FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
/// `http://etherx.jabber.org/streams`, the namespace of `<stream:features/>` and `<stream:error/>`.
pub const NS_STREAMS: &str = "http://etherx.jabber.org/streams";
/// `jabber:client`, the namespace of every stanza on a client stream.
pub const NS_CLIENT: &str = "jabber:client";

/// Resource limits applied to every incoming frame.
///
/// The defaults follow Prosody 0.12 (`c2s_stanza_size_limit` 256 KiB; the WebSocket frame
/// buffer is twice that), with depth and element-count limits that no legitimate stanza
/// comes near.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted frame, in bytes of UTF-8.
    pub max_frame_bytes: usize,
    /// Deepest accepted element nesting; the frame's root element is depth 1.
    pub max_depth: usize,
    /// Most elements accepted in one frame (bounds the tree's memory for frames made of
    /// many tiny elements).
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 512 * 1024,
            max_depth: 48,
            max_elements: 20_000,
        }
    }
}

/// Why an incoming frame was rejected. All of these are the peer's fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The frame is larger than [`Limits::max_frame_bytes`]; it was not parsed at all.
    TooLarge {
        /// Size of the frame.
        bytes: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// Elements are nested deeper than [`Limits::max_depth`].
    TooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The frame holds more than [`Limits::max_elements`] elements.
    TooManyElements {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The frame is not one well-formed, namespace-well-formed XML element.
    NotWellFormed {
        /// The parser's description (no frame content is quoted).
        detail: String,
    },
    /// The frame is empty or whitespace only. RFC 7395 §3.2 allows no keepalive text.
    Empty,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { bytes, limit } => {
                write!(
                    f,
                    "frame of {bytes} bytes exceeds the limit of {limit} bytes"
                )
            }
            Self::TooDeep { limit } => write!(f, "elements nested deeper than {limit} levels"),
            Self::TooManyElements { limit } => write!(f, "more than {limit} elements in one frame"),
            Self::NotWellFormed { detail } => write!(f, "frame is not well-formed XML: {detail}"),
            Self::Empty => f.write_str("empty frame"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parses one incoming frame into an element, enforcing `limits`.
///
/// Exactly one root element is accepted, optionally preceded by an XML declaration and
/// surrounded by whitespace; comments, processing instructions and DTDs are rejected (RFC
/// 6120 §11.1), as is anything after the root element.
pub fn parse_frame(frame: &str, limits: &Limits) -> Result<Element, FrameError> {
    if frame.len() > limits.max_frame_bytes {
        return Err(FrameError::TooLarge {
            bytes: frame.len(),
            limit: limits.max_frame_bytes,
        });
    }
    if frame.trim().is_empty() {
        return Err(FrameError::Empty);
    }
    let options = rxml::Options {
        // No token is longer than the frame. (Not the limit itself: rxml reserves buffers
        // from it, and a huge limit would overflow the allocation.)
        max_token_length: frame.len().max(1),
        ..rxml::Options::default()
    };
    let mut parser = <RawParser as WithOptions>::with_options(options);
    let mut builder = TreeBuilder::new();
    let mut buf = frame.as_bytes();
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut root = None;
    loop {
        let event = match parser.parse(&mut buf, true) {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(rxml::error::EndOrError::NeedMoreData) => {
                return Err(not_well_formed("truncated element"))
            }
            Err(rxml::error::EndOrError::Error(e)) => return Err(not_well_formed(e)),
        };
        match &event {
            RawEvent::ElementHeadOpen(..) => {
                if root.is_some() {
                    return Err(not_well_formed("content after the root element"));
                }
                depth += 1;
                elements += 1;
                if depth > limits.max_depth {
                    return Err(FrameError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                if elements > limits.max_elements {
                    return Err(FrameError::TooManyElements {
                        limit: limits.max_elements,
                    });
                }
            }
            RawEvent::ElementFoot(..) => depth = depth.saturating_sub(1),
            RawEvent::Text(_, text) if root.is_some() || depth == 0 => {
                if !text.as_str().trim().is_empty() {
                    return Err(not_well_formed("text outside the root element"));
                }
                continue;
            }
            _ => {}
        }
        builder.process_event(event).map_err(not_well_formed)?;
        if let Some(done) = builder.root.take() {
            root = Some(done);
        }
    }
    root.ok_or_else(|| not_well_formed("no element"))
}

fn not_well_formed(detail: impl fmt::Display) -> FrameError {
    FrameError::NotWellFormed {
        detail: detail.to_string(),
    }
}

/// Serialises an outgoing element into the text of one frame.
///
/// The root carries its own `xmlns`, so a stanza built in `jabber:client` comes out as
/// `<message xmlns='jabber:client' …>`. Characters XML 1.0 cannot carry (most C0 controls,
/// U+FFFE, U+FFFF) are replaced by U+FFFD first: minidom's writer panics on them, and they
/// can come from the owner (message bodies, statuses, roster names).
pub fn serialise(element: &Element) -> String {
    if is_clean(element) {
        write(element)
    } else {
        let mut copy = element.clone();
        clean(&mut copy);
        write(&copy)
    }
}

fn write(element: &Element) -> String {
    let mut out = Vec::new();
    match element.write_to(&mut out) {
        // minidom writes UTF-8; a failure here would be a bug in minidom, and an empty frame
        // is then the safest thing to hand out (the server rejects it, nothing leaks).
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Whether XML 1.0 allows `c` in text and attribute values (the `Char` production; Rust
/// strings hold no surrogates).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

fn is_clean(element: &Element) -> bool {
    element
        .attrs()
        .iter()
        .all(|(_, v)| v.chars().all(is_xml_char))
        && element.nodes().all(|n| match n {
            minidom::Node::Text(t) => t.chars().all(is_xml_char),
            minidom::Node::Element(e) => is_clean(e),
        })
}

fn clean(element: &mut Element) {
    fn fix(s: &mut String) {
        if !s.chars().all(is_xml_char) {
            *s = s
                .chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect();
        }
    }
    for (_, v) in element.attrs_mut().iter_mut() {
        fix(v);
    }
    for node in element.nodes_mut() {
        match node {
            minidom::Node::Text(t) => fix(t),
            minidom::Node::Element(e) => clean(e),
        }
    }
}

/// The client's `<open/>` (RFC 7395 §3.4): `to` the server domain, version 1.0.
pub fn open(domain: &str) -> Element {
    Element::builder("open", NS_FRAMING)
        .attr(minidom::rxml::xml_ncname!("to").to_owned(), domain)
        .attr(minidom::rxml::xml_ncname!("version").to_owned(), "1.0")
        .build()
}

/// The client's `<close/>` (RFC 7395 §3.6).
pub fn close() -> Element {
    Element::builder("close", NS_FRAMING).build()
}

/// What the server's framing element said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// The server's `<open/>`.
    Open {
        /// The server's domain, as it names itself.
        from: Option<String>,
        /// Stream id.
        id: Option<String>,
        /// Protocol version; must be `1.0`.
        version: Option<String>,
    },
    /// The server's `<close/>`, possibly redirecting us (RFC 7395 §3.6.1).
    Close {
        /// `see-other-uri`, when present.
        see_other_uri: Option<String>,
    },
}

/// Recognises `<open/>` and `<close/>` in the framing namespace; anything else is `None`.
pub fn framing(element: &Element) -> Option<Framing> {
    if element.is("open", NS_FRAMING) {
        Some(Framing::Open {
            from: element.attr("from").map(str::to_owned),
            id: element.attr("id").map(str::to_owned),
            version: element.attr("version").map(str::to_owned),
        })
    } else if element.is("close", NS_FRAMING) {
        Some(Framing::Close {
            see_other_uri: element.attr("see-other-uri").map(str::to_owned),
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn parses_prosody_open() {
        let frame = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' \
                     xml:lang='en' id='4a8c1b2e' from='localhost'/>";
        let el = parse_frame(frame, &limits()).unwrap();
        assert_eq!(
            framing(&el),
            Some(Framing::Open {
                from: Some("localhost".into()),
                id: Some("4a8c1b2e".into()),
                version: Some("1.0".into()),
            })
        );
    }

    #[test]
    fn parses_prefixed_features_with_declaration() {
        let frame = "<?xml version='1.0'?>\n<stream:features xmlns='jabber:client' \
            xmlns:stream='http://etherx.jabber.org/streams'><mechanisms \
            xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>\
            </mechanisms></stream:features>  ";
        let el = parse_frame(frame, &limits()).unwrap();
        assert!(el.is("features", NS_STREAMS));
        assert_eq!(el.children().count(), 1);
    }

    #[test]
    fn close_with_see_other_uri() {
        let frame = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' \
                     see-other-uri='wss://other.example/ws'/>";
        let el = parse_frame(frame, &limits()).unwrap();
        assert_eq!(
            framing(&el),
            Some(Framing::Close {
                see_other_uri: Some("wss://other.example/ws".into())
            })
        );
    }

    #[test]
    fn open_and_close_serialise_in_framing_namespace() {
        let open = serialise(&open("example.org"));
        assert!(open.starts_with("<open "), "{open}");
        assert!(
            open.contains("xmlns='urn:ietf:params:xml:ns:xmpp-framing'"),
            "{open}"
        );
        assert!(open.contains("to='example.org'"), "{open}");
        assert!(open.contains("version='1.0'"), "{open}");
        let back = parse_frame(&open, &limits()).unwrap();
        assert!(back.is("open", NS_FRAMING));
        let close = serialise(&close());
        assert!(parse_frame(&close, &limits())
            .unwrap()
            .is("close", NS_FRAMING));
    }

    #[test]
    fn stanza_root_carries_jabber_client() {
        let el = Element::builder("message", NS_CLIENT).build();
        let text = serialise(&el);
        assert_eq!(text, "<message xmlns='jabber:client'/>");
    }

    #[test]
    fn unencodable_characters_are_replaced_not_panicked_on() {
        let el = Element::builder("message", NS_CLIENT)
            .attr(minidom::rxml::xml_ncname!("id").to_owned(), "a\u{1}b")
            .append(
                Element::builder("body", NS_CLIENT)
                    .append("nul\u{0} bell\u{7} nonchar\u{FFFE}\u{FFFF} ok\t\n\u{10FFFF}")
                    .build(),
            )
            .build();
        let text = serialise(&el);
        let back = parse_frame(&text, &Limits::default()).unwrap();
        assert_eq!(back.attr("id"), Some("a\u{FFFD}b"));
        assert_eq!(
            back.get_child("body", NS_CLIENT).unwrap().text(),
            "nul\u{FFFD} bell\u{FFFD} nonchar\u{FFFD}\u{FFFD} ok\t\n\u{10FFFF}"
        );
        assert!(!is_xml_char('\u{B}') && is_xml_char('\u{D7FF}') && is_xml_char('\u{E000}'));
    }

    #[test]
    fn too_large_is_rejected_before_parsing() {
        let small = Limits {
            max_frame_bytes: 64,
            ..limits()
        };
        // Not even well-formed: proves the size check comes first.
        let frame = "<".repeat(65);
        assert_eq!(
            parse_frame(&frame, &small),
            Err(FrameError::TooLarge {
                bytes: 65,
                limit: 64
            })
        );
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let depth = 10_000;
        let frame = format!("{}{}", "<a xmlns='x'>".repeat(depth), "</a>".repeat(depth));
        assert_eq!(
            parse_frame(&frame, &limits()),
            Err(FrameError::TooDeep { limit: 48 })
        );
        // Exactly at the limit is fine.
        let ok = format!("{}{}", "<a xmlns='x'>".repeat(48), "</a>".repeat(48));
        assert!(parse_frame(&ok, &limits()).is_ok());
        let over = format!("{}{}", "<a xmlns='x'>".repeat(49), "</a>".repeat(49));
        assert_eq!(
            parse_frame(&over, &limits()),
            Err(FrameError::TooDeep { limit: 48 })
        );
    }

    #[test]
    fn unclosed_deep_nesting_fails_on_depth_not_memory() {
        let frame = "<a xmlns='x'>".repeat(40_000);
        assert!(frame.len() < limits().max_frame_bytes);
        assert_eq!(
            parse_frame(&frame, &limits()),
            Err(FrameError::TooDeep { limit: 48 })
        );
    }

    #[test]
    fn too_many_elements_is_rejected() {
        let few = Limits {
            max_elements: 100,
            ..limits()
        };
        let frame = format!("<r xmlns='x'>{}</r>", "<a/>".repeat(100));
        assert_eq!(
            parse_frame(&frame, &few),
            Err(FrameError::TooManyElements { limit: 100 })
        );
        let frame = format!("<r xmlns='x'>{}</r>", "<a/>".repeat(99));
        assert!(parse_frame(&frame, &few).is_ok());
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let cases = [
            "<message xmlns='jabber:client'>",
            "<message xmlns='jabber:client'></presence>",
            "<a xmlns='x'/><b xmlns='x'/>",
            "<a xmlns='x'/>trailing",
            "text only",
            "<p:a/>",
            "<!DOCTYPE a [<!ENTITY e 'x'>]><a xmlns='x'>&e;</a>",
            "<a xmlns='x'><!-- comment --></a>",
            "<a xmlns='x'>&undefined;</a>",
            "<a xmlns='x' b='1' b='2'/>\u{0}",
            "<?xml version='1.0' encoding='latin1'?><a xmlns='x'/>",
        ];
        for case in cases {
            let r = parse_frame(case, &limits());
            assert!(
                matches!(r, Err(FrameError::NotWellFormed { .. })),
                "{case:?} gave {r:?}"
            );
        }
        assert_eq!(parse_frame("", &limits()), Err(FrameError::Empty));
        assert_eq!(parse_frame(" \r\n ", &limits()), Err(FrameError::Empty));
    }

    #[test]
    fn unbounded_limits_do_not_overflow_the_parser() {
        let unbounded = Limits {
            max_frame_bytes: usize::MAX,
            max_depth: usize::MAX,
            max_elements: usize::MAX,
        };
        let el = parse_frame("<a xmlns='x' b='c'>text</a>", &unbounded).unwrap();
        assert_eq!(el.attr("b"), Some("c"));
        assert!(parse_frame("<a xmlns='x'", &unbounded).is_err());
    }

    #[test]
    fn entities_are_decoded_and_text_kept() {
        let el = parse_frame(
            "<body xmlns='jabber:client'>a &lt;b&gt; &amp; &#x263A;</body>",
            &limits(),
        )
        .unwrap();
        assert_eq!(el.text(), "a <b> & \u{263A}");
    }
}
