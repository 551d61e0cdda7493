//! Secrets and the AEAD: the passphrase, the key-encryption key, the vault key
//! and the sub-keys derived from it, XChaCha20-Poly1305 sealing, and its
//! known-answer test.

use core::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{RandomnessError, SelfTestError, VaultError};
use crate::record::Locator;
use crate::rng::RandomSource;

/// Key length (XChaCha20-Poly1305 and HMAC-SHA256 keys), bytes.
pub(crate) const KEY_LEN: usize = 32;
/// XChaCha20-Poly1305 nonce length, bytes.
pub(crate) const NONCE_LEN: usize = 24;
/// Poly1305 tag length, bytes.
pub(crate) const TAG_LEN: usize = 16;

/// The AEAD refused to seal: it only does so for inputs over 256 GiB, which
/// the size limits of this crate rule out.
pub(crate) const SEAL_FAILED: VaultError = VaultError::InvalidInput("input too large to seal");

/// A passphrase, as bytes (the app passes UTF-8 as typed). Zeroized on drop and
/// never shown by `Debug`.
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// Takes ownership of the bytes (no copy is left behind).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for Passphrase {
    fn from(s: String) -> Self {
        Self::from_bytes(s.into_bytes())
    }
}

impl From<&str> for Passphrase {
    fn from(s: &str) -> Self {
        Self::from_bytes(s.as_bytes().to_vec())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// The key-encryption key: Argon2id output. Wraps the vault key only.
pub(crate) struct Kek(Zeroizing<[u8; KEY_LEN]>);

impl Kek {
    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        Self(bytes)
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Seals the vault key under this KEK with `ad` (the header bytes before the nonce).
    pub(crate) fn wrap(
        &self,
        vault_key: &VaultKey,
        ad: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<([u8; NONCE_LEN], [u8; KEY_LEN + TAG_LEN]), VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let mut out = [0u8; KEY_LEN + TAG_LEN];
        let (body, tag_out) = out.split_at_mut(KEY_LEN);
        body.copy_from_slice(vault_key.0.as_ref());
        let tag = seal_detached(&self.0, &nonce, ad, body).ok_or(SEAL_FAILED)?;
        tag_out.copy_from_slice(&tag);
        Ok((nonce, out))
    }

    /// Opens a wrapped vault key; `None` for a wrong KEK or altered bytes.
    pub(crate) fn unwrap_key(
        &self,
        nonce: &[u8; NONCE_LEN],
        wrapped: &[u8; KEY_LEN + TAG_LEN],
        ad: &[u8],
    ) -> Option<VaultKey> {
        let (body, tag) = wrapped.split_at(KEY_LEN);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(body);
        open_detached(&self.0, nonce, ad, key.as_mut(), tag)?;
        Some(VaultKey(key))
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

/// The random vault key. Everything else is derived from it.
pub(crate) struct VaultKey(Zeroizing<[u8; KEY_LEN]>);

impl VaultKey {
    pub(crate) fn generate(rng: &mut dyn RandomSource) -> Result<Self, RandomnessError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill(key.as_mut())?;
        Ok(Self(key))
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Derives the working keys (HMAC-SHA256 of a label under the vault key).
    pub(crate) fn keys(&self) -> Keys {
        Keys {
            record: prf(&self.0, b"candado-vault/v1/record-key"),
            locator: prf(&self.0, b"candado-vault/v1/locator-key"),
            backup: prf(&self.0, b"candado-vault/v1/backup-key"),
        }
    }
}

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultKey(<redacted>)")
    }
}

/// The keys an unlocked vault works with, all derived from the vault key.
pub(crate) struct Keys {
    /// Seals records.
    pub(crate) record: Zeroizing<[u8; KEY_LEN]>,
    /// Computes locators.
    pub(crate) locator: Zeroizing<[u8; KEY_LEN]>,
    /// Authenticates backup files.
    pub(crate) backup: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// The storage locator of (kind, id).
    pub(crate) fn locator(&self, kind: &str, id: &str) -> Locator {
        let mut msg = Vec::with_capacity(3 + kind.len() + id.len());
        crate::codec::put_u8_prefixed(&mut msg, kind.as_bytes());
        crate::codec::put_u16_prefixed(&mut msg, id.as_bytes());
        let full = prf(&self.locator, &msg);
        let mut out = [0u8; Locator::LEN];
        out.copy_from_slice(full.get(..Locator::LEN).unwrap_or(&[0u8; Locator::LEN]));
        Locator(out)
    }
}

fn prf(key: &[u8; KEY_LEN], msg: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    // HMAC accepts keys of any length, so this cannot fail; on the impossible
    // error the output stays zero and every later AEAD check fails closed.
    if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        mac.update(msg);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// Encrypts `buf` in place; returns the tag. `None` only if the AEAD refuses the
/// lengths (it does not below 256 GiB).
pub(crate) fn seal_detached(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
) -> Option<[u8; TAG_LEN]> {
    let cipher = XChaCha20Poly1305::new_from_slice(key).ok()?;
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(*nonce), ad, buf.into())
        .ok()?;
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&tag);
    Some(out)
}

/// Decrypts `buf` in place if the tag verifies; otherwise `None` and `buf` is
/// left as ciphertext (the AEAD checks the tag before decrypting).
pub(crate) fn open_detached(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Option<()> {
    let cipher = XChaCha20Poly1305::new_from_slice(key).ok()?;
    let tag = Tag::try_from(tag).ok()?;
    cipher
        .decrypt_inout_detached(&XNonce::from(*nonce), ad, buf.into(), &tag)
        .ok()
}

/// draft-irtf-cfrg-xchacha-03 Appendix A.3.1 (AEAD_XChaCha20_Poly1305).
pub(crate) mod xchacha_vector {
    pub(crate) const KEY: [u8; 32] = [
        0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e,
        0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d,
        0x9e, 0x9f,
    ];
    pub(crate) const NONCE: [u8; 24] = [
        0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e,
        0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
    ];
    pub(crate) const AD: [u8; 12] = [
        0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
    ];
    pub(crate) const PLAINTEXT: &[u8] = b"Ladies and Gentlemen of the class of '99: \
If I could offer you only one tip for the future, sunscreen would be it.";
    pub(crate) const CIPHERTEXT: [u8; 114] = [
        0xbd, 0x6d, 0x17, 0x9d, 0x3e, 0x83, 0xd4, 0x3b, 0x95, 0x76, 0x57, 0x94, 0x93, 0xc0, 0xe9,
        0x39, 0x57, 0x2a, 0x17, 0x00, 0x25, 0x2b, 0xfa, 0xcc, 0xbe, 0xd2, 0x90, 0x2c, 0x21, 0x39,
        0x6c, 0xbb, 0x73, 0x1c, 0x7f, 0x1b, 0x0b, 0x4a, 0xa6, 0x44, 0x0b, 0xf3, 0xa8, 0x2f, 0x4e,
        0xda, 0x7e, 0x39, 0xae, 0x64, 0xc6, 0x70, 0x8c, 0x54, 0xc2, 0x16, 0xcb, 0x96, 0xb7, 0x2e,
        0x12, 0x13, 0xb4, 0x52, 0x2f, 0x8c, 0x9b, 0xa4, 0x0d, 0xb5, 0xd9, 0x45, 0xb1, 0x1b, 0x69,
        0xb9, 0x82, 0xc1, 0xbb, 0x9e, 0x3f, 0x3f, 0xac, 0x2b, 0xc3, 0x69, 0x48, 0x8f, 0x76, 0xb2,
        0x38, 0x35, 0x65, 0xd3, 0xff, 0xf9, 0x21, 0xf9, 0x66, 0x4c, 0x97, 0x63, 0x7d, 0xa9, 0x76,
        0x88, 0x12, 0xf6, 0x15, 0xc6, 0x8b, 0x13, 0xb5, 0x2e,
    ];
    pub(crate) const TAG: [u8; 16] = [
        0xc0, 0x87, 0x59, 0x24, 0xc1, 0xc7, 0x98, 0x79, 0x47, 0xde, 0xaf, 0xd8, 0x78, 0x0a, 0xcf,
        0x49,
    ];
}

/// The XChaCha20-Poly1305 known-answer test (draft-irtf-cfrg-xchacha A.3.1):
/// seals the vector's plaintext and checks ciphertext and tag, then opens it back.
///
/// # Errors
/// [`SelfTestError::XChaCha20Poly1305`] on any mismatch.
pub fn xchacha20poly1305_known_answer_test() -> Result<(), SelfTestError> {
    use xchacha_vector::*;
    let mut buf = PLAINTEXT.to_vec();
    let tag = seal_detached(&KEY, &NONCE, &AD, &mut buf).ok_or(SelfTestError::XChaCha20Poly1305)?;
    if buf != CIPHERTEXT || tag != TAG {
        return Err(SelfTestError::XChaCha20Poly1305);
    }
    open_detached(&KEY, &NONCE, &AD, &mut buf, &tag).ok_or(SelfTestError::XChaCha20Poly1305)?;
    if buf != PLAINTEXT {
        return Err(SelfTestError::XChaCha20Poly1305);
    }
    Ok(())
}

/// Runs every known-answer test: Argon2id (RFC 9106 §5.3) and XChaCha20-Poly1305.
/// The app runs this once per device before creating or unlocking a vault and
/// refuses to go on if it fails.
///
/// # Errors
/// The first [`SelfTestError`] found.
pub fn self_test() -> Result<(), SelfTestError> {
    crate::kdf::argon2id_known_answer_test()?;
    xchacha20poly1305_known_answer_test()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests_support::TestRng;

    #[test]
    fn xchacha_vector_passes() {
        assert_eq!(xchacha20poly1305_known_answer_test(), Ok(()));
        assert_eq!(self_test(), Ok(()));
    }

    #[test]
    fn open_rejects_wrong_key_ad_nonce_and_tag() {
        use xchacha_vector::*;
        let mut ct = CIPHERTEXT.to_vec();
        let mut other = KEY;
        other[0] ^= 1;
        assert!(open_detached(&other, &NONCE, &AD, &mut ct, &TAG).is_none());
        assert_eq!(ct, CIPHERTEXT, "a failed open leaves the ciphertext");
        assert!(open_detached(&KEY, &NONCE, b"other", &mut ct, &TAG).is_none());
        let mut n = NONCE;
        n[23] ^= 0x80;
        assert!(open_detached(&KEY, &n, &AD, &mut ct, &TAG).is_none());
        let mut t = TAG;
        t[15] ^= 1;
        assert!(open_detached(&KEY, &NONCE, &AD, &mut ct, &t).is_none());
        assert!(open_detached(&KEY, &NONCE, &AD, &mut ct, &TAG[..15]).is_none());
        assert!(open_detached(&KEY, &NONCE, &AD, &mut ct, &TAG).is_some());
        assert_eq!(ct, PLAINTEXT);
    }

    #[test]
    fn wrap_round_trips_and_binds_the_ad() {
        let mut rng = TestRng::new(1);
        let kek = Kek::from_bytes(Zeroizing::new([7; 32]));
        let vk = VaultKey::generate(&mut rng).unwrap();
        let (nonce, wrapped) = kek.wrap(&vk, b"header", &mut rng).unwrap();
        assert_ne!(&wrapped[..32], vk.bytes(), "the key is encrypted");
        let back = kek.unwrap_key(&nonce, &wrapped, b"header").unwrap();
        assert_eq!(back.bytes(), vk.bytes());
        assert!(kek.unwrap_key(&nonce, &wrapped, b"heades").is_none());
        let wrong = Kek::from_bytes(Zeroizing::new([8; 32]));
        assert!(wrong.unwrap_key(&nonce, &wrapped, b"header").is_none());
    }

    #[test]
    fn sub_keys_and_locators_are_distinct() {
        let mut rng = TestRng::new(2);
        let vk = VaultKey::generate(&mut rng).unwrap();
        let k = vk.keys();
        assert_ne!(*k.record, *k.locator);
        assert_ne!(*k.record, *k.backup);
        assert_ne!(*k.record, *vk.bytes());
        let a = k.locator("settings", "x");
        assert_eq!(a, k.locator("settings", "x"));
        assert_ne!(a, k.locator("settings", "y"));
        assert_ne!(a, k.locator("history", "x"));
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(k.locator("ab", "c"), k.locator("a", "bc"));
        let other = VaultKey::generate(&mut rng).unwrap().keys();
        assert_ne!(a, other.locator("settings", "x"));
    }
}
