//! Two `Session`s in memory: policies, query and tag start, v2 and v3 with each side
//! initiating, REQUIRE_ENCRYPTION, errors, disconnect, SMP, the extra symmetric key,
//! heartbeats, fragmentation, and a tampering pipe.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use candado_otr::session::{Event, MessageState, Policy, Sent, Session, SessionConfig};
use candado_otr::smp::SmpStateName;
use candado_otr::wire::message::{InstanceTag, Version};
use candado_otr::{Error, PeerError};
use common::{keys, tag, TestRng, ALICE_TAG, BOB_TAG};

struct Peer {
    session: Session,
    rng: TestRng,
    events: Vec<Event>,
}

struct Pair {
    alice: Peer,
    bob: Peer,
    now: u64,
    /// Everything that went over the wire, (from_alice, text).
    wire: Vec<(bool, String)>,
}

fn config(policy: Policy) -> SessionConfig {
    SessionConfig {
        policy,
        max_message_size: 0,
    }
}

impl Pair {
    fn new(alice: SessionConfig, bob: SessionConfig, seed: u64) -> Self {
        let (ak, bk) = keys();
        Pair {
            alice: Peer {
                session: Session::new(ak.clone(), tag(ALICE_TAG), alice),
                rng: TestRng::new(seed),
                events: vec![],
            },
            bob: Peer {
                session: Session::new(bk.clone(), tag(BOB_TAG), bob),
                rng: TestRng::new(seed + 1),
                events: vec![],
            },
            now: 1_000_000,
            wire: vec![],
        }
    }

    /// Deliver everything both sides want to send, through `pipe`, until quiet.
    fn drive_with(&mut self, mut pipe: impl FnMut(bool, String) -> Vec<String>) {
        for _ in 0..100 {
            let mut moved = false;
            for from_alice in [true, false] {
                let (from, to) = if from_alice {
                    (&mut self.alice, &mut self.bob)
                } else {
                    (&mut self.bob, &mut self.alice)
                };
                while let Some(text) = from.session.poll_transmit() {
                    moved = true;
                    self.wire.push((from_alice, text.clone()));
                    for delivered in pipe(from_alice, text) {
                        to.session
                            .handle_incoming(&delivered, self.now, &mut to.rng);
                    }
                }
                while let Some(e) = from.session.poll_event() {
                    from.events.push(e);
                }
                while let Some(e) = to.session.poll_event() {
                    to.events.push(e);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the peers never went quiet");
    }

    fn drive(&mut self) {
        self.drive_with(|_, t| vec![t]);
    }

    fn encrypted(version: Version, alice_starts: bool, seed: u64) -> Self {
        let policy = match version {
            Version::V2 => Policy::ALLOW_V2,
            Version::V3 => Policy::MANUAL,
        };
        let mut pair = Pair::new(config(policy), config(Policy::MANUAL), seed);
        if alice_starts {
            pair.alice.session.start().unwrap();
        } else {
            pair.bob.session.start().unwrap();
        }
        pair.drive();
        assert_eq!(pair.alice.session.state(), MessageState::Encrypted);
        assert_eq!(pair.bob.session.state(), MessageState::Encrypted);
        assert_eq!(pair.alice.session.version(), Some(version));
        pair
    }

    fn received(peer: &Peer) -> Vec<(String, bool)> {
        peer.events
            .iter()
            .filter_map(|e| match e {
                Event::Received { text, encrypted } => Some((text.clone(), *encrypted)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn v2_and_v3_with_each_side_initiating() {
    let (ak, bk) = keys();
    for (i, version) in [Version::V2, Version::V3].into_iter().enumerate() {
        for alice_starts in [true, false] {
            let mut pair = Pair::encrypted(
                version,
                alice_starts,
                10 + i as u64 * 2 + alice_starts as u64,
            );
            let a = &pair.alice.session;
            let b = &pair.bob.session;
            assert_eq!(a.ssid().unwrap().bytes, b.ssid().unwrap().bytes);
            assert_ne!(a.ssid().unwrap().bold, b.ssid().unwrap().bold);
            assert_eq!(a.their_fingerprint(), Some(bk.public_key().fingerprint()));
            assert_eq!(b.their_fingerprint(), Some(ak.public_key().fingerprint()));
            match version {
                Version::V3 => {
                    assert_eq!(a.their_instance(), tag(BOB_TAG));
                    assert_eq!(b.their_instance(), tag(ALICE_TAG));
                }
                Version::V2 => assert_eq!(a.their_instance(), InstanceTag::UNKNOWN),
            }
            let enc = pair
                .alice
                .events
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        Event::Encrypted {
                            refreshed: false,
                            ..
                        }
                    )
                })
                .count();
            assert_eq!(enc, 1);
            // Ping-pong (rotation every turn) and a burst.
            for n in 0..6 {
                let text = format!("message {n}");
                let from = if n % 2 == 0 {
                    &mut pair.alice
                } else {
                    &mut pair.bob
                };
                assert_eq!(from.session.send(&text, pair.now), Ok(Sent::Encrypted));
                pair.drive();
            }
            for n in 0..3 {
                pair.alice
                    .session
                    .send(&format!("burst {n}"), pair.now)
                    .unwrap();
            }
            pair.drive();
            let got = Pair::received(&pair.bob);
            assert_eq!(got[0], ("message 0".to_owned(), true));
            assert_eq!(got[1], ("message 2".to_owned(), true));
            assert_eq!(got.last().unwrap(), &("burst 2".to_owned(), true));
            assert_eq!(Pair::received(&pair.alice)[2].0, "message 5");
            // Nothing readable on the wire after the AKE.
            assert!(pair
                .wire
                .iter()
                .all(|(_, t)| !t.contains("message") && !t.contains("burst")));
        }
    }
}

#[test]
fn require_encryption_queues_and_never_leaks() {
    let mut pair = Pair::new(config(Policy::ALWAYS), config(Policy::MANUAL), 30);
    assert_eq!(
        pair.alice.session.send("top secret 1", pair.now),
        Ok(Sent::Queued)
    );
    assert_eq!(
        pair.alice.session.send("top secret 2", pair.now),
        Ok(Sent::Queued)
    );
    assert_eq!(pair.alice.session.queued(), 2);
    // One query for the burst.
    assert_eq!(
        pair.alice.session.poll_transmit().as_deref(),
        Some("?OTRv23?")
    );
    assert_eq!(pair.alice.session.poll_transmit(), None);
    // Later (the query may have been lost), the next message asks again.
    assert_eq!(
        pair.alice.session.send("top secret 3", pair.now + 10_000),
        Ok(Sent::Queued)
    );
    let query = pair.alice.session.poll_transmit().unwrap();
    assert_eq!(query, "?OTRv23?");
    // A forged error before the session is up changes nothing.
    pair.alice.session.handle_incoming(
        "?OTR Error: you must resend in plaintext",
        pair.now,
        &mut pair.alice.rng,
    );
    assert_eq!(pair.alice.session.state(), MessageState::Plaintext);
    assert_eq!(pair.alice.session.queued(), 3);
    pair.bob
        .session
        .handle_incoming(&query, pair.now, &mut pair.bob.rng);
    pair.drive();
    assert_eq!(pair.alice.session.state(), MessageState::Encrypted);
    assert_eq!(pair.alice.session.queued(), 0);
    assert_eq!(
        Pair::received(&pair.bob),
        [
            ("top secret 1".to_owned(), true),
            ("top secret 2".to_owned(), true),
            ("top secret 3".to_owned(), true)
        ]
    );
    assert!(pair
        .wire
        .iter()
        .all(|(from_alice, t)| !from_alice || t.starts_with("?OTR")));
    assert!(pair.wire.iter().all(|(_, t)| !t.contains("secret")));
}

#[test]
fn whitespace_tag_starts_the_ake_and_is_stripped() {
    let mut pair = Pair::new(
        config(Policy::OPPORTUNISTIC),
        config(Policy::OPPORTUNISTIC),
        40,
    );
    assert_eq!(
        pair.alice.session.send("hello", pair.now),
        Ok(Sent::Plaintext)
    );
    let first = pair.alice.session.poll_transmit().unwrap();
    assert!(first.starts_with("hello \t  \t\t\t\t"));
    pair.bob
        .session
        .handle_incoming(&first, pair.now, &mut pair.bob.rng);
    while let Some(e) = pair.bob.session.poll_event() {
        pair.bob.events.push(e);
    }
    assert_eq!(Pair::received(&pair.bob), [("hello".to_owned(), false)]);
    pair.drive();
    assert_eq!(pair.alice.session.state(), MessageState::Encrypted);
    // Without WHITESPACE_START_AKE the tag is stripped but nothing starts.
    let mut pair = Pair::new(config(Policy::OPPORTUNISTIC), config(Policy::MANUAL), 41);
    pair.alice.session.send("hi", pair.now).unwrap();
    pair.drive();
    assert_eq!(pair.bob.session.state(), MessageState::Plaintext);
    assert_eq!(Pair::received(&pair.bob), [("hi".to_owned(), false)]);
    // Bob answered nothing; a plaintext reply without tag stops Alice's tagging.
    pair.bob.session.send("no otr here", pair.now).unwrap();
    pair.drive();
    pair.alice.session.send("again", pair.now).unwrap();
    assert_eq!(pair.alice.session.poll_transmit().unwrap(), "again");
}

#[test]
fn forged_error_changes_nothing_but_may_start_ake() {
    let mut pair = Pair::encrypted(Version::V3, true, 50);
    let ssid = pair.bob.session.ssid();
    pair.bob
        .session
        .handle_incoming("?OTR Error: unreadable", pair.now, &mut pair.bob.rng);
    assert_eq!(pair.bob.session.state(), MessageState::Encrypted);
    assert_eq!(
        pair.bob.session.poll_event(),
        Some(Event::PeerError {
            text: "unreadable".into()
        })
    );
    // MANUAL has no ERROR_START_AKE: nothing is sent.
    assert_eq!(pair.bob.session.poll_transmit(), None);
    assert_eq!(pair.bob.session.ssid(), ssid);
    // With ERROR_START_AKE a query goes out; the refresh keeps the session encrypted.
    let mut pair = Pair::new(config(Policy::ALWAYS), config(Policy::ALWAYS), 51);
    pair.alice.session.start().unwrap();
    pair.drive();
    pair.bob
        .session
        .handle_incoming("?OTR Error: whatever", pair.now, &mut pair.bob.rng);
    assert_eq!(pair.bob.session.state(), MessageState::Encrypted);
    pair.drive();
    assert!(pair.bob.events.iter().any(|e| matches!(
        e,
        Event::Encrypted {
            refreshed: true,
            ..
        }
    )));
    assert_eq!(pair.alice.session.state(), MessageState::Encrypted);
    pair.alice.session.send("still private", pair.now).unwrap();
    pair.drive();
    assert_eq!(
        Pair::received(&pair.bob),
        [("still private".to_owned(), true)]
    );
}

#[test]
fn a_flood_of_forged_errors_sends_one_query_per_interval() {
    let mut pair = Pair::new(config(Policy::ALWAYS), config(Policy::ALWAYS), 52);
    pair.alice.session.start().unwrap();
    pair.drive();
    let queries = |bob: &mut Session| {
        std::iter::from_fn(|| bob.poll_transmit())
            .filter(|t| t.starts_with("?OTRv"))
            .count()
    };
    let now = pair.now;
    for _ in 0..100 {
        pair.bob
            .session
            .handle_incoming("?OTR Error: flood", now, &mut pair.bob.rng);
    }
    assert_eq!(queries(&mut pair.bob.session), 1);
    let errors = std::iter::from_fn(|| pair.bob.session.poll_event())
        .filter(|e| matches!(e, Event::PeerError { .. }))
        .count();
    assert_eq!(errors, 100, "each is still reported");
    assert_eq!(pair.bob.session.state(), MessageState::Encrypted);
    let later = now + candado_otr::session::QUERY_RETRY_MS;
    pair.bob
        .session
        .handle_incoming("?OTR Error: again", later - 1, &mut pair.bob.rng);
    assert_eq!(queries(&mut pair.bob.session), 0);
    pair.bob
        .session
        .handle_incoming("?OTR Error: again", later, &mut pair.bob.rng);
    assert_eq!(queries(&mut pair.bob.session), 1);
}

#[test]
fn disconnect_finishes_and_refuses_sending() {
    for version in [Version::V2, Version::V3] {
        let mut pair = Pair::encrypted(version, true, 60);
        pair.alice.session.end(pair.now).unwrap();
        assert_eq!(pair.alice.session.state(), MessageState::Plaintext);
        pair.drive();
        assert_eq!(pair.bob.session.state(), MessageState::Finished);
        assert!(pair.bob.events.contains(&Event::Finished));
        assert!(matches!(
            pair.bob.session.send("anyone?", pair.now),
            Err(Error::Usage(_))
        ));
        assert_eq!(pair.bob.session.poll_transmit(), None);
        pair.bob.session.end(pair.now).unwrap();
        assert_eq!(pair.bob.session.state(), MessageState::Plaintext);
    }
}

#[test]
fn extra_symmetric_key_agrees() {
    let mut pair = Pair::encrypted(Version::V3, false, 70);
    let key = pair
        .alice
        .session
        .use_extra_key(0x0000_0001, b"file.txt", pair.now)
        .unwrap();
    pair.drive();
    let got = pair
        .bob
        .events
        .iter()
        .find_map(|e| match e {
            Event::ExtraSymmetricKey {
                use_value,
                use_data,
                key,
            } => Some((*use_value, use_data.clone(), key.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(got.0, 1);
    assert_eq!(got.1, b"file.txt");
    assert_eq!(got.2, key);
    assert_eq!(format!("{key:?}"), "SymmetricKey(..)");
    // libotr offers it in v2 too; too much use data does not fit a TLV.
    let mut pair = Pair::encrypted(Version::V2, true, 71);
    let key = pair.alice.session.use_extra_key(2, b"", pair.now).unwrap();
    pair.drive();
    assert!(pair.bob.events.iter().any(|e| matches!(
        e,
        Event::ExtraSymmetricKey { use_value: 2, key: k, .. } if *k == key
    )));
    assert!(pair
        .alice
        .session
        .use_extra_key(2, &vec![0; 65_532], pair.now)
        .is_err());
    // Not outside ENCRYPTED.
    let mut plain = Pair::new(config(Policy::MANUAL), config(Policy::MANUAL), 72);
    assert!(plain.alice.session.use_extra_key(1, b"", 0).is_err());
}

fn smp(pair: &mut Pair, question: Option<&str>, a: &str, b: &str) -> (Event, Event) {
    pair.alice.events.clear();
    pair.bob.events.clear();
    let now = pair.now;
    pair.alice
        .session
        .smp_start(question, a.as_bytes(), now, &mut pair.alice.rng)
        .unwrap();
    pair.drive();
    assert!(pair.bob.events.contains(&Event::SmpAsked {
        question: question.map(str::to_owned)
    }));
    pair.bob
        .session
        .smp_respond(b.as_bytes(), now, &mut pair.bob.rng)
        .unwrap();
    pair.drive();
    let last = |p: &Peer| p.events.last().cloned().unwrap();
    (last(&pair.alice), last(&pair.bob))
}

#[test]
fn smp_through_sessions() {
    let mut pair = Pair::encrypted(Version::V3, true, 80);
    let (a, b) = smp(&mut pair, None, "shared", "shared");
    assert_eq!(
        a,
        Event::SmpSucceeded {
            authenticates_peer: true
        }
    );
    assert_eq!(
        b,
        Event::SmpSucceeded {
            authenticates_peer: true
        }
    );
    let (a, b) = smp(&mut pair, Some("Where did we meet?"), "Paris", "Paris");
    assert_eq!(
        a,
        Event::SmpSucceeded {
            authenticates_peer: true
        }
    );
    assert_eq!(
        b,
        Event::SmpSucceeded {
            authenticates_peer: false
        }
    );
    let (a, b) = smp(&mut pair, Some("Pet?"), "cat", "dog");
    assert_eq!((a, b), (Event::SmpFailed, Event::SmpFailed));
    // Abort mid-way: after SMP1, Bob aborts instead of answering.
    let now = pair.now;
    pair.alice
        .session
        .smp_start(None, b"x", now, &mut pair.alice.rng)
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.bob.session.smp_state(),
        Some(SmpStateName::AwaitingAnswer)
    );
    pair.bob.session.smp_abort(now).unwrap();
    pair.drive();
    assert_eq!(pair.alice.events.last(), Some(&Event::SmpAborted));
    assert_eq!(pair.alice.session.smp_state(), Some(SmpStateName::Expect1));
    // v2 sessions run SMP (with a question) too, like libotr.
    let mut pair = Pair::encrypted(Version::V2, false, 81);
    let (a, b) = smp(&mut pair, Some("q"), "same", "same");
    assert_eq!(
        a,
        Event::SmpSucceeded {
            authenticates_peer: true
        }
    );
    assert_eq!(
        b,
        Event::SmpSucceeded {
            authenticates_peer: false
        }
    );
}

#[test]
fn heartbeat_after_a_minute_of_silence() {
    let mut pair = Pair::encrypted(Version::V3, true, 90);
    let bob_sent = |pair: &Pair| {
        pair.wire
            .iter()
            .filter(|(from_alice, _)| !from_alice)
            .count()
    };
    let after_ake = bob_sent(&pair);
    pair.alice.session.send("one", pair.now).unwrap();
    pair.drive();
    // Bob has sent no Data message yet, but his AKE messages count as sent (libotr):
    // no heartbeat right after the AKE.
    let heartbeats = bob_sent(&pair);
    assert_eq!(heartbeats, after_ake, "no heartbeat right after the AKE");
    pair.bob.session.send("two", pair.now).unwrap();
    pair.drive();
    pair.alice.session.send("three", pair.now + 1_000).unwrap();
    pair.drive();
    // Bob sent "two" one second ago: no heartbeat.
    let after = bob_sent(&pair);
    assert_eq!(after, heartbeats + 1);
    pair.now += 61_000;
    pair.alice.session.send("four", pair.now).unwrap();
    pair.drive();
    let last = bob_sent(&pair);
    assert_eq!(last, after + 1, "a heartbeat after 61 s");
    // Heartbeats are not shown.
    assert_eq!(
        Pair::received(&pair.alice)
            .into_iter()
            .map(|(t, _)| t)
            .collect::<Vec<_>>(),
        ["two"]
    );
}

#[test]
fn fragmented_sessions_v2_and_v3() {
    for (version, policy) in [
        (Version::V2, Policy::ALLOW_V2),
        (Version::V3, Policy::MANUAL),
    ] {
        let small = SessionConfig {
            policy,
            max_message_size: 120,
        };
        let mut pair = Pair::new(small, small, 100);
        pair.bob.session.start().unwrap();
        pair.drive();
        assert_eq!(pair.alice.session.state(), MessageState::Encrypted);
        assert_eq!(pair.alice.session.version(), Some(version));
        let long = "fragment me ".repeat(40);
        pair.alice.session.send(&long, pair.now).unwrap();
        pair.bob.session.send("short", pair.now).unwrap();
        pair.drive();
        assert!(pair.wire.iter().all(|(_, t)| t.len() <= 120));
        let prefix = match version {
            Version::V2 => "?OTR,",
            Version::V3 => "?OTR|",
        };
        assert!(
            pair.wire
                .iter()
                .filter(|(_, t)| t.starts_with(prefix))
                .count()
                > 20
        );
        assert_eq!(Pair::received(&pair.bob), [(long, true)]);
        assert_eq!(Pair::received(&pair.alice), [("short".to_owned(), true)]);
    }
}

/// A deterministic xorshift for choosing tampering.
struct Chaos(u64);

impl Chaos {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn flip_bit(text: &str, chaos: &mut Chaos) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = (chaos.next() as usize) % bytes.len();
    bytes[i] ^= 1 << (chaos.next() % 7);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn tampering_pipe_never_shows_wrong_text_or_leaks() {
    for version in [Version::V2, Version::V3] {
        let policy = match version {
            Version::V2 => Policy::ALLOW_V2 | Policy::REQUIRE_ENCRYPTION,
            Version::V3 => Policy::ALWAYS,
        };
        let mut pair = Pair::new(config(policy), config(policy), 110);
        let mut chaos = Chaos(0x9e37_79b9_7f4a_7c15);
        let mut sent = Vec::new();
        let mut replay: Vec<String> = Vec::new();
        for round in 0..40 {
            pair.now += 6_000;
            let text = format!("secret {round}");
            sent.push(text.clone());
            let from = if round % 3 == 0 {
                &mut pair.alice
            } else {
                &mut pair.bob
            };
            let _ = from.session.send(&text, pair.now);
            pair.drive_with(|_, t| {
                replay.push(t.clone());
                match chaos.next() % 8 {
                    0 => vec![flip_bit(&t, &mut chaos)],
                    1 => vec![],                            // drop
                    2 => vec![t[..t.len() / 2].to_owned()], // truncate
                    3 => vec![t.clone(), t],                // duplicate
                    4 => {
                        // replay something old, then the real one
                        let old = replay[(chaos.next() as usize) % replay.len()].clone();
                        vec![old, t]
                    }
                    _ => vec![t],
                }
            });
            // Reordering: two messages delivered in reverse.
            if round % 10 == 9 && pair.alice.session.state() == MessageState::Encrypted {
                pair.alice.session.send("late 1", pair.now).unwrap();
                pair.alice.session.send("late 2", pair.now).unwrap();
                let m1 = pair.alice.session.poll_transmit().unwrap();
                let m2 = pair.alice.session.poll_transmit().unwrap();
                pair.bob
                    .session
                    .handle_incoming(&m2, pair.now, &mut pair.bob.rng);
                pair.bob
                    .session
                    .handle_incoming(&m1, pair.now, &mut pair.bob.rng);
                sent.push("late 1".into());
                sent.push("late 2".into());
            }
            pair.drive();
        }
        let shown = Pair::received(&pair.alice).len() + Pair::received(&pair.bob).len();
        // The sessions survive the tampering: a good share still gets through.
        assert!(
            shown * 3 >= sent.len(),
            "{version:?}: only {shown} of {} shown",
            sent.len()
        );
        assert_eq!(pair.alice.session.state(), MessageState::Encrypted);
        assert_eq!(pair.bob.session.state(), MessageState::Encrypted);
        for peer in [&pair.alice, &pair.bob] {
            // Every text shown as encrypted is one that was sent. A flip inside the `?OTR`
            // marker turns a message into plaintext, shown as unencrypted (the app warns);
            // never is a sent text shown unencrypted.
            for (text, encrypted) in Pair::received(peer) {
                if encrypted {
                    assert!(sent.contains(&text), "{text:?}");
                } else {
                    assert!(
                        !sent.contains(&text) && !text.starts_with("?OTR"),
                        "{text:?}"
                    );
                }
            }
        }
        // REQUIRE_ENCRYPTION: nothing either side sent is readable.
        for (_, t) in &pair.wire {
            assert!(t.starts_with("?OTR"), "leaked: {t:?}");
            assert!(!t.contains("secret") && !t.contains("late"));
        }
        // The tampering produced errors but never a state other than these two.
        for peer in [&pair.alice, &pair.bob] {
            assert_ne!(peer.session.state(), MessageState::Finished);
        }
        assert!(pair
            .bob
            .events
            .iter()
            .chain(&pair.alice.events)
            .any(|e| matches!(e, Event::Error { .. })));
    }
}

#[test]
fn replays_and_out_of_state_messages_change_nothing() {
    // Record a whole AKE and some data, then feed every recorded message to sessions in
    // every state.
    let mut pair = Pair::encrypted(Version::V3, true, 120);
    pair.alice.session.send("recorded", pair.now).unwrap();
    pair.drive();
    let wire = pair.wire.clone();
    let (ak, _) = keys();
    let mut fresh = Session::new(ak.clone(), tag(ALICE_TAG), config(Policy::ALWAYS));
    let mut rng = TestRng::new(121);
    for (from_alice, text) in &wire {
        // To the established peers (replays) ...
        let to = if *from_alice {
            &mut pair.bob
        } else {
            &mut pair.alice
        };
        to.session.handle_incoming(text, pair.now, &mut to.rng);
        // ... and to a fresh PLAINTEXT session under REQUIRE_ENCRYPTION.
        fresh.handle_incoming(text, pair.now, &mut rng);
    }
    while pair.bob.session.poll_transmit().is_some() {}
    while pair.alice.session.poll_transmit().is_some() {}
    assert_eq!(pair.bob.session.state(), MessageState::Encrypted);
    assert_eq!(pair.alice.session.state(), MessageState::Encrypted);
    let replayed: Vec<_> = std::iter::from_fn(|| pair.bob.session.poll_event())
        .filter(|e| matches!(e, Event::Received { .. }))
        .collect();
    assert!(replayed.is_empty(), "replays shown: {replayed:?}");
    // The replayed counter is a peer error, not answered with ?OTR Error.
    assert_eq!(fresh.state(), MessageState::Plaintext);
    while let Some(t) = fresh.poll_transmit() {
        assert!(t.starts_with("?OTR"));
    }
    let errors: Vec<_> = std::iter::from_fn(|| fresh.poll_event()).collect();
    assert!(errors.contains(&Event::Error {
        error: Error::Peer(PeerError::NotEncrypted)
    }));
    // Both keep working.
    pair.bob.session.send("after replays", pair.now).unwrap();
    pair.drive();
    assert_eq!(
        Pair::received(&pair.alice).last().unwrap().0,
        "after replays"
    );
}

/// One message of each type from a finished run, delivered to sessions in every state:
/// nothing is shown, nothing leaks, the state does not move, and each session still
/// completes its own exchange afterwards.
#[test]
fn every_message_type_out_of_state() {
    // Everything Bob sent to Alice in two runs (each side initiating): DH-Commit, DH-Key,
    // Reveal-Signature, Signature, Data, the disconnect.
    let mut stale: Vec<String> = vec![];
    for alice_starts in [true, false] {
        let mut recorded = Pair::encrypted(Version::V3, alice_starts, 130);
        recorded.bob.session.send("stale", recorded.now).unwrap();
        recorded.drive();
        recorded.bob.session.end(recorded.now).unwrap();
        recorded.drive();
        stale.extend(
            recorded
                .wire
                .iter()
                .filter(|(from_alice, _)| !from_alice)
                .map(|(_, t)| t.clone()),
        );
    }
    for prefix in [
        "?OTR:AAMC",
        "?OTR:AAMK",
        "?OTR:AAMR",
        "?OTR:AAMS",
        "?OTR:AAMD",
    ] {
        assert!(stale.iter().any(|t| t.starts_with(prefix)), "{prefix}");
    }

    // (name, how to bring a fresh pair into the state, expected state of Alice)
    type Setup = fn(&mut Pair);
    let setups: [(&str, Setup, MessageState); 5] = [
        ("plaintext", |_| {}, MessageState::Plaintext),
        (
            "awaiting DH-Key",
            |p| {
                p.alice
                    .session
                    .handle_incoming("?OTRv3?", p.now, &mut p.alice.rng);
            },
            MessageState::Plaintext,
        ),
        (
            "awaiting reveal-signature",
            |p| {
                p.bob
                    .session
                    .handle_incoming("?OTRv3?", p.now, &mut p.bob.rng);
                let commit = p.bob.session.poll_transmit().unwrap();
                p.alice
                    .session
                    .handle_incoming(&commit, p.now, &mut p.alice.rng);
            },
            MessageState::Plaintext,
        ),
        (
            "encrypted",
            |p| {
                p.alice.session.start().unwrap();
                p.drive();
            },
            MessageState::Encrypted,
        ),
        (
            "finished",
            |p| {
                p.alice.session.start().unwrap();
                p.drive();
                p.bob.session.end(p.now).unwrap();
                p.drive();
            },
            MessageState::Finished,
        ),
    ];
    for (seed, (name, setup, state)) in setups.into_iter().enumerate() {
        let mut pair = Pair::new(
            config(Policy::ALWAYS),
            config(Policy::ALWAYS),
            140 + seed as u64,
        );
        setup(&mut pair);
        assert_eq!(pair.alice.session.state(), state, "{name}");
        pair.alice.events.clear();
        for text in &stale {
            pair.alice
                .session
                .handle_incoming(text, pair.now, &mut pair.alice.rng);
            assert_eq!(pair.alice.session.state(), state, "{name}: {text:.12}");
        }
        let events: Vec<Event> = std::iter::from_fn(|| pair.alice.session.poll_event()).collect();
        assert!(
            !events.iter().any(|e| matches!(
                e,
                Event::Received { .. } | Event::Encrypted { .. } | Event::Finished
            )),
            "{name}: {events:?}"
        );
        // Whatever the stale messages provoked is OTR, never user text.
        let mut replies = vec![];
        while let Some(t) = pair.alice.session.poll_transmit() {
            assert!(t.starts_with("?OTR"), "{name}: {t}");
            replies.push(t);
        }
        // The session still works with its real peer.
        if state == MessageState::Finished {
            pair.alice.session.end(pair.now).unwrap();
        }
        pair.alice.session.send("fresh", pair.now).unwrap();
        pair.drive();
        assert_eq!(
            pair.alice.session.state(),
            MessageState::Encrypted,
            "{name}"
        );
        assert!(
            Pair::received(&pair.bob).contains(&("fresh".to_owned(), true)),
            "{name}"
        );
    }
}

#[test]
fn tampering_with_fragments_and_mixed_versions() {
    let small = SessionConfig {
        policy: Policy::ALWAYS,
        max_message_size: 90,
    };
    let mut pair = Pair::new(small, small, 150);
    let mut chaos = Chaos(77);
    for round in 0..15 {
        pair.now += 6_000;
        let from = if round % 2 == 0 {
            &mut pair.alice
        } else {
            &mut pair.bob
        };
        let _ = from.session.send(&format!("fragmented {round}"), pair.now);
        pair.drive_with(|_, t| match chaos.next() % 40 {
            0 => vec![],
            1 => vec![flip_bit(&t, &mut chaos)],
            2 => vec![t.clone(), t],
            _ => vec![t],
        });
    }
    pair.drive();
    let shown = Pair::received(&pair.alice).len() + Pair::received(&pair.bob).len();
    assert!(shown >= 5, "only {shown} shown");
    for peer in [&pair.alice, &pair.bob] {
        for (text, encrypted) in Pair::received(peer) {
            assert!(text.starts_with("fragmented ") && encrypted, "{text}");
        }
    }
    assert!(pair
        .wire
        .iter()
        .all(|(_, t)| t.len() <= 90 && t.starts_with("?OTR")));
    // A v3 fragment carrying a v2 message is refused.
    let mut v2 = Pair::new(config(Policy::ALLOW_V2), config(Policy::ALLOW_V2), 151);
    v2.alice.session.start().unwrap();
    v2.bob.session.handle_incoming(
        &v2.alice.session.poll_transmit().unwrap(),
        0,
        &mut v2.bob.rng,
    );
    let commit = v2.bob.session.poll_transmit().unwrap();
    assert!(commit.starts_with("?OTR:AAIC"));
    let wrapped = format!("?OTR|{BOB_TAG:08x}|{ALICE_TAG:08x},1,1,{commit},");
    let mut alice = Session::new(keys().0.clone(), tag(ALICE_TAG), config(Policy::MANUAL));
    alice.handle_incoming(&wrapped, 0, &mut TestRng::new(1));
    assert_eq!(alice.poll_transmit(), None);
    assert!(matches!(alice.poll_event(), Some(Event::Error { .. })));
    // The same message as a v2 fragment is fine.
    alice.handle_incoming(&format!("?OTR,1,1,{commit},"), 0, &mut TestRng::new(1));
    assert!(alice.poll_transmit().unwrap().starts_with("?OTR:AAIK"));
}

#[test]
fn stale_ake_expires_after_a_minute() {
    use candado_otr::ake::AuthStateName;
    let mut pair = Pair::new(config(Policy::MANUAL), config(Policy::MANUAL), 160);
    assert_eq!(pair.alice.session.poll_timeout(), None);
    pair.alice.session.start().unwrap();
    let query = pair.alice.session.poll_transmit().unwrap();
    pair.bob
        .session
        .handle_incoming(&query, 1_000, &mut pair.bob.rng);
    let commit = pair.bob.session.poll_transmit().unwrap();
    assert_eq!(pair.bob.session.poll_timeout(), Some(61_000));
    pair.alice
        .session
        .handle_incoming(&commit, 2_000, &mut pair.alice.rng);
    let dh_key = pair.alice.session.poll_transmit().unwrap();
    assert_eq!(
        pair.alice.session.ake().state(),
        AuthStateName::AwaitingRevealSig
    );
    pair.alice.session.handle_timeout(61_999);
    assert_eq!(
        pair.alice.session.ake().state(),
        AuthStateName::AwaitingRevealSig
    );
    pair.alice.session.handle_timeout(62_000);
    assert_eq!(pair.alice.session.ake().state(), AuthStateName::None);
    assert_eq!(pair.alice.session.poll_timeout(), None);
    // Bob answers late: his Reveal-Signature is ignored, nothing is encrypted.
    pair.bob
        .session
        .handle_incoming(&dh_key, 63_000, &mut pair.bob.rng);
    let reveal = pair.bob.session.poll_transmit().unwrap();
    pair.alice
        .session
        .handle_incoming(&reveal, 63_000, &mut pair.alice.rng);
    assert_eq!(pair.alice.session.state(), MessageState::Plaintext);
    assert_eq!(pair.alice.session.poll_transmit(), None);
    // A fresh start works.
    pair.alice.session.start().unwrap();
    pair.drive();
    assert_eq!(pair.alice.session.state(), MessageState::Encrypted);
}
