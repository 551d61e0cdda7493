//! Secrets handed to the session: the account password and the caller's randomness.

use core::fmt;

use zeroize::{Zeroize, Zeroizing};

/// An account password. Wiped from memory on drop; `Debug` never shows it.
///
/// The password is used as its UTF-8 bytes. SASLprep (RFC 4013) is not applied, which is
/// the identity for ASCII passwords without control characters.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password. The caller should drop its own copy.
    pub fn new(password: impl Into<String>) -> Self {
        Self(Zeroizing::new(password.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// Constant-time comparison (so `Command` can be compared in tests without timing leaks).
impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.len() == other.0.len() && bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl Eq for Password {}

impl From<String> for Password {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// 32 random bytes from the caller, used for the SCRAM client nonce and to make stanza ids
/// unique across sessions. The session reads no randomness of its own.
///
/// Give every session fresh bytes from a CSPRNG (`crypto.getRandomValues` in the browser,
/// `getrandom` natively).
#[derive(Clone)]
pub struct Seed([u8; 32]);

impl Seed {
    /// Wraps 32 random bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The SCRAM client nonce: 24 bytes as 32 characters of base64 (RFC 5802 `c-nonce`
    /// allows any printable ASCII but ',', which base64 never produces).
    pub(crate) fn scram_nonce(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        let (nonce, _) = self.0.split_at(24);
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(nonce))
    }

    /// A short prefix for stanza ids, from bytes not used by the nonce.
    pub(crate) fn id_prefix(&self) -> String {
        let (_, tail) = self.0.split_at(24);
        tail.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let p = Password::new("hunter2-correct-horse");
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
        assert_eq!(p.expose(), "hunter2-correct-horse");
        let s = Seed::new([0xAB; 32]);
        let dbg = format!("{s:?}");
        assert_eq!(dbg, "Seed(<redacted>)");
        assert!(!dbg.contains("ab") && !dbg.contains("171"));
    }

    #[test]
    fn seed_parts_are_disjoint_and_printable() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let s = Seed::new(bytes);
        let nonce = s.scram_nonce();
        assert_eq!(nonce.len(), 32);
        assert!(nonce
            .bytes()
            .all(|c| (0x21..=0x7e).contains(&c) && c != b','));
        assert_eq!(s.id_prefix(), "18191a1b1c1d1e1f");
    }
}
