//! Where sealed bytes live: the [`Storage`] trait, its atomic [`Transaction`],
//! and [`MemoryStorage`] for native tests.
//!
//! A storage back end only ever sees ciphertext: the header (whose only secret,
//! the vault key, is wrapped), and sealed records under `(kind, locator)` keys.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::fmt;
use core::future::{ready, Future};

use crate::error::StorageError;
use crate::record::{Locator, RecordKind};

/// The storage key of a record. Kinds are in the clear; ids are hidden behind
/// the locator.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorageKey {
    /// The record kind.
    pub kind: RecordKind,
    /// The keyed hash of (kind, id).
    pub locator: Locator,
}

/// One write in a [`Transaction`].
#[derive(Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Remove the header and every record.
    ClearAll,
    /// Store the header (replacing any previous one).
    PutHeader(Vec<u8>),
    /// Store a sealed record (replacing any previous value).
    PutRecord(StorageKey, Vec<u8>),
    /// Remove a record if present.
    DeleteRecord(StorageKey),
}

impl fmt::Debug for WriteOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClearAll => f.write_str("ClearAll"),
            Self::PutHeader(h) => write!(f, "PutHeader({} bytes)", h.len()),
            Self::PutRecord(k, v) => write!(f, "PutRecord({k:?}, {} bytes)", v.len()),
            Self::DeleteRecord(k) => write!(f, "DeleteRecord({k:?})"),
        }
    }
}

/// Writes applied in order, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    ops: Vec<WriteOp>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write.
    pub fn push(&mut self, op: WriteOp) {
        self.ops.push(op);
    }

    /// The writes, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Takes the writes.
    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }
}

impl From<Vec<WriteOp>> for Transaction {
    fn from(ops: Vec<WriteOp>) -> Self {
        Self { ops }
    }
}

/// A place to keep the vault's bytes: IndexedDB in the browser, memory in tests.
///
/// Methods return futures so that asynchronous back ends (IndexedDB) and
/// synchronous ones (memory) share one trait; the futures need not be `Send`.
///
/// Contract:
/// - [`commit`](Self::commit) is atomic: after an error, storage is exactly as
///   before (IndexedDB gives this with one `readwrite` transaction).
/// - Reads return what the last successful commit left.
/// - Values are opaque bytes; back ends never interpret them.
pub trait Storage {
    /// The header, if a vault exists.
    fn read_header(&self) -> impl Future<Output = Result<Option<Vec<u8>>, StorageError>>;

    /// One record's sealed bytes.
    fn read_record(
        &self,
        key: &StorageKey,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StorageError>>;

    /// Every record of one kind, in any order.
    fn read_kind(
        &self,
        kind: &RecordKind,
    ) -> impl Future<Output = Result<Vec<(Locator, Vec<u8>)>, StorageError>>;

    /// Every record, in any order.
    fn read_all(&self) -> impl Future<Output = Result<Vec<(StorageKey, Vec<u8>)>, StorageError>>;

    /// Applies a transaction atomically.
    fn commit(&self, tx: Transaction) -> impl Future<Output = Result<(), StorageError>>;
}

#[derive(Clone, Default, PartialEq, Eq)]
struct MemoryState {
    header: Option<Vec<u8>>,
    records: BTreeMap<StorageKey, Vec<u8>>,
}

impl MemoryState {
    fn apply(&mut self, op: WriteOp) {
        match op {
            WriteOp::ClearAll => {
                self.header = None;
                self.records.clear();
            }
            WriteOp::PutHeader(h) => self.header = Some(h),
            WriteOp::PutRecord(k, v) => {
                self.records.insert(k, v);
            }
            WriteOp::DeleteRecord(k) => {
                self.records.remove(&k);
            }
        }
    }
}

/// Storage in memory, for native tests and tools. Clones share the same data,
/// like two handles on one database.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    state: Rc<RefCell<MemoryState>>,
}

impl MemoryStorage {
    /// Empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the raw header bytes (what an attacker with the device sees).
    pub fn raw_header(&self) -> Option<Vec<u8>> {
        self.state.borrow().header.clone()
    }

    /// A copy of every raw record (what an attacker with the device sees).
    pub fn raw_records(&self) -> Vec<(StorageKey, Vec<u8>)> {
        let state = self.state.borrow();
        state
            .records
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Overwrites raw bytes, bypassing the vault (to simulate tampering).
    pub fn set_raw_header(&self, header: Option<Vec<u8>>) {
        self.state.borrow_mut().header = header;
    }

    /// Overwrites or removes one raw record, bypassing the vault.
    pub fn set_raw_record(&self, key: StorageKey, value: Option<Vec<u8>>) {
        let mut state = self.state.borrow_mut();
        match value {
            Some(v) => state.records.insert(key, v),
            None => state.records.remove(&key),
        };
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("MemoryStorage")
            .field("has_header", &state.header.is_some())
            .field("records", &state.records.len())
            .finish()
    }
}

impl Storage for MemoryStorage {
    fn read_header(&self) -> impl Future<Output = Result<Option<Vec<u8>>, StorageError>> {
        ready(Ok(self.state.borrow().header.clone()))
    }

    fn read_record(
        &self,
        key: &StorageKey,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StorageError>> {
        ready(Ok(self.state.borrow().records.get(key).cloned()))
    }

    fn read_kind(
        &self,
        kind: &RecordKind,
    ) -> impl Future<Output = Result<Vec<(Locator, Vec<u8>)>, StorageError>> {
        let state = self.state.borrow();
        let out = state
            .records
            .iter()
            .filter(|(k, _)| k.kind == *kind)
            .map(|(k, v)| (k.locator, v.clone()))
            .collect();
        ready(Ok(out))
    }

    fn read_all(&self) -> impl Future<Output = Result<Vec<(StorageKey, Vec<u8>)>, StorageError>> {
        ready(Ok(self.raw_records()))
    }

    fn commit(&self, tx: Transaction) -> impl Future<Output = Result<(), StorageError>> {
        // Apply to a copy and swap it in: all or nothing.
        let mut next = self.state.borrow().clone();
        for op in tx.into_ops() {
            next.apply(op);
        }
        *self.state.borrow_mut() = next;
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests_support::block_on;

    fn key(kind: RecordKind, b: u8) -> StorageKey {
        StorageKey {
            kind,
            locator: Locator([b; 16]),
        }
    }

    #[test]
    fn memory_storage_applies_ops_in_order_and_shares_between_clones() {
        let s = MemoryStorage::new();
        let other_handle = s.clone();
        let tx = Transaction::from(vec![
            WriteOp::PutHeader(vec![1]),
            WriteOp::PutRecord(key(RecordKind::SETTINGS, 1), vec![10]),
            WriteOp::PutRecord(key(RecordKind::SETTINGS, 2), vec![20]),
            WriteOp::PutRecord(key(RecordKind::HISTORY, 1), vec![30]),
            WriteOp::DeleteRecord(key(RecordKind::SETTINGS, 2)),
        ]);
        block_on(s.commit(tx)).unwrap();
        assert_eq!(block_on(other_handle.read_header()).unwrap(), Some(vec![1]));
        assert_eq!(
            block_on(other_handle.read_kind(&RecordKind::SETTINGS)).unwrap(),
            vec![(Locator([1; 16]), vec![10])]
        );
        assert_eq!(block_on(s.read_all()).unwrap().len(), 2);
        assert_eq!(
            block_on(s.read_record(&key(RecordKind::HISTORY, 1))).unwrap(),
            Some(vec![30])
        );
        block_on(s.commit(vec![WriteOp::ClearAll, WriteOp::PutHeader(vec![2])].into())).unwrap();
        assert_eq!(block_on(s.read_header()).unwrap(), Some(vec![2]));
        assert!(block_on(s.read_all()).unwrap().is_empty());
    }

    #[test]
    fn write_op_debug_shows_lengths_not_bytes() {
        let op = WriteOp::PutRecord(key(RecordKind::SETTINGS, 1), vec![0xde, 0xad, 0xbe, 0xef]);
        let s = format!("{op:?}");
        assert!(s.contains("4 bytes"));
        assert!(!s.contains("222") && !s.contains("173"));
    }
}
