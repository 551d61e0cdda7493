//! The byte layouts of the header, sealed records and backup files (documented
//! as tables in the crate docs), with their encoders and bounds-checked decoders.

use zeroize::Zeroizing;

use crate::codec::{put_u16_prefixed, put_u8_prefixed, Reader};
use crate::crypto::{open_detached, seal_detached, Keys, KEY_LEN, NONCE_LEN, SEAL_FAILED, TAG_LEN};
use crate::error::{FormatError, ParamsError, VaultError};
use crate::kdf::KdfParams;
use crate::record::{Locator, RecordId, RecordKind, StoreName, MAX_ID_LEN};
use crate::rng::RandomSource;

/// Header magic.
pub const HEADER_MAGIC: [u8; 8] = *b"CNDVAULT";
/// Header format version this crate writes and reads.
pub const HEADER_VERSION: u16 = 1;
/// KDF identifier for Argon2id.
pub const KDF_ARGON2ID: u8 = 0x01;
/// Argon2 version 1.3.
pub const ARGON2_VERSION: u8 = 0x13;
/// Salt length, bytes.
pub const SALT_LEN: usize = 32;
/// Sealed record format version.
pub const RECORD_VERSION: u8 = 1;
/// Backup file magic.
pub const BACKUP_MAGIC: [u8; 8] = *b"CNDVBKUP";
/// Backup file format version.
pub const BACKUP_VERSION: u16 = 1;
/// Largest record payload, bytes (16 MiB).
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024 * 1024;
/// Most records a backup file may hold.
pub const MAX_BACKUP_RECORDS: u32 = 1_000_000;

const RECORD_AD_LABEL: &[u8] = b"candado-vault/record\0";
const BACKUP_AD_LABEL: &[u8] = b"candado-vault/backup\0";

/// Smallest sealed record: version, nonce, an id of one byte with its length, tag.
const MIN_SEALED_LEN: usize = 1 + NONCE_LEN + 2 + 1 + TAG_LEN;
/// Largest sealed record.
pub(crate) const MAX_SEALED_LEN: usize = 1 + NONCE_LEN + 2 + MAX_ID_LEN + MAX_PAYLOAD_LEN + TAG_LEN;

/// The decoded vault header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) schema_version: u32,
    pub(crate) kdf: KdfParams,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) store: StoreName,
    pub(crate) wrap_nonce: [u8; NONCE_LEN],
    pub(crate) wrapped_key: [u8; KEY_LEN + TAG_LEN],
}

/// Why a header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderError {
    Format(FormatError),
    Params(ParamsError),
}

impl From<FormatError> for HeaderError {
    fn from(e: FormatError) -> Self {
        Self::Format(e)
    }
}

impl Header {
    /// The authenticated part: every byte before the wrap nonce. It is the
    /// associated data of the key wrap, so no field can be changed without the
    /// unwrap failing.
    pub(crate) fn wrap_ad(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.store.as_str().len());
        out.extend_from_slice(&HEADER_MAGIC);
        out.extend_from_slice(&HEADER_VERSION.to_be_bytes());
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        out.push(KDF_ARGON2ID);
        out.push(ARGON2_VERSION);
        out.extend_from_slice(&self.kdf.m_kib().to_be_bytes());
        out.extend_from_slice(&self.kdf.t().to_be_bytes());
        out.extend_from_slice(&self.kdf.p().to_be_bytes());
        out.extend_from_slice(&self.salt);
        put_u8_prefixed(&mut out, self.store.as_str().as_bytes());
        out
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = self.wrap_ad();
        out.extend_from_slice(&self.wrap_nonce);
        out.extend_from_slice(&self.wrapped_key);
        out
    }

    /// Decodes and range-checks a header.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, HeaderError> {
        let mut r = Reader::new(bytes);
        if r.array::<8>()? != HEADER_MAGIC {
            return Err(FormatError::BadMagic.into());
        }
        let version = r.u16()?;
        if version != HEADER_VERSION {
            return Err(FormatError::UnsupportedVersion(version).into());
        }
        let schema_version = r.u32()?;
        if r.u8()? != KDF_ARGON2ID {
            return Err(FormatError::BadField("kdf").into());
        }
        if r.u8()? != ARGON2_VERSION {
            return Err(FormatError::BadField("argon2 version").into());
        }
        let (m, t, p) = (r.u32()?, r.u32()?, r.u32()?);
        let kdf = KdfParams::new(m, t, p).map_err(HeaderError::Params)?;
        let salt = r.array()?;
        let store_len = usize::from(r.u8()?);
        let store = core::str::from_utf8(r.take(store_len)?)
            .ok()
            .and_then(|s| StoreName::new(s.to_owned()).ok())
            .ok_or(FormatError::BadField("store name"))?;
        let wrap_nonce = r.array()?;
        let wrapped_key = r.array()?;
        r.finish()?;
        Ok(Self {
            schema_version,
            kdf,
            salt,
            store,
            wrap_nonce,
            wrapped_key,
        })
    }
}

/// The associated data of a sealed record.
fn record_ad(
    store: &StoreName,
    kind: &RecordKind,
    locator: &Locator,
    schema_version: u32,
) -> Vec<u8> {
    let mut ad = Vec::with_capacity(RECORD_AD_LABEL.len() + 2 + 64 + 32 + Locator::LEN + 5);
    ad.extend_from_slice(RECORD_AD_LABEL);
    put_u8_prefixed(&mut ad, store.as_str().as_bytes());
    put_u8_prefixed(&mut ad, kind.as_str().as_bytes());
    ad.extend_from_slice(locator.as_bytes());
    ad.extend_from_slice(&schema_version.to_be_bytes());
    ad.push(RECORD_VERSION);
    ad
}

/// Where a record is and under which schema it is sealed: everything that goes
/// into its associated data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordContext<'a> {
    pub(crate) store: &'a StoreName,
    pub(crate) kind: &'a RecordKind,
    pub(crate) locator: &'a Locator,
    pub(crate) schema_version: u32,
}

impl RecordContext<'_> {
    fn ad(&self) -> Vec<u8> {
        record_ad(self.store, self.kind, self.locator, self.schema_version)
    }
}

/// Seals (id, payload) with a fresh random nonce.
pub(crate) fn seal_record(
    keys: &Keys,
    ctx: RecordContext<'_>,
    id: &RecordId,
    payload: &[u8],
    rng: &mut dyn RandomSource,
) -> Result<Vec<u8>, VaultError> {
    let id = id.as_str().as_bytes();
    let body_len = 2 + id.len() + payload.len();
    let mut out = Vec::with_capacity(1 + NONCE_LEN + body_len + TAG_LEN);
    out.push(RECORD_VERSION);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce)?;
    out.extend_from_slice(&nonce);
    put_u16_prefixed(&mut out, id);
    out.extend_from_slice(payload);
    let body = out.get_mut(1 + NONCE_LEN..).ok_or(SEAL_FAILED)?;
    let tag = seal_detached(&keys.record, &nonce, &ctx.ad(), body).ok_or(SEAL_FAILED)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a sealed record: `None` if it is malformed or fails authentication.
pub(crate) fn open_record(
    keys: &Keys,
    ctx: RecordContext<'_>,
    sealed: &[u8],
) -> Option<(RecordId, Zeroizing<Vec<u8>>)> {
    if sealed.len() < MIN_SEALED_LEN || sealed.len() > MAX_SEALED_LEN {
        return None;
    }
    let mut r = Reader::new(sealed);
    if r.u8().ok()? != RECORD_VERSION {
        return None;
    }
    let nonce: [u8; NONCE_LEN] = r.array().ok()?;
    let body_len = r.remaining().checked_sub(TAG_LEN)?;
    let mut body = Zeroizing::new(r.take(body_len).ok()?.to_vec());
    let tag = r.take(TAG_LEN).ok()?;
    r.finish().ok()?;
    open_detached(&keys.record, &nonce, &ctx.ad(), &mut body, tag)?;
    let mut br = Reader::new(&body);
    let id_len = usize::from(br.u16().ok()?);
    let id = core::str::from_utf8(br.take(id_len).ok()?).ok()?;
    let id = RecordId::new(id.to_owned()).ok()?;
    // The id inside must be the one the locator was computed from.
    if keys.locator(ctx.kind.as_str(), id.as_str()) != *ctx.locator {
        return None;
    }
    let payload = Zeroizing::new(br.peek_rest().to_vec());
    Some((id, payload))
}

/// The nonce of a sealed record (for tests and diagnostics).
#[cfg(test)]
pub(crate) fn record_nonce(sealed: &[u8]) -> Option<[u8; NONCE_LEN]> {
    let mut r = Reader::new(sealed);
    r.u8().ok()?;
    r.array().ok()
}

/// One record in a backup file: still sealed under the vault key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackupEntry {
    pub(crate) kind: RecordKind,
    pub(crate) locator: Locator,
    pub(crate) sealed: Vec<u8>,
}

/// Writes a backup file and authenticates it with the backup key.
pub(crate) fn encode_backup(
    keys: &Keys,
    header: &[u8],
    entries: &[BackupEntry],
    rng: &mut dyn RandomSource,
) -> Result<Vec<u8>, VaultError> {
    let mut out = Vec::new();
    out.extend_from_slice(&BACKUP_MAGIC);
    out.extend_from_slice(&BACKUP_VERSION.to_be_bytes());
    put_u16_prefixed(&mut out, header);
    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for e in entries {
        put_u8_prefixed(&mut out, e.kind.as_str().as_bytes());
        out.extend_from_slice(e.locator.as_bytes());
        let len = u32::try_from(e.sealed.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&e.sealed);
    }
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce)?;
    let ad = backup_ad(&out);
    let tag = seal_detached(&keys.backup, &nonce, &ad, &mut []).ok_or(SEAL_FAILED)?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&tag);
    Ok(out)
}

fn backup_ad(body: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(BACKUP_AD_LABEL.len() + body.len());
    ad.extend_from_slice(BACKUP_AD_LABEL);
    ad.extend_from_slice(body);
    ad
}

/// A parsed (not yet authenticated) backup file.
#[derive(Debug)]
pub(crate) struct ParsedBackup<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) entries: Vec<BackupEntry>,
    body: &'a [u8],
    nonce: [u8; NONCE_LEN],
    tag: [u8; TAG_LEN],
}

impl<'a> ParsedBackup<'a> {
    pub(crate) fn parse(file: &'a [u8]) -> Result<Self, FormatError> {
        let body_len = file
            .len()
            .checked_sub(NONCE_LEN + TAG_LEN)
            .ok_or(FormatError::Truncated)?;
        let (body, trailer) = file.split_at(body_len);
        let mut r = Reader::new(body);
        if r.array::<8>()? != BACKUP_MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = r.u16()?;
        if version != BACKUP_VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        let header_len = usize::from(r.u16()?);
        let header = r.take(header_len)?;
        let count = r.u32()?;
        if count > MAX_BACKUP_RECORDS {
            return Err(FormatError::BadField("record count"));
        }
        let mut entries = Vec::new();
        let mut previous: Option<(RecordKind, Locator)> = None;
        for _ in 0..count {
            let kind_len = usize::from(r.u8()?);
            let kind = core::str::from_utf8(r.take(kind_len)?)
                .ok()
                .and_then(|k| RecordKind::new(k.to_owned()).ok())
                .ok_or(FormatError::BadField("record kind"))?;
            let locator = Locator(r.array()?);
            let len =
                usize::try_from(r.u32()?).map_err(|_| FormatError::BadField("record length"))?;
            if len > MAX_SEALED_LEN {
                return Err(FormatError::BadField("record length"));
            }
            let sealed = r.take(len)?.to_vec();
            // Entries are sorted by (kind, locator) with no duplicates.
            let key = (kind, locator);
            if previous.as_ref().is_some_and(|p| *p >= key) {
                return Err(FormatError::BadField("record order"));
            }
            entries.push(BackupEntry {
                kind: key.0.clone(),
                locator,
                sealed,
            });
            previous = Some(key);
        }
        r.finish()?;
        let mut tr = Reader::new(trailer);
        let nonce = tr.array()?;
        let tag = tr.array()?;
        tr.finish()?;
        Ok(Self {
            header,
            entries,
            body,
            nonce,
            tag,
        })
    }

    /// Checks the file's authentication tag under the backup key.
    pub(crate) fn authenticate(&self, keys: &Keys) -> bool {
        open_detached(
            &keys.backup,
            &self.nonce,
            &backup_ad(self.body),
            &mut [],
            &self.tag,
        )
        .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::VaultKey;
    use crate::tests_support::TestRng;

    fn header() -> Header {
        Header {
            schema_version: 3,
            kdf: KdfParams::MINIMUM,
            salt: [0x11; SALT_LEN],
            store: StoreName::new("candado").unwrap(),
            wrap_nonce: [0x22; NONCE_LEN],
            wrapped_key: [0x33; KEY_LEN + TAG_LEN],
        }
    }

    #[test]
    fn header_layout_matches_the_documented_table() {
        let h = header();
        let bytes = h.encode();
        assert_eq!(&bytes[0..8], b"CNDVAULT");
        assert_eq!(&bytes[8..10], &[0, 1]);
        assert_eq!(&bytes[10..14], &[0, 0, 0, 3]);
        assert_eq!(bytes[14], 0x01);
        assert_eq!(bytes[15], 0x13);
        assert_eq!(&bytes[16..20], &19456u32.to_be_bytes());
        assert_eq!(&bytes[20..24], &2u32.to_be_bytes());
        assert_eq!(&bytes[24..28], &1u32.to_be_bytes());
        assert_eq!(&bytes[28..60], &[0x11; 32]);
        assert_eq!(bytes[60], 7);
        assert_eq!(&bytes[61..68], b"candado");
        assert_eq!(&bytes[68..92], &[0x22; 24]);
        assert_eq!(&bytes[92..140], &[0x33; 48]);
        assert_eq!(bytes.len(), 133 + 7);
        assert_eq!(h.wrap_ad(), &bytes[..68]);
        assert_eq!(Header::decode(&bytes), Ok(h));
    }

    #[test]
    fn header_decoder_rejects_every_truncation_and_extension() {
        let bytes = header().encode();
        for n in 0..bytes.len() {
            assert!(Header::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            Header::decode(&long),
            Err(HeaderError::Format(FormatError::TrailingBytes))
        );
    }

    #[test]
    fn header_decoder_refuses_out_of_range_params() {
        for (off, value) in [
            (16, 19455u32),
            (16, 65537),
            (20, 1),
            (20, 25),
            (24, 2),
            (24, 0),
        ] {
            let mut bytes = header().encode();
            bytes[off..off + 4].copy_from_slice(&value.to_be_bytes());
            assert!(
                matches!(Header::decode(&bytes), Err(HeaderError::Params(_))),
                "offset {off} value {value}"
            );
        }
        let mut bytes = header().encode();
        bytes[14] = 2;
        assert_eq!(
            Header::decode(&bytes),
            Err(HeaderError::Format(FormatError::BadField("kdf")))
        );
        let mut bytes = header().encode();
        bytes[15] = 0x10;
        assert!(Header::decode(&bytes).is_err());
        let mut bytes = header().encode();
        bytes[9] = 2;
        assert_eq!(
            Header::decode(&bytes),
            Err(HeaderError::Format(FormatError::UnsupportedVersion(2)))
        );
        let mut bytes = header().encode();
        bytes[0] = b'X';
        assert_eq!(
            Header::decode(&bytes),
            Err(HeaderError::Format(FormatError::BadMagic))
        );
    }

    #[test]
    fn records_round_trip_and_bind_their_context() {
        let mut rng = TestRng::new(5);
        let keys = VaultKey::generate(&mut rng).unwrap().keys();
        let store = StoreName::new("candado").unwrap();
        let kind = RecordKind::SETTINGS;
        let id = RecordId::new("theme").unwrap();
        let locator = keys.locator(kind.as_str(), id.as_str());
        let ctx = RecordContext {
            store: &store,
            kind: &kind,
            locator: &locator,
            schema_version: 1,
        };
        let sealed = seal_record(&keys, ctx, &id, b"dark", &mut rng).unwrap();
        assert_eq!(sealed.len(), 1 + 24 + 2 + 5 + 4 + 16);
        assert_eq!(sealed[0], RECORD_VERSION);
        let (got_id, payload) = open_record(&keys, ctx, &sealed).unwrap();
        assert_eq!(got_id, id);
        assert_eq!(payload.as_slice(), b"dark");
        let other_store = StoreName::new("other").unwrap();
        for wrong in [
            RecordContext {
                store: &other_store,
                ..ctx
            },
            RecordContext {
                kind: &RecordKind::HISTORY,
                ..ctx
            },
            RecordContext {
                schema_version: 2,
                ..ctx
            },
        ] {
            assert!(open_record(&keys, wrong, &sealed).is_none());
        }
        let other_locator = keys.locator(kind.as_str(), "font");
        assert!(open_record(
            &keys,
            RecordContext {
                locator: &other_locator,
                ..ctx
            },
            &sealed
        )
        .is_none());
        let other_keys = VaultKey::generate(&mut rng).unwrap().keys();
        assert!(open_record(&other_keys, ctx, &sealed).is_none());
        for n in 0..sealed.len() {
            assert!(open_record(&keys, ctx, &sealed[..n]).is_none());
        }
    }

    #[test]
    fn decoders_never_panic_on_noise() {
        let mut rng = TestRng::new(77);
        let keys = VaultKey::generate(&mut rng).unwrap().keys();
        let store = StoreName::new("s").unwrap();
        let locator = Locator([0; 16]);
        let ctx = RecordContext {
            store: &store,
            kind: &RecordKind::SETTINGS,
            locator: &locator,
            schema_version: 1,
        };
        let valid_header = header().encode();
        for round in 0..3000u32 {
            let mut len = [0u8; 2];
            rng.fill(&mut len).unwrap();
            let mut buf = vec![0u8; usize::from(u16::from_le_bytes(len)) % 400];
            rng.fill(&mut buf).unwrap();
            // Half of the inputs start with a valid prefix, to reach deeper fields.
            if round % 2 == 0 {
                let n = buf.len().min(valid_header.len());
                buf[..n].copy_from_slice(&valid_header[..n]);
            }
            let _ = Header::decode(&buf);
            let _ = open_record(&keys, ctx, &buf);
            let _ = ParsedBackup::parse(&buf);
            let mut b = BACKUP_MAGIC.to_vec();
            b.extend_from_slice(&buf);
            let _ = ParsedBackup::parse(&b);
        }
    }
}
