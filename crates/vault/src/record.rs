//! Names: store names, record kinds, record ids and their storage locators.

use alloc::borrow::Cow;
use core::fmt;

use crate::error::VaultError;

/// Longest store name, in bytes.
pub const MAX_STORE_NAME_LEN: usize = 64;
/// Longest record kind, in bytes.
pub const MAX_KIND_LEN: usize = 32;
/// Longest record id, in bytes (UTF-8).
pub const MAX_ID_LEN: usize = 1024;

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
}

fn check_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(is_name_byte)
}

/// The logical name of a vault (for example `candado`), stored in its header and
/// bound into every record's associated data.
///
/// 1 to 64 bytes of `a-z 0-9 - _ .`
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreName(Cow<'static, str>);

impl StoreName {
    /// Validates a store name.
    ///
    /// # Errors
    /// [`VaultError::InvalidInput`] if it is empty, too long or uses other characters.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Result<Self, VaultError> {
        let name = name.into();
        if check_name(&name, MAX_STORE_NAME_LEN) {
            Ok(Self(name))
        } else {
            Err(VaultError::InvalidInput("store name"))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreName({:?})", self.as_str())
    }
}

impl fmt::Display for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a record holds. Kinds are stored in the clear (as part of the storage
/// key) so that records can be listed by kind; record ids are not.
///
/// 1 to 32 bytes of `a-z 0-9 - _ .`
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKind(Cow<'static, str>);

impl RecordKind {
    /// A per-account OTR DSA private key.
    pub const DSA_KEY: Self = Self(Cow::Borrowed("dsa-key"));
    /// Remembered account credentials.
    pub const CREDENTIALS: Self = Self(Cow::Borrowed("credentials"));
    /// Trusted fingerprints.
    pub const FINGERPRINTS: Self = Self(Cow::Borrowed("fingerprints"));
    /// Settings.
    pub const SETTINGS: Self = Self(Cow::Borrowed("settings"));
    /// Opt-in message history.
    pub const HISTORY: Self = Self(Cow::Borrowed("history"));

    /// Validates a record kind.
    ///
    /// # Errors
    /// [`VaultError::InvalidInput`] if it is empty, too long or uses other characters.
    pub fn new(kind: impl Into<Cow<'static, str>>) -> Result<Self, VaultError> {
        let kind = kind.into();
        if check_name(&kind, MAX_KIND_LEN) {
            Ok(Self(kind))
        } else {
            Err(VaultError::InvalidInput("record kind"))
        }
    }

    /// The kind's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordKind({:?})", self.as_str())
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record's id within its kind (for example an account or peer JID): 1 to 1024
/// bytes of UTF-8. Ids are only ever stored inside the ciphertext.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(String);

impl RecordId {
    /// Validates a record id.
    ///
    /// # Errors
    /// [`VaultError::InvalidInput`] if it is empty or longer than [`MAX_ID_LEN`].
    pub fn new(id: impl Into<String>) -> Result<Self, VaultError> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_ID_LEN {
            Err(VaultError::InvalidInput("record id"))
        } else {
            Ok(Self(id))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({:?})", self.as_str())
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record lives in storage: the first 16 bytes of
/// HMAC-SHA256(locator key, kind ‖ id), so ids never appear in the clear.
/// Shown and stored as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locator(pub(crate) [u8; Locator::LEN]);

impl Locator {
    /// Length in bytes.
    pub const LEN: usize = 16;

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Wraps raw bytes (for storage back ends reading keys back).
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(Self::LEN * 2);
        for b in self.0 {
            for nibble in [b >> 4, b & 0x0f] {
                let digit = HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
                s.push(char::from(digit));
            }
        }
        s
    }

    /// Parses 32 lowercase hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            }
        }
        if s.len() != Self::LEN * 2 {
            return None;
        }
        let mut out = [0u8; Self::LEN];
        for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (*hi, *lo),
                _ => return None,
            };
            *o = (nibble(hi)? << 4) | nibble(lo)?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Locator({})", self.to_hex())
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(RecordKind::new("settings").is_ok());
        assert!(RecordKind::new("").is_err());
        assert!(RecordKind::new("Settings").is_err());
        assert!(RecordKind::new("a/b").is_err());
        assert!(RecordKind::new("x".repeat(33)).is_err());
        assert!(StoreName::new("candado.main").is_ok());
        assert!(StoreName::new("x".repeat(65)).is_err());
        assert!(RecordId::new("alice@example.org/phone").is_ok());
        assert!(RecordId::new("").is_err());
        assert!(RecordId::new("é".repeat(513)).is_err());
        for k in [
            RecordKind::DSA_KEY,
            RecordKind::CREDENTIALS,
            RecordKind::FINGERPRINTS,
            RecordKind::SETTINGS,
            RecordKind::HISTORY,
        ] {
            assert_eq!(RecordKind::new(k.as_str().to_owned()).as_ref(), Ok(&k));
        }
    }

    #[test]
    fn locator_hex_round_trips_and_rejects_junk() {
        let l = Locator([
            0x00, 0x01, 0xab, 0xff, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0x10, 0xf0,
        ]);
        assert_eq!(l.to_hex(), "0001abff0908070605040302010010f0");
        assert_eq!(Locator::from_hex(&l.to_hex()), Some(l));
        assert_eq!(Locator::from_hex("0001ABFF0908070605040302010010f0"), None);
        assert_eq!(Locator::from_hex("00"), None);
        assert_eq!(Locator::from_hex("é001abff0908070605040302010010f"), None);
    }
}
