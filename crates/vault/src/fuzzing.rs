//! Entry points for fuzz targets and their corpus replay: each takes arbitrary bytes and
//! drives one of the crate's decoders with them. None of them may panic, whatever the
//! input; that is the property the fuzz targets check, together with the invariants listed
//! on each entry point (debug assertions, on in fuzz builds and tests).
//!
//! | entry point | drives |
//! |---|---|
//! | [`header`] | the vault header decoder and the backup file parser |
//! | [`record`] | the sealed-record opener: its framing, and the plaintext inside the AEAD |
//!
//! [`run`] dispatches by target name ([`TARGETS`]), so one test can replay every corpus
//! directory (`fuzz/corpus/<target>/*`); [`seed_inputs`] writes valid inputs with the
//! crate's own encoders, to start a corpus from.
//!
//! Records are sealed and opened under a **fixed, public** vault key that never leaves
//! this module, so runs are reproducible and a corpus can hold records that open. It is
//! not reachable from [`Vault`](crate::Vault).

use crate::crypto::{seal_detached, Keys, VaultKey, NONCE_LEN};
use crate::error::RandomnessError;
use crate::format::{
    encode_backup, open_record, seal_record, BackupEntry, Header, ParsedBackup, RecordContext,
    BACKUP_MAGIC, HEADER_MAGIC, MAX_SEALED_LEN, RECORD_VERSION, SALT_LEN,
};
use crate::kdf::KdfParams;
use crate::record::{Locator, RecordId, RecordKind, StoreName, MAX_ID_LEN};
use crate::rng::RandomSource;

/// The fuzz targets by name, as `fuzz/` and its corpus replay test use them.
pub const TARGETS: &[&str] = &["header", "record"];

/// Run the target called `name` on `data` (for replaying a corpus directory per target).
/// Returns `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "header" => {
            header(data);
        }
        "record" => {
            record(data);
        }
        _ => return false,
    }
    true
}

/// Fills every byte with one value: the fixed key and nonces of this module.
#[derive(Debug)]
struct Fixed(u8);

impl RandomSource for Fixed {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        dest.fill(self.0);
        Ok(())
    }
}

fn keys() -> Option<Keys> {
    VaultKey::generate(&mut Fixed(0x4b)).ok().map(|k| k.keys())
}

const SCHEMA_VERSION: u32 = 1;
const RECORD_ID: &str = "alice@example.org";

fn store() -> Option<StoreName> {
    StoreName::new("candado").ok()
}

/// Decodes `data` as a vault header and as a backup file (and the header inside it).
/// Returns whether `data` is a valid header.
///
/// Invariants: a header that decodes re-encodes to exactly `data` (the format has one
/// encoding per header) and its authenticated part is a prefix of it; a backup that parses
/// holds no more record bytes than the file has, and none longer than a sealed record
/// can be.
pub fn header(data: &[u8]) -> bool {
    let decoded = Header::decode(data);
    if let Ok(h) = &decoded {
        debug_assert_eq!(h.encode(), data, "header encoding is not canonical");
        debug_assert!(data.starts_with(&h.wrap_ad()));
    }
    if let Ok(backup) = ParsedBackup::parse(data) {
        let _ = Header::decode(backup.header);
        let total: usize = backup.entries.iter().map(|e| e.sealed.len()).sum();
        debug_assert!(total <= data.len());
        debug_assert!(backup
            .entries
            .iter()
            .all(|e| e.sealed.len() <= MAX_SEALED_LEN));
        if let Some(keys) = keys() {
            // Nothing but a file written under the fixed key authenticates.
            let _ = backup.authenticate(&keys);
        }
    }
    decoded.is_ok()
}

/// The sealed-record opener. The first byte picks what the rest is:
///
/// * even: a sealed record as stored, opened under the fixed key as the settings record
///   [`RECORD_ID`] of the `candado` store. Exercises the framing and length checks before
///   the AEAD;
/// * odd: the *plaintext* inside the AEAD (`len16(id) ‖ id ‖ payload`), sealed under the
///   fixed key and then opened, to reach the decoding behind the tag that a forger cannot.
///   The locator is computed from the id found in the plaintext, when there is one.
///
/// Returns whether the record opened. Invariant (odd): it opens exactly when the
/// plaintext holds a valid id (1 ..= 1024 bytes of UTF-8), and then gives back that id and
/// the rest as payload.
pub fn record(data: &[u8]) -> bool {
    let Some(keys) = keys() else {
        return false;
    };
    let Some(store) = store() else {
        return false;
    };
    let kind = RecordKind::SETTINGS;
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    if mode % 2 == 0 {
        let locator = keys.locator(kind.as_str(), RECORD_ID);
        let ctx = RecordContext {
            store: &store,
            kind: &kind,
            locator: &locator,
            schema_version: SCHEMA_VERSION,
        };
        return open_record(&keys, ctx, rest).is_some();
    }
    // What the opener should find: an id, then the payload.
    let expected = rest.split_first_chunk::<2>().and_then(|(len, tail)| {
        let len = usize::from(u16::from_be_bytes(*len));
        let id = tail.get(..len)?;
        let payload = tail.get(len..)?;
        let id = core::str::from_utf8(id).ok()?;
        (!id.is_empty() && id.len() <= MAX_ID_LEN).then_some((id, payload))
    });
    let locator = match expected {
        Some((id, _)) => keys.locator(kind.as_str(), id),
        None => Locator([0; Locator::LEN]),
    };
    let ctx = RecordContext {
        store: &store,
        kind: &kind,
        locator: &locator,
        schema_version: SCHEMA_VERSION,
    };
    let nonce = [0x11; NONCE_LEN];
    let mut body = rest.to_vec();
    let Some(tag) = seal_detached(&keys.record, &nonce, &ctx_ad(ctx), &mut body) else {
        return false;
    };
    let mut sealed = Vec::with_capacity(1 + NONCE_LEN + body.len() + tag.len());
    sealed.push(RECORD_VERSION);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&body);
    sealed.extend_from_slice(&tag);
    let opened = open_record(&keys, ctx, &sealed);
    match (&opened, expected) {
        (Some((id, payload)), Some((want_id, want_payload))) => {
            debug_assert_eq!(id.as_str(), want_id);
            debug_assert_eq!(payload.as_slice(), want_payload);
        }
        (None, None) => {}
        (got, want) => {
            debug_assert!(
                false,
                "opened {:?} but expected {:?}",
                got.as_ref().map(|(id, _)| id),
                want.map(|(id, _)| id)
            );
        }
    }
    opened.is_some()
}

/// The associated data of a sealed record, written from the layout in the crate docs
/// (`"candado-vault/record" 0x00 ‖ len8(store) ‖ store ‖ len8(kind) ‖ kind ‖ locator ‖ s ‖
/// 0x01`). Sealing with it makes `open_record` accept, so the decoding behind the tag is
/// reached; if the two ever disagree, no odd-mode input opens and this module's tests fail.
fn ctx_ad(ctx: RecordContext<'_>) -> Vec<u8> {
    let mut ad = b"candado-vault/record\0".to_vec();
    crate::codec::put_u8_prefixed(&mut ad, ctx.store.as_str().as_bytes());
    crate::codec::put_u8_prefixed(&mut ad, ctx.kind.as_str().as_bytes());
    ad.extend_from_slice(ctx.locator.as_bytes());
    ad.extend_from_slice(&ctx.schema_version.to_be_bytes());
    ad.push(RECORD_VERSION);
    ad
}

/// Valid inputs for the target called `name`, written with the crate's own encoders (and
/// the fixed key): headers with the extreme parameters and name lengths, a backup file,
/// records that open. Empty for an unknown name.
pub fn seed_inputs(name: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let (Some(keys), Some(store)) = (keys(), store()) else {
        return out;
    };
    let headers: Vec<Header> = [
        (KdfParams::MINIMUM, "candado", 1u32),
        (
            KdfParams::new(KdfParams::MAX_M_KIB, KdfParams::MAX_T, KdfParams::P)
                .unwrap_or(KdfParams::MINIMUM),
            "a",
            u32::MAX,
        ),
        (
            KdfParams::new(65_536, 3, 1).unwrap_or(KdfParams::MINIMUM),
            "z.9-_z.9-_z.9-_z.9-_z.9-_z.9-_z.9-_z.9-_z.9-_z.9-_z.9-_z.9-_z.9-",
            0,
        ),
    ]
    .into_iter()
    .filter_map(|(kdf, name, schema_version)| {
        Some(Header {
            schema_version,
            kdf,
            salt: [0x5a; SALT_LEN],
            store: StoreName::new(name).ok()?,
            wrap_nonce: [0x22; NONCE_LEN],
            wrapped_key: [0x33; 48],
        })
    })
    .collect();
    let kind = RecordKind::SETTINGS;
    let Ok(id) = RecordId::new(RECORD_ID) else {
        return out;
    };
    let locator = keys.locator(kind.as_str(), id.as_str());
    let ctx = RecordContext {
        store: &store,
        kind: &kind,
        locator: &locator,
        schema_version: SCHEMA_VERSION,
    };
    let mut rng = Fixed(0x11);
    let sealed: Vec<Vec<u8>> = [&b""[..], b"dark", &[0u8; 300][..]]
        .iter()
        .filter_map(|payload| seal_record(&keys, ctx, &id, payload, &mut rng).ok())
        .collect();
    match name {
        "header" => {
            out.extend(headers.iter().map(Header::encode));
            let mut entries: Vec<BackupEntry> = [RecordKind::FINGERPRINTS, RecordKind::SETTINGS]
                .into_iter()
                .zip(&sealed)
                .map(|(kind, sealed)| BackupEntry {
                    locator: keys.locator(kind.as_str(), RECORD_ID),
                    kind,
                    sealed: sealed.clone(),
                })
                .collect();
            entries.sort_by(|a, b| (&a.kind, &a.locator).cmp(&(&b.kind, &b.locator)));
            if let Some(h) = headers.first() {
                out.extend(encode_backup(&keys, &h.encode(), &entries, &mut rng).ok());
                out.extend(encode_backup(&keys, &h.encode(), &[], &mut rng).ok());
            }
            out.push(HEADER_MAGIC.to_vec());
            out.push(BACKUP_MAGIC.to_vec());
        }
        "record" => {
            for s in &sealed {
                let mut input = vec![0u8];
                input.extend_from_slice(s);
                out.push(input);
            }
            for (id, payload) in [(RECORD_ID, &b"dark"[..]), ("x", b""), ("\u{263A}", b"\0")] {
                let mut input = vec![1u8];
                crate::codec::put_u16_prefixed(&mut input, id.as_bytes());
                input.extend_from_slice(payload);
                out.push(input);
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_valid_inputs() {
        let headers = seed_inputs("header");
        assert_eq!(headers.len(), 7);
        assert_eq!(headers.iter().filter(|h| header(h)).count(), 3);
        for backup in headers.iter().filter(|h| h.starts_with(&BACKUP_MAGIC)) {
            if backup.len() > BACKUP_MAGIC.len() {
                let parsed = ParsedBackup::parse(backup).unwrap();
                assert!(parsed.authenticate(&keys().unwrap()));
            }
        }
        let records = seed_inputs("record");
        assert_eq!(records.len(), 6);
        assert!(records.iter().all(|r| record(r)), "every seed record opens");
        assert!(seed_inputs("nope").is_empty());
    }

    #[test]
    fn damaged_inputs_are_refused() {
        for mut r in seed_inputs("record") {
            let last = r.len() - 1;
            if r[0] == 0 {
                r[last] ^= 1; // the tag
                assert!(!record(&r));
            } else {
                r.truncate(3); // a length that promises more than there is
                assert!(!record(&r));
            }
        }
        assert!(!record(b""));
        assert!(!record(&[1]));
        assert!(!record(&[1, 0, 0, b'x'])); // an empty id
        let mut long = vec![1u8];
        long.extend_from_slice(&1025u16.to_be_bytes());
        long.extend_from_slice(&[b'a'; 1025]);
        assert!(!record(&long));
        let mut h = seed_inputs("header").remove(0);
        h.push(0);
        assert!(!header(&h));
    }

    #[test]
    fn run_dispatches_by_name() {
        for name in TARGETS {
            assert!(run(name, b"CNDVAULT"), "{name}");
        }
        assert!(!run("nope", b""));
    }
}
