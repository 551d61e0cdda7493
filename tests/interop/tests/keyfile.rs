//! libotr's private key file: libotr loads a file we wrote, we load a file libotr wrote,
//! both report the same fingerprints, our writer reproduces libotr's bytes exactly, and
//! the loaded keys work in an AKE.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::Arc;

use candado_interop::{hex, temp_path, LibOtr, Pair, TestRng};
use candado_otr::crypto::dsa::DsaPrivateKey;
use candado_otr::keyfile::{read_private_keys, write_private_keys, PrivateKeyEntry};
use candado_otr::wire::message::Version;

/// Runs a command naming `path`; returns the fingerprint libotr printed.
fn with_path(lib: &mut LibOtr, command: &str, path: &std::path::Path) -> [u8; 20] {
    let path = path.to_str().expect("UTF-8 temp path");
    let reply = lib.cmd(&format!("{command} {}", hex(path.as_bytes())));
    LibOtr::fingerprint_of(&reply)
}

fn lib_fp(lib: &mut LibOtr, account: &str, protocol: &str) -> [u8; 20] {
    let reply = lib.cmd(&format!(
        "fp {} {}",
        hex(account.as_bytes()),
        hex(protocol.as_bytes())
    ));
    let fp = reply
        .iter()
        .find_map(|l| l.strip_prefix("fp "))
        .unwrap_or_else(|| panic!("libotr has no key for {account}/{protocol}: {reply:?}"));
    candado_interop::unhex(fp).try_into().expect("20 bytes")
}

#[test]
fn we_read_what_libotr_wrote_and_write_the_same_bytes() {
    let mut lib = LibOtr::spawn();
    let path = temp_path("libotr.key");
    let fp = with_path(&mut lib, "writekey", &path);
    let file = std::fs::read(&path).expect("libotr wrote the file");
    std::fs::remove_file(&path).ok();

    let entries = read_private_keys(&file).expect("we read libotr's file");
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].account.as_str(), entries[0].protocol.as_str()),
        ("bob", "xmpp")
    );
    assert_eq!(entries[0].key.public_key().fingerprint().0, fp);
    assert_eq!(
        write_private_keys(&entries).as_slice(),
        &file[..],
        "our writer reproduces libotr's file byte for byte"
    );

    // The key we loaded works: an AKE in which we use libotr's key (so libotr sees
    // itself as the peer's fingerprint).
    let key = Arc::new(entries.into_iter().next().expect("one").key);
    let (lib2, lib2_fp) = LibOtr::with_key(Version::V3, 0);
    let mut pair = Pair::from_parts(lib2, lib2_fp, key, Version::V3, 0, 81);
    pair.establish(true);
    pair.assert_no_errors();
    assert_eq!(pair.lib_value("theirfp"), Some(fp.to_vec()));
}

#[test]
fn libotr_reads_what_we_wrote_and_rewrites_it_identically() {
    let mut rng = TestRng::new(0x6b65_7966);
    let odd_names = [
        ("alice@example.org/Candado ñ", "prpl-jabber"),
        ("we\"ird\\name 'x'\ttab", "xmpp"),
        ("1starts-with-digit", "irc"),
    ];
    let mut entries: Vec<PrivateKeyEntry> = odd_names
        .iter()
        .map(|(account, protocol)| PrivateKeyEntry {
            account: (*account).to_owned(),
            protocol: (*protocol).to_owned(),
            key: DsaPrivateKey::generate(&mut rng),
        })
        .collect();
    entries.push(PrivateKeyEntry {
        account: "bob".into(),
        protocol: "xmpp".into(),
        key: DsaPrivateKey::generate(&mut rng),
    });
    let ours = write_private_keys(&entries);
    let path = temp_path("ours.key");
    std::fs::write(&path, ours.as_slice()).expect("write");

    // libotr loads our file: same fingerprints for every account.
    let mut lib = LibOtr::spawn();
    let bob_fp = with_path(&mut lib, "readkey", &path);
    std::fs::remove_file(&path).ok();
    assert_eq!(bob_fp, entries[3].key.public_key().fingerprint().0);
    for entry in &entries {
        assert_eq!(
            lib_fp(&mut lib, &entry.account, &entry.protocol),
            entry.key.public_key().fingerprint().0,
            "{}",
            entry.account
        );
    }

    // libotr signs with the key it loaded from our file: an AKE succeeds and we see the
    // fingerprint of the key we wrote.
    lib.cmd("policy 0x06");
    let mut pair = Pair::from_parts(lib, bob_fp, candado_interop::our_key(), Version::V3, 0, 82);
    pair.establish(false);
    pair.assert_no_errors();
    assert_eq!(pair.me.their_fingerprint().map(|f| f.0), Some(bob_fp));

    // libotr rewrites the file (keeping the other accounts, replacing bob's key): it
    // writes the odd names exactly as we do, and we read its file back.
    let path = temp_path("rewritten.key");
    let new_bob = with_path(&mut pair.lib, "writekey", &path);
    let file = std::fs::read(&path).expect("libotr wrote the file");
    std::fs::remove_file(&path).ok();
    let reread = read_private_keys(&file).expect("we read libotr's file");
    // libotr keeps loaded keys in a list it prepends to: the other accounts come back in
    // reverse order, then the new key.
    let names: Vec<(&str, &str)> = reread
        .iter()
        .map(|e| (e.account.as_str(), e.protocol.as_str()))
        .collect();
    let mut expected: Vec<(&str, &str)> = odd_names.iter().rev().copied().collect();
    expected.push(("bob", "xmpp"));
    assert_eq!(names, expected);
    for (i, entry) in reread.iter().take(3).enumerate() {
        let original = &entries[2 - i];
        assert_eq!(
            entry.key.public_key().fingerprint(),
            original.key.public_key().fingerprint()
        );
    }
    assert_eq!(reread[3].key.public_key().fingerprint().0, new_bob);
    // libotr (libgcrypt) spelled the odd names (quoted, escaped) and the values exactly
    // as our writer does.
    assert_eq!(
        write_private_keys(&reread).as_slice(),
        &file[..],
        "libotr's file:\n{}",
        String::from_utf8_lossy(&file)
    );
}
