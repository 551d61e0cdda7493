//! SMP abort, the disconnect TLV and the extra symmetric key against libotr, v2 and v3,
//! after each side sent the DH-Commit.
#![cfg(not(target_arch = "wasm32"))]

use candado_interop::{hex, From, Pair};
use candado_otr::smp::SmpStateName;
use candado_otr::wire::base64;
use candado_otr::wire::message::Version;
use candado_otr::{Event, MessageState};

fn abort(version: Version, we_query: bool) {
    let mut pair = Pair::established(version, 0, we_query, 51);

    // We ask; libotr aborts instead of answering.
    pair.clear();
    pair.me
        .smp_start(Some("q?"), b"s", 0, &mut pair.rng)
        .expect("smp");
    pair.pump();
    assert!(pair.lib_saw("smp ask_for_answer"), "{:?}", pair.lib_events);
    assert_eq!(pair.me.smp_state(), Some(SmpStateName::Expect2));
    pair.lib("abort");
    assert!(
        pair.events.contains(&Event::SmpAborted),
        "{:?}",
        pair.events
    );
    assert_eq!(pair.me.smp_state(), Some(SmpStateName::Expect1));
    assert_eq!(pair.lib_state().1, 0);

    // libotr asks; we abort instead of answering.
    pair.clear();
    pair.lib(&format!("smp {}", hex(b"s")));
    assert!(pair.events.contains(&Event::SmpAsked { question: None }));
    pair.me.smp_abort(0).expect("abort");
    pair.pump();
    assert!(pair.lib_saw("smp abort"), "{:?}", pair.lib_events);
    assert_eq!(pair.me.smp_state(), Some(SmpStateName::Expect1));
    assert_eq!(pair.lib_state().1, 0);

    // A later SMP works.
    pair.clear();
    pair.lib(&format!("smp {}", hex(b"again")));
    pair.me
        .smp_respond(b"again", 0, &mut pair.rng)
        .expect("respond");
    pair.pump();
    assert!(pair.events.contains(&Event::SmpSucceeded {
        authenticates_peer: true
    }));
    assert!(pair.lib_saw("smp success"), "{:?}", pair.lib_events);
    pair.assert_no_errors();
}

#[test]
fn v3_abort_we_query() {
    abort(Version::V3, true);
}

#[test]
fn v3_abort_libotr_queries() {
    abort(Version::V3, false);
}

#[test]
fn v2_abort_we_query() {
    abort(Version::V2, true);
}

#[test]
fn v2_abort_libotr_queries() {
    abort(Version::V2, false);
}

fn disconnect(version: Version, we_query: bool) {
    // libotr ends: we go FINISHED and refuse to send until we end too.
    let mut pair = Pair::established(version, 0, we_query, 61);
    pair.clear();
    pair.lib("disconnect");
    assert!(pair.events.contains(&Event::Finished), "{:?}", pair.events);
    assert_eq!(pair.me.state(), MessageState::Finished);
    assert_eq!(
        pair.lib_state().0,
        0,
        "libotr PLAINTEXT after disconnecting"
    );
    assert!(pair.me.send("must not leave", 0).is_err());
    assert!(pair.me.poll_transmit().is_none());
    pair.me.end(0).expect("end");
    assert_eq!(pair.me.state(), MessageState::Plaintext);
    assert!(
        pair.me.poll_transmit().is_none(),
        "nothing to send from FINISHED"
    );
    pair.assert_no_errors();

    // We end: libotr receives the disconnect TLV and goes FINISHED.
    let mut pair = Pair::established(version, 0, we_query, 62);
    pair.clear();
    pair.me.end(0).expect("end");
    pair.pump();
    assert_eq!(pair.me.state(), MessageState::Plaintext);
    assert!(pair.lib_saw("tlv 1"), "{:?}", pair.lib_events);
    // libotr reports an empty Data message as a heartbeat and does not call
    // gone_insecure here; its state says FINISHED.
    assert!(pair.lib_shown().is_empty(), "{:?}", pair.lib_shown());
    assert_eq!(pair.lib_state().0, 2, "libotr FINISHED");
    pair.clear();
    pair.lib_send("after the end");
    assert!(
        pair.lib_saw("msgevent connection_ended"),
        "{:?}",
        pair.lib_events
    );
    assert!(pair.events.is_empty(), "{:?}", pair.events);
    pair.assert_no_errors();
}

#[test]
fn v3_disconnect_we_query() {
    disconnect(Version::V3, true);
}

#[test]
fn v3_disconnect_libotr_queries() {
    disconnect(Version::V3, false);
}

#[test]
fn v2_disconnect_we_query() {
    disconnect(Version::V2, true);
}

#[test]
fn v2_disconnect_libotr_queries() {
    disconnect(Version::V2, false);
}

fn extra_key(version: Version, we_query: bool) {
    let mut pair = Pair::established(version, 0, we_query, 71);
    // A few messages first so the key pair in use is not the first one.
    pair.our_send("one");
    pair.lib_send("two");
    pair.our_send("three");

    // libotr asks to use the key.
    pair.clear();
    let reply = pair.lib(&format!("symkey 0x1234 {}", hex(b"use data")));
    let lib_key = reply
        .iter()
        .find_map(|l| l.strip_prefix("mysymkey "))
        .map(candado_interop::unhex)
        .expect("libotr returned the key");
    let ours = pair
        .events
        .iter()
        .find_map(|e| match e {
            Event::ExtraSymmetricKey {
                use_value,
                use_data,
                key,
            } => Some((*use_value, use_data.clone(), key.0.to_vec())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no extra key event: {:?}", pair.events));
    assert_eq!(ours, (0x1234, b"use data".to_vec(), lib_key));

    // We ask to use the key.
    pair.clear();
    let key = pair
        .me
        .use_extra_key(0xdead_beef, b"file.txt", 0)
        .expect("key");
    pair.pump();
    assert!(
        pair.lib_saw(&format!("symkey_use {}", 0xdead_beef_u32)),
        "{:?}",
        pair.lib_events
    );
    assert_eq!(pair.lib_value("symkey_data"), Some(b"file.txt".to_vec()));
    assert_eq!(pair.lib_value("symkey"), Some(key.0.to_vec()));
    assert!(pair.lib_shown().is_empty(), "{:?}", pair.lib_shown());
    pair.assert_no_errors();
}

#[test]
fn v3_extra_key_we_query() {
    extra_key(Version::V3, true);
}

#[test]
fn v3_extra_key_libotr_queries() {
    extra_key(Version::V3, false);
}

#[test]
fn v2_extra_key_we_query() {
    extra_key(Version::V2, true);
}

#[test]
fn v2_extra_key_libotr_queries() {
    extra_key(Version::V2, false);
}

/// Replays and tampering in both directions: the receiver rejects the message without
/// changing anything; OTR error messages go both ways and are reported.
fn replay(version: Version, we_query: bool) {
    let mut pair = Pair::established(version, 0, we_query, 72);
    pair.our_send("original from us");
    pair.lib_send("original from libotr");
    assert_eq!(pair.lib_shown(), ["original from us"]);
    assert_eq!(pair.our_received(), ["original from libotr"]);
    let last = |pair: &Pair, from: From| {
        pair.wire
            .iter()
            .rev()
            .find(|(f, t)| *f == from && t.starts_with("?OTR:"))
            .map(|(_, t)| t.clone())
            .expect("a data message")
    };

    // Our message again: libotr rejects it and sends an error we report.
    pair.clear();
    let ours = last(&pair, From::Us);
    let lines = pair.lib.cmd(&format!("recv {}", hex(ours.as_bytes())));
    assert!(
        lines.iter().any(|l| l == "msgevent rcvdmsg_unreadable"),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("shown ")), "{lines:?}");
    let error = lines
        .iter()
        .find_map(|l| l.strip_prefix("out "))
        .map(|h| String::from_utf8(candado_interop::unhex(h)).expect("utf8"))
        .expect("libotr answers with an error message");
    assert!(error.starts_with("?OTR Error:"), "{error}");
    pair.me.handle_incoming(&error, 0, &mut pair.rng);
    let events: Vec<Event> = std::iter::from_fn(|| pair.me.poll_event()).collect();
    assert_eq!(
        events,
        [Event::PeerError {
            text: "libotr error".into()
        }]
    );
    assert_eq!(pair.me.state(), MessageState::Encrypted);

    // libotr's message again: we reject it without answering (a deliberate difference
    // from libotr: duplicate delivery must not tear down the peer's session; see
    // otr-facts.md pitfall 14).
    let theirs = last(&pair, From::Lib);
    pair.me.handle_incoming(&theirs, 0, &mut pair.rng);
    let events: Vec<Event> = std::iter::from_fn(|| pair.me.poll_event()).collect();
    assert!(
        matches!(events.as_slice(), [Event::Error { .. }]),
        "{events:?}"
    );
    assert_eq!(pair.me.poll_transmit(), None);

    // A fresh libotr message with a flipped bit under the MAC: we reject it and send an
    // error message, which libotr reports.
    let lines = pair.lib.cmd(&format!("send {}", hex(b"tampered")));
    let fresh = lines
        .iter()
        .find_map(|l| l.strip_prefix("out "))
        .map(|h| String::from_utf8(candado_interop::unhex(h)).expect("utf8"))
        .expect("libotr's data message");
    let body = fresh
        .strip_prefix("?OTR:")
        .and_then(|b| b.strip_suffix('.'))
        .expect("?OTR:...");
    let mut bytes = base64::decode(body).expect("base64");
    bytes[30] ^= 0x01; // inside the next DH key: covered by the MAC
    let tampered = format!("?OTR:{}.", base64::encode(&bytes));
    pair.me.handle_incoming(&tampered, 0, &mut pair.rng);
    let events: Vec<Event> = std::iter::from_fn(|| pair.me.poll_event()).collect();
    assert!(
        matches!(events.as_slice(), [Event::Error { .. }]),
        "{events:?}"
    );
    let ours_error = pair.me.poll_transmit().expect("an error message");
    assert!(ours_error.starts_with("?OTR Error:"), "{ours_error}");
    let lines = pair
        .lib
        .cmd(&format!("recv {}", hex(ours_error.as_bytes())));
    assert!(
        lines.iter().any(|l| l == "msgevent rcvdmsg_general_err"),
        "libotr reports our error message: {lines:?}"
    );

    // Nothing changed: both still talk.
    pair.clear();
    pair.our_send("still fine");
    pair.lib_send("here too");
    assert_eq!(pair.lib_shown(), ["still fine"]);
    assert_eq!(pair.our_received(), ["here too"]);
    assert_eq!(pair.lib_state().0, 1);
}

#[test]
fn v3_replays_rejected_with_error_messages() {
    replay(Version::V3, true);
}

#[test]
fn v2_replays_rejected_with_error_messages() {
    replay(Version::V2, false);
}
