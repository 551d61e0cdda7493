//! [`Storage`] in the browser's IndexedDB (`wasm32` only).
//!
//! One database per vault, IndexedDB schema version 1, two object stores with
//! out-of-line keys:
//!
//! | Object store | Key | Value |
//! |---|---|---|
//! | `meta` | `"header"` | `Uint8Array`: the header |
//! | `records` | `"<kind>/<locator as 32 hex digits>"` | `Uint8Array`: the sealed record |
//!
//! Every [`Transaction`] is one `readwrite` IndexedDB transaction over both
//! stores; if any request fails, or the page dies before it commits, IndexedDB
//! rolls all of it back.

use core::fmt;

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::KeyRange;
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::StorageError;
use crate::record::{Locator, RecordKind};
use crate::storage::{Storage, StorageKey, Transaction, WriteOp};

/// Object store holding the header.
pub const META_STORE: &str = "meta";
/// Object store holding sealed records.
pub const RECORDS_STORE: &str = "records";
/// Key of the header in [`META_STORE`].
pub const HEADER_KEY: &str = "header";
/// IndexedDB schema version of the database.
pub const IDB_VERSION: u32 = 1;

fn err(context: &str, e: impl fmt::Display) -> StorageError {
    StorageError::new(format!("IndexedDB {context}: {e}"))
}

/// The IndexedDB key of a record.
pub fn record_key(key: &StorageKey) -> String {
    format!("{}/{}", key.kind.as_str(), key.locator.to_hex())
}

fn parse_record_key(key: &str) -> Option<StorageKey> {
    let (kind, locator) = key.split_once('/')?;
    Some(StorageKey {
        kind: RecordKind::new(kind.to_owned()).ok()?,
        locator: Locator::from_hex(locator)?,
    })
}

/// Keys of one kind: `"<kind>/"` ≤ key < `"<kind>0"` (`'0'` follows `'/'`, and
/// kinds never contain `'/'`).
fn kind_range(kind: &RecordKind) -> KeyRange<String> {
    KeyRange::Bound(
        format!("{}/", kind.as_str()),
        false,
        format!("{}0", kind.as_str()),
        true,
    )
}

/// Value bytes; anything that is not a `Uint8Array` reads as empty (and then
/// fails authentication like any other damaged record).
fn to_bytes(v: &JsValue) -> Vec<u8> {
    v.dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .unwrap_or_default()
}

fn to_js(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

/// A vault's IndexedDB database.
pub struct IndexedDbStorage {
    db: Database,
}

impl fmt::Debug for IndexedDbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexedDbStorage")
            .field("name", &self.db.name())
            .finish()
    }
}

impl IndexedDbStorage {
    /// Opens (creating if needed) the database `name`.
    ///
    /// # Errors
    /// [`StorageError`] if IndexedDB is unavailable or the upgrade is blocked.
    pub async fn open(name: &str) -> Result<Self, StorageError> {
        let db = Database::open(name)
            .with_version(IDB_VERSION)
            .with_on_upgrade_needed(|event, db| {
                // The only upgrade so far: nothing → 1.
                if event.old_version() < 1.0 {
                    db.create_object_store(META_STORE).build()?;
                    db.create_object_store(RECORDS_STORE).build()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| err("open", e))?;
        Ok(Self { db })
    }

    /// The database name.
    pub fn name(&self) -> String {
        self.db.name()
    }

    /// Closes this handle.
    pub fn close(self) {
        self.db.close();
    }

    async fn read_header_inner(&self) -> indexed_db_futures::Result<Option<Vec<u8>>> {
        let tx = self
            .db
            .transaction(META_STORE)
            .with_mode(TransactionMode::Readonly)
            .build()?;
        let store = tx.object_store(META_STORE)?;
        let v: Option<JsValue> = store.get(HEADER_KEY).primitive()?.await?;
        Ok(v.map(|v| to_bytes(&v)))
    }

    async fn read_record_inner(
        &self,
        key: &StorageKey,
    ) -> indexed_db_futures::Result<Option<Vec<u8>>> {
        let tx = self
            .db
            .transaction(RECORDS_STORE)
            .with_mode(TransactionMode::Readonly)
            .build()?;
        let store = tx.object_store(RECORDS_STORE)?;
        let v: Option<JsValue> = store.get(record_key(key)).primitive()?.await?;
        Ok(v.map(|v| to_bytes(&v)))
    }

    /// Keys and values in one read-only transaction; both lists come back in key order.
    async fn read_range(
        &self,
        range: Option<KeyRange<String>>,
    ) -> indexed_db_futures::Result<Vec<(StorageKey, Vec<u8>)>> {
        let tx = self
            .db
            .transaction(RECORDS_STORE)
            .with_mode(TransactionMode::Readonly)
            .build()?;
        let store = tx.object_store(RECORDS_STORE)?;
        let (keys, values) = match range {
            Some(r) => (
                store
                    .get_all_keys::<String>()
                    .with_query::<String, _>(r.clone())
                    .primitive()?
                    .await?,
                store
                    .get_all::<JsValue>()
                    .with_query::<String, _>(r)
                    .primitive()?
                    .await?,
            ),
            None => (
                store.get_all_keys::<String>().primitive()?.await?,
                store.get_all::<JsValue>().primitive()?.await?,
            ),
        };
        let mut out = Vec::new();
        for (k, v) in keys.zip(values) {
            // A key this crate did not write cannot hold a record it can open: skip it.
            if let Some(key) = parse_record_key(&k?) {
                out.push((key, to_bytes(&v?)));
            }
        }
        Ok(out)
    }

    async fn commit_inner(&self, tx: Transaction) -> indexed_db_futures::Result<()> {
        let idb_tx = self
            .db
            .transaction([META_STORE, RECORDS_STORE])
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let meta = idb_tx.object_store(META_STORE)?;
        let records = idb_tx.object_store(RECORDS_STORE)?;
        for op in tx.into_ops() {
            match op {
                WriteOp::ClearAll => {
                    meta.clear()?.await?;
                    records.clear()?.await?;
                }
                WriteOp::PutHeader(h) => {
                    meta.put(to_js(&h))
                        .with_key(HEADER_KEY)
                        .primitive()?
                        .await?;
                }
                WriteOp::PutRecord(k, v) => {
                    records
                        .put(to_js(&v))
                        .with_key(record_key(&k))
                        .primitive()?
                        .await?;
                }
                WriteOp::DeleteRecord(k) => {
                    records.delete(record_key(&k)).primitive()?.await?;
                }
            }
        }
        // Dropping `idb_tx` on an early return above aborts it.
        idb_tx.commit().await
    }
}

impl Storage for IndexedDbStorage {
    async fn read_header(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.read_header_inner()
            .await
            .map_err(|e| err("read header", e))
    }

    async fn read_record(&self, key: &StorageKey) -> Result<Option<Vec<u8>>, StorageError> {
        self.read_record_inner(key)
            .await
            .map_err(|e| err("read record", e))
    }

    async fn read_kind(&self, kind: &RecordKind) -> Result<Vec<(Locator, Vec<u8>)>, StorageError> {
        let all = self
            .read_range(Some(kind_range(kind)))
            .await
            .map_err(|e| err("read kind", e))?;
        Ok(all
            .into_iter()
            .filter(|(k, _)| k.kind == *kind)
            .map(|(k, v)| (k.locator, v))
            .collect())
    }

    async fn read_all(&self) -> Result<Vec<(StorageKey, Vec<u8>)>, StorageError> {
        self.read_range(None).await.map_err(|e| err("read all", e))
    }

    async fn commit(&self, tx: Transaction) -> Result<(), StorageError> {
        self.commit_inner(tx).await.map_err(|e| err("commit", e))
    }
}
