//! Storage at rest (issue #9): after a full journey by two people in two browsers through a real
//! Prosody, everything the browser keeps for the app's origin (every IndexedDB database, store, key
//! and value; every Cache Storage entry with its body; localStorage and sessionStorage) holds no
//! message text, no key material, no account password and no passphrase, in any of the usual
//! encodings.
//!
//! The journey: alice (Spanish) and bob (English) create an app passphrase, register (bob asks the app
//! to remember his password, so it is in the vault), make the interface choices that `localStorage` is
//! for, become contacts, start a private conversation, exchange messages both ways, verify each other
//! with a question and answer, then alice turns history on for the chat (so message text is written
//! into the vault) and they exchange more messages. Both lock the app (records still queued are
//! written before the keys go), and the page dumps its storage with JavaScript; each dump is saved as
//! `target/e2e/at-rest-<person>.json` for reviewers.
//!
//! Then the test opens each dumped vault natively with `candado-vault` and the person's passphrase,
//! and independently derives the vault's keys from the header as the crate documentation lays it out.
//! What decryption recovers (the OTR private key, the remembered password, the kept messages, every
//! record's payload and id, the vault's keys) must be absent from the raw dump, while the dump must
//! still be the real thing: the app's database with its records, the service worker's precache with
//! the shipped files, and the interface's choices in `localStorage`.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use base64::Engine;
use candado_e2e::steps::{
    answer, ask, befriend, first_run_and_register, open_chat, padlock, send, wait_incoming,
};
use candado_e2e::{dist_dir, serve_app, Person};
use candado_engine::history::{decode_chunk, HistoryId};
use candado_engine::records::{self, decode_key, Credentials, Trust, TrustStore};
use candado_harness::{fresh_dir, target_dir, Prosody};
use candado_otr::crypto::dsa::Fingerprint;
use candado_vault::{
    Locator, MemoryStorage, Passphrase, RecordId, RecordKind, Storage, StorageKey, StoreName,
    SystemRandom, Transaction, Vault, VaultConfig, VaultError, WriteOp,
};
use serde_json::Value;

const ALICE: &str = "alice@localhost";
const BOB: &str = "bob@localhost";
const ALICE_PASSPHRASE: &str = "alce azul 7 montañas en reposo";
const BOB_PASSPHRASE: &str = "bob's resting passphrase 1987 quartz";

/// The IndexedDB database of the app, which is also the vault's store name (`candado-runtime`'s
/// `store::DATABASE`), and the record schema version it writes (`store::SCHEMA_VERSION`).
const DATABASE: &str = "candado";
const SCHEMA_VERSION: u32 = 1;
/// The object stores and header key of `candado_vault::IndexedDbStorage` (wasm32 only).
const META_STORE: &str = "meta";
const RECORDS_STORE: &str = "records";
const HEADER_KEY: &str = "header";

/// The `localStorage` keys the interface may use (`crates/ui/src/web.rs`), the README's list.
const UI_KEYS: [&str; 4] = [
    "candado.passphrase-skipped",
    "candado.auto-lock",
    "candado.notifications",
    "candado.language",
];

/// Off the record: exchanged before history is turned on.
const BEFORE: [(&str, &str); 2] = [
    (
        "alice",
        "Hola Bob: el mapa está bajo la baldosa floja, ñandú",
    ),
    ("bob", "Got it <b>Alice</b> & the map: cuarzo-violeta-88"),
];
/// Exchanged after alice turned history on: kept (sealed) in alice's vault only.
const AFTER: [(&str, &str); 3] = [
    (
        "alice",
        "Guardado en la bóveda: reunión el jueves a las 19 h en la biblioteca",
    ),
    (
        "bob",
        "Kept on alice's side only, bring the zine 'Cuidarnos' & 3 pens",
    ),
    ("alice", "Último: la clave del wifi es otro secreto 🔐 ¿ok?"),
];
/// Verification with a question, both ways: (who asks, question, answer).
const QUESTIONS: [(&str, &str, &str); 2] = [
    (
        "alice",
        "¿Cómo se llamaba el perro de la esquina?",
        "Firulais del Parque Chacabuco",
    ),
    (
        "bob",
        "Which bakery did we first meet at?",
        "Panadería La Espiga 1959",
    ),
];

/// The interface's choices each person makes in the settings: (auto-lock, language); each picks
/// the language their browser does not prefer, so the choice is a change the interface stores.
const ALICE_CHOICES: (&str, &str) = ("60", "en");
const BOB_CHOICES: (&str, &str) = ("never", "es");

/// The account password `steps::first_run_and_register` types.
fn password(user: &str) -> String {
    format!("{user}-Contraseña-1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_journey_browser_storage_holds_nothing_readable() {
    let started = Instant::now();
    let prosody = Prosody::start(&fresh_dir("e2e", "at-rest").unwrap(), "localhost").unwrap();
    let endpoint = prosody.websocket_url();
    let server = serve_app(&endpoint);
    let alice = Person::start("at-rest-alice", "es-AR", ALICE_PASSPHRASE).await;
    let bob = Person::start("at-rest-bob", "en-US", BOB_PASSPHRASE).await;
    alice.open(&server.url()).await;
    bob.open(&server.url()).await;

    // App passphrases and accounts: bob's password is remembered (sealed in his vault), alice's not.
    first_run_and_register(&alice, "alice", false, &endpoint).await;
    first_run_and_register(&bob, "bob", true, &endpoint).await;
    // What localStorage is for: the interface's own choices.
    choose_in_settings(&alice, ALICE_CHOICES).await;
    choose_in_settings(&bob, BOB_CHOICES).await;

    befriend(&alice, ALICE, &bob, BOB).await;
    open_chat(&alice, BOB).await;
    open_chat(&bob, ALICE).await;
    alice.click("#padlock").await;
    alice.click("#start-private").await;
    padlock(&alice, "encrypted_unverified").await;
    padlock(&bob, "encrypted_unverified").await;
    let person = |name: &str| if name == "alice" { &alice } else { &bob };
    let other = |name: &str| if name == "alice" { &bob } else { &alice };
    for (from, text) in BEFORE {
        send(person(from), text).await;
        assert_eq!(wait_incoming(other(from), text).await, "true");
    }

    // Each verifies the other with a question and answer: verified on both sides.
    for (asker, question, reply) in QUESTIONS {
        ask(person(asker), question, reply).await;
        answer(other(asker), question, reply).await;
        padlock(person(asker), "verified").await;
    }
    padlock(&alice, "verified").await;
    padlock(&bob, "verified").await;

    // alice keeps this chat's history from now on: message text goes into her vault.
    alice.click("#history-toggle").await;
    alice
        .wait_attr("#history-toggle", "aria-checked", "true")
        .await;
    alice.wait_css("li.notice[data-notice='history_on']").await;
    for (from, text) in AFTER {
        send(person(from), text).await;
        assert_eq!(wait_incoming(other(from), text).await, "true");
    }
    alice.shot("history-kept").await;

    // Both lock: the vault's queue writes every pending record before the keys are dropped, so what
    // is in storage now is what stays on the device.
    for p in [&alice, &bob] {
        p.click("#back").await;
        p.wait_screen("contacts").await;
        p.click("#lock-now").await;
        p.wait_screen("unlock").await;
        p.shot("locked").await;
    }
    let journey = started.elapsed();

    let mut dumps = BTreeMap::new();
    for (name, p) in [("alice", &alice), ("bob", &bob)] {
        service_worker_ready(p).await;
        let dump = dump_storage(p).await;
        let path = target_dir()
            .join("e2e")
            .join(format!("at-rest-{name}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&dump).unwrap()).unwrap();
        println!("{name}: storage dump saved to {}", path.display());
        dumps.insert(name, dump);
    }
    alice.close().await;
    bob.close().await;

    // 1. The dumps are the real thing.
    check_localstorage(&dumps["alice"], ALICE_CHOICES);
    check_localstorage(&dumps["bob"], BOB_CHOICES);
    let dist = dist_dir();
    for (name, dump) in &dumps {
        check_cache_storage(name, dump, &dist);
    }

    // 3 (first half). Open each vault natively and take out what it seals.
    let alice_vault = open_dumped_vault("alice", &dumps["alice"], ALICE_PASSPHRASE);
    let bob_vault = open_dumped_vault("bob", &dumps["bob"], BOB_PASSPHRASE);
    // alice: a saved account without password, her key, bob's fingerprint, and the kept chat.
    // bob: a saved account with password, his key, alice's fingerprint, and no history.
    assert!(alice_vault.records.len() >= 5, "{:?}", alice_vault.ids());
    assert!(bob_vault.records.len() >= 3, "{:?}", bob_vault.ids());
    let alice_secrets = alice_vault.check_contents(ALICE, BOB, &endpoint, None);
    let bob_secrets = bob_vault.check_contents(BOB, ALICE, &endpoint, Some(&password("bob")));
    // Each one's own key is the one the other verified (so these are the keys OTR really used).
    assert_eq!(
        bob_secrets.peer_fingerprints,
        vec![(
            ALICE.to_string(),
            alice_secrets.own_fingerprint,
            Trust::Trusted
        )]
    );
    assert_eq!(
        alice_secrets.peer_fingerprints,
        vec![(BOB.to_string(), bob_secrets.own_fingerprint, Trust::Trusted)]
    );
    // History was really written, inside alice's vault: exactly what was said after she turned it on.
    let after: Vec<&str> = AFTER.iter().map(|(_, t)| *t).collect();
    assert_eq!(alice_secrets.history, after);
    assert!(bob_secrets.history.is_empty());

    // 2 and 3. Nothing of the sort appears in either dump, in any encoding.
    let mut needles = Vec::new();
    for (_, text) in BEFORE.iter().chain(AFTER.iter()) {
        needles.push(Needle::text("message", text));
    }
    for (_, question, reply) in QUESTIONS {
        needles.push(Needle::text("verification question", question));
        needles.push(Needle::text("verification answer", reply));
    }
    needles.push(Needle::text("alice's app passphrase", ALICE_PASSPHRASE));
    needles.push(Needle::text("bob's app passphrase", BOB_PASSPHRASE));
    needles.push(Needle::text("alice's account password", &password("alice")));
    needles.push(Needle::text("bob's account password", &password("bob")));
    // The README: "Accounts, keys, contacts' fingerprints and settings are stored only inside the
    // vault"; and the vault's record ids, which hold the addresses, "never appear in the clear"
    // (candado-vault's format documentation). So neither address is anywhere outside the vault.
    needles.push(Needle::text("alice's address", ALICE));
    needles.push(Needle::text("bob's address", BOB));
    for (who, secrets) in [("alice", &alice_secrets), ("bob", &bob_secrets)] {
        let fp = secrets.own_fingerprint;
        needles.push(Needle::text(&format!("{who}'s fingerprint"), &fp.to_hex()));
        needles.push(Needle::text(
            &format!("{who}'s fingerprint"),
            &fp.to_string(),
        ));
    }
    for (who, vault) in [("alice", &alice_vault), ("bob", &bob_vault)] {
        needles.extend(vault.key_material(who));
    }
    for needle in &needles {
        assert!(
            needle.bytes.len() >= 8,
            "{} is too short to search for",
            needle.what
        );
    }

    for (name, dump) in &dumps {
        // The search does look inside binary values: the sealed header and records are found.
        let vault = if *name == "alice" {
            &alice_vault
        } else {
            &bob_vault
        };
        let controls = vec![
            Needle::bytes("the sealed header", &vault.header),
            Needle::bytes("a sealed record", &vault.sealed_sample),
        ];
        let seen = find_needles(dump, &controls);
        for control in &controls {
            assert!(
                seen.iter()
                    .any(|f| f.starts_with(&control.what) && f.contains("(raw) at dump.indexedDB")),
                "{name}: the search must find {} in the dump: {seen:?}",
                control.what
            );
        }
        let found = find_needles(dump, &needles);
        assert!(
            found.is_empty(),
            "{name}'s browser storage holds what only the vault should:\n{}",
            found.join("\n")
        );
        let counts = counts(dump);
        println!("{name}: {counts}; {} needles absent", needles.len());
    }
    println!("journey {:?}, whole test {:?}", journey, started.elapsed());
}

/// Chooses the auto-lock delay and the language in the settings, and comes back.
async fn choose_in_settings(p: &Person, (auto_lock, lang): (&str, &str)) {
    p.click("#settings-open").await;
    p.wait_screen("settings").await;
    p.select("#auto-lock", auto_lock).await;
    p.select("#language", lang).await;
    p.shot("settings").await;
    p.click("#settings-close").await;
    p.wait_screen("contacts").await;
}

/// Waits until the service worker is active: its install fetched the whole app shell into the cache.
async fn service_worker_ready(p: &Person) {
    let script = "const done = arguments[arguments.length - 1];
                  navigator.serviceWorker.ready.then(() => done(true), (e) => done(String(e)));";
    let ready = tokio::time::timeout(Duration::from_secs(90), p.script_async(script, vec![])).await;
    assert!(
        matches!(ready, Ok(Value::Bool(true))),
        "service worker not ready: {ready:?}"
    );
}

/// Everything the browser keeps for the page's origin, as JSON. Binary values (ArrayBuffer, typed
/// arrays, DataView, Blob) become `{"$binary": type, "hex": lower-case hex}`; strings, numbers and
/// booleans stay as they are; arrays, maps, sets and objects are walked recursively.
const DUMP_STORAGE: &str = r#"
const done = arguments[arguments.length - 1];
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
function hex(bytes) {
  const parts = [];
  for (let i = 0; i < bytes.length; i += 65536) {
    let s = "";
    const end = Math.min(bytes.length, i + 65536);
    for (let j = i; j < end; j++) s += HEX[bytes[j]];
    parts.push(s);
  }
  return parts.join("");
}
async function plain(v) {
  if (v === undefined) return { $undefined: true };
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : { $number: String(v) };
  if (typeof v === "bigint") return { $bigint: v.toString() };
  if (v instanceof ArrayBuffer) return { $binary: "ArrayBuffer", hex: hex(new Uint8Array(v)) };
  if (ArrayBuffer.isView(v)) {
    return { $binary: v.constructor.name, hex: hex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
  }
  if (v instanceof Blob) {
    return { $binary: "Blob", type: v.type, hex: hex(new Uint8Array(await v.arrayBuffer())) };
  }
  if (v instanceof Date) return { $date: v.toISOString() };
  if (v instanceof Map) {
    const out = [];
    for (const [k, x] of v) out.push([await plain(k), await plain(x)]);
    return { $map: out };
  }
  if (v instanceof Set) {
    const out = [];
    for (const x of v) out.push(await plain(x));
    return { $set: out };
  }
  if (Array.isArray(v)) {
    const out = [];
    for (const x of v) out.push(await plain(x));
    return out;
  }
  if (typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v)) out[k] = await plain(v[k]);
    return out;
  }
  return { $other: String(v) };
}
const request = (r) => new Promise((ok, fail) => {
  r.onsuccess = () => ok(r.result);
  r.onerror = () => fail(r.error);
});
async function indexedDatabases() {
  const out = [];
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((ok, fail) => {
      const r = indexedDB.open(info.name);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
      r.onblocked = () => fail(new Error("opening " + info.name + " is blocked"));
    });
    const stores = [];
    for (const name of Array.from(db.objectStoreNames)) {
      const store = db.transaction(name, "readonly").objectStore(name);
      const meta = {
        name,
        keyPath: store.keyPath,
        autoIncrement: store.autoIncrement,
        indexes: Array.from(store.indexNames),
      };
      const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
      const records = [];
      for (let i = 0; i < keys.length; i++) {
        records.push({ key: await plain(keys[i]), value: await plain(values[i]) });
      }
      stores.push({ ...meta, records });
    }
    out.push({ name: info.name, version: db.version, stores });
    db.close();
  }
  return out;
}
async function cacheStorage() {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    const entries = [];
    for (const req of await cache.keys()) {
      const res = await cache.match(req);
      const headers = {};
      res.headers.forEach((value, key) => { headers[key] = value; });
      const body = new Uint8Array(await res.arrayBuffer());
      entries.push({
        url: req.url,
        method: req.method,
        status: res.status,
        headers,
        body: { $binary: "body", hex: hex(body) },
      });
    }
    out.push({ name, entries });
  }
  return out;
}
function webStorage(s) {
  const out = {};
  for (let i = 0; i < s.length; i++) {
    const key = s.key(i);
    out[key] = s.getItem(key);
  }
  return out;
}
Promise.all([indexedDatabases(), cacheStorage()]).then(
  ([idb, cache]) => done({
    origin: location.origin,
    indexedDB: idb,
    cacheStorage: cache,
    localStorage: webStorage(localStorage),
    sessionStorage: webStorage(sessionStorage),
    cookies: document.cookie,
  }),
  (e) => done({ error: String(e && e.stack || e) }),
);
"#;

/// Runs [`DUMP_STORAGE`] in `p`'s page.
async fn dump_storage(p: &Person) -> Value {
    let dump = tokio::time::timeout(
        Duration::from_secs(120),
        p.script_async(DUMP_STORAGE, vec![]),
    )
    .await
    .expect("the storage dump finishes within 2 minutes");
    assert!(
        dump.get("error").is_none(),
        "dump failed: {}",
        dump["error"]
    );
    dump
}

/// The bytes of a dumped binary value (`{"$binary": …, "hex": …}`).
fn binary(v: &Value) -> Option<Vec<u8>> {
    v.get("$binary")?;
    unhex(v.get("hex")?.as_str()?)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A one-line summary of a dump's contents.
fn counts(dump: &Value) -> String {
    let dbs = dump["indexedDB"].as_array().unwrap();
    let stores: usize = dbs
        .iter()
        .map(|d| d["stores"].as_array().unwrap().len())
        .sum();
    let records: usize = dbs
        .iter()
        .flat_map(|d| d["stores"].as_array().unwrap())
        .map(|s| s["records"].as_array().unwrap().len())
        .sum();
    let caches = dump["cacheStorage"].as_array().unwrap();
    let entries: usize = caches
        .iter()
        .map(|c| c["entries"].as_array().unwrap().len())
        .sum();
    let body_bytes: usize = caches
        .iter()
        .flat_map(|c| c["entries"].as_array().unwrap())
        .map(|e| e["body"]["hex"].as_str().unwrap().len() / 2)
        .sum();
    format!(
        "IndexedDB {} database(s), {stores} store(s), {records} record(s); Cache Storage {} cache(s), \
         {entries} entries ({body_bytes} bytes of bodies); localStorage {} key(s); sessionStorage {} key(s)",
        dbs.len(),
        caches.len(),
        dump["localStorage"].as_object().unwrap().len(),
        dump["sessionStorage"].as_object().unwrap().len(),
    )
}

/// localStorage holds the interface's choices (the ones made in this journey), and only keys the
/// interface documents; sessionStorage and cookies are not used.
fn check_localstorage(dump: &Value, (auto_lock, lang): (&str, &str)) {
    let local = dump["localStorage"].as_object().unwrap();
    assert_eq!(
        local.get("candado.auto-lock").and_then(Value::as_str),
        Some(auto_lock),
        "{local:?}"
    );
    assert_eq!(
        local.get("candado.language").and_then(Value::as_str),
        Some(lang),
        "{local:?}"
    );
    for key in local.keys() {
        assert!(
            UI_KEYS.contains(&key.as_str()),
            "unexpected localStorage key {key:?}"
        );
    }
    assert_eq!(dump["sessionStorage"], serde_json::json!({}));
    assert_eq!(dump["cookies"], "");
}

/// Cache Storage holds the app shell the service worker precached: every entry of its
/// `candado-shell-<version>` cache is byte for byte the shipped file, and the shell includes the page
/// and the wasm. The only other cache the app may have is `candado-config` (the last `config.json`).
fn check_cache_storage(name: &str, dump: &Value, dist: &std::path::Path) {
    let caches = dump["cacheStorage"].as_array().unwrap();
    let shell: Vec<&Value> = caches
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("candado-shell-"))
        .collect();
    assert_eq!(shell.len(), 1, "{name}: one shell cache: {caches:?}");
    for cache in caches {
        let cache_name = cache["name"].as_str().unwrap();
        assert!(
            cache_name.starts_with("candado-shell-") || cache_name == "candado-config",
            "{name}: unexpected cache {cache_name:?}"
        );
    }
    let entries = shell[0]["entries"].as_array().unwrap();
    assert!(
        entries.len() >= 3,
        "{name}: {} shell entries",
        entries.len()
    );
    let mut paths = BTreeSet::new();
    for entry in entries {
        let url = entry["url"].as_str().unwrap();
        let path = url
            .splitn(4, '/')
            .nth(3)
            .unwrap_or_default()
            .split(['?', '#'])
            .next()
            .unwrap_or_default();
        let path = if path.is_empty() { "index.html" } else { path };
        let body = binary(&entry["body"]).unwrap();
        let shipped = std::fs::read(dist.join(path))
            .unwrap_or_else(|e| panic!("{name}: cached {url} is not a file of dist/: {e}"));
        assert!(
            body == shipped,
            "{name}: cached {url} differs from dist/{path}"
        );
        paths.insert(path.to_string());
    }
    assert!(paths.contains("index.html"), "{name}: {paths:?}");
    assert!(
        paths.iter().any(|p| p.ends_with(".wasm")),
        "{name}: {paths:?}"
    );
}

/// Runs a future of the in-memory vault, which never waits.
fn at_once<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the in-memory vault never waits"),
    }
}

/// A dumped vault, opened.
struct OpenedVault {
    who: String,
    /// The raw header bytes.
    header: Vec<u8>,
    /// One raw sealed record (a positive control for the search).
    sealed_sample: Vec<u8>,
    /// Every record, decrypted: kind, id, payload.
    records: Vec<(RecordKind, RecordId, Vec<u8>)>,
    /// The keys derived independently from the header and the passphrase.
    keys: DerivedKeys,
}

/// What decrypting a vault gave, for the assertions across the two people.
struct Secrets {
    own_fingerprint: Fingerprint,
    peer_fingerprints: Vec<(String, Fingerprint, Trust)>,
    history: Vec<String>,
}

/// Opens the vault in `dump` with `passphrase`: the app's database, its header and sealed records
/// go into a [`MemoryStorage`] through the [`Storage`] trait, as `IndexedDbStorage` would give
/// them, then [`Vault::unlock`] reads every record of every kind the engine knows.
fn open_dumped_vault(who: &str, dump: &Value, passphrase: &str) -> OpenedVault {
    let dbs = dump["indexedDB"].as_array().unwrap();
    let names: Vec<&str> = dbs.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec![DATABASE], "{who}: the app's own database only");
    let db = &dbs[0];
    let stores: BTreeMap<&str, &Value> = db["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), &s["records"]))
        .collect();
    assert_eq!(
        stores.keys().copied().collect::<Vec<_>>(),
        vec![META_STORE, RECORDS_STORE],
        "{who}"
    );
    let meta = stores[META_STORE].as_array().unwrap();
    assert_eq!(meta.len(), 1, "{who}: the header only in {META_STORE}");
    assert_eq!(meta[0]["key"], HEADER_KEY);
    let header = binary(&meta[0]["value"]).expect("the header is binary");
    assert!(header.starts_with(b"CNDVAULT"), "{who}: a vault header");

    let mut tx = Transaction::from(vec![WriteOp::PutHeader(header.clone())]);
    let mut raw = BTreeMap::new();
    for record in stores[RECORDS_STORE].as_array().unwrap() {
        let key = record["key"].as_str().expect("record keys are strings");
        let (kind, locator) = key.split_once('/').expect("<kind>/<locator>");
        let key = StorageKey {
            kind: RecordKind::new(kind.to_owned()).expect("a record kind"),
            locator: Locator::from_hex(locator).expect("32 hex digits"),
        };
        let sealed = binary(&record["value"]).expect("sealed records are binary");
        tx.push(WriteOp::PutRecord(key.clone(), sealed.clone()));
        raw.insert(key, sealed);
    }
    let storage = MemoryStorage::new();
    at_once(storage.commit(tx)).unwrap();
    let config = VaultConfig {
        store: StoreName::new(DATABASE).unwrap(),
        schema_version: SCHEMA_VERSION,
    };
    let mut vault = Vault::new(storage, SystemRandom, config);
    // The seal is real: another passphrase does not open it.
    assert_eq!(
        at_once(vault.unlock(&Passphrase::from("not the passphrase"))),
        Err(VaultError::WrongPassphrase)
    );
    at_once(vault.unlock(&Passphrase::from(passphrase))).expect("the vault opens");
    let mut records = Vec::new();
    for kind in records::kinds() {
        let listing = at_once(vault.list(&kind)).unwrap();
        assert!(listing.tampered.is_empty(), "{who}: {listing:?}");
        for id in listing.ids {
            let payload = at_once(vault.get(&kind, &id)).unwrap().unwrap();
            records.push((kind.clone(), id, payload.to_vec()));
        }
    }
    // Every record in storage is one the vault opened: nothing else is kept there.
    assert_eq!(records.len(), raw.len(), "{who}: every stored record opens");

    let keys = DerivedKeys::from_header(&header, passphrase);
    // The derived keys are the vault's: each record sits at the locator they compute, and the record
    // key opens it to the payload the vault gave.
    for (kind, id, payload) in &records {
        let key = StorageKey {
            kind: kind.clone(),
            locator: keys.locator(kind, id),
        };
        let sealed = raw
            .get(&key)
            .unwrap_or_else(|| panic!("{who}: no record at the derived locator of {kind:?}"));
        let (opened_id, opened) = keys.open_record(&key, sealed);
        assert_eq!(&opened_id, id);
        assert_eq!(&opened, payload);
    }
    let sealed_sample = raw.values().next().unwrap().clone();
    OpenedVault {
        who: who.to_string(),
        header,
        sealed_sample,
        records,
        keys,
    }
}

impl OpenedVault {
    fn ids(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|(k, id, _)| format!("{}/{}", k.as_str(), id.as_str()))
            .collect()
    }

    fn one(&self, kind: &RecordKind, id: &str) -> &[u8] {
        self.records
            .iter()
            .find(|(k, i, _)| k == kind && i.as_str() == id)
            .map(|(_, _, p)| p.as_slice())
            .unwrap_or_else(|| panic!("{}: no {kind:?} record {id:?}", self.who))
    }

    /// Checks what the journey must have left in the vault of `account` (whose contact is `peer`);
    /// `password` is the remembered password, if any.
    fn check_contents(
        &self,
        account: &str,
        peer: &str,
        endpoint: &str,
        password: Option<&str>,
    ) -> Secrets {
        let credentials =
            Credentials::decode(self.one(&RecordKind::CREDENTIALS, account)).expect("credentials");
        assert_eq!(credentials.websocket_url, endpoint);
        assert_eq!(credentials.password.as_ref().map(|p| p.as_str()), password);
        let key = decode_key(self.one(&RecordKind::DSA_KEY, account)).expect("an OTR key");
        let trust = TrustStore::decode(self.one(&RecordKind::FINGERPRINTS, account));
        let peer_fingerprints = trust
            .peers
            .iter()
            .flat_map(|(p, fps)| fps.iter().map(move |(fp, t)| (p.clone(), *fp, *t)))
            .collect();
        let mut history = Vec::new();
        let mut chunks = BTreeMap::new();
        for (kind, id, payload) in &self.records {
            if *kind != RecordKind::HISTORY {
                continue;
            }
            match HistoryId::parse(id.as_str()).expect("a history id") {
                HistoryId::Switch(a, p) => {
                    assert_eq!((a.0.as_str(), p.as_str()), (account, peer));
                    assert_eq!(payload.as_slice(), b"candado-history 1\n");
                }
                HistoryId::Chunk(a, p, n) => {
                    assert_eq!((a.0.as_str(), p.as_str()), (account, peer));
                    chunks.insert(n, decode_chunk(payload).expect("a history chunk"));
                }
            }
        }
        for entries in chunks.into_values() {
            history.extend(entries.iter().map(|e| e.text.as_str().to_owned()));
        }
        Secrets {
            own_fingerprint: key.public_key().fingerprint(),
            peer_fingerprints,
            history,
        }
    }

    /// The key material and sealed contents of this vault, as needles: the vault's keys, the OTR
    /// private key (x, and the whole record), and every record's payload and id.
    fn key_material(&self, who: &str) -> Vec<Needle> {
        let k = &self.keys;
        let mut out = vec![
            Needle::bytes(&format!("{who}'s key-encryption key (Argon2id)"), &k.kek),
            Needle::bytes(&format!("{who}'s vault key"), &k.vault),
            Needle::bytes(&format!("{who}'s record key"), &k.record),
            Needle::bytes(&format!("{who}'s locator key"), &k.locator),
            Needle::bytes(&format!("{who}'s backup key"), &k.backup),
        ];
        for (kind, id, payload) in &self.records {
            if *kind == RecordKind::DSA_KEY {
                let x = dsa_x(payload);
                let key = decode_key(payload).unwrap();
                assert_eq!(
                    x,
                    key.secret_bytes().as_slice(),
                    "x is the key's secret exponent"
                );
                out.push(Needle::bytes(&format!("{who}'s OTR private key x"), x));
            }
            // A chat's history switch is the app's constant `candado-history 1\n` (it is in the
            // shipped wasm); every other payload is this person's own data.
            if *kind != RecordKind::HISTORY || payload.as_slice() != b"candado-history 1\n" {
                out.push(Needle::bytes(
                    &format!("{who}'s {} record payload", kind.as_str()),
                    payload,
                ));
            }
            out.push(Needle::text(
                &format!("{who}'s {} record id", kind.as_str()),
                id.as_str(),
            ));
        }
        out
    }
}

/// The fourth length-prefixed part of a `dsa-key` payload (`len32 ‖ p ‖ len32 ‖ q ‖ len32 ‖ g ‖ len32 ‖ x`).
fn dsa_x(payload: &[u8]) -> &[u8] {
    let mut rest = payload;
    let mut part = &[][..];
    for _ in 0..4 {
        let (len, tail) = rest.split_at(4);
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        (part, rest) = tail.split_at(len);
    }
    assert!(rest.is_empty());
    part
}

/// The vault's keys, derived here from the header and the passphrase exactly as the crate
/// documentation of `candado-vault` describes (an independent reading of the format).
struct DerivedKeys {
    kek: [u8; 32],
    vault: [u8; 32],
    record: [u8; 32],
    locator: [u8; 32],
    backup: [u8; 32],
    /// Bound into every record's associated data.
    store: Vec<u8>,
    schema_version: [u8; 4],
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use chacha20poly1305::aead::KeyInit;
    use hmac::Mac;
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// XChaCha20-Poly1305 open of `body` (ciphertext) with a detached `tag`; panics if it fails.
fn aead_open(key: &[u8; 32], nonce: &[u8], ad: &[u8], body: &[u8], tag: &[u8]) -> Vec<u8> {
    use chacha20poly1305::aead::{AeadInOut, KeyInit};
    use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
    let cipher = XChaCha20Poly1305::new_from_slice(key).unwrap();
    let nonce: [u8; 24] = nonce.try_into().unwrap();
    let mut buf = body.to_vec();
    cipher
        .decrypt_inout_detached(
            &XNonce::from(nonce),
            ad,
            buf.as_mut_slice().into(),
            &Tag::try_from(tag).unwrap(),
        )
        .expect("authenticates");
    buf
}

impl DerivedKeys {
    /// Header (format 1): magic, version, schema `s` (4), KDF, Argon2 version, m, t, p (4 each),
    /// salt (32), `n`, store name (`n`), wrap nonce (24), wrapped vault key (32 + 16 tag).
    fn from_header(header: &[u8], passphrase: &str) -> Self {
        let u32_at = |i: usize| u32::from_be_bytes(header[i..i + 4].try_into().unwrap());
        assert_eq!(&header[8..10], &[0, 1], "header format 1");
        assert_eq!((header[14], header[15]), (0x01, 0x13), "Argon2id v1.3");
        let (m, t, p) = (u32_at(16), u32_at(20), u32_at(24));
        let salt = &header[28..60];
        let n = usize::from(header[60]);
        let store = header[61..61 + n].to_vec();
        let nonce = &header[61 + n..85 + n];
        let wrapped = &header[85 + n..133 + n];
        assert_eq!(header.len(), 133 + n);
        let params = argon2::Params::new(m, t, p, Some(32)).unwrap();
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut kek = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut kek)
            .unwrap();
        let vault: [u8; 32] = aead_open(
            &kek,
            nonce,
            &header[..61 + n],
            &wrapped[..32],
            &wrapped[32..],
        )
        .try_into()
        .unwrap();
        DerivedKeys {
            kek,
            record: hmac_sha256(&vault, b"candado-vault/v1/record-key"),
            locator: hmac_sha256(&vault, b"candado-vault/v1/locator-key"),
            backup: hmac_sha256(&vault, b"candado-vault/v1/backup-key"),
            vault,
            store,
            schema_version: header[10..14].try_into().unwrap(),
        }
    }

    /// `HMAC-SHA256(locator key, len8(kind) ‖ kind ‖ len16(id) ‖ id)`, first 16 bytes.
    fn locator(&self, kind: &RecordKind, id: &RecordId) -> Locator {
        let (kind, id) = (kind.as_str().as_bytes(), id.as_str().as_bytes());
        let mut msg = vec![kind.len() as u8];
        msg.extend_from_slice(kind);
        msg.extend_from_slice(&(id.len() as u16).to_be_bytes());
        msg.extend_from_slice(id);
        let full = hmac_sha256(&self.locator, &msg);
        Locator::from_bytes(full[..16].try_into().unwrap())
    }

    /// Opens a sealed record (format 1: version, nonce (24), ciphertext of `len16(id) ‖ id ‖
    /// payload`, tag (16)) with the documented associated data; returns its id and payload.
    fn open_record(&self, key: &StorageKey, sealed: &[u8]) -> (RecordId, Vec<u8>) {
        assert_eq!(sealed[0], 1, "record format 1");
        let nonce = &sealed[1..25];
        let (body, tag) = sealed[25..].split_at(sealed.len() - 25 - 16);
        let mut ad = b"candado-vault/record\0".to_vec();
        ad.push(self.store.len() as u8);
        ad.extend_from_slice(&self.store);
        ad.push(key.kind.as_str().len() as u8);
        ad.extend_from_slice(key.kind.as_str().as_bytes());
        ad.extend_from_slice(key.locator.as_bytes());
        ad.extend_from_slice(&self.schema_version);
        ad.push(1);
        let plain = aead_open(&self.record, nonce, &ad, body, tag);
        let id_len = usize::from(u16::from_be_bytes([plain[0], plain[1]]));
        let id = std::str::from_utf8(&plain[2..2 + id_len]).unwrap();
        (RecordId::new(id).unwrap(), plain[2 + id_len..].to_vec())
    }
}

/// Something that must not be in browser storage outside the vault.
#[derive(Debug)]
struct Needle {
    what: String,
    bytes: Vec<u8>,
    /// Text also has a UTF-16 form (what a JS string holds, or `TextEncoder` would not give).
    utf16le: Option<Vec<u8>>,
}

impl Needle {
    fn text(what: &str, text: &str) -> Needle {
        Needle {
            what: format!("{what} {text:?}"),
            bytes: text.as_bytes().to_vec(),
            utf16le: Some(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        }
    }

    fn bytes(what: &str, bytes: &[u8]) -> Needle {
        Needle {
            what: what.to_string(),
            bytes: bytes.to_vec(),
            utf16le: None,
        }
    }

    /// The byte strings a leak of this needle would show: the bytes themselves (UTF-8 for text),
    /// UTF-16LE, lower- and upper-case hex of both, and standard base64 at the three alignments.
    fn encodings(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![("raw".to_string(), self.bytes.clone())];
        out.push(("hex".into(), hex_lower(&self.bytes).into_bytes()));
        out.push((
            "upper-case hex".into(),
            hex_lower(&self.bytes).to_uppercase().into_bytes(),
        ));
        for shift in 0..3 {
            out.push((
                format!("base64 at offset {shift}"),
                base64_stable(&self.bytes, shift).into_bytes(),
            ));
        }
        if let Some(utf16) = &self.utf16le {
            out.push(("UTF-16LE".into(), utf16.clone()));
            out.push(("hex of UTF-16LE".into(), hex_lower(utf16).into_bytes()));
        }
        out
    }
}

/// The characters of standard base64 that depend only on `bytes` when they start `shift` (0, 1 or
/// 2) bytes into a 3-byte group: what any base64 text containing `bytes` at that alignment contains.
fn base64_stable(bytes: &[u8], shift: usize) -> String {
    let mut shifted = vec![0u8; shift];
    shifted.extend_from_slice(bytes);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&shifted);
    // Character j holds bits 6j .. 6j + 6 of the input; keep those within the needle's bits.
    let start = (8 * shift).div_ceil(6);
    let end = 8 * (shift + bytes.len()) / 6;
    encoded[start..end].to_string()
}

/// Every piece of the dump as bytes, with where it is: strings (object keys too) as UTF-8, and
/// binary values (`{"$binary": …, "hex": …}`) as the bytes they hold.
fn haystacks(v: &Value, at: String, out: &mut Vec<(String, Vec<u8>)>) {
    if let Some(bytes) = binary(v) {
        out.push((format!("{at} (binary)"), bytes));
        return;
    }
    match v {
        Value::String(s) => out.push((at, s.as_bytes().to_vec())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                haystacks(item, format!("{at}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                out.push((format!("{at} (key)"), k.as_bytes().to_vec()));
                haystacks(item, format!("{at}.{k}"), out);
            }
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// Where the needles occur in the dump: "needle (encoding) at path", one line per needle and
/// encoding found.
fn find_needles(dump: &Value, needles: &[Needle]) -> Vec<String> {
    let mut hay = Vec::new();
    haystacks(dump, "dump".into(), &mut hay);
    let mut found = Vec::new();
    for needle in needles {
        for (encoding, pattern) in needle.encodings() {
            let finder = memchr::memmem::Finder::new(&pattern);
            if let Some((at, _)) = hay.iter().find(|(_, h)| finder.find(h).is_some()) {
                found.push(format!("{} ({encoding}) at {at}", needle.what));
            }
        }
    }
    found
}

#[test]
fn the_needle_search_finds_every_encoding_and_nothing_else() {
    let text = "Contraseña secreta ñ 🔐";
    let needle = Needle::text("test", text);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let wrap = |inner: &[u8]| [b"xx".as_slice(), inner, b"yy"].concat();
    let blob =
        |bytes: &[u8]| serde_json::json!({ "$binary": "Uint8Array", "hex": hex_lower(bytes) });
    let cases: Vec<(&str, Value)> = vec![
        (
            "raw",
            serde_json::json!({ "a": [1, format!("before {text} after")] }),
        ),
        ("raw", serde_json::json!({ format!("k{text}"): 1 })),
        ("raw", blob(&wrap(text.as_bytes()))),
        (
            "hex",
            serde_json::json!(format!("00{}ff", hex_lower(text.as_bytes()))),
        ),
        ("hex", blob(hex_lower(text.as_bytes()).as_bytes())),
        (
            "upper-case hex",
            serde_json::json!(hex_lower(text.as_bytes()).to_uppercase()),
        ),
        ("UTF-16LE", blob(&wrap(&utf16))),
        ("hex of UTF-16LE", serde_json::json!(hex_lower(&utf16))),
        (
            "base64 at offset 0",
            serde_json::json!(b64(text.as_bytes())),
        ),
        (
            "base64 at offset 1",
            serde_json::json!(b64(&[b"a", text.as_bytes()].concat())),
        ),
        (
            "base64 at offset 2",
            serde_json::json!(b64(&[b"ab", text.as_bytes(), b"c"].concat())),
        ),
        (
            "base64 at offset 1",
            blob(b64(&[b"xyzw", text.as_bytes()].concat()).as_bytes()),
        ),
    ];
    for (encoding, dump) in cases {
        let found = find_needles(&dump, std::slice::from_ref(&needle));
        assert!(
            found.iter().any(|f| f.contains(&format!("({encoding})"))),
            "{encoding}: {found:?} in {dump}"
        );
    }
    // Near misses are not found, and neither is the hex of a binary value taken as text.
    let clean = serde_json::json!({
        "a": "Contraseña secreta ñ",
        "b": hex_lower("contraseña secreta ñ 🔐".as_bytes()),
        "c": b64("Contraseña secreta n 🔐".as_bytes()),
        "d": { "$binary": "ArrayBuffer", "hex": hex_lower(b"unrelated bytes") },
    });
    assert_eq!(find_needles(&clean, &[needle]), Vec::<String>::new());
    // Bytes: a key inside a binary value, and its base64 in a string.
    let key: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let needle = Needle::bytes("key", &key);
    let dump = serde_json::json!({ "v": blob(&wrap(&key)), "w": b64(&wrap(&key)) });
    let found = find_needles(&dump, std::slice::from_ref(&needle));
    assert_eq!(
        found,
        vec![
            "key (raw) at dump.v (binary)".to_string(),
            "key (base64 at offset 2) at dump.w".to_string()
        ]
    );
    assert_eq!(needle.encodings().len(), 6);
    assert_eq!(Needle::text("t", "abcdefgh").encodings().len(), 8);
}
