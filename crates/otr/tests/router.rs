//! The `Router`: several peer instances at once, receiver-tag checks, the master
//! session's AKE moving to the instance that answers it, v2 through the master.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use candado_otr::session::{Event, MessageState, Policy, Router, Sent, Session, SessionConfig};
use candado_otr::wire::message::InstanceTag;
use common::{keys, tag, TestRng, ALICE_TAG};

const BOB1: u32 = 0x0000_b0b1;
const BOB2: u32 = 0xffff_fffe;

fn config(policy: Policy) -> SessionConfig {
    SessionConfig {
        policy,
        max_message_size: 0,
    }
}

struct World {
    alice: Router,
    arng: TestRng,
    bobs: Vec<(Session, TestRng)>,
    alice_events: Vec<(InstanceTag, Event)>,
    now: u64,
}

impl World {
    fn new(alice_policy: Policy, bob_tags: &[u32]) -> Self {
        let (ak, bk) = keys();
        World {
            alice: Router::new(ak.clone(), tag(ALICE_TAG), config(alice_policy)),
            arng: TestRng::new(500),
            bobs: bob_tags
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        Session::new(bk.clone(), tag(*t), config(Policy::MANUAL)),
                        TestRng::new(600 + i as u64),
                    )
                })
                .collect(),
            alice_events: vec![],
            now: 0,
        }
    }

    /// Everything Alice sends reaches every Bob instance (a bare-JID broadcast); every
    /// Bob's output reaches Alice.
    fn drive(&mut self) {
        for _ in 0..50 {
            let mut moved = false;
            while let Some(t) = self.alice.poll_transmit() {
                moved = true;
                for (bob, rng) in &mut self.bobs {
                    bob.handle_incoming(&t, self.now, rng);
                }
            }
            for (bob, _) in &mut self.bobs {
                while let Some(t) = bob.poll_transmit() {
                    moved = true;
                    self.alice.handle_incoming(&t, self.now, &mut self.arng);
                }
            }
            while let Some(e) = self.alice.poll_event() {
                self.alice_events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("never quiet");
    }
}

#[test]
fn two_peer_instances_answer_one_query() {
    let mut w = World::new(Policy::MANUAL, &[BOB1, BOB2]);
    w.alice.master_mut().start().unwrap();
    w.drive();
    // Each Bob instance committed (receiver 0); each got its own child session.
    let mut instances = w.alice.instances();
    instances.sort();
    assert_eq!(instances, [tag(BOB1), tag(BOB2)]);
    for t in [BOB1, BOB2] {
        let s = w.alice.session_mut(tag(t)).unwrap();
        assert_eq!(s.state(), MessageState::Encrypted);
        assert_eq!(s.their_instance(), tag(t));
    }
    for (bob, _) in &w.bobs {
        assert_eq!(bob.state(), MessageState::Encrypted);
        assert_eq!(bob.their_instance(), tag(ALICE_TAG));
    }
    assert_eq!(w.alice.master_mut().state(), MessageState::Plaintext);
    // Messages from each instance are routed to its session and tagged with it.
    for (i, (bob, _)) in w.bobs.iter_mut().enumerate() {
        bob.send(&format!("from bob {i}"), 0).unwrap();
    }
    w.drive();
    let got: Vec<_> = w
        .alice_events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Received {
                text,
                encrypted: true,
            } => Some((*t, text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [
            (tag(BOB1), "from bob 0".to_owned()),
            (tag(BOB2), "from bob 1".to_owned())
        ]
    );
    // Alice's reply goes to the most recently encrypted instance only; the other Bob
    // ignores it (receiver tag is not his).
    let best = w.alice.best_mut().their_instance();
    assert_eq!(w.alice.send("to one instance", 0), Ok(Sent::Encrypted));
    for (bob, _) in &mut w.bobs {
        while bob.poll_event().is_some() {}
    }
    w.drive();
    for (bob, _) in &mut w.bobs {
        let shown: Vec<_> = std::iter::from_fn(|| bob.poll_event())
            .filter(|e| matches!(e, Event::Received { .. }))
            .collect();
        assert_eq!(
            shown.len(),
            usize::from(bob.our_instance() == best),
            "{shown:?}"
        );
    }
}

#[test]
fn master_commit_moves_to_the_answering_instance_and_flushes_the_queue() {
    let mut w = World::new(Policy::ALWAYS, &[BOB1]);
    assert_eq!(w.alice.send("queued before the AKE", 0), Ok(Sent::Queued));
    // Bob replies to the query with a query of his own: Alice's master commits (receiver
    // 0), Bob's DH-Key creates the child that takes over the AKE.
    let query = w.alice.poll_transmit().unwrap();
    assert_eq!(query, "?OTRv23?");
    let (bob, rng) = &mut w.bobs[0];
    bob.start().unwrap();
    let bob_query = bob.poll_transmit().unwrap();
    assert_eq!(
        w.alice.handle_incoming(&bob_query, 0, &mut w.arng),
        Some(InstanceTag::UNKNOWN)
    );
    let commit = w.alice.poll_transmit().unwrap();
    assert!(commit.starts_with("?OTR:AAMC"));
    bob.handle_incoming(&commit, 0, rng);
    w.drive();
    let child = w.alice.session_mut(tag(BOB1)).unwrap();
    assert_eq!(child.state(), MessageState::Encrypted);
    assert_eq!(w.alice.master_mut().queued(), 0);
    let (bob, _) = &mut w.bobs[0];
    let shown: Vec<_> = std::iter::from_fn(|| bob.poll_event())
        .filter_map(|e| match e {
            Event::Received { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(shown, ["queued before the AKE"]);
}

#[test]
fn receiver_tag_checks_and_v2_through_the_master() {
    let mut w = World::new(Policy::MANUAL, &[BOB1]);
    w.alice.master_mut().start().unwrap();
    w.drive();
    // A v3 message for another instance of Alice is dropped by the router.
    let (bob, rng) = &mut w.bobs[0];
    bob.send("hi", 0).unwrap();
    let data = bob.poll_transmit().unwrap();
    let other = {
        let (mut other_bob, mut orng) = (
            Session::new(keys().1.clone(), tag(BOB2), config(Policy::MANUAL)),
            TestRng::new(9),
        );
        // A DH-Commit from another Bob instance addressed to a different Alice instance.
        other_bob.start().unwrap();
        let q = other_bob.poll_transmit().unwrap();
        let mut other_alice = Session::new(keys().0.clone(), tag(0x999), config(Policy::MANUAL));
        other_alice.handle_incoming(&q, 0, &mut orng);
        let commit = other_alice.poll_transmit().unwrap();
        other_bob.handle_incoming(&commit, 0, &mut orng);
        other_bob.poll_transmit().unwrap() // DH-Key addressed to 0x999
    };
    assert_eq!(w.alice.handle_incoming(&other, 0, &mut w.arng), None);
    assert_eq!(w.alice.instances(), [tag(BOB1)]);
    assert_eq!(
        w.alice.handle_incoming(&data, 0, &mut w.arng),
        Some(tag(BOB1))
    );
    let _ = rng;
    // v2: everything goes through the master.
    let (ak, bk) = keys();
    let mut alice = Router::new(ak.clone(), tag(ALICE_TAG), config(Policy::ALLOW_V2));
    let mut bob = Session::new(bk.clone(), tag(BOB1), config(Policy::ALLOW_V2));
    let (mut ar, mut br) = (TestRng::new(1), TestRng::new(2));
    bob.start().unwrap();
    for _ in 0..10 {
        while let Some(t) = bob.poll_transmit() {
            assert_eq!(
                alice.handle_incoming(&t, 0, &mut ar),
                Some(InstanceTag::UNKNOWN)
            );
        }
        while let Some(t) = alice.poll_transmit() {
            bob.handle_incoming(&t, 0, &mut br);
        }
    }
    assert_eq!(alice.master_mut().state(), MessageState::Encrypted);
    assert!(alice.instances().is_empty());
    assert_eq!(alice.send("v2 hello", 0), Ok(Sent::Encrypted));
}

/// `text` (an encoded v3 message) with its sender and receiver tags replaced.
fn retagged(text: &str, sender: u32, receiver: u32) -> String {
    use candado_otr::wire::base64;
    let b64 = text
        .strip_prefix("?OTR:")
        .and_then(|t| t.strip_suffix('.'))
        .unwrap();
    let mut bytes = base64::decode(b64).unwrap();
    bytes[3..7].copy_from_slice(&sender.to_be_bytes());
    bytes[7..11].copy_from_slice(&receiver.to_be_bytes());
    format!("?OTR:{}.", base64::encode(&bytes))
}

#[test]
fn reserved_instance_tags_are_dropped_silently() {
    let mut w = World::new(Policy::MANUAL, &[BOB1]);
    w.alice.master_mut().start().unwrap();
    w.drive();
    w.alice_events.clear();
    let (bob, _) = &mut w.bobs[0];
    bob.send("hi", 0).unwrap();
    let data = bob.poll_transmit().unwrap();
    for forged in [
        retagged(&data, 0x0000_00ff, ALICE_TAG),
        retagged(&data, 0x0000_0001, ALICE_TAG),
        retagged(&data, BOB1, 0x0000_0042),
        retagged(&data, BOB1, 0x0000_0001),
        // And a fragment with a reserved sender tag.
        format!("?OTR|000000ff|{ALICE_TAG:08x},00001,00002,abcd,"),
    ] {
        assert_eq!(w.alice.handle_incoming(&forged, 0, &mut w.arng), None);
    }
    let events: Vec<_> = std::iter::from_fn(|| w.alice.poll_event()).collect();
    assert!(events.is_empty(), "events for dropped messages: {events:?}");
    assert!(w.alice.poll_transmit().is_none());
    // The genuine message still reads.
    assert_eq!(
        w.alice.handle_incoming(&data, 0, &mut w.arng),
        Some(tag(BOB1))
    );
    assert!(matches!(
        w.alice.poll_event(),
        Some((_, Event::Received { ref text, encrypted: true })) if text == "hi"
    ));
}

#[test]
fn finished_instance_refuses_instead_of_falling_back_to_plaintext() {
    let mut w = World::new(Policy::OPPORTUNISTIC, &[BOB1]);
    w.alice.master_mut().start().unwrap();
    w.drive();
    let (bob, _) = &mut w.bobs[0];
    bob.end(0).unwrap();
    w.drive();
    assert_eq!(
        w.alice.session_mut(tag(BOB1)).unwrap().state(),
        MessageState::Finished
    );
    // The master is PLAINTEXT and OPPORTUNISTIC would send plaintext; the router must
    // pick the FINISHED instance and refuse.
    assert!(w.alice.send("must not leak", 0).is_err());
    assert_eq!(w.alice.poll_transmit(), None);
    w.alice.session_mut(tag(BOB1)).unwrap().end(0).unwrap();
    assert_eq!(
        w.alice.send("now plaintext is fine", 0),
        Ok(Sent::Plaintext)
    );
}

#[test]
fn unknown_instances_only_start_with_an_ake_message_and_are_bounded() {
    let mut w = World::new(Policy::MANUAL, &[BOB1]);
    w.alice.master_mut().start().unwrap();
    w.drive();
    // A Data message from BOB1 re-tagged as another instance is not accepted and makes no
    // new session (libotr ignores non-AKE messages from unknown instances).
    let (bob, _) = &mut w.bobs[0];
    bob.send("x", 0).unwrap();
    let data = bob.poll_transmit().unwrap();
    let retagged = {
        use candado_otr::wire::message::{EncodedMessage, Header};
        use candado_otr::wire::text::{decode_encoded, encode_message};
        let mut m: EncodedMessage = decode_encoded(&data).unwrap();
        m.header = Header::V3 {
            sender: tag(0x4242),
            receiver: tag(ALICE_TAG),
        };
        encode_message(&m)
    };
    assert_eq!(w.alice.handle_incoming(&retagged, 0, &mut w.arng), None);
    assert_eq!(w.alice.instances(), [tag(BOB1)]);
    // A flood of DH-Commits from made-up instances is bounded; the encrypted instance
    // survives it.
    let (bk, _) = (keys().1.clone(), ());
    for i in 0..100u32 {
        let mut fake = Session::new(bk.clone(), tag(0x10_0000 + i), config(Policy::MANUAL));
        let mut rng = TestRng::new(u64::from(i));
        fake.handle_incoming("?OTRv3?", 0, &mut rng);
        let commit = fake.poll_transmit().unwrap();
        w.alice.handle_incoming(&commit, 0, &mut w.arng);
        while w.alice.poll_transmit().is_some() {}
    }
    let instances = w.alice.instances();
    assert!(instances.len() <= candado_otr::session::MAX_INSTANCES);
    assert!(instances.contains(&tag(BOB1)));
    assert_eq!(
        w.alice.session_mut(tag(BOB1)).unwrap().state(),
        MessageState::Encrypted
    );
}

#[test]
fn fragments_are_routed_by_their_sender_tag() {
    let small = SessionConfig {
        policy: Policy::MANUAL,
        max_message_size: 100,
    };
    let (ak, bk) = keys();
    let mut w = World::new(Policy::MANUAL, &[]);
    w.alice = Router::new(ak.clone(), tag(ALICE_TAG), small);
    w.bobs = [BOB1, BOB2]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                Session::new(bk.clone(), tag(*t), small),
                TestRng::new(700 + i as u64),
            )
        })
        .collect();
    w.alice.master_mut().start().unwrap();
    w.drive();
    for t in [BOB1, BOB2] {
        assert_eq!(
            w.alice.session_mut(tag(t)).unwrap().state(),
            MessageState::Encrypted
        );
    }
    // Interleaved fragments of two instances do not disturb each other: each instance
    // has its own reassembly.
    let long = "x".repeat(300);
    let mut pieces: Vec<Vec<String>> = vec![];
    for (bob, _) in &mut w.bobs {
        bob.send(&long, 0).unwrap();
        pieces.push(std::iter::from_fn(|| bob.poll_transmit()).collect());
    }
    assert!(pieces[0].len() > 3 && pieces[0][0].starts_with("?OTR|"));
    for i in 0..pieces[0].len().max(pieces[1].len()) {
        for p in &pieces {
            if let Some(f) = p.get(i) {
                w.alice.handle_incoming(f, 0, &mut w.arng);
            }
        }
    }
    let got: Vec<_> = std::iter::from_fn(|| w.alice.poll_event())
        .filter_map(|(t, e)| match e {
            Event::Received { text, .. } if text == long => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(got, [tag(BOB1), tag(BOB2)]);
}
