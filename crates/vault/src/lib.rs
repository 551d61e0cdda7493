//! Candado's passphrase vault: everything the chat app keeps on the device
//! (OTR keys, remembered credentials, trusted fingerprints, settings, opt-in
//! history) is sealed here, so a seized or shared phone shows only ciphertext.
//!
//! # Keys
//!
//! ```text
//! passphrase ──Argon2id(salt, m, t, p=1)──▶ KEK ──XChaCha20-Poly1305 wrap──▶ header
//!                                                        │
//!                                  random 32-byte vault key
//!                                                        │ HMAC-SHA256(vault key, label)
//!                     ┌──────────────────────────────────┼─────────────────────────┐
//!                record key                         locator key                backup key
//!         XChaCha20-Poly1305 of records     hides record ids in storage    authenticates backups
//! ```
//!
//! Changing the passphrase re-wraps the vault key only: one header write, no
//! record is touched. Locking drops (and zeroizes) every key.
//!
//! # Use
//!
//! 1. Once per device, before the first vault operation: [`self_test`] (RFC 9106
//!    Argon2id and XChaCha20-Poly1305 known answers). Refuse to go on if it fails.
//! 2. At creation: [`calibrate`] with the caller's clock picks [`KdfParams`] of
//!    about one second (never below 19 MiB / t = 2, at most 64 MiB).
//! 3. [`Vault::create`], then [`put`](Vault::put) / [`get`](Vault::get) /
//!    [`delete`](Vault::delete) / [`list`](Vault::list) by [`RecordKind`];
//!    [`lock`](Vault::lock), [`unlock`](Vault::unlock),
//!    [`change_passphrase`](Vault::change_passphrase),
//!    [`export_backup`](Vault::export_backup) / [`import_backup`](Vault::import_backup),
//!    [`wipe`](Vault::wipe).
//!
//! ```
//! # use core::future::Future;
//! # fn block_on<F: Future>(f: F) -> F::Output {
//! #     let mut f = core::pin::pin!(f);
//! #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
//! #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! use candado_vault::*;
//!
//! # block_on(async {
//! self_test().expect("this device computes Argon2id and XChaCha20-Poly1305 correctly");
//! let config = VaultConfig { store: StoreName::new("candado")?, schema_version: 1 };
//! let mut vault = Vault::new(MemoryStorage::new(), SystemRandom, config);
//! let passphrase = Passphrase::from("correct horse battery staple");
//! vault.create(&passphrase, KdfParams::MINIMUM).await?; // use calibrate() in the app
//!
//! let jid = RecordId::new("alice@example.org")?;
//! vault.put(&RecordKind::FINGERPRINTS, &jid, b"trusted: 1234...").await?;
//! vault.lock();
//! assert_eq!(vault.get(&RecordKind::FINGERPRINTS, &jid).await, Err(VaultError::Locked));
//!
//! assert_eq!(vault.unlock(&"wrong".into()).await, Err(VaultError::WrongPassphrase));
//! vault.unlock(&passphrase).await?;
//! let value = vault.get(&RecordKind::FINGERPRINTS, &jid).await?;
//! assert_eq!(value.as_deref().map(Vec::as_slice), Some(&b"trusted: 1234..."[..]));
//! # Ok::<(), VaultError>(())
//! # }).unwrap();
//! ```
//!
//! Storage is a [`Storage`] trait with async methods: [`MemoryStorage`] here, and
//! `IndexedDbStorage` on `wasm32` (one object store for the header, one for
//! records; every [`Transaction`] is one IndexedDB `readwrite` transaction).
//!
//! # Format
//!
//! All integers are big-endian. A reader must reject: a short input, bytes after
//! the last field, an unknown magic or version, and Argon2id parameters outside
//! the range of [`KdfParams`] (checked *before* running the KDF).
//!
//! ## Header (format version 1), `133 + n` bytes
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 8 | magic `CNDVAULT` (`43 4e 44 56 41 55 4c 54`) |
//! | 8 | 2 | header format version = 1 |
//! | 10 | 4 | record schema version `s` |
//! | 14 | 1 | KDF = `0x01` (Argon2id) |
//! | 15 | 1 | Argon2 version = `0x13` |
//! | 16 | 4 | `m`, memory in KiB: 19 456 ..= 65 536 |
//! | 20 | 4 | `t`, passes: 2 ..= 24 |
//! | 24 | 4 | `p`, lanes: 1 |
//! | 28 | 32 | salt |
//! | 60 | 1 | `n`, store name length (1 ..= 64) |
//! | 61 | n | store name (`a-z 0-9 - _ .`) |
//! | 61 + n | 24 | wrap nonce |
//! | 85 + n | 48 | wrapped vault key: 32 bytes of ciphertext, 16-byte tag |
//!
//! KEK = Argon2id(password = passphrase bytes, salt, m, t, p, version 0x13, no
//! secret, no associated data, 32 bytes of output). The vault key is
//! XChaCha20-Poly1305(key = KEK, nonce = wrap nonce, associated data = header
//! bytes `0 .. 61 + n`). A wrong passphrase and an altered header both fail this
//! unwrap.
//!
//! ## Derived keys
//!
//! `HMAC-SHA256(vault key, label)` with the ASCII labels
//! `candado-vault/v1/record-key`, `candado-vault/v1/locator-key` and
//! `candado-vault/v1/backup-key`.
//!
//! ## Record storage key
//!
//! A record `(kind, id)` is stored under `(kind, locator)`; `locator` is the first
//! 16 bytes of `HMAC-SHA256(locator key, len8(kind) ‖ kind ‖ len16(id) ‖ id)`
//! (`len8`/`len16`: one- or two-byte length), written as 32 lowercase hex digits.
//! Ids never appear in the clear; kinds do, so records can be listed by kind.
//!
//! ## Sealed record value (record format 1), `43 + i + d` bytes
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 1 | record format = 1 |
//! | 1 | 24 | nonce (fresh and random on every write) |
//! | 25 | 2 + i + d | ciphertext of `len16(id) ‖ id ‖ payload` (id: `i` bytes UTF-8, 1 ..= 1024; payload: `d` bytes, at most 16 MiB) |
//! | 27 + i + d | 16 | tag |
//!
//! Key: the record key. Associated data:
//! `"candado-vault/record" 0x00 ‖ len8(store name) ‖ store name ‖ len8(kind) ‖ kind ‖ locator (16 bytes) ‖ s (4 bytes) ‖ 0x01`.
//! A reader also checks that the decrypted id hashes to the locator. A record
//! moved to another id, kind, store, schema version or vault fails to open.
//!
//! ## Backup file (backup format 1)
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 8 | magic `CNDVBKUP` |
//! | 8 | 2 | backup format version = 1 |
//! | 10 | 2 | `h`, header length |
//! | 12 | h | the header, as above |
//! | 12 + h | 4 | `N`, number of records (at most 1 000 000) |
//! | … | | `N` entries, sorted by (kind, locator), no duplicates: `len8(kind) ‖ kind ‖ locator (16 bytes) ‖ len32(value) ‖ sealed record value` |
//! | end − 40 | 24 | nonce |
//! | end − 16 | 16 | tag |
//!
//! The tag is XChaCha20-Poly1305 with the backup key over an empty plaintext,
//! with associated data `"candado-vault/backup" 0x00 ‖` every byte before the
//! nonce: it authenticates the file as a whole, so dropped, added or re-ordered
//! records are detected. To read a backup: parse, check the header's
//! parameters, derive the KEK, unwrap the vault key, derive the keys, check the
//! tag, then open records as above.
//!
//! # Limits
//!
//! - A single record can be rolled back to an older value of the *same* record
//!   by someone who kept a copy of storage (no per-record counter); swapping,
//!   moving and forging are detected.
//! - Record kinds, the number of records per kind and their sizes are visible.
//! - The passphrase typed into a web page passes through immutable JS strings
//!   that Rust cannot wipe; reload the page after locking.
//! - Argon2id runs synchronously: run the vault in a worker.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;

mod codec;
mod crypto;
mod error;
mod format;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(target_arch = "wasm32")]
mod idb;
mod kdf;
mod record;
mod rng;
mod storage;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_support;
mod vault;

pub use crypto::{self_test, xchacha20poly1305_known_answer_test, Passphrase};
pub use error::{
    FormatError, KdfError, MigrationError, ParamsError, RandomnessError, SelfTestError,
    StorageError, TamperedRecord, VaultError,
};
pub use format::{MAX_BACKUP_RECORDS, MAX_PAYLOAD_LEN};
#[cfg(target_arch = "wasm32")]
pub use idb::{
    record_key as indexed_db_record_key, IndexedDbStorage, HEADER_KEY, IDB_VERSION, META_STORE,
    RECORDS_STORE,
};
pub use kdf::{
    argon2id, argon2id_known_answer_test, calibrate, Calibration, InPlace, KdfFuture, KdfParams,
    KdfRunner, CALIBRATION_MEMORY_STEPS_KIB,
};
pub use record::{
    Locator, RecordId, RecordKind, StoreName, MAX_ID_LEN, MAX_KIND_LEN, MAX_STORE_NAME_LEN,
};
pub use rng::{RandomSource, SystemRandom};
pub use storage::{MemoryStorage, Storage, StorageKey, Transaction, WriteOp};
pub use vault::{KeepPayloads, Listing, Migrate, Vault, VaultConfig};
