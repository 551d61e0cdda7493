//! Errors, grouped by who is to blame.
//!
//! | Blame | Variants of [`VaultError`] |
//! |---|---|
//! | the user | [`WrongPassphrase`](VaultError::WrongPassphrase) |
//! | the caller (API misuse) | [`Locked`](VaultError::Locked), [`NoVault`](VaultError::NoVault), [`AlreadyExists`](VaultError::AlreadyExists), [`InvalidInput`](VaultError::InvalidInput) |
//! | the stored bytes (corruption or an attacker) | [`Tampered`](VaultError::Tampered), [`CorruptHeader`](VaultError::CorruptHeader), [`ParamsOutOfRange`](VaultError::ParamsOutOfRange), [`SchemaTooNew`](VaultError::SchemaTooNew), [`StoreMismatch`](VaultError::StoreMismatch), [`InvalidBackup`](VaultError::InvalidBackup), [`BackupTampered`](VaultError::BackupTampered) |
//! | the environment | [`Storage`](VaultError::Storage), [`Randomness`](VaultError::Randomness), [`Kdf`](VaultError::Kdf), [`Migration`](VaultError::Migration) |
//!
//! No error carries key bytes, plaintext or the passphrase.

use core::fmt;

use crate::record::{Locator, RecordId, RecordKind};

/// A byte string does not follow the layouts in the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The input ended before a field it announced.
    Truncated,
    /// Bytes were left after the last field.
    TrailingBytes,
    /// The magic bytes at the start are not this format's.
    BadMagic,
    /// A format version this crate does not read.
    UnsupportedVersion(u16),
    /// A field holds a value the format does not allow (named).
    BadField(&'static str),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("input is truncated"),
            Self::TrailingBytes => f.write_str("unexpected bytes after the end"),
            Self::BadMagic => f.write_str("not a Candado vault (bad magic)"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            Self::BadField(name) => write!(f, "invalid field: {name}"),
        }
    }
}

impl core::error::Error for FormatError {}

/// Argon2id parameters outside the range this crate accepts (see [`KdfParams`](crate::KdfParams)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamsError {
    /// Memory in KiB that was asked for.
    pub m_kib: u32,
    /// Passes that were asked for.
    pub t: u32,
    /// Lanes that were asked for.
    pub p: u32,
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Argon2id parameters m={} KiB, t={}, p={} are outside the accepted range",
            self.m_kib, self.t, self.p
        )
    }
}

impl core::error::Error for ParamsError {}

/// Argon2id could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfError {
    /// The memory for the Argon2 blocks could not be allocated.
    OutOfMemory,
    /// The argon2 crate refused its inputs (it should not, for validated parameters).
    Failed,
}

impl fmt::Display for KdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory => f.write_str("not enough memory for Argon2id"),
            Self::Failed => f.write_str("Argon2id failed"),
        }
    }
}

impl core::error::Error for KdfError {}

/// The random source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomnessError;

impl fmt::Display for RandomnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the random number source failed")
    }
}

impl core::error::Error for RandomnessError {}

/// A storage back end failed (IndexedDB error, quota, aborted transaction...).
///
/// A failed [`Storage::commit`](crate::Storage::commit) must have changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    message: String,
}

impl StorageError {
    /// An error with a human-readable description (never put stored values in it).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The description given by the back end.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage failed: {}", self.message)
    }
}

impl core::error::Error for StorageError {}

/// A migration hook refused a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationError {
    message: String,
}

impl MigrationError {
    /// An error with a description (never put record contents in it).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "migration failed: {}", self.message)
    }
}

impl core::error::Error for MigrationError {}

/// The on-device self-test found a primitive computing wrong answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelfTestError {
    /// Argon2id did not reproduce the RFC 9106 §5.3 tag.
    Argon2id,
    /// Argon2id could not run at all (the KAT uses only 32 KiB).
    Argon2idFailed(KdfError),
    /// XChaCha20-Poly1305 did not reproduce the draft-irtf-cfrg-xchacha vector.
    XChaCha20Poly1305,
}

impl fmt::Display for SelfTestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Argon2id => f.write_str("Argon2id known-answer test failed on this device"),
            Self::Argon2idFailed(e) => write!(f, "Argon2id known-answer test could not run: {e}"),
            Self::XChaCha20Poly1305 => {
                f.write_str("XChaCha20-Poly1305 known-answer test failed on this device")
            }
        }
    }
}

impl core::error::Error for SelfTestError {}

/// A stored record failed authentication. Names the record; the others stay readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TamperedRecord {
    /// Its kind.
    pub kind: RecordKind,
    /// Its storage locator (ids are only stored inside the ciphertext).
    pub locator: Locator,
    /// Its id, when the caller asked for it by id.
    pub id: Option<RecordId>,
}

impl fmt::Display for TamperedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}/{}", self.kind, self.locator)?;
        if let Some(id) = &self.id {
            write!(f, " ({id})")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VaultError {
    /// The passphrase does not open this vault. Nothing was changed.
    ///
    /// A header whose salt or wrapped key was altered looks the same: both make
    /// the key unwrap fail.
    WrongPassphrase,
    /// The operation needs an unlocked vault.
    Locked,
    /// There is no vault in this storage yet.
    NoVault,
    /// `create` was called on a storage that already holds a vault.
    AlreadyExists,
    /// An argument is out of range (named).
    InvalidInput(&'static str),
    /// A stored record failed authentication.
    Tampered(TamperedRecord),
    /// The stored header is malformed.
    CorruptHeader(FormatError),
    /// The stored header asks for Argon2id parameters outside the accepted range
    /// (refused before running the KDF: no downgrade, no denial of service).
    ParamsOutOfRange(ParamsError),
    /// The stored schema is newer than this build understands.
    SchemaTooNew {
        /// Schema version in storage.
        stored: u32,
        /// Newest schema version this build knows.
        supported: u32,
    },
    /// The vault was created for another store name.
    StoreMismatch,
    /// A backup file is malformed.
    InvalidBackup(FormatError),
    /// A backup file failed authentication (altered, truncated or re-ordered).
    BackupTampered,
    /// The storage back end failed; nothing was changed.
    Storage(StorageError),
    /// The random source failed.
    Randomness,
    /// Argon2id could not run.
    Kdf(KdfError),
    /// A migration hook failed; nothing was changed.
    Migration(MigrationError),
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongPassphrase => f.write_str("wrong passphrase"),
            Self::Locked => f.write_str("the vault is locked"),
            Self::NoVault => f.write_str("no vault has been created"),
            Self::AlreadyExists => f.write_str("a vault already exists"),
            Self::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Self::Tampered(r) => write!(f, "{r} was altered or corrupted"),
            Self::CorruptHeader(e) => write!(f, "vault header is corrupt: {e}"),
            Self::ParamsOutOfRange(e) => write!(f, "vault header refused: {e}"),
            Self::SchemaTooNew { stored, supported } => write!(
                f,
                "vault schema {stored} is newer than this version supports ({supported})"
            ),
            Self::StoreMismatch => f.write_str("the vault belongs to another store"),
            Self::InvalidBackup(e) => write!(f, "invalid backup file: {e}"),
            Self::BackupTampered => f.write_str("the backup file was altered or corrupted"),
            Self::Storage(e) => e.fmt(f),
            Self::Randomness => RandomnessError.fmt(f),
            Self::Kdf(e) => e.fmt(f),
            Self::Migration(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for VaultError {}

impl From<StorageError> for VaultError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl From<RandomnessError> for VaultError {
    fn from(_: RandomnessError) -> Self {
        Self::Randomness
    }
}

impl From<KdfError> for VaultError {
    fn from(e: KdfError) -> Self {
        Self::Kdf(e)
    }
}

impl From<ParamsError> for VaultError {
    fn from(e: ParamsError) -> Self {
        Self::ParamsOutOfRange(e)
    }
}

impl From<MigrationError> for VaultError {
    fn from(e: MigrationError) -> Self {
        Self::Migration(e)
    }
}
