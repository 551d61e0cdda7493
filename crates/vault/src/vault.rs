//! The [`Vault`]: create, unlock, lock, change the passphrase, read and write
//! records, back up, restore and wipe.

use alloc::boxed::Box;
use core::fmt;

use zeroize::Zeroizing;

use crate::crypto::{Kek, Keys, Passphrase, VaultKey, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::error::{MigrationError, TamperedRecord, VaultError};
use crate::format::{
    encode_backup, open_record, seal_record, BackupEntry, Header, HeaderError, ParsedBackup,
    RecordContext, MAX_PAYLOAD_LEN, SALT_LEN,
};
#[cfg(test)]
use crate::kdf::{derive_kek, Cost};
use crate::kdf::{InPlace, KdfParams, KdfRunner};
use crate::record::{RecordId, RecordKind, StoreName};
use crate::rng::RandomSource;
use crate::storage::{Storage, StorageKey, Transaction, WriteOp};

/// What the app expects of its vault: its store name and the newest record
/// schema version it understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    /// Bound into the header and every record's associated data.
    pub store: StoreName,
    /// The record schema this build writes. Older vaults are migrated on
    /// unlock (see [`Migrate`]); newer ones are refused.
    pub schema_version: u32,
}

/// Upgrades record payloads from one schema version to the next.
///
/// On unlock (or import) of a vault with schema `s` older than
/// [`VaultConfig::schema_version`] `v`, every readable record goes through
/// `migrate(s, ..)`, then `migrate(s + 1, ..)`, … up to `v - 1`; the results are
/// sealed under schema `v` and written together with the new header in one
/// transaction. Records that fail authentication are left as they are (and keep
/// being reported as tampered). An error from the hook aborts the whole
/// migration and nothing is written.
pub trait Migrate {
    /// Returns the payload for schema `from_version + 1`, or `None` to delete the record.
    ///
    /// # Errors
    /// A [`MigrationError`] aborts the migration; the vault stays locked and unchanged.
    fn migrate(
        &self,
        from_version: u32,
        kind: &RecordKind,
        id: &RecordId,
        payload: Zeroizing<Vec<u8>>,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, MigrationError>;
}

/// The default hook: payloads are carried over unchanged (only re-sealed under
/// the new schema version).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeepPayloads;

impl Migrate for KeepPayloads {
    fn migrate(
        &self,
        _from_version: u32,
        _kind: &RecordKind,
        _id: &RecordId,
        payload: Zeroizing<Vec<u8>>,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, MigrationError> {
        Ok(Some(payload))
    }
}

/// The ids of one kind, and the records of that kind that failed authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Readable records, sorted.
    pub ids: Vec<RecordId>,
    /// Records that failed authentication (their ids are unknown: they are
    /// only stored inside the ciphertext).
    pub tampered: Vec<TamperedRecord>,
}

struct Unlocked {
    keys: Keys,
    header: Header,
}

/// The passphrase vault over a [`Storage`], with an injected [`RandomSource`].
///
/// States: *absent* (no header in storage) → [`create`](Self::create) →
/// *unlocked*; [`lock`](Self::lock) → *locked*; [`unlock`](Self::unlock) →
/// *unlocked*; [`wipe`](Self::wipe) → *absent*. Record operations need
/// *unlocked* and otherwise return [`VaultError::Locked`].
///
/// Argon2id runs synchronously inside `create`, `unlock`, `change_passphrase`
/// and `import_backup` (about a second with calibrated parameters): in the
/// browser, drive the vault from a worker.
pub struct Vault<S, R> {
    storage: S,
    rng: R,
    config: VaultConfig,
    migrate: Box<dyn Migrate>,
    kdf: Box<dyn KdfRunner>,
    unlocked: Option<Unlocked>,
    #[cfg(test)]
    cheap_kdf: bool,
}

impl<S: fmt::Debug, R: fmt::Debug> fmt::Debug for Vault<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.config.store)
            .field("schema_version", &self.config.schema_version)
            .field("unlocked", &self.unlocked.is_some())
            .field("storage", &self.storage)
            .field("rng", &self.rng)
            .finish_non_exhaustive()
    }
}

fn header_error(e: HeaderError) -> VaultError {
    match e {
        HeaderError::Format(f) => VaultError::CorruptHeader(f),
        HeaderError::Params(p) => VaultError::ParamsOutOfRange(p),
    }
}

impl<S: Storage, R: RandomSource> Vault<S, R> {
    /// A vault handle over `storage`. Does no I/O; the vault starts locked.
    pub fn new(storage: S, rng: R, config: VaultConfig) -> Self {
        Self {
            storage,
            rng,
            config,
            migrate: Box::new(KeepPayloads),
            kdf: Box::new(InPlace),
            unlocked: None,
            #[cfg(test)]
            cheap_kdf: false,
        }
    }

    /// Test-only: same vault, but Argon2id runs at m = 8 KiB, t = 1 *after* the
    /// stored parameters have passed the production range check.
    #[cfg(test)]
    pub(crate) fn new_with_cheap_kdf(storage: S, rng: R, config: VaultConfig) -> Self {
        Self {
            cheap_kdf: true,
            ..Self::new(storage, rng, config)
        }
    }

    /// Sets the migration hook (the default is [`KeepPayloads`]).
    #[must_use]
    pub fn with_migrations(mut self, migrate: impl Migrate + 'static) -> Self {
        self.migrate = Box::new(migrate);
        self
    }

    /// Sets where Argon2id runs (the default is [`InPlace`]).
    #[must_use]
    pub fn with_kdf(mut self, kdf: impl KdfRunner + 'static) -> Self {
        self.kdf = Box::new(kdf);
        self
    }

    /// The storage back end.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Whether keys are in memory.
    pub fn is_unlocked(&self) -> bool {
        self.unlocked.is_some()
    }

    /// Whether storage holds a vault.
    ///
    /// # Errors
    /// [`VaultError::Storage`].
    pub async fn exists(&self) -> Result<bool, VaultError> {
        Ok(self.storage.read_header().await?.is_some())
    }

    async fn kek(&self, passphrase: &Passphrase, header: &Header) -> Result<Kek, VaultError> {
        #[cfg(test)]
        if self.cheap_kdf {
            return Ok(derive_kek(
                passphrase.as_bytes(),
                &header.salt,
                Cost::TestOnlyCheap,
            )?);
        }
        let bytes = self
            .kdf
            .argon2id(passphrase.as_bytes(), &header.salt, header.kdf)
            .await?;
        Ok(Kek::from_bytes(bytes))
    }

    /// Reads, decodes and checks the stored header (range, store, schema).
    async fn stored_header(&self) -> Result<Header, VaultError> {
        let bytes = self
            .storage
            .read_header()
            .await?
            .ok_or(VaultError::NoVault)?;
        let header = Header::decode(&bytes).map_err(header_error)?;
        self.check_header(&header)?;
        Ok(header)
    }

    fn check_header(&self, header: &Header) -> Result<(), VaultError> {
        if header.store != self.config.store {
            return Err(VaultError::StoreMismatch);
        }
        if header.schema_version > self.config.schema_version {
            return Err(VaultError::SchemaTooNew {
                stored: header.schema_version,
                supported: self.config.schema_version,
            });
        }
        Ok(())
    }

    /// Fills in a fresh wrap of `vault_key` under `kek` for `header`.
    fn wrap(
        &mut self,
        kek: &Kek,
        vault_key: &VaultKey,
        mut header: Header,
    ) -> Result<Header, VaultError> {
        let (nonce, wrapped) = kek.wrap(vault_key, &header.wrap_ad(), &mut self.rng)?;
        header.wrap_nonce = nonce;
        header.wrapped_key = wrapped;
        Ok(header)
    }

    /// Creates a vault protected by `passphrase` with the given Argon2id
    /// parameters (from [`calibrate`](crate::calibrate)), and leaves it unlocked.
    ///
    /// # Errors
    /// [`VaultError::AlreadyExists`] if storage already holds a vault;
    /// [`VaultError::InvalidInput`] for an empty passphrase;
    /// [`VaultError::Randomness`], [`VaultError::Kdf`], [`VaultError::Storage`].
    pub async fn create(
        &mut self,
        passphrase: &Passphrase,
        params: KdfParams,
    ) -> Result<(), VaultError> {
        if passphrase.as_bytes().is_empty() {
            return Err(VaultError::InvalidInput("empty passphrase"));
        }
        if self.storage.read_header().await?.is_some() {
            return Err(VaultError::AlreadyExists);
        }
        let mut salt = [0u8; SALT_LEN];
        self.rng.fill(&mut salt)?;
        let vault_key = VaultKey::generate(&mut self.rng)?;
        let header = Header {
            schema_version: self.config.schema_version,
            kdf: params,
            salt,
            store: self.config.store.clone(),
            wrap_nonce: [0; NONCE_LEN],
            wrapped_key: [0; KEY_LEN + TAG_LEN],
        };
        let kek = self.kek(passphrase, &header).await?;
        let header = self.wrap(&kek, &vault_key, header)?;
        let tx = Transaction::from(vec![WriteOp::ClearAll, WriteOp::PutHeader(header.encode())]);
        self.storage.commit(tx).await?;
        self.unlocked = Some(Unlocked {
            keys: vault_key.keys(),
            header,
        });
        Ok(())
    }

    /// Unlocks with `passphrase`, migrating an older schema first (one transaction).
    ///
    /// A wrong passphrase returns [`VaultError::WrongPassphrase`] and changes
    /// nothing: neither storage nor the current lock state.
    ///
    /// # Errors
    /// [`VaultError::WrongPassphrase`], [`VaultError::NoVault`],
    /// [`VaultError::CorruptHeader`], [`VaultError::ParamsOutOfRange`] (checked
    /// before Argon2id runs), [`VaultError::StoreMismatch`],
    /// [`VaultError::SchemaTooNew`], [`VaultError::Migration`],
    /// [`VaultError::Kdf`], [`VaultError::Storage`].
    pub async fn unlock(&mut self, passphrase: &Passphrase) -> Result<(), VaultError> {
        let header = self.stored_header().await?;
        let kek = self.kek(passphrase, &header).await?;
        let vault_key = kek
            .unwrap_key(&header.wrap_nonce, &header.wrapped_key, &header.wrap_ad())
            .ok_or(VaultError::WrongPassphrase)?;
        let keys = vault_key.keys();
        let header = if header.schema_version < self.config.schema_version {
            let records = self.storage.read_all().await?;
            let (header, ops) = self.migrate_records(&kek, &vault_key, &keys, header, records)?;
            let mut tx = Transaction::from(ops);
            tx.push(WriteOp::PutHeader(header.encode()));
            self.storage.commit(tx).await?;
            header
        } else {
            header
        };
        self.unlocked = Some(Unlocked { keys, header });
        Ok(())
    }

    /// Re-seals every readable record under the configured schema; returns the
    /// new header and the writes (unreadable records are written back unchanged).
    fn migrate_records(
        &mut self,
        kek: &Kek,
        vault_key: &VaultKey,
        keys: &Keys,
        header: Header,
        records: Vec<(StorageKey, Vec<u8>)>,
    ) -> Result<(Header, Vec<WriteOp>), VaultError> {
        let to = self.config.schema_version;
        let mut ops = Vec::with_capacity(records.len());
        for (key, sealed) in records {
            let old = RecordContext {
                store: &header.store,
                kind: &key.kind,
                locator: &key.locator,
                schema_version: header.schema_version,
            };
            let Some((id, mut payload)) = open_record(keys, old, &sealed) else {
                ops.push(WriteOp::PutRecord(key, sealed));
                continue;
            };
            let mut keep = true;
            for from in header.schema_version..to {
                match self.migrate.migrate(from, &key.kind, &id, payload)? {
                    Some(next) => payload = next,
                    None => {
                        keep = false;
                        payload = Zeroizing::new(Vec::new());
                        break;
                    }
                }
            }
            if keep {
                let new = RecordContext {
                    schema_version: to,
                    ..old
                };
                let sealed = seal_record(keys, new, &id, &payload, &mut self.rng)?;
                ops.push(WriteOp::PutRecord(key, sealed));
            } else {
                ops.push(WriteOp::DeleteRecord(key));
            }
        }
        let header = Header {
            schema_version: to,
            ..header
        };
        let header = self.wrap(kek, vault_key, header)?;
        Ok((header, ops))
    }

    /// Drops the keys from memory (they are zeroized). Idempotent.
    pub fn lock(&mut self) {
        self.unlocked = None;
    }

    /// Re-wraps the vault key under `new` (and `params`, or the current
    /// parameters if `None`), with a fresh salt, in one write of the header.
    /// Records are not touched. Needs the current passphrase, not the unlocked
    /// state, and leaves the lock state as it was.
    ///
    /// If the write fails, the old passphrase keeps working.
    ///
    /// # Errors
    /// [`VaultError::WrongPassphrase`] if `current` is wrong,
    /// [`VaultError::InvalidInput`] if `new` is empty, and the errors of
    /// [`unlock`](Self::unlock).
    pub async fn change_passphrase(
        &mut self,
        current: &Passphrase,
        new: &Passphrase,
        params: Option<KdfParams>,
    ) -> Result<(), VaultError> {
        if new.as_bytes().is_empty() {
            return Err(VaultError::InvalidInput("empty passphrase"));
        }
        let header = self.stored_header().await?;
        let kek = self.kek(current, &header).await?;
        let vault_key = kek
            .unwrap_key(&header.wrap_nonce, &header.wrapped_key, &header.wrap_ad())
            .ok_or(VaultError::WrongPassphrase)?;
        let mut salt = [0u8; SALT_LEN];
        self.rng.fill(&mut salt)?;
        let header = Header {
            kdf: params.unwrap_or(header.kdf),
            salt,
            ..header
        };
        let new_kek = self.kek(new, &header).await?;
        let header = self.wrap(&new_kek, &vault_key, header)?;
        let tx = Transaction::from(vec![WriteOp::PutHeader(header.encode())]);
        self.storage.commit(tx).await?;
        if let Some(u) = &mut self.unlocked {
            u.header = header;
        }
        Ok(())
    }

    fn unlocked(&self) -> Result<&Unlocked, VaultError> {
        self.unlocked.as_ref().ok_or(VaultError::Locked)
    }

    /// Stores `payload` under (kind, id), sealed with a fresh random nonce,
    /// replacing any previous value.
    ///
    /// # Errors
    /// [`VaultError::Locked`]; [`VaultError::InvalidInput`] for a payload over
    /// 16 MiB; [`VaultError::Randomness`], [`VaultError::Storage`].
    pub async fn put(
        &mut self,
        kind: &RecordKind,
        id: &RecordId,
        payload: &[u8],
    ) -> Result<(), VaultError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(VaultError::InvalidInput("payload too large"));
        }
        let u = self.unlocked.as_ref().ok_or(VaultError::Locked)?;
        let locator = u.keys.locator(kind.as_str(), id.as_str());
        let ctx = RecordContext {
            store: &u.header.store,
            kind,
            locator: &locator,
            schema_version: u.header.schema_version,
        };
        let sealed = seal_record(&u.keys, ctx, id, payload, &mut self.rng)?;
        let key = StorageKey {
            kind: kind.clone(),
            locator,
        };
        self.storage
            .commit(Transaction::from(vec![WriteOp::PutRecord(key, sealed)]))
            .await?;
        Ok(())
    }

    /// The payload stored under (kind, id), if any.
    ///
    /// # Errors
    /// [`VaultError::Tampered`] naming the record if it fails authentication
    /// (other records stay readable); [`VaultError::Locked`], [`VaultError::Storage`].
    pub async fn get(
        &self,
        kind: &RecordKind,
        id: &RecordId,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        let u = self.unlocked()?;
        let locator = u.keys.locator(kind.as_str(), id.as_str());
        let key = StorageKey {
            kind: kind.clone(),
            locator,
        };
        let Some(sealed) = self.storage.read_record(&key).await? else {
            return Ok(None);
        };
        let ctx = RecordContext {
            store: &u.header.store,
            kind,
            locator: &locator,
            schema_version: u.header.schema_version,
        };
        match open_record(&u.keys, ctx, &sealed) {
            Some((stored_id, payload)) if stored_id == *id => Ok(Some(payload)),
            _ => Err(VaultError::Tampered(TamperedRecord {
                kind: kind.clone(),
                locator,
                id: Some(id.clone()),
            })),
        }
    }

    /// Removes (kind, id) if present.
    ///
    /// # Errors
    /// [`VaultError::Locked`], [`VaultError::Storage`].
    pub async fn delete(&mut self, kind: &RecordKind, id: &RecordId) -> Result<(), VaultError> {
        let u = self.unlocked()?;
        let key = StorageKey {
            kind: kind.clone(),
            locator: u.keys.locator(kind.as_str(), id.as_str()),
        };
        self.storage
            .commit(Transaction::from(vec![WriteOp::DeleteRecord(key)]))
            .await?;
        Ok(())
    }

    /// The ids stored under `kind` (decrypting each record), and the records of
    /// that kind that failed authentication.
    ///
    /// # Errors
    /// [`VaultError::Locked`], [`VaultError::Storage`].
    pub async fn list(&self, kind: &RecordKind) -> Result<Listing, VaultError> {
        let u = self.unlocked()?;
        let mut listing = Listing::default();
        for (locator, sealed) in self.storage.read_kind(kind).await? {
            let ctx = RecordContext {
                store: &u.header.store,
                kind,
                locator: &locator,
                schema_version: u.header.schema_version,
            };
            match open_record(&u.keys, ctx, &sealed) {
                Some((id, _payload)) => listing.ids.push(id),
                None => listing.tampered.push(TamperedRecord {
                    kind: kind.clone(),
                    locator,
                    id: None,
                }),
            }
        }
        listing.ids.sort();
        listing.tampered.sort_by_key(|t| t.locator);
        Ok(listing)
    }

    /// An encrypted backup file of the whole vault (layout in the crate docs).
    /// It opens with the passphrase current at export time. Records are
    /// copied still sealed; a record that fails authentication is copied as is.
    ///
    /// # Errors
    /// [`VaultError::Locked`], [`VaultError::Randomness`], [`VaultError::Storage`].
    pub async fn export_backup(&mut self) -> Result<Vec<u8>, VaultError> {
        let u = self.unlocked.as_ref().ok_or(VaultError::Locked)?;
        let header = u.header.encode();
        let mut entries: Vec<BackupEntry> = self
            .storage
            .read_all()
            .await?
            .into_iter()
            .map(|(key, sealed)| BackupEntry {
                kind: key.kind,
                locator: key.locator,
                sealed,
            })
            .collect();
        entries.sort_by(|a, b| (&a.kind, a.locator).cmp(&(&b.kind, b.locator)));
        entries.dedup_by(|a, b| a.kind == b.kind && a.locator == b.locator);
        encode_backup(&u.keys, &header, &entries, &mut self.rng)
    }

    /// Replaces everything in storage with the contents of a backup file, in one
    /// transaction, and leaves the vault unlocked with the backup's key.
    /// `passphrase` is the one current when the backup was exported. The
    /// current contents are lost: confirm with the user first.
    ///
    /// Nothing is written unless the whole file authenticates.
    ///
    /// # Errors
    /// [`VaultError::InvalidBackup`], [`VaultError::BackupTampered`],
    /// [`VaultError::WrongPassphrase`], [`VaultError::ParamsOutOfRange`],
    /// [`VaultError::StoreMismatch`], [`VaultError::SchemaTooNew`],
    /// [`VaultError::Migration`], [`VaultError::Kdf`], [`VaultError::Storage`].
    pub async fn import_backup(
        &mut self,
        file: &[u8],
        passphrase: &Passphrase,
    ) -> Result<(), VaultError> {
        let parsed = ParsedBackup::parse(file).map_err(VaultError::InvalidBackup)?;
        let header = Header::decode(parsed.header).map_err(|e| match e {
            HeaderError::Format(f) => VaultError::InvalidBackup(f),
            HeaderError::Params(p) => VaultError::ParamsOutOfRange(p),
        })?;
        self.check_header(&header)?;
        let kek = self.kek(passphrase, &header).await?;
        let vault_key = kek
            .unwrap_key(&header.wrap_nonce, &header.wrapped_key, &header.wrap_ad())
            .ok_or(VaultError::WrongPassphrase)?;
        let keys = vault_key.keys();
        if !parsed.authenticate(&keys) {
            return Err(VaultError::BackupTampered);
        }
        let records: Vec<(StorageKey, Vec<u8>)> = parsed
            .entries
            .into_iter()
            .map(|e| {
                let key = StorageKey {
                    kind: e.kind,
                    locator: e.locator,
                };
                (key, e.sealed)
            })
            .collect();
        let (header, record_ops) = if header.schema_version < self.config.schema_version {
            self.migrate_records(&kek, &vault_key, &keys, header, records)?
        } else {
            let ops = records
                .into_iter()
                .map(|(k, v)| WriteOp::PutRecord(k, v))
                .collect();
            (header, ops)
        };
        let mut tx =
            Transaction::from(vec![WriteOp::ClearAll, WriteOp::PutHeader(header.encode())]);
        for op in record_ops {
            tx.push(op);
        }
        self.storage.commit(tx).await?;
        self.unlocked = Some(Unlocked { keys, header });
        Ok(())
    }

    /// The panic button: locks, then deletes the header and every record in one
    /// transaction. Without the header the records can never be decrypted.
    ///
    /// # Errors
    /// [`VaultError::Storage`] (the vault is locked even then).
    pub async fn wipe(&mut self) -> Result<(), VaultError> {
        self.lock();
        self.storage
            .commit(Transaction::from(vec![WriteOp::ClearAll]))
            .await?;
        Ok(())
    }

    /// Test-only view of the keys, to check that they never leak.
    #[cfg(test)]
    pub(crate) fn record_key_for_tests(&self) -> Option<[u8; KEY_LEN]> {
        self.unlocked.as_ref().map(|u| *u.keys.record)
    }

    /// Test-only: the locator of (kind, id).
    #[cfg(test)]
    pub(crate) fn locator_for_tests(
        &self,
        kind: &RecordKind,
        id: &RecordId,
    ) -> Option<crate::record::Locator> {
        self.unlocked
            .as_ref()
            .map(|u| u.keys.locator(kind.as_str(), id.as_str()))
    }
}
