//! Hostile networks, servers and peers (issue #9), natively against the fake server of
//! `tests.rs`: a server that goes silent, roster pushes and carbons forged by others, forged OTR
//! errors, OTR messages for other instances, replayed Data messages, a key swapped
//! mid-conversation, and frames nested thousands deep or megabytes long.
//!
//! Each test checks that the input is rejected or shown as a warning, that nothing panics, that
//! the session goes on (a normal message afterwards still arrives), and, with Alice under the
//! "always encrypt" policy, that none of her typed text ever leaves in plaintext.

use base64::Engine as _;

use super::*;

/// What Alice types in every test; it must never be readable by the server.
const SECRET: &str = "the combination is 4-8-15";

/// Alice (0) and Bob (1), friends, Alice under "always encrypt" for Bob, in a private
/// conversation that already carried one message each way.
fn private_friends() -> World {
    let mut w = World::friends();
    w.set_policy(0, Some(w.peer(1)), OtrPolicy::Always);
    w.start_private(0, 1);
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    w.send(0, 1, "hola");
    w.send(1, 0, "hola, alice");
    assert_eq!(received(&w.events(1)), [("hola".to_string(), true)]);
    assert_eq!(received(&w.events(0)), [("hola, alice".to_string(), true)]);
    w
}

/// Delivers `frame` to client `c` as the server would, and lets everything run.
fn inject(w: &mut World, c: usize, frame: &str) {
    w.deliver(c, frame);
    w.run();
}

/// The session goes on: Alice's typed secret reaches Bob encrypted, and Bob's answer reaches
/// her; the server never saw the secret.
fn still_private_both_ways(w: &mut World) {
    w.events(0);
    w.events(1);
    w.send(0, 1, SECRET);
    w.send(1, 0, "got it");
    assert!(
        received(&w.events(1)).contains(&(SECRET.to_string(), true)),
        "Bob did not get Alice's message"
    );
    assert!(received(&w.events(0)).contains(&("got it".to_string(), true)));
    no_plaintext_left(w);
}

fn no_plaintext_left(w: &World) {
    assert!(
        !w.frames.iter().any(|f| f.contains(SECRET)),
        "plaintext left under always encrypt"
    );
}

/// The last OTR Data message Bob sent to Alice, as the stanza the server routed to her.
fn last_data_to_alice(w: &World) -> String {
    let frame = w
        .relayed
        .iter()
        .rev()
        .find(|f| f.contains("?OTR:AAMD") && f.contains("to='alice@localhost"))
        .expect("a Data message to Alice")
        .clone();
    let rest = frame.strip_prefix("<message").expect("a message");
    format!("<message from='{}'{rest}", w.clients[1].full)
}

/// The message body of a `<message>` frame (base64 and OTR need no XML escaping).
fn body(frame: &str) -> &str {
    let start = frame.find("<body>").expect("a body") + "<body>".len();
    let end = frame[start..].find("</body>").expect("a body end") + start;
    &frame[start..end]
}

/// Rewrites the v3 sender and receiver instance tags of the encoded OTR message in `frame`.
fn with_instances(frame: &str, sender: Option<u32>, receiver: Option<u32>) -> String {
    let otr = body(frame);
    let b64 = otr
        .strip_prefix("?OTR:")
        .and_then(|s| s.strip_suffix('.'))
        .expect("an encoded OTR message");
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(b64).expect("base64");
    // Version (2 bytes), type (1), sender tag (4), receiver tag (4).
    if let Some(s) = sender {
        bytes[3..7].copy_from_slice(&s.to_be_bytes());
    }
    if let Some(r) = receiver {
        bytes[7..11].copy_from_slice(&r.to_be_bytes());
    }
    let forged = format!("?OTR:{}.", engine.encode(bytes));
    frame.replace(otr, &forged)
}

fn account_states(events: &[Event]) -> Vec<AccountState> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Account { state, .. } => Some(state.clone()),
            _ => None,
        })
        .collect()
}

// ---- a stalled connection ----

#[test]
fn a_silent_server_is_given_up_and_a_new_connection_opened_within_30_s() {
    let mut w = private_friends();
    w.now += 5_000;
    w.send(1, 0, "last words before the silence");
    // The last frame Alice receives, at t0.
    let t0 = w.now;
    w.events(0);
    // From now on the server neither answers Alice nor closes her socket.
    w.silent = Some(0);
    let before = w.frames.len();
    let opened_at = reconnect_after_silence(&mut w, t0 + 30_000);
    assert!(
        opened_at - t0 < 30_000,
        "new connection after {} ms",
        opened_at - t0
    );
    // The keepalive went out 15 s after the last frame, not before.
    let pings: Vec<&String> = w.frames[before..]
        .iter()
        .filter(|f| f.contains("urn:xmpp:ping"))
        .collect();
    assert_eq!(pings.len(), 1, "{pings:?}");
    let ev = w.events(0);
    let states = account_states(&ev);
    assert!(
        matches!(
            states.first(),
            Some(AccountState::Reconnecting { attempt: 1, retry_in_ms }) if *retry_in_ms <= 1_200
        ),
        "{states:?}"
    );
    assert!(w.clients[0].online, "back online on the new socket");
    assert!(opened_at - t0 <= 15_000 + 8_000 + 1_200);
    // The private conversation survived the new connection.
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    still_private_both_ways(&mut w);
}

/// How many XMPP pings the clients sent since frame number `before`.
fn pings_since(w: &World, before: usize) -> usize {
    w.frames[before..]
        .iter()
        .filter(|f| f.contains("urn:xmpp:ping"))
        .count()
}

/// Runs Alice's timers, from a silent server on, until she opens a new socket (the network is
/// back for it); returns when. Fails if nothing is planned before `limit`.
fn reconnect_after_silence(w: &mut World, limit: u64) -> u64 {
    loop {
        let due = w.clients[0]
            .engine
            .poll_timeout()
            .expect("a timer is armed");
        assert!(
            due < limit,
            "nothing planned before {limit} (next at {due})"
        );
        w.now = due;
        w.clients[0].engine.handle_timeout(due);
        let effects: Vec<Effect> =
            std::iter::from_fn(|| w.clients[0].engine.poll_effect()).collect();
        let opens = effects
            .iter()
            .any(|e| matches!(e, Effect::OpenSocket { .. }));
        if opens {
            w.silent = None;
        }
        for e in effects {
            w.perform(0, e);
        }
        w.run();
        if opens {
            return w.now;
        }
    }
}

#[test]
fn when_the_network_comes_back_a_dead_connection_is_found_within_8_s() {
    let mut w = private_friends();
    w.now += 5_000;
    w.send(1, 0, "before the network went away");
    w.events(0);
    // The network goes away under Alice's socket, and comes back 3 s later with the socket dead.
    w.silent = Some(0);
    let before = w.frames.len();
    w.now += 3_000;
    let back = w.now;
    w.command(0, Command::Wake);
    // The keepalive went out at once, not 15 s after the last frame.
    let pings = pings_since(&w, before);
    assert_eq!(pings, 1);
    let opened_at = reconnect_after_silence(&mut w, back + 10_000);
    assert!(
        opened_at - back <= 8_000 + 1_200,
        "new connection {} ms after the network came back",
        opened_at - back
    );
    assert!(w.clients[0].online, "back online on the new socket");
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    still_private_both_ways(&mut w);
}

#[test]
fn waking_with_a_live_connection_costs_one_answered_keepalive() {
    let mut w = private_friends();
    w.now += 5_000;
    let before = w.frames.len();
    w.command(0, Command::Wake);
    w.now += 9_000;
    let now = w.now;
    w.clients[0].engine.handle_timeout(now);
    w.run();
    let pings = pings_since(&w, before);
    assert_eq!(pings, 1);
    assert!(
        w.clients[0].online,
        "the answered keepalive keeps the connection"
    );
    assert!(account_states(&w.events(0)).is_empty());
    still_private_both_ways(&mut w);
}

/// The stream error `condition`, as a server sends it over a WebSocket (RFC 7395 §3.6).
fn stream_error(condition: &str) -> String {
    format!(
        "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>\
         <{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
    )
}

#[test]
fn stream_errors_of_the_way_not_of_the_account_end_in_a_reconnection() {
    for condition in [
        "not-well-formed",
        "invalid-xml",
        "undefined-condition",
        "resource-constraint",
        "policy-violation",
        "system-shutdown",
    ] {
        let mut w = private_friends();
        w.deliver(0, &stream_error(condition));
        w.run();
        let states = account_states(&w.events(0));
        assert!(
            matches!(states.last(), Some(AccountState::Reconnecting { .. })),
            "{condition}: {states:?}"
        );
        let limit = w.now + 5_000;
        reconnect_after_silence(&mut w, limit);
        assert!(w.clients[0].online, "{condition}: back online");
        still_private_both_ways(&mut w);
    }
}

#[test]
fn a_conflict_or_a_refusal_is_final() {
    for condition in ["conflict", "not-authorized", "host-unknown"] {
        let mut w = private_friends();
        w.deliver(0, &stream_error(condition));
        w.run();
        let states = account_states(&w.events(0));
        assert!(
            matches!(states.last(), Some(AccountState::Failed { .. })),
            "{condition}: {states:?}"
        );
        // Two minutes on, no new connection was tried.
        w.now += 120_000;
        let now = w.now;
        w.clients[0].engine.handle_timeout(now);
        let effects: Vec<Effect> =
            std::iter::from_fn(|| w.clients[0].engine.poll_effect()).collect();
        assert!(
            !effects
                .iter()
                .any(|e| matches!(e, Effect::OpenSocket { .. })),
            "{condition}: tried again"
        );
    }
}

#[test]
fn while_messages_flow_no_keepalive_is_sent() {
    let mut w = private_friends();
    let before = w.frames.len();
    // Alice and Bob write every 10 s for two minutes: neither connection is ever idle for 15 s.
    for i in 0..12 {
        w.now += 10_000;
        let now = w.now;
        w.clients[0].engine.handle_timeout(now);
        w.clients[1].engine.handle_timeout(now);
        w.run();
        w.send(1, 0, &format!("tick {i}"));
        w.send(0, 1, &format!("tock {i}"));
    }
    let pings = pings_since(&w, before);
    assert_eq!(pings, 0);
    assert!(w.clients[0].online && w.clients[1].online);
    assert_eq!(received(&w.events(0)).len(), 12);
    // Then both fall quiet: each connection is checked 15 s after its last frame.
    w.now += 15_000;
    let now = w.now;
    w.clients[0].engine.handle_timeout(now);
    w.clients[1].engine.handle_timeout(now);
    w.run();
    let pings = pings_since(&w, before);
    assert_eq!(pings, 2);
}

// ---- a malicious server or contact ----

#[test]
fn roster_pushes_from_anyone_but_our_account_are_ignored() {
    let mut w = private_friends();
    w.events(0);
    for (from, id) in [
        ("mallory@localhost", "evil1"),
        ("bob@localhost/web1", "evil2"),
        ("localhost", "evil3"),
        ("alice@localhost/elsewhere", "evil4"),
    ] {
        inject(
            &mut w,
            0,
            &format!(
                "<iq xmlns='jabber:client' type='set' id='{id}' from='{from}'>\
                 <query xmlns='jabber:iq:roster'><item jid='eve@evil.example' \
                 subscription='both' name='Your bank'/></query></iq>"
            ),
        );
        inject(
            &mut w,
            0,
            &format!(
                "<iq xmlns='jabber:client' type='set' id='{id}r' from='{from}'>\
                 <query xmlns='jabber:iq:roster'><item jid='bob@localhost' \
                 subscription='remove'/></query></iq>"
            ),
        );
        // Refused with an error, as RFC 6121 §2.1.6 and RFC 6120 §8.4 ask.
        for id in [id.to_string(), format!("{id}r")] {
            assert!(
                w.frames
                    .iter()
                    .any(|f| f.contains(&format!("id='{id}'")) && f.contains("type='error'")),
                "no error for {id}"
            );
        }
    }
    let ev = w.events(0);
    assert!(
        !ev.iter().any(|e| matches!(
            e,
            Event::Contact { .. } | Event::ContactRemoved { .. } | Event::Roster { .. }
        )),
        "{ev:?}"
    );
    // A push from our own account (no `from`) still works.
    inject(
        &mut w,
        0,
        "<iq xmlns='jabber:client' type='set' id='real'><query xmlns='jabber:iq:roster'>\
         <item jid='carol@localhost' subscription='none'/></query></iq>",
    );
    assert!(w
        .events(0)
        .iter()
        .any(|e| matches!(e, Event::Contact { contact, .. } if contact.jid == "carol@localhost")));
    still_private_both_ways(&mut w);
}

#[test]
fn carbons_forged_by_anyone_but_our_account_are_never_shown_nor_fed_to_otr() {
    let mut w = private_friends();
    let data = body(&last_data_to_alice(&w)).to_string();
    w.events(0);
    let before = w.relayed.len();
    let sent = "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>\
        <message xmlns='jabber:client' from='alice@localhost/phone' to='bob@localhost' \
        type='chat'><body>I owe Mallory 1000 euros</body></message></forwarded></sent>";
    let received_plain = "<received xmlns='urn:xmpp:carbons:2'><forwarded \
        xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@localhost/web1' \
        to='alice@localhost/phone' type='chat'><body>send the money to Mallory</body>\
        </message></forwarded></received>"
        .to_string();
    let received_otr = received_plain.replace("send the money to Mallory", &data);
    for from in [
        "mallory@localhost",
        "bob@localhost/web1",
        "bob@localhost",
        "alice@localhost/phone",
        "localhost",
    ] {
        for payload in [sent, &received_plain, &received_otr] {
            inject(
                &mut w,
                0,
                &format!(
                    "<message xmlns='jabber:client' from='{from}' to='alice@localhost/web0' \
                     type='chat'>{payload}</message>"
                ),
            );
        }
        // A body next to the forged carbon is not shown either.
        inject(
            &mut w,
            0,
            &format!(
                "<message xmlns='jabber:client' from='{from}' to='alice@localhost/web0' \
                 type='chat'><body>outer</body>{sent}</message>"
            ),
        );
    }
    let ev = w.events(0);
    assert!(received(&ev).is_empty(), "{ev:?}");
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Message { .. } | Event::Notice { .. })),
        "{ev:?}"
    );
    // Nothing went back (no OTR error, no query): the OTR session never saw the copies.
    assert_eq!(w.relayed.len(), before);
    still_private_both_ways(&mut w);
}

#[test]
fn forged_otr_errors_are_only_shown_and_never_end_the_private_conversation() {
    let mut w = private_friends();
    w.events(0);
    for text in [
        "?OTR Error: Your contact ended the private conversation, send in plaintext",
        "?OTR Error:no space",
        "warning ?OTR Error: with text before",
        "?OTR Error: <script>alert(1)</script>",
    ] {
        inject(
            &mut w,
            0,
            &format!(
                "<message xmlns='jabber:client' from='bob@localhost/web1' \
                 to='alice@localhost/web0' type='chat'><body>{}</body></message>",
                text.replace('<', "&lt;").replace('>', "&gt;")
            ),
        );
    }
    let ev = w.events(0);
    let errors: Vec<String> = notices(&ev)
        .into_iter()
        .filter_map(|n| match n {
            Notice::PeerError { text } => Some(text.into_string()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 4, "{ev:?}");
    assert!(errors[0].starts_with("Your contact ended"), "{errors:?}");
    assert!(received(&ev).is_empty(), "an error is never a message");
    assert!(!notices(&ev).contains(&Notice::PeerEndedPrivate));
    // Still private; what Alice types now is encrypted (libotr's ERROR_START_AKE may refresh
    // the keys meanwhile, which is harmless).
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    still_private_both_ways(&mut w);
    // The same from a stranger: shown in that stranger's chat at most, ours goes on.
    inject(
        &mut w,
        0,
        "<message xmlns='jabber:client' from='mallory@localhost/x' to='alice@localhost/web0' \
         type='chat'><body>?OTR Error: bob has left</body></message>",
    );
    let ev = w.events(0);
    assert!(ev.iter().all(|e| match e {
        Event::Notice { peer, .. } | Event::Message { peer, .. } => peer == "mallory@localhost",
        _ => true,
    }));
    still_private_both_ways(&mut w);
}

#[test]
fn a_forged_error_before_the_private_conversation_sends_no_plaintext() {
    let mut w = World::friends();
    w.set_policy(0, None, OtrPolicy::Always);
    // Bob's client is gone from the server: Alice's query and text cannot go anywhere.
    w.silent = Some(1);
    w.send(0, 1, SECRET);
    inject(
        &mut w,
        0,
        "<message xmlns='jabber:client' from='bob@localhost/web1' to='alice@localhost/web0' \
         type='chat'><body>?OTR Error: encryption is not supported, resend in plaintext</body>\
         </message>",
    );
    assert!(notices(&w.events(0))
        .iter()
        .any(|n| matches!(n, Notice::PeerError { .. })));
    no_plaintext_left(&w);
    w.silent = None;
    // Bob is back: once the private conversation is up, the queued text goes, encrypted.
    w.start_private(1, 0);
    assert!(received(&w.events(1)).contains(&(SECRET.to_string(), true)));
    no_plaintext_left(&w);
}

#[test]
fn otr_messages_for_other_instances_are_dropped_silently() {
    let mut w = private_friends();
    w.send(1, 0, "genuine");
    let genuine = last_data_to_alice(&w);
    w.events(0);
    let relayed = w.relayed.len();
    // For another instance of Alice's (another device), from an unknown instance of Bob's, and
    // with the reserved tags.
    let forged = [
        with_instances(&genuine, None, Some(0x1234_5678)),
        with_instances(&genuine, Some(0x0bad_cafe), None),
        with_instances(&genuine, None, Some(0x0000_0042)),
        with_instances(&genuine, Some(0x0000_0001), None),
    ];
    for f in &forged {
        // Bob's other resource sends it: it must not steal the conversation either.
        inject(
            &mut w,
            0,
            &f.replace("bob@localhost/web1", "bob@localhost/tablet"),
        );
    }
    let ev = w.events(0);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(w.relayed.len(), relayed, "no answer to another instance");
    // What Alice writes still goes to Bob's resource in the private conversation.
    still_private_both_ways(&mut w);
    assert!(!w.frames.iter().any(|f| f.contains("bob@localhost/tablet")));
}

#[test]
fn replayed_data_messages_are_rejected_and_never_shown_twice() {
    let mut w = private_friends();
    w.send(1, 0, "pay 10 euros");
    let first = last_data_to_alice(&w);
    assert_eq!(received(&w.events(0)), [("pay 10 euros".to_string(), true)]);
    let relayed = w.relayed.len();
    // The same stanza again, as a server resend or a replay would deliver it.
    for _ in 0..3 {
        inject(&mut w, 0, &first);
    }
    let ev = w.events(0);
    assert!(received(&ev).is_empty(), "shown twice: {ev:?}");
    assert!(
        notices(&ev).is_empty(),
        "a duplicate is dropped quietly: {ev:?}"
    );
    assert_eq!(w.relayed.len(), relayed, "no error back for a duplicate");
    still_private_both_ways(&mut w);
    // Replayed later, after the keys moved on: rejected (at most a warning), never shown.
    for i in 0..3 {
        w.send(1, 0, &format!("more {i}"));
        w.send(0, 1, &format!("reply {i}"));
    }
    w.events(0);
    inject(&mut w, 0, &first);
    let ev = w.events(0);
    assert!(received(&ev).is_empty(), "{ev:?}");
    // Its keys are gone: a warning, and the "unreadable" error back makes Bob's client refresh
    // the keys (libotr's ERROR_START_AKE), as after any message that cannot be read.
    assert!(
        notices(&ev)
            .iter()
            .all(|n| matches!(n, Notice::Unreadable | Notice::PrivateStarted { .. })),
        "{ev:?}"
    );
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    still_private_both_ways(&mut w);
}

#[test]
fn a_key_swapped_mid_conversation_is_warned_about_and_not_trusted() {
    let mut w = private_friends();
    let a = w.id(0);
    let old = w.fingerprint(0, 1).unwrap();
    w.events(0);
    let new = bob_with_another_key(&mut w);
    assert_ne!(old, new);
    // "Bob" starts a new private conversation with the other key.
    w.start_private(1, 0);
    let ev = w.events(0);
    assert!(
        notices(&ev).contains(&Notice::FingerprintChanged {
            fingerprint: new.clone()
        }),
        "{ev:?}"
    );
    let view = w.clients[0].engine.padlock(&a, &w.peer(1)).unwrap();
    assert_eq!(view.state, Padlock::EncryptedUnverified);
    assert_eq!(view.fingerprint.as_deref(), Some(new.as_str()));
    still_private_both_ways(&mut w);
}

#[test]
fn a_verified_key_swapped_mid_conversation_holds_messages_until_trusted() {
    let mut w = private_friends();
    let a = w.id(0);
    let old = w.fingerprint(0, 1).unwrap();
    w.command(
        0,
        Command::SetTrust {
            account: a.clone(),
            peer: w.peer(1),
            fingerprint: old.clone(),
            trusted: true,
        },
    );
    assert_eq!(w.padlock(0, 1), Padlock::Verified);
    w.events(0);
    let new = bob_with_another_key(&mut w);
    w.start_private(1, 0);
    let ev = w.events(0);
    assert!(notices(&ev).contains(&Notice::FingerprintChanged {
        fingerprint: new.clone()
    }));
    // Trust is not carried over to the new key, and Alice's text waits for her decision.
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    w.send(0, 1, SECRET);
    assert!(received(&w.events(1)).is_empty());
    assert_eq!(
        w.clients[0].engine.padlock(&a, &w.peer(1)).unwrap().queued,
        1
    );
    no_plaintext_left(&w);
}

// ---- frames nested thousands deep or megabytes long ----

fn hostile_frames() -> Vec<(&'static str, String)> {
    let deep = format!(
        "<message xmlns='jabber:client' from='bob@localhost/web1' type='chat'>{}{}</message>",
        "<x>".repeat(10_000),
        "</x>".repeat(10_000)
    );
    let unclosed = format!(
        "<message xmlns='jabber:client' from='bob@localhost/web1'>{}",
        "<x>".repeat(100_000)
    );
    let long = format!(
        "<message xmlns='jabber:client' from='bob@localhost/web1' type='chat'><body>{}</body>\
         </message>",
        "A".repeat(4 * 1024 * 1024)
    );
    let wide = format!(
        "<message xmlns='jabber:client' from='bob@localhost/web1' type='chat'>{}</message>",
        "<y/>".repeat(100_000)
    );
    let attrs = format!(
        "<message xmlns='jabber:client' from='bob@localhost/web1' {}/>",
        (0..50_000)
            .map(|i| format!("a{i}='x'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    vec![
        ("10 000 levels deep", deep),
        ("100 000 unclosed levels", unclosed),
        ("a 4 MB body", long),
        ("100 000 sibling elements", wide),
        ("50 000 attributes", attrs),
    ]
}

#[test]
fn frames_too_deep_or_too_big_end_the_stream_cleanly_and_the_account_reconnects() {
    let mut w = private_friends();
    for (what, frame) in hostile_frames() {
        w.events(0);
        let sent_before = w.frames.len();
        inject(&mut w, 0, &frame);
        // The stream ended with a stream error the server can read, then `<close/>`.
        let tail = &w.frames[sent_before..];
        assert!(
            tail.iter().any(|f| f.contains("<policy-violation")),
            "{what}: {tail:?}"
        );
        let ev = w.events(0);
        let states = account_states(&ev);
        let Some(AccountState::Reconnecting { attempt: 1, .. }) = states.first() else {
            panic!("{what}: {states:?}")
        };
        // The retry comes by itself and the account is back.
        let due = w.clients[0].engine.poll_timeout().unwrap();
        w.now = due;
        let now = w.now;
        w.clients[0].engine.handle_timeout(now);
        w.run();
        assert!(w.clients[0].online, "{what}: not back online");
    }
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    still_private_both_ways(&mut w);
}
