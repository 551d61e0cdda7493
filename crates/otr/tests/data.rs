//! Two peers exchanging Data messages after a real AKE: ping-pong with key rotation on
//! every turn, bursts, replays, reordering, revealed MAC keys and tampering.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use candado_otr::crypto::kdf::hmac_sha1;
use candado_otr::data::DataChannel;
use candado_otr::tlv::{Plaintext, Tlv, TLV_PADDING};
use candado_otr::wire::message::{DataMessage, EncodedMessage, Header, MessageBody, Version};
use candado_otr::wire::text::{encode_message, TextMessage};
use candado_otr::wire::{Codec, Ctr, Mpi};
use candado_otr::{Error, PeerError};
use common::{established, tag, TestRng, ALICE_TAG, BOB_TAG};

struct Side {
    channel: DataChannel,
    rng: TestRng,
}

fn channels(version: Version, seed: u64) -> (Side, Side) {
    let mut rng = TestRng::new(seed);
    let (a, b) = established(version, &mut rng);
    let mut arng = TestRng::new(seed + 1);
    let mut brng = TestRng::new(seed + 2);
    let alice = DataChannel::new(a, tag(ALICE_TAG), &mut arng).unwrap();
    let bob = DataChannel::new(b, tag(BOB_TAG), &mut brng).unwrap();
    (
        Side {
            channel: alice,
            rng: arng,
        },
        Side {
            channel: bob,
            rng: brng,
        },
    )
}

/// Encrypt `text` and push it through the text encoding, as the wire would.
fn send(from: &mut Side, text: &str) -> (Header, DataMessage) {
    let payload = Plaintext {
        message: text.as_bytes().to_vec(),
        tlvs: vec![],
    }
    .encode();
    let (msg, _extra) = from.channel.encrypt(&payload, 0).unwrap();
    let wire = encode_message(&msg);
    let Ok(TextMessage::Encoded(EncodedMessage {
        header,
        body: MessageBody::Data(data),
    })) = TextMessage::parse(&wire)
    else {
        panic!("not a data message");
    };
    (header, data)
}

fn receive(to: &mut Side, msg: &(Header, DataMessage)) -> Result<String, Error> {
    let got = to.channel.decrypt(&msg.0, &msg.1, &mut to.rng)?;
    let plain = Plaintext::parse(&got.payload);
    Ok(String::from_utf8(plain.message).unwrap())
}

#[test]
fn ping_pong_rotates_keys_every_turn_v3_and_v2() {
    for (version, seed) in [(Version::V3, 10), (Version::V2, 20)] {
        let (mut alice, mut bob) = channels(version, seed);
        let mut last_keyids = (0, 0);
        for i in 0..40 {
            let (from, to) = if i % 2 == 0 {
                (&mut alice, &mut bob)
            } else {
                (&mut bob, &mut alice)
            };
            let text = format!(
                "message {i} ✓ from {}",
                if i % 2 == 0 { "alice" } else { "bob" }
            );
            let msg = send(from, &text);
            if version == Version::V3 {
                assert!(matches!(msg.0, Header::V3 { .. }));
            } else {
                assert_eq!(msg.0, Header::V2);
            }
            assert_eq!(receive(to, &msg).unwrap(), text);
            // Key ids strictly advance in a ping-pong.
            let keyids = (msg.1.sender_keyid, msg.1.recipient_keyid);
            if i >= 2 {
                assert!(keyids.0 > last_keyids.0 || keyids.1 > last_keyids.1);
            }
            if i % 2 == 0 {
                last_keyids = keyids;
            }
        }
        // 20 turns each: both sides rotated many times.
        assert!(alice.channel.our_keyid() > 15, "{:?}", alice.channel);
        assert!(bob.channel.their_keyid() > 15, "{:?}", bob.channel);
        // Bob sent last, so Alice has already made a key Bob has not seen yet.
        assert_eq!(alice.channel.our_keyid(), bob.channel.their_keyid() + 1);
        assert_eq!(bob.channel.our_keyid(), alice.channel.their_keyid());
    }
}

#[test]
fn first_message_uses_keyid_one_and_counter_one() {
    let (mut alice, mut bob) = channels(Version::V3, 30);
    let msg = send(&mut alice, "hi");
    assert_eq!(msg.1.sender_keyid, 1);
    assert_eq!(msg.1.recipient_keyid, 1);
    assert_eq!(msg.1.ctr, Ctr([0, 0, 0, 0, 0, 0, 0, 1]));
    assert!(msg.1.old_mac_keys.0.is_empty());
    // libotr always appends the NUL.
    assert_eq!(receive(&mut bob, &msg).unwrap(), "hi");
}

#[test]
fn bursts_keep_keys_and_increase_counters() {
    let (mut alice, mut bob) = channels(Version::V3, 40);
    let mut msgs = Vec::new();
    for i in 0..10 {
        msgs.push(send(&mut alice, &format!("burst {i}")));
    }
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.1.ctr.0, (i as u64 + 1).to_be_bytes());
        assert_eq!(m.1.sender_keyid, msgs[0].1.sender_keyid);
        assert_eq!(receive(&mut bob, m).unwrap(), format!("burst {i}"));
    }
}

#[test]
fn replays_and_reordering_within_one_key_pair_are_rejected() {
    let (mut alice, mut bob) = channels(Version::V3, 50);
    let m1 = send(&mut alice, "one");
    let m2 = send(&mut alice, "two");
    assert_eq!(receive(&mut bob, &m2).unwrap(), "two");
    assert_eq!(
        receive(&mut bob, &m1),
        Err(Error::Peer(PeerError::CounterNotIncreasing))
    );
    assert_eq!(
        receive(&mut bob, &m2),
        Err(Error::Peer(PeerError::CounterNotIncreasing))
    );
    // Still working afterwards.
    let m3 = send(&mut alice, "three");
    assert_eq!(receive(&mut bob, &m3).unwrap(), "three");
}

#[test]
fn a_message_under_the_previous_keys_is_still_readable() {
    let (mut alice, mut bob) = channels(Version::V3, 60);
    let early = send(&mut alice, "early");
    let m = send(&mut alice, "second");
    assert_eq!(receive(&mut bob, &m).unwrap(), "second");
    // Bob answers; Alice rotates; Alice's next message uses new keys.
    let reply = send(&mut bob, "reply");
    assert_eq!(receive(&mut alice, &reply).unwrap(), "reply");
    let late = send(&mut alice, "late");
    assert_ne!(
        (late.1.sender_keyid, late.1.recipient_keyid),
        (early.1.sender_keyid, early.1.recipient_keyid)
    );
    assert_eq!(receive(&mut bob, &late).unwrap(), "late");
    // A counter already passed stays rejected, keys or not.
    assert!(receive(&mut bob, &early).is_err());
}

#[test]
fn unknown_key_ids_are_unreadable() {
    let (mut alice, mut bob) = channels(Version::V3, 70);
    let m = send(&mut alice, "x");
    for (s, r) in [(0, 1), (1, 0), (5, 1), (1, 7)] {
        let mut bad = m.clone();
        bad.1.sender_keyid = s;
        bad.1.recipient_keyid = r;
        assert_eq!(
            receive(&mut bob, &bad),
            Err(Error::Peer(PeerError::UnknownKeyId)),
            "{s} {r}"
        );
    }
    assert_eq!(receive(&mut bob, &m).unwrap(), "x");
}

#[test]
fn revealed_mac_keys_open_earlier_messages() {
    let (mut alice, mut bob) = channels(Version::V3, 80);
    let mut seen: Vec<(Header, DataMessage)> = Vec::new();
    let mut revealed: Vec<[u8; 20]> = Vec::new();
    for i in 0..12 {
        let (from, to) = if i % 2 == 0 {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let msg = send(from, &format!("m{i}"));
        assert_eq!(msg.1.old_mac_keys.0.len() % 20, 0);
        for key in msg.1.old_mac_keys.0.chunks(20) {
            revealed.push(key.try_into().unwrap());
        }
        receive(to, &msg).unwrap();
        seen.push(msg);
    }
    assert!(revealed.len() >= 6, "only {} keys revealed", revealed.len());
    // Every revealed key is a MAC key that authenticated one of the earlier messages:
    // anyone can now forge those, which is the point (deniability).
    for key in &revealed {
        let opens = seen
            .iter()
            .any(|(h, d)| hmac_sha1(key, &[&d.authenticated_bytes(h)]) == d.mac.0);
        assert!(opens, "a revealed key matches no earlier message");
    }
}

#[test]
fn tampered_data_messages_are_rejected_and_change_nothing() {
    for (version, seed) in [(Version::V3, 90), (Version::V2, 95)] {
        let (mut alice, mut bob) = channels(version, seed);
        let msg = send(&mut alice, "the genuine one");
        let full = EncodedMessage {
            header: msg.0,
            body: MessageBody::Data(msg.1.clone()),
        }
        .to_bytes();
        // The revealed-keys field is outside the MAC; every other byte is covered.
        let covered = full.len() - 4 - msg.1.old_mac_keys.0.len();
        let mut tried = 0;
        for i in 0..covered {
            let mut b = full.clone();
            b[i] ^= 1 << (i % 8);
            let Ok(EncodedMessage {
                header,
                body: MessageBody::Data(d),
            }) = EncodedMessage::decode(&b)
            else {
                continue;
            };
            tried += 1;
            assert!(
                bob.channel.decrypt(&header, &d, &mut bob.rng).is_err(),
                "flip at byte {i} accepted"
            );
        }
        assert!(tried > 150, "only {tried}");
        // The MAC failure is the opaque error.
        let mut bad_mac = msg.clone();
        bad_mac.1.mac.0[19] ^= 1;
        assert_eq!(receive(&mut bob, &bad_mac), Err(Error::Unauthenticated));
        // next_dh is under the MAC: replacing it is an authentication failure.
        let mut bad_dh = msg.clone();
        bad_dh.1.next_dh = Mpi::from_be_bytes(&[1]);
        assert_eq!(receive(&mut bob, &bad_dh), Err(Error::Unauthenticated));
        // Tampering changed nothing.
        assert_eq!(receive(&mut bob, &msg).unwrap(), "the genuine one");
    }
}

#[test]
fn instance_tags_are_checked() {
    let (mut alice, mut bob) = channels(Version::V3, 100);
    let msg = send(&mut alice, "x");
    let mut other = msg.clone();
    other.0 = Header::V3 {
        sender: tag(ALICE_TAG),
        receiver: tag(0x4242),
    };
    assert_eq!(
        receive(&mut bob, &other),
        Err(Error::Peer(PeerError::WrongVersion))
    );
    let mut v2 = msg.clone();
    v2.0 = Header::V2;
    assert_eq!(
        receive(&mut bob, &v2),
        Err(Error::Peer(PeerError::WrongVersion))
    );
    assert_eq!(receive(&mut bob, &msg).unwrap(), "x");
}

#[test]
fn tlvs_and_heartbeats_travel_intact() {
    let (mut alice, mut bob) = channels(Version::V3, 110);
    let payload = Plaintext {
        message: vec![],
        tlvs: vec![Tlv {
            tlv_type: TLV_PADDING,
            value: vec![7; 10],
        }],
    };
    let (msg, extra_sent) = alice.channel.encrypt(&payload.encode(), 1).unwrap();
    let MessageBody::Data(d) = &msg.body else {
        panic!()
    };
    let got = bob.channel.decrypt(&msg.header, d, &mut bob.rng).unwrap();
    assert_eq!(got.flags, 1);
    let plain = Plaintext::parse(&got.payload);
    assert!(plain.is_heartbeat());
    assert_eq!(plain, payload);
    // Both sides see the same extra symmetric key for this key pair.
    assert_eq!(*got.extra_key, *extra_sent);
}

#[test]
fn debug_output_never_contains_key_material() {
    let mut rng = TestRng::new(120);
    let (a, b) = established(Version::V3, &mut rng);
    let a_shown = format!("{a:?}");
    let secret_hex: String = common::keys()
        .0
        .secret_bytes()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    // AkeSuccess shows the fingerprint and public values only.
    assert!(a_shown.contains(&a.their_long_term.fingerprint().to_string()));
    assert!(!a_shown.contains(&secret_hex));
    let key_shown = format!("{:?}", common::keys().0);
    assert!(!key_shown.contains(&secret_hex), "{key_shown}");
    assert!(
        key_shown.starts_with("DsaPrivateKey { fingerprint: "),
        "{key_shown}"
    );

    // The data channel shows ids, never keys.
    let keys = candado_otr::crypto::kdf::SessionKeys::derive(
        &a.our_dh.shared_secret(&a.their_dh),
        a.our_dh.public(),
        &a.their_dh,
    );
    let aes_hex: String = keys.send_aes.iter().map(|x| format!("{x:02x}")).collect();
    let channel = DataChannel::new(a, tag(ALICE_TAG), &mut rng).unwrap();
    let shown = format!("{channel:?} {keys:?} {b:?}");
    assert!(!shown.contains(&aes_hex), "{shown}");
    assert!(shown.contains("our_keyid: 2"), "{shown}");
    assert!(shown.contains("SessionKeys(..)"), "{shown}");
}
