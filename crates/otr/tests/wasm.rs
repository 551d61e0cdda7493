//! The two-peer path on wasm32 in headless Chromium: a v3 AKE, data messages both ways
//! (with key rotation) and SMP between two `Session`s in memory; a private-key file
//! round trip.
//!
//! Run with `cargo test -p candado-otr --target wasm32-unknown-unknown` (the runner and
//! the webdriver are configured in `.cargo/config.toml` and by `CHROMEDRIVER` /
//! `WASM_BINDGEN_TEST_WEBDRIVER_JSON`). Randomness is the seeded test RNG.

#![cfg(target_arch = "wasm32")]

mod common;

use candado_otr::wire::message::Version;
use candado_otr::{Event, MessageState, Policy, Session, SessionConfig};
use common::{keys, tag, TestRng, ALICE_TAG, BOB_TAG};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Deliver everything both sides transmit until both are quiet; returns the number of
/// messages moved.
fn pump(a: &mut Session, b: &mut Session, rng: &mut TestRng) -> usize {
    let mut moved = 0;
    loop {
        let mut any = false;
        while let Some(text) = a.poll_transmit() {
            b.handle_incoming(&text, 0, rng);
            moved += 1;
            any = true;
        }
        while let Some(text) = b.poll_transmit() {
            a.handle_incoming(&text, 0, rng);
            moved += 1;
            any = true;
        }
        if !any {
            return moved;
        }
    }
}

fn drain(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn established(rng: &mut TestRng) -> (Session, Session) {
    let (alice_key, bob_key) = keys();
    let config = SessionConfig {
        policy: Policy::MANUAL,
        max_message_size: 0,
    };
    let mut alice = Session::new(alice_key.clone(), tag(ALICE_TAG), config);
    let mut bob = Session::new(bob_key.clone(), tag(BOB_TAG), config);
    alice.start().unwrap();
    assert!(
        pump(&mut alice, &mut bob, rng) >= 5,
        "query + 4 AKE messages"
    );
    (alice, bob)
}

#[wasm_bindgen_test]
fn v3_ake_messages_and_smp_in_the_browser() {
    let mut rng = TestRng::new(0x3a5e);
    let (mut alice, mut bob) = established(&mut rng);

    // AKE: both ENCRYPTED, v3, same session id, each sees the other's fingerprint.
    assert_eq!(alice.state(), MessageState::Encrypted);
    assert_eq!(bob.state(), MessageState::Encrypted);
    assert_eq!(alice.version(), Some(Version::V3));
    assert_eq!(alice.their_instance(), tag(BOB_TAG));
    assert_eq!(bob.their_instance(), tag(ALICE_TAG));
    let (alice_key, bob_key) = keys();
    assert_eq!(
        alice.their_fingerprint(),
        Some(bob_key.public_key().fingerprint())
    );
    assert_eq!(
        bob.their_fingerprint(),
        Some(alice_key.public_key().fingerprint())
    );
    let ssid = alice.ssid().unwrap();
    assert_eq!(bob.ssid().map(|s| s.bytes), Some(ssid.bytes));
    assert_ne!(bob.ssid().map(|s| s.bold), Some(ssid.bold));
    assert!(drain(&mut alice).iter().any(|e| matches!(
        e,
        Event::Encrypted {
            refreshed: false,
            ..
        }
    )));
    drain(&mut bob);

    // Data messages both ways, alternating (a DH rotation every turn).
    for i in 0..6 {
        let (from, to, text) = if i % 2 == 0 {
            (&mut alice, &mut bob, format!("alice → bob {i} ✓"))
        } else {
            (&mut bob, &mut alice, format!("bob → alice {i} ✓"))
        };
        from.send(&text, 0).unwrap();
        let wire = from.poll_transmit().unwrap();
        assert!(wire.starts_with("?OTR:AAMD"), "a v3 Data message: {wire}");
        assert_eq!(from.poll_transmit(), None, "one message, no heartbeat");
        assert!(!wire.contains("alice →") && !wire.contains("bob →"));
        to.handle_incoming(&wire, 0, &mut rng);
        assert_eq!(
            drain(to),
            [Event::Received {
                text,
                encrypted: true
            }]
        );
    }

    // SMP with a question, Alice asking; Bob answers right.
    alice
        .smp_start(Some("¿Dónde nos conocimos?"), b"Lima", 0, &mut rng)
        .unwrap();
    pump(&mut alice, &mut bob, &mut rng);
    assert_eq!(
        drain(&mut bob),
        [Event::SmpAsked {
            question: Some("¿Dónde nos conocimos?".into())
        }]
    );
    bob.smp_respond(b"Lima", 0, &mut rng).unwrap();
    pump(&mut alice, &mut bob, &mut rng);
    assert!(drain(&mut alice).contains(&Event::SmpSucceeded {
        authenticates_peer: true
    }));
    assert!(drain(&mut bob).contains(&Event::SmpSucceeded {
        authenticates_peer: false
    }));

    // SMP without a question, Bob asking; Alice answers wrong.
    bob.smp_start(None, b"shared", 0, &mut rng).unwrap();
    pump(&mut alice, &mut bob, &mut rng);
    assert_eq!(drain(&mut alice), [Event::SmpAsked { question: None }]);
    alice.smp_respond(b"guess", 0, &mut rng).unwrap();
    pump(&mut alice, &mut bob, &mut rng);
    assert!(drain(&mut alice).contains(&Event::SmpFailed));
    assert!(drain(&mut bob).contains(&Event::SmpFailed));

    // Still talking afterwards.
    bob.send("still here", 0).unwrap();
    pump(&mut alice, &mut bob, &mut rng);
    assert_eq!(
        drain(&mut alice),
        [Event::Received {
            text: "still here".into(),
            encrypted: true
        }]
    );
}

#[wasm_bindgen_test]
fn private_key_file_round_trip_in_the_browser() {
    use candado_otr::keyfile::{read_private_keys, write_private_keys, PrivateKeyEntry};
    let (alice_key, _) = keys();
    let entry = PrivateKeyEntry {
        account: "alice@example.org".into(),
        protocol: "prpl-jabber".into(),
        key: candado_otr::crypto::dsa::DsaPrivateKey::from_components(
            alice_key.public_key().to_wire().p.as_be_bytes(),
            alice_key.public_key().to_wire().q.as_be_bytes(),
            alice_key.public_key().to_wire().g.as_be_bytes(),
            &alice_key.secret_bytes(),
        )
        .unwrap(),
    };
    let file = write_private_keys(std::slice::from_ref(&entry));
    let names: &[u8] = b"(name \"alice@example.org\")\n(protocol prpl-jabber)\n";
    assert!(file.windows(names.len()).any(|w| w == names));
    let read = read_private_keys(&file).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].account, entry.account);
    assert_eq!(
        read[0].key.public_key().fingerprint(),
        alice_key.public_key().fingerprint()
    );
    assert_eq!(write_private_keys(&read), file);
}
