//! Two AKE peers in memory, for v2 and v3: the happy path, simultaneous commits,
//! retransmissions, out-of-state messages and a tampering pipe.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use candado_otr::ake::{Ake, AkeStep, AkeSuccess, AuthStateName, BoldHalf, IgnoreReason};
use candado_otr::crypto::kdf::SessionKeys;
use candado_otr::wire::message::{EncodedMessage, Header, InstanceTag, MessageBody, Version};
use candado_otr::wire::text::{encode_message, TextMessage};
use candado_otr::wire::{Codec, Mpi};
use candado_otr::{Error, PeerError};
use common::{keys, TestRng};

const ALICE_TAG: u32 = 0x0000_a11c;
const BOB_TAG: u32 = 0xb0b0_0001;

struct Peer {
    ake: Ake,
    rng: TestRng,
}

impl Peer {
    fn handle(&mut self, msg: &EncodedMessage) -> Result<AkeStep, Error> {
        self.ake.handle_message(msg, &mut self.rng)
    }

    /// Drain outgoing messages, sending each through the text encoding and back.
    fn outgoing(&mut self) -> Vec<EncodedMessage> {
        let mut out = Vec::new();
        while let Some(m) = self.ake.poll_transmit() {
            let text = encode_message(&m);
            match TextMessage::parse(&text) {
                Ok(TextMessage::Encoded(decoded)) => {
                    assert_eq!(decoded, m);
                    out.push(decoded);
                }
                other => panic!("encoded message parsed as {other:?}"),
            }
        }
        out
    }

    fn one_outgoing(&mut self) -> EncodedMessage {
        let mut out = self.outgoing();
        assert_eq!(out.len(), 1, "expected exactly one message");
        out.pop().unwrap()
    }
}

fn tag(v: u32) -> InstanceTag {
    InstanceTag::new(v).unwrap()
}

fn pair(seed: u64) -> (Peer, Peer) {
    let (alice_key, bob_key) = keys();
    let alice = Peer {
        ake: Ake::new(alice_key.clone(), tag(ALICE_TAG), InstanceTag::UNKNOWN),
        rng: TestRng::new(seed),
    };
    let bob = Peer {
        ake: Ake::new(bob_key.clone(), tag(BOB_TAG), InstanceTag::UNKNOWN),
        rng: TestRng::new(seed + 1),
    };
    (alice, bob)
}

/// Run the four messages, Bob initiating. Returns (alice result, bob result).
fn run_ake(version: Version, seed: u64) -> (AkeSuccess, AkeSuccess) {
    let (mut alice, mut bob) = pair(seed);
    bob.ake.initiate(version, &mut bob.rng);
    assert_eq!(bob.ake.state(), AuthStateName::AwaitingDhKey);
    let commit = bob.one_outgoing();
    assert_eq!(alice.handle(&commit), Ok(AkeStep::Replied));
    assert_eq!(alice.ake.state(), AuthStateName::AwaitingRevealSig);
    let dh_key = alice.one_outgoing();
    assert_eq!(bob.handle(&dh_key), Ok(AkeStep::Replied));
    assert_eq!(bob.ake.state(), AuthStateName::AwaitingSig);
    let reveal = bob.one_outgoing();
    assert_eq!(alice.handle(&reveal), Ok(AkeStep::Established));
    assert_eq!(alice.ake.state(), AuthStateName::None);
    let signature = alice.one_outgoing();
    assert_eq!(bob.handle(&signature), Ok(AkeStep::Established));
    assert_eq!(bob.ake.state(), AuthStateName::None);
    for m in [&commit, &dh_key, &reveal, &signature] {
        assert_eq!(m.header.version(), version);
    }
    if version == Version::V3 {
        assert_eq!(
            commit.header,
            Header::V3 {
                sender: tag(BOB_TAG),
                receiver: InstanceTag::UNKNOWN
            }
        );
        assert_eq!(
            dh_key.header,
            Header::V3 {
                sender: tag(ALICE_TAG),
                receiver: tag(BOB_TAG)
            }
        );
        assert_eq!(
            reveal.header,
            Header::V3 {
                sender: tag(BOB_TAG),
                receiver: tag(ALICE_TAG)
            }
        );
    } else {
        assert_eq!(commit.header, Header::V2);
    }
    (
        alice.ake.poll_established().unwrap(),
        bob.ake.poll_established().unwrap(),
    )
}

fn check_agreement(alice: &AkeSuccess, bob: &AkeSuccess) {
    let (alice_key, bob_key) = keys();
    assert_eq!(alice.ssid.bytes, bob.ssid.bytes);
    assert_eq!(alice.ssid.bold, BoldHalf::Second);
    assert_eq!(bob.ssid.bold, BoldHalf::First);
    assert_eq!(alice.ssid.to_string(), bob.ssid.to_string());
    assert_eq!(
        alice.their_long_term.fingerprint(),
        bob_key.public_key().fingerprint()
    );
    assert_eq!(
        bob.their_long_term.fingerprint(),
        alice_key.public_key().fingerprint()
    );
    assert_eq!(alice.their_dh, *bob.our_dh.public());
    assert_eq!(bob.their_dh, *alice.our_dh.public());
    assert_eq!(alice.their_keyid, 1);
    assert_eq!(bob.their_keyid, 1);
    // Both derive mirrored data-message keys from the AKE key pairs.
    let a = SessionKeys::derive(
        &alice.our_dh.shared_secret(&alice.their_dh),
        alice.our_dh.public(),
        &alice.their_dh,
    );
    let b = SessionKeys::derive(
        &bob.our_dh.shared_secret(&bob.their_dh),
        bob.our_dh.public(),
        &bob.their_dh,
    );
    assert_eq!(a.send_aes, b.recv_aes);
    assert_eq!(a.recv_aes, b.send_aes);
    assert_eq!(a.send_mac, b.recv_mac);
    assert_eq!(a.recv_mac, b.send_mac);
    assert_eq!(a.extra_key, b.extra_key);
}

#[test]
fn v3_ake_completes_and_both_sides_agree() {
    let (alice, bob) = run_ake(Version::V3, 100);
    check_agreement(&alice, &bob);
    assert_eq!(alice.version, Version::V3);
    assert_eq!(alice.their_instance, tag(BOB_TAG));
    assert_eq!(bob.their_instance, tag(ALICE_TAG));
}

#[test]
fn v2_ake_completes_and_both_sides_agree() {
    let (alice, bob) = run_ake(Version::V2, 200);
    check_agreement(&alice, &bob);
    assert_eq!(alice.version, Version::V2);
    assert_eq!(alice.their_instance, InstanceTag::UNKNOWN);
}

#[test]
fn different_runs_give_different_session_ids() {
    let (a1, _) = run_ake(Version::V3, 300);
    let (a2, _) = run_ake(Version::V3, 310);
    assert_ne!(a1.ssid.bytes, a2.ssid.bytes);
}

#[test]
fn simultaneous_commits_resolve_by_hash_comparison() {
    let mut outcomes = std::collections::HashSet::new();
    for seed in (400..).step_by(10).take(12) {
        let version = if seed % 20 == 0 {
            Version::V3
        } else {
            Version::V2
        };
        let (mut alice, mut bob) = pair(seed);
        alice.ake.initiate(version, &mut alice.rng);
        bob.ake.initiate(version, &mut bob.rng);
        let a_commit = alice.one_outgoing();
        let b_commit = bob.one_outgoing();
        let (MessageBody::DhCommit(ac), MessageBody::DhCommit(bc)) =
            (&a_commit.body, &b_commit.body)
        else {
            panic!("not commits");
        };
        let alice_wins = ac.hashed_gx > bc.hashed_gx;
        outcomes.insert((alice_wins, version));
        let a_step = alice.handle(&b_commit).unwrap();
        let b_step = bob.handle(&a_commit).unwrap();
        let (winner, loser) = if alice_wins {
            assert_eq!(a_step, AkeStep::Retransmitted);
            assert_eq!(b_step, AkeStep::Replied);
            (&mut alice, &mut bob)
        } else {
            assert_eq!(a_step, AkeStep::Replied);
            assert_eq!(b_step, AkeStep::Retransmitted);
            (&mut bob, &mut alice)
        };
        assert_eq!(winner.ake.state(), AuthStateName::AwaitingDhKey);
        assert_eq!(loser.ake.state(), AuthStateName::AwaitingRevealSig);
        // The winner resent its same commit; the loser answered with a DH-Key.
        let resent = winner.one_outgoing();
        assert_eq!(
            resent.body,
            if alice_wins {
                a_commit.body.clone()
            } else {
                b_commit.body.clone()
            }
        );
        let dh_key = loser.one_outgoing();
        assert!(matches!(dh_key.body, MessageBody::DhKey(_)));
        // The loser sees the resent commit in AWAITING_REVEALSIG: same DH-Key again.
        assert_eq!(loser.handle(&resent), Ok(AkeStep::Retransmitted));
        assert_eq!(loser.one_outgoing(), dh_key);
        // Finish.
        assert_eq!(winner.handle(&dh_key), Ok(AkeStep::Replied));
        let reveal = winner.one_outgoing();
        assert_eq!(loser.handle(&reveal), Ok(AkeStep::Established));
        let sig = loser.one_outgoing();
        assert_eq!(winner.handle(&sig), Ok(AkeStep::Established));
        let w = winner.ake.poll_established().unwrap();
        let l = loser.ake.poll_established().unwrap();
        assert_eq!(w.ssid.bytes, l.ssid.bytes);
    }
    // Both sides have won, in both versions.
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
}

#[test]
fn retransmissions_follow_the_spec() {
    let (mut alice, mut bob) = pair(500);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let commit = bob.one_outgoing();
    alice.handle(&commit).unwrap();
    let dh_key = alice.one_outgoing();

    // AWAITING_REVEALSIG + DH-Commit: resend the same DH-Key.
    assert_eq!(alice.handle(&commit), Ok(AkeStep::Retransmitted));
    assert_eq!(alice.one_outgoing(), dh_key);

    bob.handle(&dh_key).unwrap();
    let reveal = bob.one_outgoing();
    // AWAITING_SIG + the same DH-Key: resend the same Reveal-Signature.
    assert_eq!(bob.handle(&dh_key), Ok(AkeStep::Retransmitted));
    assert_eq!(bob.one_outgoing(), reveal);
    // AWAITING_SIG + a different DH-Key: ignore.
    let mut other = dh_key.clone();
    if let MessageBody::DhKey(k) = &mut other.body {
        k.gy = Mpi::from_be_bytes(&[5]);
    }
    assert_eq!(
        bob.handle(&other),
        Ok(AkeStep::Ignored(IgnoreReason::DifferentDhKey))
    );
    assert!(bob.outgoing().is_empty());
    assert_eq!(bob.ake.state(), AuthStateName::AwaitingSig);

    // The exchange still completes after all that.
    assert_eq!(alice.handle(&reveal), Ok(AkeStep::Established));
    let sig = alice.one_outgoing();
    assert_eq!(bob.handle(&sig), Ok(AkeStep::Established));
}

#[test]
fn a_new_commit_in_awaiting_revealsig_replaces_the_old_one() {
    let (mut alice, mut bob) = pair(550);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let first = bob.one_outgoing();
    alice.handle(&first).unwrap();
    let dh_key = alice.one_outgoing();
    // Bob restarts with a new g^x and r before seeing the DH-Key.
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let second = bob.one_outgoing();
    assert_ne!(first, second);
    // Alice keeps her g^y, resends the same DH-Key and now holds the new commitment.
    assert_eq!(alice.handle(&second), Ok(AkeStep::Retransmitted));
    assert_eq!(alice.one_outgoing(), dh_key);
    assert_eq!(bob.handle(&dh_key), Ok(AkeStep::Replied));
    let reveal = bob.one_outgoing();
    assert_eq!(alice.handle(&reveal), Ok(AkeStep::Established));
    let sig = alice.one_outgoing();
    assert_eq!(bob.handle(&sig), Ok(AkeStep::Established));
}

#[test]
fn commit_in_awaiting_sig_restarts_as_responder() {
    let (mut alice, mut bob) = pair(600);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let commit = bob.one_outgoing();
    alice.handle(&commit).unwrap();
    let dh_key = alice.one_outgoing();
    bob.handle(&dh_key).unwrap();
    let _reveal = bob.one_outgoing();
    // Alice restarts as initiator; Bob (AWAITING_SIG) answers with a fresh DH-Key.
    alice.ake.initiate(Version::V3, &mut alice.rng);
    let new_commit = alice.one_outgoing();
    assert_eq!(bob.handle(&new_commit), Ok(AkeStep::Replied));
    assert_eq!(bob.ake.state(), AuthStateName::AwaitingRevealSig);
    let new_key = bob.one_outgoing();
    assert!(matches!(new_key.body, MessageBody::DhKey(_)));
    assert_ne!(new_key.body, dh_key.body);
    assert_eq!(alice.handle(&new_key), Ok(AkeStep::Replied));
    let reveal = alice.one_outgoing();
    assert_eq!(bob.handle(&reveal), Ok(AkeStep::Established));
    let sig = bob.one_outgoing();
    assert_eq!(alice.handle(&sig), Ok(AkeStep::Established));
}

#[test]
fn every_message_type_out_of_state_is_ignored() {
    // Collect one message of each type from a real run.
    let (mut alice, mut bob) = pair(700);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let commit = bob.one_outgoing();
    alice.handle(&commit).unwrap();
    let dh_key = alice.one_outgoing();
    bob.handle(&dh_key).unwrap();
    let reveal = bob.one_outgoing();
    alice.handle(&reveal).unwrap();
    let sig = alice.one_outgoing();

    // A fresh responder in AUTHSTATE_NONE talking to Bob's instance.
    let (alice_key, _) = keys();
    let mut fresh = Peer {
        ake: Ake::new(alice_key.clone(), tag(ALICE_TAG), InstanceTag::UNKNOWN),
        rng: TestRng::new(701),
    };
    for m in [&dh_key, &reveal, &sig] {
        let step = fresh.handle(m).unwrap();
        assert!(matches!(step, AkeStep::Ignored(_)), "{step:?}");
        assert_eq!(fresh.ake.state(), AuthStateName::None);
        assert!(fresh.outgoing().is_empty());
    }
    // AWAITING_DHKEY ignores Reveal-Signature and Signature.
    let mut initiator = Peer {
        ake: Ake::new(alice_key.clone(), tag(BOB_TAG), InstanceTag::UNKNOWN),
        rng: TestRng::new(702),
    };
    initiator.ake.initiate(Version::V3, &mut initiator.rng);
    initiator.outgoing();
    let reveal_to_bob = EncodedMessage {
        header: Header::V3 {
            sender: tag(ALICE_TAG),
            receiver: tag(BOB_TAG),
        },
        body: reveal.body.clone(),
    };
    for m in [&reveal_to_bob, &sig] {
        let step = initiator.handle(m).unwrap();
        assert!(matches!(step, AkeStep::Ignored(_)), "{step:?}");
        assert_eq!(initiator.ake.state(), AuthStateName::AwaitingDhKey);
    }
    // AWAITING_REVEALSIG ignores DH-Key and Signature.
    let mut responder = Peer {
        ake: Ake::new(alice_key.clone(), tag(ALICE_TAG), InstanceTag::UNKNOWN),
        rng: TestRng::new(703),
    };
    responder.handle(&commit).unwrap();
    responder.outgoing();
    for m in [&dh_key, &sig] {
        let step = responder.handle(m).unwrap();
        assert!(matches!(step, AkeStep::Ignored(_)), "{step:?}");
        assert_eq!(responder.ake.state(), AuthStateName::AwaitingRevealSig);
    }
}

#[test]
fn v3_instance_tags_are_enforced() {
    let (mut alice, mut bob) = pair(800);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let commit = bob.one_outgoing();
    // A commit addressed to another instance of Alice is ignored.
    let mut elsewhere = commit.clone();
    elsewhere.header = Header::V3 {
        sender: tag(BOB_TAG),
        receiver: tag(0x999),
    };
    assert_eq!(
        alice.handle(&elsewhere),
        Ok(AkeStep::Ignored(IgnoreReason::OtherInstance))
    );
    alice.handle(&commit).unwrap();
    let dh_key = alice.one_outgoing();
    // A DH-Key with receiver 0 is dropped (libotr: only DH-Commit may have receiver 0).
    let mut to_nobody = dh_key.clone();
    to_nobody.header = Header::V3 {
        sender: tag(ALICE_TAG),
        receiver: InstanceTag::UNKNOWN,
    };
    assert_eq!(
        bob.handle(&to_nobody),
        Ok(AkeStep::Ignored(IgnoreReason::OtherInstance))
    );
    bob.handle(&dh_key).unwrap();
    let reveal = bob.one_outgoing();
    // A Reveal-Signature from a third instance is ignored by Alice, who now talks to Bob.
    let mut third = reveal.clone();
    third.header = Header::V3 {
        sender: tag(0x0bad_0bad),
        receiver: tag(ALICE_TAG),
    };
    assert_eq!(
        alice.handle(&third),
        Ok(AkeStep::Ignored(IgnoreReason::OtherInstance))
    );
    // A v2 Reveal-Signature in a v3 exchange is ignored.
    let mut v2 = reveal.clone();
    v2.header = Header::V2;
    assert_eq!(
        alice.handle(&v2),
        Ok(AkeStep::Ignored(IgnoreReason::VersionMismatch))
    );
    assert_eq!(alice.handle(&reveal), Ok(AkeStep::Established));
}

/// Flip one bit in every byte of `msg`'s binary encoding; return the variants that
/// still decode.
fn bit_flips(msg: &EncodedMessage) -> Vec<EncodedMessage> {
    let bytes = msg.to_bytes();
    let mut out = Vec::new();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 1 << (i % 8);
        if let Ok(m) = EncodedMessage::decode(&b) {
            assert_ne!(&m, msg);
            out.push(m);
        }
    }
    out
}

#[test]
fn tampered_reveal_signature_and_signature_are_rejected_cleanly() {
    for (seed, version) in [(900, Version::V3), (910, Version::V2)] {
        let (mut alice, mut bob) = pair(seed);
        bob.ake.initiate(version, &mut bob.rng);
        let commit = bob.one_outgoing();
        alice.handle(&commit).unwrap();
        let dh_key = alice.one_outgoing();
        bob.handle(&dh_key).unwrap();
        let reveal = bob.one_outgoing();

        let mut rejected = 0;
        for bad in bit_flips(&reveal) {
            match alice.handle(&bad) {
                Ok(AkeStep::Ignored(_)) | Err(_) => rejected += 1,
                other => panic!("tampered Reveal-Signature accepted: {other:?}"),
            }
            assert_eq!(alice.ake.state(), AuthStateName::AwaitingRevealSig);
            assert!(alice.outgoing().is_empty());
            assert!(alice.ake.poll_established().is_none());
        }
        assert!(rejected > 300, "only {rejected} variants tried");
        // The MAC failure is the opaque error.
        let mut mac_flip = reveal.clone();
        if let MessageBody::RevealSignature(r) = &mut mac_flip.body {
            r.mac.0[0] ^= 0x80;
        }
        assert_eq!(alice.handle(&mac_flip), Err(Error::Unauthenticated));
        // A wrong r fails the commitment check, also opaquely.
        let mut r_flip = reveal.clone();
        if let MessageBody::RevealSignature(r) = &mut r_flip.body {
            r.revealed_key[3] ^= 1;
        }
        assert_eq!(alice.handle(&r_flip), Err(Error::Unauthenticated));

        // The genuine message still works: tampering changed nothing.
        assert_eq!(alice.handle(&reveal), Ok(AkeStep::Established));
        let sig = alice.one_outgoing();
        for bad in bit_flips(&sig) {
            match bob.handle(&bad) {
                Ok(AkeStep::Ignored(_)) | Err(_) => {}
                other => panic!("tampered Signature accepted: {other:?}"),
            }
            assert_eq!(bob.ake.state(), AuthStateName::AwaitingSig);
            assert!(bob.outgoing().is_empty());
        }
        assert_eq!(bob.handle(&sig), Ok(AkeStep::Established));
    }
}

#[test]
fn tampered_commit_or_dh_key_make_the_exchange_fail_later() {
    // A flipped bit in the encrypted g^x: Alice detects it when r is revealed.
    let (mut alice, mut bob) = pair(1000);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let mut commit = bob.one_outgoing();
    if let MessageBody::DhCommit(c) = &mut commit.body {
        c.encrypted_gx.0[10] ^= 4;
    }
    alice.handle(&commit).unwrap();
    let dh_key = alice.one_outgoing();
    bob.handle(&dh_key).unwrap();
    let reveal = bob.one_outgoing();
    assert_eq!(alice.handle(&reveal), Err(Error::Unauthenticated));
    assert!(alice.ake.poll_established().is_none());

    // A flipped bit in g^y: the keys differ, so Alice's MAC check fails.
    let (mut alice, mut bob) = pair(1010);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let commit = bob.one_outgoing();
    alice.handle(&commit).unwrap();
    let mut dh_key = alice.one_outgoing();
    if let MessageBody::DhKey(k) = &mut dh_key.body {
        let mut gy = k.gy.as_be_bytes().to_vec();
        gy[100] ^= 1;
        k.gy = Mpi::from_be_bytes(&gy);
    }
    assert_eq!(bob.handle(&dh_key), Ok(AkeStep::Replied));
    let reveal = bob.one_outgoing();
    assert_eq!(alice.handle(&reveal), Err(Error::Unauthenticated));
}

#[test]
fn out_of_range_dh_values_are_refused() {
    let (mut alice, mut bob) = pair(1100);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let commit = bob.one_outgoing();
    alice.handle(&commit).unwrap();
    let mut dh_key = alice.one_outgoing();
    for bad in [vec![], vec![1], vec![0xff; 192]] {
        if let MessageBody::DhKey(k) = &mut dh_key.body {
            k.gy = Mpi::from_be_bytes(&bad);
        }
        assert_eq!(
            bob.handle(&dh_key),
            Err(Error::Peer(PeerError::BadGroupElement))
        );
        assert_eq!(bob.ake.state(), AuthStateName::AwaitingDhKey);
        assert!(bob.outgoing().is_empty());
    }
}

#[test]
fn truncated_messages_do_not_decode() {
    let (_, mut bob) = pair(1200);
    bob.ake.initiate(Version::V3, &mut bob.rng);
    let commit = bob.one_outgoing();
    let text = encode_message(&commit);
    for cut in [6, 12, 20, text.len() - 8] {
        let truncated = format!("{}.", &text[..cut]);
        assert!(TextMessage::parse(&truncated).is_err(), "cut at {cut}");
    }
}
