//! The vault against real IndexedDB in headless Chromium.
//!
//! Run: `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p candado-vault --target wasm32-unknown-unknown`
//! (the runner is set in `.cargo/config.toml`). These use the real Argon2id
//! floor (19 MiB, t = 2) a handful of times.
#![cfg(target_arch = "wasm32")]

use candado_vault::*;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "ocelot anvil tundra pivot lagoon ember";
const SECRET_PAYLOAD: &[u8] = b"PLAINTEXT-MARKER-c0ffee: remembered account password";
const PEER_JID: &str = "carol@hidden.example";

fn config() -> VaultConfig {
    VaultConfig {
        store: StoreName::new("candado").unwrap(),
        schema_version: 1,
    }
}

/// A database name no other test (or earlier run) uses.
fn fresh_name(test: &str) -> String {
    let mut r = [0u8; 8];
    SystemRandom.fill(&mut r).unwrap();
    let suffix: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("candado-vault-test-{test}-{suffix}")
}

async fn open_vault(name: &str) -> Vault<IndexedDbStorage, SystemRandom> {
    let storage = IndexedDbStorage::open(name).await.unwrap();
    Vault::new(storage, SystemRandom, config())
}

/// The DSA-key-like secret stored as a record payload in these tests.
fn dsa_key_bytes() -> Vec<u8> {
    (0u8..64)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect()
}

async fn create_populated(name: &str) {
    let mut v = open_vault(name).await;
    v.create(&Passphrase::from(PASSPHRASE), KdfParams::MINIMUM)
        .await
        .unwrap();
    v.put(
        &RecordKind::CREDENTIALS,
        &RecordId::new("me@example.org").unwrap(),
        SECRET_PAYLOAD,
    )
    .await
    .unwrap();
    v.put(
        &RecordKind::DSA_KEY,
        &RecordId::new("me@example.org").unwrap(),
        &dsa_key_bytes(),
    )
    .await
    .unwrap();
    v.put(
        &RecordKind::FINGERPRINTS,
        &RecordId::new(PEER_JID).unwrap(),
        b"trusted",
    )
    .await
    .unwrap();
    v.lock();
}

/// Every key and value of both object stores, through a separate raw handle.
async fn raw_dump(name: &str) -> Vec<(String, String, Vec<u8>)> {
    let db = Database::open(name).await.unwrap();
    let mut out = Vec::new();
    for store_name in [META_STORE, RECORDS_STORE] {
        let tx = db
            .transaction(store_name)
            .with_mode(TransactionMode::Readonly)
            .build()
            .unwrap();
        let store = tx.object_store(store_name).unwrap();
        let keys = store
            .get_all_keys::<String>()
            .primitive()
            .unwrap()
            .await
            .unwrap();
        let values = store
            .get_all::<JsValue>()
            .primitive()
            .unwrap()
            .await
            .unwrap();
        for (k, v) in keys.zip(values) {
            let v = v.unwrap();
            // Values this crate wrote are byte arrays; the tamper test plants a string.
            let bytes = v
                .dyn_ref::<Uint8Array>()
                .map(Uint8Array::to_vec)
                .unwrap_or_else(|| b"<not bytes>".to_vec());
            out.push((store_name.to_owned(), k.unwrap(), bytes));
        }
    }
    db.close();
    out
}

async fn raw_put(name: &str, store_name: &str, key: &str, value: &[u8]) {
    let db = Database::open(name).await.unwrap();
    let tx = db
        .transaction(store_name)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .unwrap();
    let store = tx.object_store(store_name).unwrap();
    let js: JsValue = Uint8Array::from(value).into();
    store
        .put(js)
        .with_key(key.to_owned())
        .primitive()
        .unwrap()
        .await
        .unwrap();
    tx.commit().await.unwrap();
    db.close();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[wasm_bindgen_test]
async fn create_reopen_unlock_read_back() {
    let name = fresh_name("reopen");
    create_populated(&name).await;

    // A new database handle, as after a page reload.
    let mut v = open_vault(&name).await;
    assert!(v.exists().await.unwrap());
    assert!(!v.is_unlocked());
    v.unlock(&Passphrase::from(PASSPHRASE)).await.unwrap();
    let me = RecordId::new("me@example.org").unwrap();
    assert_eq!(
        v.get(&RecordKind::CREDENTIALS, &me)
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        SECRET_PAYLOAD
    );
    assert_eq!(
        v.get(&RecordKind::DSA_KEY, &me)
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        dsa_key_bytes().as_slice()
    );
    let listing = v.list(&RecordKind::FINGERPRINTS).await.unwrap();
    assert_eq!(listing.ids, [RecordId::new(PEER_JID).unwrap()]);
    assert!(listing.tampered.is_empty());
    assert!(v.list(&RecordKind::HISTORY).await.unwrap().ids.is_empty());

    // Delete and overwrite land in IndexedDB too.
    v.delete(&RecordKind::FINGERPRINTS, &RecordId::new(PEER_JID).unwrap())
        .await
        .unwrap();
    v.put(&RecordKind::CREDENTIALS, &me, b"new").await.unwrap();
    let mut again = open_vault(&name).await;
    again.unlock(&Passphrase::from(PASSPHRASE)).await.unwrap();
    assert!(again
        .list(&RecordKind::FINGERPRINTS)
        .await
        .unwrap()
        .ids
        .is_empty());
    assert_eq!(
        again
            .get(&RecordKind::CREDENTIALS, &me)
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        b"new"
    );

    // Wipe empties the database.
    again.wipe().await.unwrap();
    assert!(raw_dump(&name).await.is_empty());
    assert!(!v.exists().await.unwrap());
}

#[wasm_bindgen_test]
async fn wrong_passphrase_is_refused_and_changes_nothing() {
    let name = fresh_name("wrong");
    create_populated(&name).await;
    let before = raw_dump(&name).await;
    let mut v = open_vault(&name).await;
    assert_eq!(
        v.unlock(&Passphrase::from("ocelot anvil tundra pivot lagoon"))
            .await,
        Err(VaultError::WrongPassphrase)
    );
    assert!(!v.is_unlocked());
    assert_eq!(raw_dump(&name).await, before);
    v.unlock(&Passphrase::from(PASSPHRASE)).await.unwrap();
}

#[wasm_bindgen_test]
async fn tampering_through_raw_indexeddb_is_reported_and_the_rest_stays_readable() {
    let name = fresh_name("tamper");
    create_populated(&name).await;
    let dump = raw_dump(&name).await;
    let (_, key, mut value) = dump
        .into_iter()
        .find(|(store, key, _)| store == RECORDS_STORE && key.starts_with("credentials/"))
        .unwrap();
    let last = value.len() - 1;
    value[last] ^= 0x01;
    raw_put(&name, RECORDS_STORE, &key, &value).await;

    let mut v = open_vault(&name).await;
    v.unlock(&Passphrase::from(PASSPHRASE)).await.unwrap();
    let me = RecordId::new("me@example.org").unwrap();
    match v.get(&RecordKind::CREDENTIALS, &me).await {
        Err(VaultError::Tampered(t)) => {
            assert_eq!(t.kind, RecordKind::CREDENTIALS);
            assert_eq!(t.id, Some(me.clone()));
            assert_eq!(key, format!("credentials/{}", t.locator));
        }
        other => panic!("expected a tampered record, got {other:?}"),
    }
    assert_eq!(
        v.list(&RecordKind::CREDENTIALS)
            .await
            .unwrap()
            .tampered
            .len(),
        1
    );
    assert_eq!(
        v.get(&RecordKind::DSA_KEY, &me)
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        dsa_key_bytes().as_slice()
    );

    // A value that is not even a byte array is reported the same way.
    let db = Database::open(name.as_str()).await.unwrap();
    let tx = db
        .transaction(RECORDS_STORE)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .unwrap();
    let store = tx.object_store(RECORDS_STORE).unwrap();
    store
        .put(JsValue::from_str("junk"))
        .with_key(key.clone())
        .primitive()
        .unwrap()
        .await
        .unwrap();
    tx.commit().await.unwrap();
    db.close();
    assert!(matches!(
        v.get(&RecordKind::CREDENTIALS, &me).await,
        Err(VaultError::Tampered(_))
    ));

    // An altered header does not unlock.
    let header = raw_dump(&name)
        .await
        .into_iter()
        .find(|(store, _, _)| store == META_STORE)
        .unwrap()
        .2;
    let mut bad = header.clone();
    bad[40] ^= 0x80; // inside the salt
    raw_put(&name, META_STORE, HEADER_KEY, &bad).await;
    let mut w = open_vault(&name).await;
    assert_eq!(
        w.unlock(&Passphrase::from(PASSPHRASE)).await,
        Err(VaultError::WrongPassphrase)
    );
}

#[wasm_bindgen_test]
async fn raw_dump_holds_no_plaintext_key_bytes_ids_or_passphrase() {
    let name = fresh_name("dump");
    create_populated(&name).await;
    let dump = raw_dump(&name).await;
    assert_eq!(dump.iter().filter(|(s, _, _)| s == META_STORE).count(), 1);
    assert_eq!(
        dump.iter().filter(|(s, _, _)| s == RECORDS_STORE).count(),
        3
    );
    let mut all = Vec::new();
    for (store, key, value) in &dump {
        all.extend_from_slice(store.as_bytes());
        all.extend_from_slice(key.as_bytes());
        all.extend_from_slice(value);
    }
    assert!(!contains(&all, SECRET_PAYLOAD));
    assert!(!contains(&all, b"PLAINTEXT-MARKER"));
    assert!(!contains(&all, &dsa_key_bytes()[..16]));
    assert!(!contains(&all, PASSPHRASE.as_bytes()));
    assert!(!contains(&all, b"ocelot"));
    assert!(!contains(&all, PEER_JID.as_bytes()));
    assert!(!contains(&all, b"me@example.org"));
    assert!(!contains(&all, b"trusted"));

    // Debug output of an unlocked vault over IndexedDB shows no secret either.
    let mut v = open_vault(&name).await;
    v.unlock(&Passphrase::from(PASSPHRASE)).await.unwrap();
    let shown = format!("{v:?} {:?} {:?}", v.storage(), Passphrase::from(PASSPHRASE));
    assert!(shown.contains("IndexedDbStorage"));
    assert!(!shown.contains("ocelot"));
    assert!(!shown.contains("PLAINTEXT"));
}

#[wasm_bindgen_test]
async fn backup_round_trip_between_databases() {
    let name = fresh_name("backup-src");
    create_populated(&name).await;
    let mut v = open_vault(&name).await;
    v.unlock(&Passphrase::from(PASSPHRASE)).await.unwrap();
    let file = v.export_backup().await.unwrap();
    let target = fresh_name("backup-dst");
    let mut w = open_vault(&target).await;
    w.import_backup(&file, &Passphrase::from(PASSPHRASE))
        .await
        .unwrap();
    let me = RecordId::new("me@example.org").unwrap();
    assert_eq!(
        w.get(&RecordKind::CREDENTIALS, &me)
            .await
            .unwrap()
            .unwrap()
            .as_slice(),
        SECRET_PAYLOAD
    );
}

#[wasm_bindgen_test]
fn self_test_passes_in_the_browser() {
    assert_eq!(self_test(), Ok(()));
}

#[wasm_bindgen_test]
fn calibration_in_the_browser_stays_in_range() {
    let clock = || core::time::Duration::from_secs_f64(js_sys::Date::now() / 1000.0);
    let start = clock();
    let c = calibrate(core::time::Duration::from_secs(1), clock).unwrap();
    let spent = clock().saturating_sub(start);
    assert!(c.params.m_kib() >= KdfParams::MIN_M_KIB && c.params.m_kib() <= KdfParams::MAX_M_KIB);
    assert!(c.params.t() >= KdfParams::MIN_T && c.params.t() <= KdfParams::MAX_T);
    // At 64 MiB the estimate comes from one timed run at t = 2.
    assert!(c.estimated > core::time::Duration::ZERO);
    console_log!(
        "calibration (1 s target) in headless Chromium: m = {} KiB, t = {}, estimated {:?}, slow device: {}, calibration took {:?}",
        c.params.m_kib(),
        c.params.t(),
        c.estimated,
        c.slow_device,
        spent
    );
}

#[wasm_bindgen_test]
async fn listing_by_kind_never_spills_into_similar_kind_names() {
    let name = fresh_name("kinds");
    let mut v = open_vault(&name).await;
    v.create(&Passphrase::from(PASSPHRASE), KdfParams::MINIMUM)
        .await
        .unwrap();
    let kinds = ["a", "a-b", "a.b", "a_b", "a0", "ab", "b"];
    for k in kinds {
        let kind = RecordKind::new(k).unwrap();
        for i in 0..3 {
            let id = RecordId::new(format!("{k}#{i}")).unwrap();
            v.put(&kind, &id, k.as_bytes()).await.unwrap();
        }
    }
    for k in kinds {
        let kind = RecordKind::new(k).unwrap();
        let listing = v.list(&kind).await.unwrap();
        let expected: Vec<RecordId> = (0..3)
            .map(|i| RecordId::new(format!("{k}#{i}")).unwrap())
            .collect();
        assert_eq!(listing.ids, expected, "kind {k}");
        assert!(listing.tampered.is_empty());
    }
    // Storage keys are "<kind>/<32 hex digits>".
    let dump = raw_dump(&name).await;
    let record_keys: Vec<&String> = dump
        .iter()
        .filter(|(s, _, _)| s == RECORDS_STORE)
        .map(|(_, k, _)| k)
        .collect();
    assert_eq!(record_keys.len(), 21);
    for key in record_keys {
        let (kind, locator) = key.split_once('/').unwrap();
        assert!(kinds.contains(&kind));
        let locator = Locator::from_hex(locator).unwrap();
        let storage_key = StorageKey {
            kind: RecordKind::new(kind.to_owned()).unwrap(),
            locator,
        };
        assert_eq!(&indexed_db_record_key(&storage_key), key);
    }
}
