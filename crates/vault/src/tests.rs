//! Native tests of the whole vault over in-memory storage.
//!
//! Most tests use [`Vault::new_with_cheap_kdf`]: the stored header carries real
//! production parameters and passes the production range check, only the
//! Argon2id run itself is cheap. A few tests run the real 19 MiB / t = 2 cost.

use core::cell::{Cell, RefCell};
use core::future::Future;
use std::collections::HashSet;
use std::rc::Rc;

use zeroize::Zeroizing;

use crate::tests_support::{block_on, BrokenRng, TestRng};
use crate::*;

fn config(schema_version: u32) -> VaultConfig {
    VaultConfig {
        store: StoreName::new("candado").unwrap(),
        schema_version,
    }
}

fn pass(s: &str) -> Passphrase {
    Passphrase::from(s)
}

fn id(s: &str) -> RecordId {
    RecordId::new(s).unwrap()
}

type MemVault = Vault<MemoryStorage, TestRng>;

fn vault_on(storage: MemoryStorage, seed: u64) -> MemVault {
    Vault::new_with_cheap_kdf(storage, TestRng::new(seed), config(1))
}

fn new_vault() -> MemVault {
    let mut v = vault_on(MemoryStorage::new(), 1);
    block_on(v.create(&pass("correct horse"), KdfParams::MINIMUM)).unwrap();
    v
}

fn get(v: &MemVault, kind: &RecordKind, i: &str) -> Result<Option<Vec<u8>>, VaultError> {
    block_on(v.get(kind, &id(i))).map(|o| o.map(|z| z.to_vec()))
}

#[test]
fn round_trip_through_lock_and_a_new_handle() {
    let mut v = new_vault();
    assert!(v.is_unlocked());
    block_on(v.put(&RecordKind::SETTINGS, &id("theme"), b"dark")).unwrap();
    block_on(v.put(&RecordKind::SETTINGS, &id("lang"), b"es")).unwrap();
    block_on(v.put(&RecordKind::DSA_KEY, &id("alice@example.org"), &[7; 400])).unwrap();
    block_on(v.put(&RecordKind::HISTORY, &id("bob@example.org"), b"")).unwrap();
    block_on(v.put(&RecordKind::SETTINGS, &id("theme"), b"light")).unwrap();
    assert_eq!(
        get(&v, &RecordKind::SETTINGS, "theme").unwrap().unwrap(),
        b"light"
    );
    assert_eq!(
        get(&v, &RecordKind::HISTORY, "bob@example.org")
            .unwrap()
            .unwrap(),
        b""
    );
    assert_eq!(get(&v, &RecordKind::SETTINGS, "missing").unwrap(), None);
    assert_eq!(get(&v, &RecordKind::HISTORY, "theme").unwrap(), None);
    let listing = block_on(v.list(&RecordKind::SETTINGS)).unwrap();
    assert_eq!(listing.ids, [id("lang"), id("theme")]);
    assert!(listing.tampered.is_empty());

    block_on(v.delete(&RecordKind::SETTINGS, &id("lang"))).unwrap();
    block_on(v.delete(&RecordKind::SETTINGS, &id("never-there"))).unwrap();
    assert_eq!(
        block_on(v.list(&RecordKind::SETTINGS)).unwrap().ids,
        [id("theme")]
    );

    v.lock();
    assert!(!v.is_unlocked());
    assert_eq!(
        get(&v, &RecordKind::SETTINGS, "theme"),
        Err(VaultError::Locked)
    );
    assert_eq!(
        block_on(v.put(&RecordKind::SETTINGS, &id("x"), b"y")),
        Err(VaultError::Locked)
    );
    assert_eq!(
        block_on(v.list(&RecordKind::SETTINGS)),
        Err(VaultError::Locked)
    );
    assert_eq!(block_on(v.export_backup()), Err(VaultError::Locked));
    assert_eq!(
        block_on(v.delete(&RecordKind::SETTINGS, &id("theme"))),
        Err(VaultError::Locked)
    );
    block_on(v.unlock(&pass("correct horse"))).unwrap();
    assert_eq!(
        get(&v, &RecordKind::SETTINGS, "theme").unwrap().unwrap(),
        b"light"
    );

    // A second handle on the same storage (like reopening the database).
    let mut again = vault_on(v.storage().clone(), 99);
    assert!(block_on(again.exists()).unwrap());
    assert_eq!(
        get(&again, &RecordKind::SETTINGS, "theme"),
        Err(VaultError::Locked)
    );
    block_on(again.unlock(&pass("correct horse"))).unwrap();
    assert_eq!(
        get(&again, &RecordKind::DSA_KEY, "alice@example.org")
            .unwrap()
            .unwrap(),
        [7; 400]
    );
}

#[test]
fn create_refuses_an_existing_vault_and_unlock_needs_one() {
    let mut v = new_vault();
    let before = v.storage().raw_header();
    assert_eq!(
        block_on(v.create(&pass("other"), KdfParams::MINIMUM)),
        Err(VaultError::AlreadyExists)
    );
    assert_eq!(v.storage().raw_header(), before);
    let mut empty = vault_on(MemoryStorage::new(), 2);
    assert!(!block_on(empty.exists()).unwrap());
    assert_eq!(block_on(empty.unlock(&pass("x"))), Err(VaultError::NoVault));
}

#[test]
fn wrong_passphrase_is_its_own_error_and_changes_nothing() {
    let mut v = new_vault();
    block_on(v.put(&RecordKind::SETTINGS, &id("a"), b"1")).unwrap();
    let header = v.storage().raw_header();
    let records = v.storage().raw_records();
    // While unlocked: the failed attempt leaves it unlocked and readable.
    assert_eq!(
        block_on(v.unlock(&pass("wrong"))),
        Err(VaultError::WrongPassphrase)
    );
    assert!(v.is_unlocked());
    assert_eq!(get(&v, &RecordKind::SETTINGS, "a").unwrap().unwrap(), b"1");
    // While locked: it stays locked.
    v.lock();
    for wrong in ["wrong", "", "correct horse ", "Correct horse"] {
        assert_eq!(
            block_on(v.unlock(&pass(wrong))),
            Err(VaultError::WrongPassphrase)
        );
        assert!(!v.is_unlocked());
    }
    assert_eq!(v.storage().raw_header(), header);
    assert_eq!(v.storage().raw_records(), records);
    block_on(v.unlock(&pass("correct horse"))).unwrap();
}

#[test]
fn every_bit_flip_of_a_sealed_record_is_rejected_and_names_it() {
    let mut v = new_vault();
    block_on(v.put(
        &RecordKind::CREDENTIALS,
        &id("alice@example.org"),
        b"hunter2",
    ))
    .unwrap();
    block_on(v.put(
        &RecordKind::CREDENTIALS,
        &id("bob@example.org"),
        b"swordfish",
    ))
    .unwrap();
    let target = id("alice@example.org");
    let locator = v
        .locator_for_tests(&RecordKind::CREDENTIALS, &target)
        .unwrap();
    let key = StorageKey {
        kind: RecordKind::CREDENTIALS,
        locator,
    };
    let original = v
        .storage()
        .raw_records()
        .into_iter()
        .find(|(k, _)| *k == key)
        .unwrap()
        .1;
    let expected = VaultError::Tampered(TamperedRecord {
        kind: RecordKind::CREDENTIALS,
        locator,
        id: Some(target.clone()),
    });
    for bit in 0..original.len() * 8 {
        let mut bad = original.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        v.storage().set_raw_record(key.clone(), Some(bad));
        assert_eq!(
            block_on(v.get(&RecordKind::CREDENTIALS, &target)),
            Err(expected.clone()),
            "bit {bit}"
        );
        // The other record stays readable.
        assert_eq!(
            get(&v, &RecordKind::CREDENTIALS, "bob@example.org")
                .unwrap()
                .unwrap(),
            b"swordfish"
        );
    }
    // Truncated and extended values too.
    for bad in [
        original[..original.len() - 1].to_vec(),
        [original.clone(), vec![0]].concat(),
        Vec::new(),
    ] {
        v.storage().set_raw_record(key.clone(), Some(bad));
        assert_eq!(
            block_on(v.get(&RecordKind::CREDENTIALS, &target)),
            Err(expected.clone())
        );
    }
    let listing = block_on(v.list(&RecordKind::CREDENTIALS)).unwrap();
    assert_eq!(listing.ids, [id("bob@example.org")]);
    assert_eq!(
        listing.tampered,
        [TamperedRecord {
            kind: RecordKind::CREDENTIALS,
            locator,
            id: None
        }]
    );
    assert!(format!("{}", expected).contains("alice@example.org"));
    // Restoring the original bytes makes it readable again.
    v.storage().set_raw_record(key, Some(original));
    assert_eq!(
        get(&v, &RecordKind::CREDENTIALS, "alice@example.org")
            .unwrap()
            .unwrap(),
        b"hunter2"
    );
}

#[test]
fn swapped_moved_and_foreign_records_are_rejected() {
    let mut v = new_vault();
    block_on(v.put(&RecordKind::FINGERPRINTS, &id("a"), b"trusted-a")).unwrap();
    block_on(v.put(&RecordKind::FINGERPRINTS, &id("b"), b"trusted-b")).unwrap();
    let la = v
        .locator_for_tests(&RecordKind::FINGERPRINTS, &id("a"))
        .unwrap();
    let lb = v
        .locator_for_tests(&RecordKind::FINGERPRINTS, &id("b"))
        .unwrap();
    let ka = StorageKey {
        kind: RecordKind::FINGERPRINTS,
        locator: la,
    };
    let kb = StorageKey {
        kind: RecordKind::FINGERPRINTS,
        locator: lb,
    };
    let raw: std::collections::BTreeMap<_, _> = v.storage().raw_records().into_iter().collect();
    let (va, vb) = (raw[&ka].clone(), raw[&kb].clone());

    // Swap a and b.
    v.storage().set_raw_record(ka.clone(), Some(vb.clone()));
    v.storage().set_raw_record(kb.clone(), Some(va.clone()));
    assert!(matches!(
        get(&v, &RecordKind::FINGERPRINTS, "a"),
        Err(VaultError::Tampered(_))
    ));
    assert!(matches!(
        get(&v, &RecordKind::FINGERPRINTS, "b"),
        Err(VaultError::Tampered(_))
    ));
    assert_eq!(
        block_on(v.list(&RecordKind::FINGERPRINTS))
            .unwrap()
            .tampered
            .len(),
        2
    );

    // Move a record to another kind under the locator it would have there.
    v.storage().set_raw_record(ka.clone(), Some(va.clone()));
    v.storage().set_raw_record(kb.clone(), Some(vb));
    let l_settings = v
        .locator_for_tests(&RecordKind::SETTINGS, &id("a"))
        .unwrap();
    let moved = StorageKey {
        kind: RecordKind::SETTINGS,
        locator: l_settings,
    };
    v.storage().set_raw_record(moved.clone(), Some(va.clone()));
    assert!(matches!(
        get(&v, &RecordKind::SETTINGS, "a"),
        Err(VaultError::Tampered(_))
    ));
    // Same locator, other kind.
    let same_locator = StorageKey {
        kind: RecordKind::SETTINGS,
        locator: la,
    };
    v.storage().set_raw_record(same_locator, Some(va.clone()));
    assert_eq!(
        block_on(v.list(&RecordKind::SETTINGS))
            .unwrap()
            .tampered
            .len(),
        2
    );
    assert_eq!(
        get(&v, &RecordKind::FINGERPRINTS, "a").unwrap().unwrap(),
        b"trusted-a"
    );

    // A record from another vault with the same passphrase, same kind and id.
    let mut other = vault_on(MemoryStorage::new(), 7);
    block_on(other.create(&pass("correct horse"), KdfParams::MINIMUM)).unwrap();
    block_on(other.put(&RecordKind::FINGERPRINTS, &id("a"), b"evil")).unwrap();
    let (_, foreign) = other.storage().raw_records().into_iter().next().unwrap();
    v.storage().set_raw_record(ka, Some(foreign));
    assert!(matches!(
        get(&v, &RecordKind::FINGERPRINTS, "a"),
        Err(VaultError::Tampered(_))
    ));
    assert_eq!(
        get(&v, &RecordKind::FINGERPRINTS, "b").unwrap().unwrap(),
        b"trusted-b"
    );
}

#[test]
fn an_old_value_replayed_under_its_own_key_is_indistinguishable() {
    // Documented limit: a rollback of one record to an older value sealed under
    // the same key, kind and id authenticates. Pin it so a change is noticed.
    let mut v = new_vault();
    block_on(v.put(&RecordKind::SETTINGS, &id("a"), b"old")).unwrap();
    let old = v.storage().raw_records();
    block_on(v.put(&RecordKind::SETTINGS, &id("a"), b"new")).unwrap();
    let (k, val) = old.into_iter().next().unwrap();
    v.storage().set_raw_record(k, Some(val));
    assert_eq!(
        get(&v, &RecordKind::SETTINGS, "a").unwrap().unwrap(),
        b"old"
    );
}

/// Storage that records every transaction and can be told to fail commits
/// (an aborted IndexedDB transaction: nothing of it lands).
#[derive(Debug, Clone, Default)]
struct FlakyStorage {
    inner: MemoryStorage,
    fail_commits: Rc<Cell<bool>>,
    log: Rc<RefCell<Vec<Transaction>>>,
}

impl Storage for FlakyStorage {
    fn read_header(&self) -> impl Future<Output = Result<Option<Vec<u8>>, StorageError>> {
        self.inner.read_header()
    }
    fn read_record(
        &self,
        key: &StorageKey,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StorageError>> {
        self.inner.read_record(key)
    }
    fn read_kind(
        &self,
        kind: &RecordKind,
    ) -> impl Future<Output = Result<Vec<(Locator, Vec<u8>)>, StorageError>> {
        self.inner.read_kind(kind)
    }
    fn read_all(&self) -> impl Future<Output = Result<Vec<(StorageKey, Vec<u8>)>, StorageError>> {
        self.inner.read_all()
    }
    async fn commit(&self, tx: Transaction) -> Result<(), StorageError> {
        self.log.borrow_mut().push(tx.clone());
        if self.fail_commits.get() {
            // Half the writes reach a scratch copy, then the transaction
            // aborts and the scratch copy is dropped: storage is unchanged.
            let scratch = MemoryStorage::new();
            let half = tx.ops().len() / 2;
            scratch
                .commit(Transaction::from(tx.ops()[..half].to_vec()))
                .await?;
            return Err(StorageError::new("transaction aborted"));
        }
        self.inner.commit(tx).await
    }
}

#[test]
fn change_passphrase_rewraps_in_one_header_write_and_an_interrupted_one_keeps_the_old() {
    let storage = FlakyStorage::default();
    let mut v = Vault::new_with_cheap_kdf(storage.clone(), TestRng::new(3), config(1));
    block_on(v.create(&pass("old pass"), KdfParams::MINIMUM)).unwrap();
    block_on(v.put(&RecordKind::SETTINGS, &id("k"), b"v")).unwrap();
    let records_before = storage.inner.raw_records();
    let header_before = storage.inner.raw_header();

    // Wrong current passphrase: refused, nothing written.
    storage.log.borrow_mut().clear();
    assert_eq!(
        block_on(v.change_passphrase(&pass("nope"), &pass("new pass"), None)),
        Err(VaultError::WrongPassphrase)
    );
    assert!(storage.log.borrow().is_empty());

    // Interrupted: the storage aborts the transaction.
    storage.fail_commits.set(true);
    let r = block_on(v.change_passphrase(&pass("old pass"), &pass("new pass"), None));
    assert!(matches!(r, Err(VaultError::Storage(_))));
    storage.fail_commits.set(false);
    assert_eq!(storage.inner.raw_header(), header_before);
    assert!(v.is_unlocked(), "the in-memory vault is untouched");
    assert_eq!(get_flaky(&v, "k"), b"v");
    v.lock();
    assert_eq!(
        block_on(v.unlock(&pass("new pass"))),
        Err(VaultError::WrongPassphrase)
    );
    block_on(v.unlock(&pass("old pass"))).unwrap();
    let mut reopened = Vault::new_with_cheap_kdf(storage.clone(), TestRng::new(4), config(1));
    block_on(reopened.unlock(&pass("old pass"))).unwrap();

    // Completed: exactly one transaction holding exactly one header write.
    storage.log.borrow_mut().clear();
    let params = KdfParams::new(32 * 1024, 3, 1).unwrap();
    block_on(v.change_passphrase(&pass("old pass"), &pass("new pass"), Some(params))).unwrap();
    {
        let log = storage.log.borrow();
        assert_eq!(log.len(), 1);
        assert!(matches!(log[0].ops(), [WriteOp::PutHeader(_)]));
    }
    assert_eq!(
        storage.inner.raw_records(),
        records_before,
        "records are not re-encrypted"
    );
    let header = crate::format::Header::decode(&storage.inner.raw_header().unwrap()).unwrap();
    assert_eq!(header.kdf, params);
    assert_eq!(get_flaky(&v, "k"), b"v");
    v.lock();
    assert_eq!(
        block_on(v.unlock(&pass("old pass"))),
        Err(VaultError::WrongPassphrase)
    );
    block_on(v.unlock(&pass("new pass"))).unwrap();
    assert_eq!(get_flaky(&v, "k"), b"v");
    // The other handle, still unlocked with the same vault key, reads on.
    assert_eq!(get_flaky(&reopened, "k"), b"v");
}

fn get_flaky(v: &Vault<FlakyStorage, TestRng>, i: &str) -> Vec<u8> {
    block_on(v.get(&RecordKind::SETTINGS, &id(i)))
        .unwrap()
        .unwrap()
        .to_vec()
}

#[test]
fn failed_writes_change_nothing() {
    let storage = FlakyStorage::default();
    let mut v = Vault::new_with_cheap_kdf(storage.clone(), TestRng::new(8), config(1));
    storage.fail_commits.set(true);
    assert!(matches!(
        block_on(v.create(&pass("p"), KdfParams::MINIMUM)),
        Err(VaultError::Storage(_))
    ));
    assert!(!v.is_unlocked());
    assert_eq!(storage.inner.raw_header(), None);
    storage.fail_commits.set(false);
    block_on(v.create(&pass("p"), KdfParams::MINIMUM)).unwrap();
    block_on(v.put(&RecordKind::SETTINGS, &id("k"), b"v")).unwrap();
    storage.fail_commits.set(true);
    assert!(block_on(v.put(&RecordKind::SETTINGS, &id("k"), b"w")).is_err());
    assert!(block_on(v.wipe()).is_err());
    assert!(!v.is_unlocked(), "wipe locks even when the delete fails");
    storage.fail_commits.set(false);
    block_on(v.unlock(&pass("p"))).unwrap();
    assert_eq!(get_flaky(&v, "k"), b"v");
}

#[test]
fn a_hundred_thousand_writes_never_repeat_a_nonce() {
    let mut v = Vault::new_with_cheap_kdf(MemoryStorage::new(), SystemRandom, config(1));
    block_on(v.create(&pass("p"), KdfParams::MINIMUM)).unwrap();
    let kind = RecordKind::HISTORY;
    let rid = id("bob@example.org");
    let locator = v.locator_for_tests(&kind, &rid).unwrap();
    let key = StorageKey {
        kind: kind.clone(),
        locator,
    };
    let mut seen = HashSet::with_capacity(100_000);
    for i in 0..100_000u32 {
        block_on(v.put(&kind, &rid, &i.to_be_bytes())).unwrap();
        let sealed = block_on(v.storage().read_record(&key)).unwrap().unwrap();
        let nonce = crate::format::record_nonce(&sealed).unwrap();
        assert!(seen.insert(nonce), "nonce repeated at write {i}");
    }
    assert_eq!(seen.len(), 100_000);
    assert_eq!(
        block_on(v.get(&kind, &rid)).unwrap().unwrap().as_slice(),
        99_999u32.to_be_bytes()
    );
}

#[test]
fn out_of_range_headers_are_refused_before_the_kdf() {
    let v = new_vault();
    let good = v.storage().raw_header().unwrap();
    // (offset, value): m below the floor, m above 64 MiB, t = 1, t huge, p = 4.
    for (off, value) in [(16, 8u32), (16, 1 << 20), (20, 1), (20, 10_000), (24, 4)] {
        let mut bad = good.clone();
        bad[off..off + 4].copy_from_slice(&value.to_be_bytes());
        let storage = MemoryStorage::new();
        storage.set_raw_header(Some(bad.clone()));
        let mut w = vault_on(storage.clone(), 5);
        assert!(
            matches!(
                block_on(w.unlock(&pass("correct horse"))),
                Err(VaultError::ParamsOutOfRange(_))
            ),
            "offset {off} value {value}"
        );
        assert!(matches!(
            block_on(w.change_passphrase(&pass("correct horse"), &pass("x"), None)),
            Err(VaultError::ParamsOutOfRange(_))
        ));
        assert_eq!(storage.raw_header(), Some(bad));
    }
}

#[test]
fn every_bit_flip_of_the_header_fails_to_unlock() {
    let v = new_vault();
    let good = v.storage().raw_header().unwrap();
    for bit in 0..good.len() * 8 {
        let mut bad = good.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let storage = MemoryStorage::new();
        storage.set_raw_header(Some(bad));
        let mut w = vault_on(storage, 6);
        let r = block_on(w.unlock(&pass("correct horse")));
        assert!(r.is_err(), "bit {bit} unlocked");
        assert!(!w.is_unlocked());
    }
}

#[test]
fn store_and_schema_are_checked() {
    let v = new_vault();
    let mut other_store = Vault::new_with_cheap_kdf(
        v.storage().clone(),
        TestRng::new(9),
        VaultConfig {
            store: StoreName::new("elsewhere").unwrap(),
            schema_version: 1,
        },
    );
    assert_eq!(
        block_on(other_store.unlock(&pass("correct horse"))),
        Err(VaultError::StoreMismatch)
    );
    let mut older_app = Vault::new_with_cheap_kdf(v.storage().clone(), TestRng::new(9), config(0));
    assert_eq!(
        block_on(older_app.unlock(&pass("correct horse"))),
        Err(VaultError::SchemaTooNew {
            stored: 1,
            supported: 0
        })
    );
}

/// Schema 1 -> 2 upper-cases settings; 2 -> 3 drops the record "drop-me".
struct TestMigrations;

impl Migrate for TestMigrations {
    fn migrate(
        &self,
        from_version: u32,
        kind: &RecordKind,
        id: &RecordId,
        payload: Zeroizing<Vec<u8>>,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, MigrationError> {
        match from_version {
            1 if *kind == RecordKind::SETTINGS => {
                Ok(Some(Zeroizing::new(payload.to_ascii_uppercase())))
            }
            1 => Ok(Some(payload)),
            2 if id.as_str() == "drop-me" => Ok(None),
            2 => Ok(Some(payload)),
            _ => Err(MigrationError::new("unexpected version")),
        }
    }
}

struct FailingMigration;

impl Migrate for FailingMigration {
    fn migrate(
        &self,
        _: u32,
        _: &RecordKind,
        _: &RecordId,
        _: Zeroizing<Vec<u8>>,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, MigrationError> {
        Err(MigrationError::new("no"))
    }
}

#[test]
fn migrations_run_on_unlock_in_one_transaction() {
    let mut v1 = new_vault();
    block_on(v1.put(&RecordKind::SETTINGS, &id("theme"), b"dark")).unwrap();
    block_on(v1.put(&RecordKind::HISTORY, &id("bob"), b"hi")).unwrap();
    block_on(v1.put(&RecordKind::HISTORY, &id("drop-me"), b"x")).unwrap();
    block_on(v1.put(&RecordKind::HISTORY, &id("broken"), b"y")).unwrap();
    let broken_loc = v1
        .locator_for_tests(&RecordKind::HISTORY, &id("broken"))
        .unwrap();
    let broken_key = StorageKey {
        kind: RecordKind::HISTORY,
        locator: broken_loc,
    };
    let mut broken = block_on(v1.storage().read_record(&broken_key))
        .unwrap()
        .unwrap();
    broken[30] ^= 1;
    v1.storage()
        .set_raw_record(broken_key.clone(), Some(broken.clone()));
    let storage = v1.storage().clone();
    let snapshot = (storage.raw_header(), storage.raw_records());

    // A failing hook aborts everything.
    let mut failing = Vault::new_with_cheap_kdf(storage.clone(), TestRng::new(10), config(3))
        .with_migrations(FailingMigration);
    assert!(matches!(
        block_on(failing.unlock(&pass("correct horse"))),
        Err(VaultError::Migration(_))
    ));
    assert!(!failing.is_unlocked());
    assert_eq!((storage.raw_header(), storage.raw_records()), snapshot);

    let mut v3 = Vault::new_with_cheap_kdf(storage.clone(), TestRng::new(10), config(3))
        .with_migrations(TestMigrations);
    block_on(v3.unlock(&pass("correct horse"))).unwrap();
    assert_eq!(
        block_on(v3.get(&RecordKind::SETTINGS, &id("theme")))
            .unwrap()
            .unwrap()
            .as_slice(),
        b"DARK"
    );
    assert_eq!(
        block_on(v3.get(&RecordKind::HISTORY, &id("bob")))
            .unwrap()
            .unwrap()
            .as_slice(),
        b"hi"
    );
    assert_eq!(
        block_on(v3.get(&RecordKind::HISTORY, &id("drop-me"))).unwrap(),
        None
    );
    assert!(matches!(
        block_on(v3.get(&RecordKind::HISTORY, &id("broken"))),
        Err(VaultError::Tampered(_))
    ));
    let header = crate::format::Header::decode(&storage.raw_header().unwrap()).unwrap();
    assert_eq!(header.schema_version, 3);
    // Unlocking again does not migrate again: nothing is rewritten.
    let migrated = (storage.raw_header(), storage.raw_records());
    v3.lock();
    block_on(v3.unlock(&pass("correct horse"))).unwrap();
    assert_eq!((storage.raw_header(), storage.raw_records()), migrated);
    // The schema-1 app now refuses the vault.
    v1.lock();
    assert_eq!(
        block_on(v1.unlock(&pass("correct horse"))),
        Err(VaultError::SchemaTooNew {
            stored: 3,
            supported: 1
        })
    );
}

#[test]
fn backup_export_import_round_trip() {
    let mut v = new_vault();
    block_on(v.put(&RecordKind::SETTINGS, &id("theme"), b"dark")).unwrap();
    block_on(v.put(&RecordKind::DSA_KEY, &id("alice@example.org"), &[9; 100])).unwrap();
    block_on(v.put(&RecordKind::HISTORY, &id("bob@example.org"), b"hello")).unwrap();
    let file = block_on(v.export_backup()).unwrap();
    assert_eq!(&file[..8], b"CNDVBKUP");

    // Restore on a fresh device.
    let mut fresh = vault_on(MemoryStorage::new(), 11);
    assert_eq!(
        block_on(fresh.import_backup(&file, &pass("wrong"))),
        Err(VaultError::WrongPassphrase)
    );
    assert_eq!(fresh.storage().raw_header(), None);
    block_on(fresh.import_backup(&file, &pass("correct horse"))).unwrap();
    assert!(fresh.is_unlocked());
    assert_eq!(
        get(&fresh, &RecordKind::SETTINGS, "theme")
            .unwrap()
            .unwrap(),
        b"dark"
    );
    assert_eq!(
        get(&fresh, &RecordKind::DSA_KEY, "alice@example.org")
            .unwrap()
            .unwrap(),
        [9; 100]
    );
    assert_eq!(
        get(&fresh, &RecordKind::HISTORY, "bob@example.org")
            .unwrap()
            .unwrap(),
        b"hello"
    );
    fresh.lock();
    block_on(fresh.unlock(&pass("correct horse"))).unwrap();

    // Restore over an existing, different vault: it is replaced.
    let mut busy = vault_on(MemoryStorage::new(), 12);
    block_on(busy.create(&pass("other"), KdfParams::MINIMUM)).unwrap();
    block_on(busy.put(&RecordKind::SETTINGS, &id("junk"), b"x")).unwrap();
    block_on(busy.import_backup(&file, &pass("correct horse"))).unwrap();
    assert_eq!(
        block_on(busy.list(&RecordKind::SETTINGS)).unwrap().ids,
        [id("theme")]
    );
    busy.lock();
    assert_eq!(
        block_on(busy.unlock(&pass("other"))),
        Err(VaultError::WrongPassphrase)
    );

    // The backup of an empty vault also round-trips.
    let mut empty = new_vault();
    let file = block_on(empty.export_backup()).unwrap();
    let mut fresh = vault_on(MemoryStorage::new(), 13);
    block_on(fresh.import_backup(&file, &pass("correct horse"))).unwrap();
    assert!(block_on(fresh.list(&RecordKind::SETTINGS))
        .unwrap()
        .ids
        .is_empty());
}

#[test]
fn every_bit_flip_of_a_backup_is_rejected_and_writes_nothing() {
    let mut v = new_vault();
    block_on(v.put(&RecordKind::SETTINGS, &id("a"), b"1")).unwrap();
    block_on(v.put(&RecordKind::SETTINGS, &id("b"), b"2")).unwrap();
    let file = block_on(v.export_backup()).unwrap();
    let target = MemoryStorage::new();
    let mut w = vault_on(target.clone(), 14);
    for bit in 0..file.len() * 8 {
        let mut bad = file.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            block_on(w.import_backup(&bad, &pass("correct horse"))).is_err(),
            "bit {bit}"
        );
        assert_eq!(target.raw_header(), None);
        assert!(!w.is_unlocked());
    }
    for n in 0..file.len() {
        assert!(block_on(w.import_backup(&file[..n], &pass("correct horse"))).is_err());
    }
    // Dropping a record (re-encoded with a consistent count) fails the file tag.
    let parsed = crate::format::ParsedBackup::parse(&file).unwrap();
    assert_eq!(parsed.entries.len(), 2);
    let header_len = u16::from_be_bytes([file[10], file[11]]) as usize;
    let count_at = 12 + header_len;
    let first_len = {
        let e = &parsed.entries[0];
        1 + e.kind.as_str().len() + 16 + 4 + e.sealed.len()
    };
    let mut dropped = file[..count_at].to_vec();
    dropped.extend_from_slice(&1u32.to_be_bytes());
    dropped.extend_from_slice(&file[count_at + 4 + first_len..]);
    assert_eq!(
        block_on(w.import_backup(&dropped, &pass("correct horse"))),
        Err(VaultError::BackupTampered)
    );
    block_on(w.import_backup(&file, &pass("correct horse"))).unwrap();
}

#[test]
fn import_refuses_out_of_range_params_in_a_backup() {
    let mut v = new_vault();
    let file = block_on(v.export_backup()).unwrap();
    let mut bad = file.clone();
    // Header starts at offset 12; its t field is at header offset 20.
    bad[12 + 20..12 + 24].copy_from_slice(&1000u32.to_be_bytes());
    let mut w = vault_on(MemoryStorage::new(), 15);
    assert!(matches!(
        block_on(w.import_backup(&bad, &pass("correct horse"))),
        Err(VaultError::ParamsOutOfRange(_))
    ));
}

#[test]
fn wipe_removes_everything() {
    let mut v = new_vault();
    block_on(v.put(&RecordKind::SETTINGS, &id("a"), b"1")).unwrap();
    block_on(v.wipe()).unwrap();
    assert!(!v.is_unlocked());
    assert!(!block_on(v.exists()).unwrap());
    assert_eq!(v.storage().raw_header(), None);
    assert!(v.storage().raw_records().is_empty());
    assert_eq!(
        block_on(v.unlock(&pass("correct horse"))),
        Err(VaultError::NoVault)
    );
    // A new vault can be created afterwards.
    block_on(v.create(&pass("new"), KdfParams::MINIMUM)).unwrap();
    assert_eq!(get(&v, &RecordKind::SETTINGS, "a").unwrap(), None);
}

#[test]
fn empty_passphrases_are_refused() {
    let mut v = vault_on(MemoryStorage::new(), 30);
    assert_eq!(
        block_on(v.create(&pass(""), KdfParams::MINIMUM)),
        Err(VaultError::InvalidInput("empty passphrase"))
    );
    assert_eq!(v.storage().raw_header(), None);
    let mut v = new_vault();
    assert_eq!(
        block_on(v.change_passphrase(&pass("correct horse"), &pass(""), None)),
        Err(VaultError::InvalidInput("empty passphrase"))
    );
}

#[test]
fn broken_randomness_writes_nothing() {
    let mut v = Vault::new_with_cheap_kdf(MemoryStorage::new(), BrokenRng, config(1));
    assert_eq!(
        block_on(v.create(&pass("p"), KdfParams::MINIMUM)),
        Err(VaultError::Randomness)
    );
    assert_eq!(v.storage().raw_header(), None);
}

#[test]
fn seeded_randomness_makes_storage_reproducible() {
    let run = |seed| {
        let mut v = vault_on(MemoryStorage::new(), seed);
        block_on(v.create(&pass("p"), KdfParams::MINIMUM)).unwrap();
        block_on(v.put(&RecordKind::SETTINGS, &id("a"), b"1")).unwrap();
        (v.storage().raw_header(), v.storage().raw_records())
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn payload_size_is_bounded() {
    let mut v = new_vault();
    let big = vec![0u8; crate::format::MAX_PAYLOAD_LEN + 1];
    assert_eq!(
        block_on(v.put(&RecordKind::HISTORY, &id("x"), &big)),
        Err(VaultError::InvalidInput("payload too large"))
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn raw_storage_holds_no_plaintext_ids_passphrase_or_keys() {
    let mut v = new_vault();
    let secret_payload = b"PLAINTEXT-MARKER-7f3a";
    let jid = "carol@secret.example";
    block_on(v.put(&RecordKind::CREDENTIALS, &id(jid), secret_payload)).unwrap();
    let record_key = v.record_key_for_tests().unwrap();
    let mut dump = v.storage().raw_header().unwrap();
    for (k, val) in v.storage().raw_records() {
        dump.extend_from_slice(k.kind.as_str().as_bytes());
        dump.extend_from_slice(k.locator.to_hex().as_bytes());
        dump.extend_from_slice(&val);
    }
    dump.extend_from_slice(&block_on(v.export_backup()).unwrap());
    assert!(!contains(&dump, secret_payload));
    assert!(!contains(&dump, jid.as_bytes()));
    assert!(!contains(&dump, b"correct horse"));
    assert!(!contains(&dump, &record_key[..8]));
}

#[test]
fn debug_output_never_shows_secrets() {
    let mut v = new_vault();
    let payload = b"DEBUG-PLAINTEXT-MARKER";
    block_on(v.put(&RecordKind::SETTINGS, &id("a"), payload)).unwrap();
    let record_key = v.record_key_for_tests().unwrap();
    let value = block_on(v.get(&RecordKind::SETTINGS, &id("a")))
        .unwrap()
        .unwrap();
    let p = pass("correct horse");
    let tampered = TamperedRecord {
        kind: RecordKind::SETTINGS,
        locator: Locator::from_bytes([1; 16]),
        id: Some(id("a")),
    };
    let storage = v.storage().clone();
    let mut tx = Transaction::new();
    tx.push(WriteOp::PutRecord(
        storage.raw_records()[0].0.clone(),
        payload.to_vec(),
    ));
    tx.push(WriteOp::PutHeader(payload.to_vec()));
    let listing = block_on(v.list(&RecordKind::SETTINGS)).unwrap();
    let vk = crate::crypto::VaultKey::generate(&mut TestRng::new(0xdead_beef)).unwrap();
    let vk_bytes = *vk.bytes();
    let keys = vk.keys();
    let kek = crate::kdf::derive_kek(b"correct horse", &[0; 32], crate::kdf::Cost::TestOnlyCheap)
        .unwrap();
    let kek_bytes = *kek.bytes();
    let outputs = [
        format!("{v:?}"),
        format!("{p:?}"),
        format!("{storage:?}"),
        format!("{tx:?}"),
        format!("{listing:?}"),
        format!("{tampered:?}"),
        format!("{:?}", VaultError::Tampered(tampered.clone())),
        format!("{:?}", config(1)),
        format!("{:?}", KdfParams::MINIMUM),
        format!("{:?}", SystemRandom),
        format!("{:?}", KeepPayloads),
        format!("{:?}", vk),
        format!("{:?}", keys),
        format!("{:?}", kek),
        format!("{:?}", StorageError::new("x")),
        format!("{:?}", MigrationError::new("x")),
        format!("{:?}", SelfTestError::Argon2id),
        format!("{:?}", SelfTestError::Argon2idFailed(KdfError::OutOfMemory)),
        format!("{:?}", FormatError::BadField("x")),
        format!(
            "{:?}",
            ParamsError {
                m_kib: 1,
                t: 1,
                p: 1
            }
        ),
        format!("{:?}", RandomnessError),
        format!("{:?}", VaultError::WrongPassphrase),
        format!("{:?}", VaultError::InvalidBackup(FormatError::Truncated)),
        format!("{:?}", storage.raw_records()[0].0),
        format!("{:?}", StoreName::new("candado").unwrap()),
        format!("{:?}", id("a")),
        format!(
            "{:?}",
            Calibration {
                params: KdfParams::MINIMUM,
                estimated: core::time::Duration::from_millis(5),
                slow_device: false,
            }
        ),
        format!(
            "{:?}",
            crate::format::Header::decode(&storage.raw_header().unwrap()).unwrap()
        ),
    ];
    let byte_list = |b: &[u8]| format!("{:?}", &b[..6]).trim_end_matches(']').to_owned();
    let hex = |b: &[u8]| {
        b[..6]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    for out in &outputs {
        for secret in [
            &record_key[..],
            &vk_bytes[..],
            &kek_bytes[..],
            &*keys.record,
            &*keys.locator,
            &*keys.backup,
        ] {
            assert!(!out.contains(&byte_list(secret)), "{out}");
            assert!(!out.contains(&hex(secret)), "{out}");
        }
        assert!(!out.contains("correct horse"), "{out}");
        assert!(!out.contains("DEBUG-PLAINTEXT"), "{out}");
        assert!(!out.contains(&byte_list(payload)), "{out}");
    }
    // The value itself is a Zeroizing<Vec<u8>>, whose Debug is the caller's business;
    // it is never wrapped in one of our types.
    assert_eq!(value.as_slice(), payload);
}

#[test]
fn real_argon2id_minimum_cost_create_unlock_and_wrong_passphrase() {
    // The production path end to end, twice only (about 50-150 ms each here).
    let storage = MemoryStorage::new();
    let mut v = Vault::new(storage.clone(), TestRng::new(20), config(1));
    block_on(v.create(&pass("real passphrase"), KdfParams::MINIMUM)).unwrap();
    block_on(v.put(&RecordKind::SETTINGS, &id("a"), b"1")).unwrap();
    let mut w = Vault::new(storage, TestRng::new(21), config(1));
    assert_eq!(
        block_on(w.unlock(&pass("not it"))),
        Err(VaultError::WrongPassphrase)
    );
    block_on(w.unlock(&pass("real passphrase"))).unwrap();
    assert_eq!(
        block_on(w.get(&RecordKind::SETTINGS, &id("a")))
            .unwrap()
            .unwrap()
            .as_slice(),
        b"1"
    );
    // The cheap test KDF gives a different KEK: it cannot open a real vault.
    let mut cheap = vault_on(w.storage().clone(), 22);
    assert_eq!(
        block_on(cheap.unlock(&pass("real passphrase"))),
        Err(VaultError::WrongPassphrase)
    );
}

/// Runs Argon2id in place and counts its calls, with the parameters it was given.
struct CountingKdf(Rc<RefCell<Vec<KdfParams>>>);

impl KdfRunner for CountingKdf {
    fn argon2id<'a>(
        &'a self,
        passphrase: &'a [u8],
        salt: &'a [u8],
        params: KdfParams,
    ) -> KdfFuture<'a> {
        self.0.borrow_mut().push(params);
        InPlace.argon2id(passphrase, salt, params)
    }
}

/// Fails as a worker that ran out of memory would.
struct FailingKdf;

impl KdfRunner for FailingKdf {
    fn argon2id<'a>(&'a self, _: &'a [u8], _: &'a [u8], _: KdfParams) -> KdfFuture<'a> {
        Box::pin(core::future::ready(Err(KdfError::OutOfMemory)))
    }
}

#[test]
fn argon2id_runs_where_the_vault_is_told_and_gives_the_same_key_anywhere() {
    let storage = MemoryStorage::new();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let mut v = Vault::new(storage.clone(), TestRng::new(21), config(1))
        .with_kdf(CountingKdf(calls.clone()));
    block_on(v.create(&pass("correct horse"), KdfParams::MINIMUM)).unwrap();
    v.lock();
    block_on(v.unlock(&pass("correct horse"))).unwrap();
    assert!(matches!(
        block_on(v.unlock(&pass("wrong"))),
        Err(VaultError::WrongPassphrase)
    ));
    assert_eq!(*calls.borrow(), vec![KdfParams::MINIMUM; 3]);
    block_on(v.put(&RecordKind::new("k").unwrap(), &id("a"), b"kept")).unwrap();

    // A vault deriving in its own thread opens what the runner sealed.
    let mut other = Vault::new(storage.clone(), TestRng::new(22), config(1));
    block_on(other.unlock(&pass("correct horse"))).unwrap();
    let got = block_on(other.get(&RecordKind::new("k").unwrap(), &id("a"))).unwrap();
    assert_eq!(got.as_deref().map(|v| v.as_slice()), Some(&b"kept"[..]));

    // A runner that fails: its error reaches the caller and the vault stays locked.
    let mut failing = Vault::new(storage, TestRng::new(23), config(1)).with_kdf(FailingKdf);
    assert!(matches!(
        block_on(failing.unlock(&pass("correct horse"))),
        Err(VaultError::Kdf(KdfError::OutOfMemory))
    ));
    assert!(!failing.is_unlocked());
}
