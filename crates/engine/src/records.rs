//! What the engine keeps in the vault, and how each record is encoded.
//!
//! The engine never talks to the vault itself: it asks the runtime to write records with
//! [`crate::Effect::PutRecord`], and the runtime hands stored records back with
//! [`crate::Engine::load_record`] after unlocking. Every record's id is the account's bare address,
//! except the opt-in history's ([`crate::history`] documents its ids and payloads).
//!
//! | kind ([`RecordKind`]) | payload |
//! |---|---|
//! | `dsa-key` | the account's OTR DSA key: `len32 ‖ p ‖ len32 ‖ q ‖ len32 ‖ g ‖ len32 ‖ x`, big-endian |
//! | `fingerprints` | UTF-8 lines `peer SP fingerprint-hex SP (trusted \| seen)` |
//! | `settings` | UTF-8 lines `policy SP (manual \| opportunistic \| always)` and `peer-policy SP peer SP policy` |
//! | `credentials` | `0x01 ‖ len16 ‖ websocket URL ‖ (0x00 \| 0x01 ‖ len16 ‖ password)`: the account is saved; the password only if the person asked to remember it |
//! | `history` | a chat's switch and its messages, in chunks ([`crate::history`]) |

use std::collections::BTreeMap;
use std::sync::Arc;

use candado_api::OtrPolicy;
use candado_otr::crypto::dsa::{DsaPrivateKey, Fingerprint};
use candado_vault::RecordKind;
use zeroize::Zeroizing;

/// Payloads are secrets or private metadata; `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordValue(pub Zeroizing<Vec<u8>>);

impl core::fmt::Debug for RecordValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RecordValue({} bytes)", self.0.len())
    }
}

/// The record kinds the engine reads and writes: what the runtime loads after unlocking.
pub fn kinds() -> [RecordKind; 5] {
    [
        RecordKind::CREDENTIALS,
        RecordKind::DSA_KEY,
        RecordKind::FINGERPRINTS,
        RecordKind::SETTINGS,
        RecordKind::HISTORY,
    ]
}

/// The kinds whose record id is the account's bare address (one record per account). Forgetting
/// an account deletes these, and every history record of the account ([`crate::history`]).
pub fn account_kinds() -> [RecordKind; 4] {
    [
        RecordKind::CREDENTIALS,
        RecordKind::DSA_KEY,
        RecordKind::FINGERPRINTS,
        RecordKind::SETTINGS,
    ]
}

/// A saved account: where it connects, and its password if the person asked to remember it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The WebSocket endpoint the person confirmed.
    pub websocket_url: String,
    /// The password, only when remembered.
    pub password: Option<Zeroizing<String>>,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("websocket_url", &self.websocket_url)
            .field("password_saved", &self.password.is_some())
            .finish()
    }
}

fn push_len16(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    out.extend_from_slice(&u16::try_from(bytes.len()).ok()?.to_be_bytes());
    out.extend_from_slice(bytes);
    Some(())
}

fn take_len16(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = input.split_at_checked(2)?;
    let len = usize::from(u16::from_be_bytes(len.try_into().ok()?));
    rest.split_at_checked(len)
}

impl Credentials {
    /// The record payload; `None` if the URL or password is longer than 65 535 bytes.
    pub fn encode(&self) -> Option<RecordValue> {
        let mut out = Zeroizing::new(vec![1u8]);
        push_len16(&mut out, self.websocket_url.as_bytes())?;
        match &self.password {
            None => out.push(0),
            Some(pw) => {
                out.push(1);
                push_len16(&mut out, pw.as_bytes())?;
            }
        }
        Some(RecordValue(out))
    }

    /// Parses a record payload; `None` if it is damaged.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(&[1u8])?;
        let (url, rest) = take_len16(rest)?;
        let websocket_url = core::str::from_utf8(url).ok()?.to_owned();
        let password = match rest.split_first()? {
            (0, []) => None,
            (1, rest) => {
                let (pw, tail) = take_len16(rest)?;
                if !tail.is_empty() {
                    return None;
                }
                Some(Zeroizing::new(core::str::from_utf8(pw).ok()?.to_owned()))
            }
            _ => return None,
        };
        Some(Self {
            websocket_url,
            password,
        })
    }
}

/// Encodes an OTR private key for storage.
pub fn encode_key(key: &DsaPrivateKey) -> RecordValue {
    let wire = key.public_key().to_wire();
    let secret = key.secret_bytes();
    let mut out = Zeroizing::new(Vec::new());
    for part in [
        wire.p.as_be_bytes(),
        wire.q.as_be_bytes(),
        wire.g.as_be_bytes(),
        secret.as_slice(),
    ] {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
    RecordValue(out)
}

/// Decodes a stored OTR private key; `None` if the record is damaged.
pub fn decode_key(bytes: &[u8]) -> Option<Arc<DsaPrivateKey>> {
    let mut rest = bytes;
    let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
    for _ in 0..4 {
        let (len, tail) = rest.split_at_checked(4)?;
        let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
        let (part, tail) = tail.split_at_checked(len)?;
        parts.push(part);
        rest = tail;
    }
    if !rest.is_empty() {
        return None;
    }
    let [p, q, g, x] = parts.as_slice() else {
        return None;
    };
    DsaPrivateKey::from_components(p, q, g, x)
        .ok()
        .map(Arc::new)
}

/// What we know about one fingerprint of one contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Seen in a private conversation, never verified.
    Seen,
    /// Verified (SMP or manual comparison).
    Trusted,
}

/// The fingerprints of every contact of one account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustStore {
    /// peer bare address → fingerprint → trust.
    pub peers: BTreeMap<String, BTreeMap<Fingerprint, Trust>>,
}

impl TrustStore {
    /// The trust of `fp` for `peer`, if we have seen it.
    pub fn trust(&self, peer: &str, fp: &Fingerprint) -> Option<Trust> {
        self.peers.get(peer).and_then(|m| m.get(fp)).copied()
    }

    /// Whether `peer` has a trusted fingerprint other than `fp`.
    pub fn trusts_another(&self, peer: &str, fp: &Fingerprint) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|m| m.iter().any(|(k, t)| k != fp && *t == Trust::Trusted))
    }

    /// Records `trust` for `fp`; returns whether anything changed.
    pub fn set(&mut self, peer: &str, fp: Fingerprint, trust: Trust) -> bool {
        let entry = self.peers.entry(peer.to_owned()).or_default();
        entry.insert(fp, trust) != Some(trust)
    }

    /// The record payload.
    pub fn encode(&self) -> RecordValue {
        let mut text = String::new();
        for (peer, fps) in &self.peers {
            for (fp, trust) in fps {
                let t = match trust {
                    Trust::Seen => "seen",
                    Trust::Trusted => "trusted",
                };
                text.push_str(&format!("{peer} {} {t}\n", fp.to_hex()));
            }
        }
        RecordValue(Zeroizing::new(text.into_bytes()))
    }

    /// Parses a record payload, skipping damaged lines.
    pub fn decode(bytes: &[u8]) -> Self {
        let mut store = Self::default();
        let Ok(text) = core::str::from_utf8(bytes) else {
            return store;
        };
        for line in text.lines() {
            let mut words = line.split(' ');
            let (Some(peer), Some(hex), Some(trust), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                continue;
            };
            let trust = match trust {
                "seen" => Trust::Seen,
                "trusted" => Trust::Trusted,
                _ => continue,
            };
            if let Some(fp) = parse_fingerprint(hex) {
                store.set(peer, fp, trust);
            }
        }
        store
    }
}

/// Parses a fingerprint as 40 hex digits, with or without spaces, any case.
pub fn parse_fingerprint(text: &str) -> Option<Fingerprint> {
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b' ').collect();
    if digits.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let s = core::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(s, 16).ok()?;
    }
    Some(Fingerprint(out))
}

/// The OTR settings of one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The account's default policy.
    pub policy: OtrPolicy,
    /// Per-contact overrides.
    pub peers: BTreeMap<String, OtrPolicy>,
}

impl Default for Settings {
    /// Opportunistic, like libotr and Pidgin.
    fn default() -> Self {
        Self {
            policy: OtrPolicy::Opportunistic,
            peers: BTreeMap::new(),
        }
    }
}

fn policy_name(p: OtrPolicy) -> &'static str {
    match p {
        OtrPolicy::Manual => "manual",
        OtrPolicy::Opportunistic => "opportunistic",
        OtrPolicy::Always => "always",
    }
}

fn policy_from(name: &str) -> Option<OtrPolicy> {
    match name {
        "manual" => Some(OtrPolicy::Manual),
        "opportunistic" => Some(OtrPolicy::Opportunistic),
        "always" => Some(OtrPolicy::Always),
        _ => None,
    }
}

impl Settings {
    /// The policy that applies to `peer`.
    pub fn policy_for(&self, peer: &str) -> OtrPolicy {
        self.peers.get(peer).copied().unwrap_or(self.policy)
    }

    /// The record payload.
    pub fn encode(&self) -> RecordValue {
        let mut text = format!("policy {}\n", policy_name(self.policy));
        for (peer, p) in &self.peers {
            text.push_str(&format!("peer-policy {peer} {}\n", policy_name(*p)));
        }
        RecordValue(Zeroizing::new(text.into_bytes()))
    }

    /// Parses a record payload, skipping damaged lines.
    pub fn decode(bytes: &[u8]) -> Self {
        let mut s = Self::default();
        let Ok(text) = core::str::from_utf8(bytes) else {
            return s;
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["policy", p] => {
                    if let Some(p) = policy_from(p) {
                        s.policy = p;
                    }
                }
                ["peer-policy", peer, p] => {
                    if let Some(p) = policy_from(p) {
                        s.peers.insert((*peer).to_owned(), p);
                    }
                }
                _ => {}
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_store_round_trips_and_skips_damage() {
        let mut t = TrustStore::default();
        let a = Fingerprint([0xab; 20]);
        let b = Fingerprint([0x01; 20]);
        assert!(t.set("bob@x", a, Trust::Seen));
        assert!(!t.set("bob@x", a, Trust::Seen));
        assert!(t.set("bob@x", b, Trust::Trusted));
        assert!(t.trusts_another("bob@x", &a));
        assert!(!t.trusts_another("bob@x", &b));
        let mut bytes = t.encode().0.to_vec();
        bytes.extend_from_slice(b"garbage line\ncarol@x 12 trusted\n");
        assert_eq!(TrustStore::decode(&bytes), t);
        assert_eq!(TrustStore::decode(&[0xff, 0xfe]), TrustStore::default());
    }

    #[test]
    fn fingerprints_parse_in_both_notations() {
        let fp = Fingerprint([0x1f; 20]);
        assert_eq!(parse_fingerprint(&fp.to_string()), Some(fp));
        assert_eq!(parse_fingerprint(&fp.to_hex()), Some(fp));
        assert_eq!(parse_fingerprint("1f1f"), None);
        assert_eq!(parse_fingerprint(&"zz".repeat(20)), None);
    }

    #[test]
    fn settings_round_trip() {
        let mut s = Settings::default();
        assert_eq!(s.policy_for("bob@x"), OtrPolicy::Opportunistic);
        s.policy = OtrPolicy::Manual;
        s.peers.insert("bob@x".into(), OtrPolicy::Always);
        assert_eq!(s.policy_for("bob@x"), OtrPolicy::Always);
        assert_eq!(s.policy_for("carol@x"), OtrPolicy::Manual);
        assert_eq!(Settings::decode(&s.encode().0), s);
    }

    #[test]
    fn damaged_keys_are_refused() {
        assert!(decode_key(&[]).is_none());
        assert!(decode_key(&[0, 0, 0, 9, 1]).is_none());
        let zeros = [0u8; 16];
        assert!(decode_key(&zeros).is_none());
    }

    #[test]
    fn credentials_round_trip_and_refuse_damage() {
        for password in [None, Some(Zeroizing::new("contraseña ñ".to_string()))] {
            let c = Credentials {
                websocket_url: "wss://example.org/xmpp-websocket".into(),
                password,
            };
            let bytes = c.encode().unwrap().0.to_vec();
            assert_eq!(Credentials::decode(&bytes), Some(c.clone()));
            for cut in 0..bytes.len() {
                assert_eq!(Credentials::decode(&bytes[..cut]), None, "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(Credentials::decode(&longer), None);
        }
        let shown = format!(
            "{:?}",
            Credentials {
                websocket_url: "wss://x/y".into(),
                password: Some(Zeroizing::new("hunter2".into())),
            }
        );
        assert!(
            !shown.contains("hunter2") && shown.contains("password_saved: true"),
            "{shown}"
        );
    }

    #[test]
    fn record_values_do_not_show_in_debug() {
        let v = RecordValue(Zeroizing::new(b"secret".to_vec()));
        assert_eq!(format!("{v:?}"), "RecordValue(6 bytes)");
    }
}
