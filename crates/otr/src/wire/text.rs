//! OTR messages as text: query messages, whitespace tags, error messages, fragments and
//! base64-encoded binary messages.
//!
//! [`TextMessage::parse`] classifies one received message body the way libotr 4.1.1 does
//! (`otrl_proto_message_type`, `otrl_proto_fragment_accumulate`): it looks for the marker
//! anywhere in the text, so text before `?OTR` is ignored.
//!
//! | text contains | classified as |
//! |---|---|
//! | `?OTR\|<sender hex>\|<receiver hex>,<k>,<n>,<piece>,` | v3 [`Fragment`] |
//! | `?OTR,<k>,<n>,<piece>,` | v2 [`Fragment`] |
//! | `?OTR:AAM…` / `?OTR:AAI…` up to `.` | v3 / v2 [`EncodedMessage`] |
//! | `?OTR?…` or `?OTRv…?` | query ([`VersionSet`]) |
//! | `?OTR Error:` | error message |
//! | any other `?OTR` | [`DecodeError::Unrecognized`] (includes OTR v1) |
//! | the 16-byte whitespace base tag | plaintext with a tag |
//! | none of these | plaintext |
//!
//! Fragments are checked first, as libotr does. Numbers in fragment headers are accepted
//! zero-padded or not (4.1.1 spec) and written zero-padded (`%08x`, `%05hu`) like libotr.

use core::fmt::Write as _;

use crate::error::DecodeError;
use crate::wire::message::{EncodedMessage, InstanceTag, Version};
use crate::wire::{base64, Codec};

/// The whitespace tag's 16-byte base (spaces and tabs).
pub const WHITESPACE_BASE: &str = " \t  \t\t\t\t \t \t \t  ";
/// Whitespace tag version element for OTR v1 (recognised, never offered).
pub const WHITESPACE_V1: &str = " \t \t  \t ";
/// Whitespace tag version element for OTR v2.
pub const WHITESPACE_V2: &str = "  \t\t  \t ";
/// Whitespace tag version element for OTR v3.
pub const WHITESPACE_V3: &str = "  \t\t  \t\t";

/// Prefix of an error message as libotr writes it.
pub const ERROR_PREFIX: &str = "?OTR Error: ";

/// A set of offered protocol versions (from a query or a whitespace tag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionSet {
    /// OTR v1 was offered (obsolete; recognised so it can be ignored).
    pub v1: bool,
    /// OTR v2 was offered.
    pub v2: bool,
    /// OTR v3 was offered.
    pub v3: bool,
}

impl VersionSet {
    /// Versions 2 and 3.
    pub const V2_V3: VersionSet = VersionSet {
        v1: false,
        v2: true,
        v3: true,
    };

    /// Whether `version` is in the set.
    pub fn contains(self, version: Version) -> bool {
        match version {
            Version::V2 => self.v2,
            Version::V3 => self.v3,
        }
    }

    /// The highest version present in both sets (3, then 2), as libotr picks.
    pub fn best_common(self, other: VersionSet) -> Option<Version> {
        if self.v3 && other.v3 {
            Some(Version::V3)
        } else if self.v2 && other.v2 {
            Some(Version::V2)
        } else {
            None
        }
    }

    /// The query message offering these versions (`?OTRv23?`), or `None` for an empty
    /// set: an empty offer (`?OTRv?`) is ignored by libotr peers and never sent.
    pub fn query_message(self) -> Option<String> {
        if !self.v2 && !self.v3 {
            return None;
        }
        let mut out = String::from("?OTRv");
        if self.v2 {
            out.push('2');
        }
        if self.v3 {
            out.push('3');
        }
        out.push('?');
        Some(out)
    }

    /// The whitespace tag offering these versions (base plus one element per version),
    /// or `None` for an empty set.
    pub fn whitespace_tag(self) -> Option<String> {
        if !self.v2 && !self.v3 {
            return None;
        }
        let mut out = String::from(WHITESPACE_BASE);
        if self.v2 {
            out.push_str(WHITESPACE_V2);
        }
        if self.v3 {
            out.push_str(WHITESPACE_V3);
        }
        Some(out)
    }
}

/// One fragment of a longer OTR message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// `(sender, receiver)` instance tags for a v3 fragment, `None` for v2.
    pub instances: Option<(InstanceTag, InstanceTag)>,
    /// This fragment's number, 1-based.
    pub k: u16,
    /// The total number of fragments.
    pub n: u16,
    /// The piece of the encoded message (non-empty, no comma).
    pub piece: String,
}

impl Fragment {
    /// The version of the fragment format.
    pub fn version(&self) -> Version {
        if self.instances.is_some() {
            Version::V3
        } else {
            Version::V2
        }
    }

    /// The fragment as text, zero-padded like libotr (`?OTR|%08x|%08x,%05hu,%05hu,%s,`).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = match self.instances {
            Some((sender, receiver)) => write!(
                out,
                "?OTR|{:08x}|{:08x},{:05},{:05},{},",
                sender.value(),
                receiver.value(),
                self.k,
                self.n,
                self.piece
            ),
            None => write!(out, "?OTR,{:05},{:05},{},", self.k, self.n, self.piece),
        };
        out
    }

    /// Parse a fragment starting exactly at its `?OTR|` or `?OTR,` marker.
    pub fn decode(text: &str) -> Result<Fragment, DecodeError> {
        let bad = DecodeError::MalformedFragment;
        let (instances, rest) = if let Some(rest) = text.strip_prefix("?OTR|") {
            let (sender, rest) = rest.split_once('|').ok_or(bad.clone())?;
            let (receiver, rest) = rest.split_once(',').ok_or(bad.clone())?;
            let sender = parse_hex_u32(sender).ok_or(bad.clone())?;
            let receiver = parse_hex_u32(receiver).ok_or(bad.clone())?;
            let sender = InstanceTag::new(sender).ok_or(DecodeError::InvalidInstanceTag(sender))?;
            let receiver =
                InstanceTag::receiver(receiver).ok_or(DecodeError::InvalidInstanceTag(receiver))?;
            (Some((sender, receiver)), rest)
        } else if let Some(rest) = text.strip_prefix("?OTR,") {
            (None, rest)
        } else {
            return Err(bad);
        };
        let (k, rest) = rest.split_once(',').ok_or(bad.clone())?;
        let (n, rest) = rest.split_once(',').ok_or(bad.clone())?;
        let (piece, _ignored) = rest.split_once(',').ok_or(bad.clone())?;
        let k = parse_dec_u16(k).ok_or(bad.clone())?;
        let n = parse_dec_u16(n).ok_or(bad.clone())?;
        if k == 0 || k > n || piece.is_empty() {
            return Err(bad);
        }
        Ok(Fragment {
            instances,
            k,
            n,
            piece: piece.to_owned(),
        })
    }
}

fn parse_hex_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

fn parse_dec_u16(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A received message body, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextMessage {
    /// Ordinary text. A whitespace tag, if present, has been removed from `text`.
    Plaintext {
        /// The text to show (tag removed).
        text: String,
        /// The versions offered by a whitespace tag, if the text carried one.
        tag: Option<VersionSet>,
    },
    /// A query message offering these versions.
    Query(VersionSet),
    /// An OTR error message; the text after `?OTR Error:` and at most one space.
    Error(String),
    /// One fragment of a longer message.
    Fragment(Fragment),
    /// A complete binary OTR message.
    Encoded(EncodedMessage),
}

impl TextMessage {
    /// Classify and parse one received message body.
    pub fn parse(text: &str) -> Result<TextMessage, DecodeError> {
        if let Some(at) = text.find("?OTR|").or_else(|| text.find("?OTR,")) {
            let tail = text.get(at..).ok_or(DecodeError::MalformedFragment)?;
            return Fragment::decode(tail).map(TextMessage::Fragment);
        }
        let Some(at) = text.find("?OTR") else {
            return Ok(parse_plaintext(text));
        };
        let tail = text.get(at..).unwrap_or_default();
        if tail.starts_with("?OTR:AAM") || tail.starts_with("?OTR:AAI") {
            return decode_encoded(tail).map(TextMessage::Encoded);
        }
        if tail.starts_with("?OTR?") || tail.starts_with("?OTRv") {
            return Ok(TextMessage::Query(parse_query(tail)));
        }
        if let Some(rest) = tail.strip_prefix("?OTR Error:") {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            return Ok(TextMessage::Error(rest.to_owned()));
        }
        Err(DecodeError::Unrecognized)
    }
}

/// Encode a binary message as `?OTR:<base64>.` on one line.
pub fn encode_message(message: &EncodedMessage) -> String {
    let mut out = String::from("?OTR:");
    out.push_str(&base64::encode(&message.to_bytes()));
    out.push('.');
    out
}

/// Decode `?OTR:<base64>.` found anywhere in `text` (lenient base64, text after `.` ignored).
pub fn decode_encoded(text: &str) -> Result<EncodedMessage, DecodeError> {
    let at = text.find("?OTR:").ok_or(DecodeError::Unrecognized)?;
    let payload = text.get(at + 5..).unwrap_or_default();
    let end = payload.find('.').ok_or(DecodeError::MissingTerminator)?;
    let b64 = payload.get(..end).unwrap_or_default();
    let bytes = base64::decode(b64).ok_or(DecodeError::Base64)?;
    EncodedMessage::decode(&bytes)
}

/// Parse a query starting at `?OTR` like libotr's `otrl_proto_query_bestversion`: an
/// optional `?` (v1), then optionally `v` and version characters up to `?`. Unknown
/// characters are ignored.
fn parse_query(tail: &str) -> VersionSet {
    let mut set = VersionSet::default();
    let mut rest = tail.get(4..).unwrap_or_default();
    if let Some(r) = rest.strip_prefix('?') {
        set.v1 = true;
        rest = r;
    }
    if let Some(r) = rest.strip_prefix('v') {
        for c in r.chars().take_while(|c| *c != '?') {
            match c {
                '2' => set.v2 = true,
                '3' => set.v3 = true,
                _ => {}
            }
        }
    }
    set
}

/// Find and strip a whitespace tag, as libotr does: the base, then 8-character groups of
/// spaces and tabs, each a version element if it matches one.
fn parse_plaintext(text: &str) -> TextMessage {
    let Some(at) = text.find(WHITESPACE_BASE) else {
        return TextMessage::Plaintext {
            text: text.to_owned(),
            tag: None,
        };
    };
    let mut set = VersionSet::default();
    let mut end = at + WHITESPACE_BASE.len();
    while let Some(group) = text.get(end..end + 8) {
        if !group.bytes().all(|b| b == b' ' || b == b'\t') {
            break;
        }
        match group {
            WHITESPACE_V1 => set.v1 = true,
            WHITESPACE_V2 => set.v2 = true,
            WHITESPACE_V3 => set.v3 = true,
            _ => {}
        }
        end += 8;
    }
    let mut stripped = String::with_capacity(text.len());
    stripped.push_str(text.get(..at).unwrap_or_default());
    stripped.push_str(text.get(end..).unwrap_or_default());
    TextMessage::Plaintext {
        text: stripped,
        tag: Some(set),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::message::{DhKey, Header, MessageBody};
    use crate::wire::Mpi;

    fn tag(v: u32) -> InstanceTag {
        InstanceTag::new(v).unwrap()
    }

    #[test]
    fn queries_parse_like_libotr() {
        let cases: &[(&str, VersionSet)] = &[
            ("?OTRv23?", VersionSet::V2_V3),
            ("?OTRv32?", VersionSet::V2_V3),
            (
                "?OTRv3?",
                VersionSet {
                    v3: true,
                    ..Default::default()
                },
            ),
            (
                "?OTR?v2?",
                VersionSet {
                    v1: true,
                    v2: true,
                    v3: false,
                },
            ),
            (
                "?OTR?",
                VersionSet {
                    v1: true,
                    ..Default::default()
                },
            ),
            ("?OTRv?", VersionSet::default()),
            ("?OTRv2x3?", VersionSet::V2_V3),
            // Text before the marker and an HTML explanation after it (libotr's default).
            (
                "hi ?OTRv23?\n<b>alice</b> has requested an Off-the-Record private conversation",
                VersionSet::V2_V3,
            ),
            (
                "?OTR?v23?",
                VersionSet {
                    v1: true,
                    v2: true,
                    v3: true,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                TextMessage::parse(text),
                Ok(TextMessage::Query(*expected)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn query_and_tag_output() {
        assert_eq!(
            VersionSet::V2_V3.query_message().as_deref(),
            Some("?OTRv23?")
        );
        assert_eq!(VersionSet::default().query_message(), None);
        let tag = VersionSet::V2_V3.whitespace_tag().unwrap();
        assert_eq!(tag.len(), 32);
        assert_eq!(
            TextMessage::parse(&format!("hello{tag}")),
            Ok(TextMessage::Plaintext {
                text: "hello".into(),
                tag: Some(VersionSet::V2_V3)
            })
        );
    }

    #[test]
    fn whitespace_tag_bytes_match_the_spec() {
        // S3 "Tagged plaintext messages": base 20 09 20 20 09 09 09 09 20 09 20 09 20 09 20 20.
        assert_eq!(
            WHITESPACE_BASE.as_bytes(),
            [
                0x20, 0x09, 0x20, 0x20, 0x09, 0x09, 0x09, 0x09, 0x20, 0x09, 0x20, 0x09, 0x20, 0x09,
                0x20, 0x20
            ]
        );
        assert_eq!(
            WHITESPACE_V2.as_bytes(),
            [0x20, 0x20, 0x09, 0x09, 0x20, 0x20, 0x09, 0x20]
        );
        assert_eq!(
            WHITESPACE_V3.as_bytes(),
            [0x20, 0x20, 0x09, 0x09, 0x20, 0x20, 0x09, 0x09]
        );
        // A tag in the middle, v1 element first, is stripped and the rest kept.
        let text = format!("a{WHITESPACE_BASE}{WHITESPACE_V1}{WHITESPACE_V3}b");
        assert_eq!(
            TextMessage::parse(&text),
            Ok(TextMessage::Plaintext {
                text: "ab".into(),
                tag: Some(VersionSet {
                    v1: true,
                    v2: false,
                    v3: true
                })
            })
        );
    }

    #[test]
    fn plain_and_error_messages() {
        assert_eq!(
            TextMessage::parse("just text"),
            Ok(TextMessage::Plaintext {
                text: "just text".into(),
                tag: None
            })
        );
        assert_eq!(
            TextMessage::parse("?OTR Error: You sent unreadable data"),
            Ok(TextMessage::Error("You sent unreadable data".into()))
        );
        // otr.js writes no space after the colon.
        assert_eq!(
            TextMessage::parse("?OTR Error:x"),
            Ok(TextMessage::Error("x".into()))
        );
        assert_eq!(
            TextMessage::parse("?OTR is nice"),
            Err(DecodeError::Unrecognized)
        );
        // OTR v1 is not supported.
        assert_eq!(
            TextMessage::parse("?OTR:AAEKAAAA."),
            Err(DecodeError::Unrecognized)
        );
    }

    #[test]
    fn encoded_messages_round_trip_and_decode_leniently() {
        let msg = EncodedMessage {
            header: Header::V3 {
                sender: tag(0x101),
                receiver: tag(0x102),
            },
            body: MessageBody::DhKey(DhKey {
                gy: Mpi::from_be_bytes(&[0x42; 192]),
            }),
        };
        let text = encode_message(&msg);
        assert!(text.starts_with("?OTR:AAMK"));
        assert!(text.ends_with('.'));
        assert!(!text.contains('\n'));
        assert_eq!(
            TextMessage::parse(&text),
            Ok(TextMessage::Encoded(msg.clone()))
        );

        // Line breaks inside the payload and text around it are ignored.
        let (head, tail) = text.split_at(40);
        let wrapped = format!("prefix {head}\r\n{tail} suffix");
        assert_eq!(TextMessage::parse(&wrapped), Ok(TextMessage::Encoded(msg)));

        let unterminated = text.trim_end_matches('.');
        assert_eq!(
            TextMessage::parse(unterminated),
            Err(DecodeError::MissingTerminator)
        );
        // Valid base64 framing around a truncated binary message.
        let cut = format!("{}.", &text[..text.len() - 20]);
        assert!(TextMessage::parse(&cut).is_err());
        assert_eq!(TextMessage::parse("?OTR:AAMKY."), Err(DecodeError::Base64));
    }

    #[test]
    fn fragments_padded_and_unpadded() {
        let v3 = Fragment {
            instances: Some((tag(0x5a73a599), InstanceTag::UNKNOWN)),
            k: 2,
            n: 3,
            piece: "abc".into(),
        };
        let text = v3.to_text();
        assert_eq!(text, "?OTR|5a73a599|00000000,00002,00003,abc,");
        assert_eq!(
            TextMessage::parse(&text),
            Ok(TextMessage::Fragment(v3.clone()))
        );
        assert_eq!(
            TextMessage::parse("?OTR|5a73a599|0,2,3,abc,"),
            Ok(TextMessage::Fragment(v3))
        );
        let v2 = Fragment {
            instances: None,
            k: 1,
            n: 65535,
            piece: "?OTR:AAIC".into(),
        };
        assert_eq!(v2.to_text(), "?OTR,00001,65535,?OTR:AAIC,");
        assert_eq!(
            TextMessage::parse("?OTR,1,65535,?OTR:AAIC,"),
            Ok(TextMessage::Fragment(v2))
        );
    }

    #[test]
    fn malformed_fragments_are_rejected() {
        for bad in [
            "?OTR,0,1,abc,",
            "?OTR,2,1,abc,",
            "?OTR,1,1,,",
            "?OTR,1,1,abc",
            "?OTR,1,65536,abc,",
            "?OTR,-1,1,abc,",
            "?OTR|zz|0,1,1,abc,",
            "?OTR|100|123456789,1,1,abc,",
            "?OTR|100,1,1,abc,",
        ] {
            assert_eq!(
                TextMessage::parse(bad),
                Err(DecodeError::MalformedFragment),
                "{bad:?}"
            );
        }
        assert_eq!(
            TextMessage::parse("?OTR|ff|0,1,1,abc,"),
            Err(DecodeError::InvalidInstanceTag(0xff))
        );
        assert_eq!(
            TextMessage::parse("?OTR|100|1,1,1,abc,"),
            Err(DecodeError::InvalidInstanceTag(1))
        );
    }
}
