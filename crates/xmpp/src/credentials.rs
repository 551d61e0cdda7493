//! Secrets handed to the session: the account password and the caller's randomness.

use core::fmt;

use zeroize::{Zeroize, Zeroizing};

/// An account password. Wiped from memory on drop; `Debug` never shows it.
///
/// The session prepares it with SASLprep (RFC 4013, required by RFC 5802 for SCRAM and by
/// RFC 4616 for PLAIN) before using it: soft hyphens and other "mapped to nothing"
/// characters are dropped, non-ASCII spaces become spaces, and the text is normalised to
/// NFKC (`"\u{2168}"`, ROMAN NUMERAL NINE, becomes `"IX"`). Passwords SASLprep refuses
/// (control characters, private-use or unassigned code points, mixed-direction text) are
/// refused before anything is sent ([`CredentialError`]). ASCII passwords without control
/// characters are unchanged.
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

    /// The password after SASLprep (RFC 4013), as it is used for SCRAM, PLAIN and in-band
    /// registration. Fails for passwords SASLprep refuses, and for passwords that are empty
    /// once prepared.
    pub fn prepared(&self) -> Result<Password, CredentialError> {
        match stringprep::saslprep(self.expose()) {
            // The library's error names the offending character: never shown.
            Err(_) => Err(CredentialError::Password),
            Ok(p) if p.is_empty() => Err(CredentialError::Password),
            Ok(p) => Ok(Password::new(p.into_owned())),
        }
    }
}

/// SASLprep (RFC 4013) of the SASL username (the JID localpart, RFC 6120 §6.3.8).
pub(crate) fn prepare_username(username: &str) -> Result<String, CredentialError> {
    match stringprep::saslprep(username) {
        Err(_) => Err(CredentialError::Username),
        Ok(u) if u.is_empty() => Err(CredentialError::Username),
        Ok(u) => Ok(u.into_owned()),
    }
}

/// Credentials that cannot be used for SASL: SASLprep (RFC 4013) refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialError {
    /// The password holds characters SASLprep prohibits (control characters, private-use,
    /// non-character or unassigned code points, ...), mixes right-to-left and left-to-right
    /// text, or is empty once prepared. Which character is never said: it is a secret.
    Password,
    /// The JID localpart is refused by SASLprep.
    Username,
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password => f.write_str(
                "the password is not allowed by SASLprep (RFC 4013): prohibited or \
                 unassigned characters, mixed-direction text, or empty",
            ),
            Self::Username => f.write_str("the username is not allowed by SASLprep (RFC 4013)"),
        }
    }
}

impl std::error::Error for CredentialError {}

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

    /// RFC 4013 §3 examples, plus the password used against the real servers.
    #[test]
    fn saslprep_rfc4013_examples() {
        for (input, prepared) in [
            ("I\u{AD}X", "IX"),
            ("user", "user"),
            ("USER", "USER"),
            ("\u{AA}", "a"),
            ("\u{2168}", "IX"),
            ("contrase\u{F1}a-\u{2168}\u{AD}", "contrase\u{F1}a-IX"),
            // Non-ASCII space becomes a space; a combining tilde composes (NFKC).
            ("a\u{A0}b", "a b"),
            ("contrasen\u{303}a", "contrase\u{F1}a"),
        ] {
            let p = Password::new(input).prepared().unwrap();
            assert_eq!(p.expose(), prepared, "{input:?}");
            // Preparing twice changes nothing.
            assert_eq!(p.prepared().unwrap().expose(), prepared);
        }
        for refused in [
            "\u{7}",           // C.2.1 control character
            "\u{627}1",        // RandALCat not at both ends (RFC 3454 §6)
            "\u{627}a\u{627}", // RandALCat mixed with LCat
            "pass\u{E000}",    // private use
            "\u{FFFF}",        // non-character
            "x\u{221}",        // unassigned in Unicode 3.2 (RFC 3454 table A.1)
            "\u{AD}",          // empty once prepared
            "",
        ] {
            let e = Password::new(refused).prepared().unwrap_err();
            assert_eq!(e, CredentialError::Password, "{refused:?}");
            // The error never repeats the password.
            assert!(refused.is_empty() || !e.to_string().contains(refused));
        }
        assert_eq!(prepare_username("a=b,c").unwrap(), "a=b,c");
        assert_eq!(prepare_username("\u{2168}").unwrap(), "IX");
        assert_eq!(prepare_username("\u{7}"), Err(CredentialError::Username));
        assert_eq!(prepare_username(""), Err(CredentialError::Username));
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
