//! AKE against libotr, v2 and v3, each side sending the DH-Commit: both sides reach
//! ENCRYPTED and agree on the version, the fingerprints, the session id and its bold
//! half, and (v3) the instance tags.
#![cfg(not(target_arch = "wasm32"))]

use candado_interop::{hex, our_key, unhex, From, LibOtr, Pair, TestRng, OUR_TAG};
use candado_otr::ake::BoldHalf;
use candado_otr::wire::message::{InstanceTag, Version};
use candado_otr::{Event, MessageState, Policy, Router, Sent, Session, SessionConfig};

/// `we_query`: we send the query, so libotr sends the DH-Commit and Reveal-Signature
/// (it is the AKE initiator); otherwise libotr queries and we initiate the AKE.
fn ake(version: Version, we_query: bool) {
    let mut pair = Pair::established(version, 0, we_query, 11);
    pair.assert_no_errors();
    let v = version.wire_value();

    // Version and instance tags.
    assert_eq!(pair.me.version(), Some(version));
    let expected_tag = match version {
        Version::V3 => InstanceTag::new(pair.lib.instag).expect("libotr tag is valid"),
        Version::V2 => InstanceTag::UNKNOWN,
    };
    assert_eq!(pair.me.their_instance(), expected_tag);
    let ours = if version == Version::V3 { OUR_TAG } else { 0 };
    assert!(
        pair.lib_saw(&format!("secure v{v} {ours:08x}")),
        "{:?}",
        pair.lib_events
    );

    // Fingerprints, both ways.
    let their_fp = pair.me.their_fingerprint().expect("their fingerprint");
    assert_eq!(their_fp.0, pair.lib_fp);
    let our_fp = our_key().public_key().fingerprint().0;
    assert_eq!(pair.lib_value("theirfp"), Some(our_fp.to_vec()));

    // Session id and the bold half: whoever sent Reveal-Signature shows the first half.
    let ssid = pair.me.ssid().expect("ssid");
    assert_eq!(pair.lib_value("ssid"), Some(ssid.bytes.to_vec()));
    let (ours_bold, libs_bold) = if we_query {
        (BoldHalf::Second, "bold 0")
    } else {
        (BoldHalf::First, "bold 1")
    };
    assert_eq!(ssid.bold, ours_bold);
    assert!(pair.lib_saw(libs_bold), "{:?}", pair.lib_events);

    // The Encrypted event carries the same values.
    assert!(pair.events.iter().any(|e| matches!(
        e,
        Event::Encrypted { version: ev, ssid: s, their_fingerprint, refreshed: false }
            if *ev == version && *s == ssid && their_fingerprint.0 == pair.lib_fp
    )));

    // The AKE messages really were of the expected version and direction.
    let (commit_from, prefix) = match version {
        Version::V3 => ("?OTR:AAMC", "?OTR:AAM"),
        Version::V2 => ("?OTR:AAIC", "?OTR:AAI"),
    };
    let committer = if we_query { From::Lib } else { From::Us };
    assert!(pair
        .wire
        .iter()
        .any(|(f, t)| *f == committer && t.starts_with(commit_from)));
    assert!(pair
        .wire
        .iter()
        .filter(|(_, t)| t.starts_with("?OTR:"))
        .all(|(_, t)| t.starts_with(prefix)));
    let (lib_state, _) = pair.lib_state();
    assert_eq!(lib_state, 1, "libotr is ENCRYPTED");
}

#[test]
fn v3_we_query_libotr_commits() {
    ake(Version::V3, true);
}

#[test]
fn v3_libotr_queries_we_commit() {
    ake(Version::V3, false);
}

#[test]
fn v2_we_query_libotr_commits() {
    ake(Version::V2, true);
}

#[test]
fn v2_libotr_queries_we_commit() {
    ake(Version::V2, false);
}

/// Under REQUIRE_ENCRYPTION through the [`Router`]: the text waits for the AKE and is
/// delivered encrypted; nothing leaves as plaintext; libotr's reply is routed to the
/// instance that answered.
#[test]
fn router_require_encryption_queues_until_encrypted() {
    let (mut lib, _fp) = LibOtr::with_key(Version::V3, 0);
    let mut router = Router::new(
        our_key(),
        InstanceTag::new(OUR_TAG).expect("tag"),
        SessionConfig {
            policy: Policy::ALWAYS,
            max_message_size: 0,
        },
    );
    let mut rng = TestRng::new(3);
    assert_eq!(router.send("queued hello", 0), Ok(Sent::Queued));
    let mut shown = Vec::new();
    for _ in 0..20 {
        let mut outs = Vec::new();
        while let Some(t) = router.poll_transmit() {
            assert!(t.starts_with("?OTR"), "plaintext left: {t}");
            outs.push(t);
        }
        if outs.is_empty() {
            break;
        }
        for t in outs {
            for l in lib.cmd(&format!("recv {}", hex(t.as_bytes()))) {
                if let Some(h) = l.strip_prefix("out ") {
                    let text = String::from_utf8(unhex(h)).expect("utf8");
                    router.handle_incoming(&text, 0, &mut rng);
                }
                if let Some(h) = l.strip_prefix("shown ") {
                    shown.push(String::from_utf8(unhex(h)).expect("utf8"));
                }
            }
        }
    }
    assert_eq!(shown, ["queued hello"]);
    let instances = router.instances();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].value(), lib.instag);
    let session = router.session_mut(instances[0]).expect("session");
    assert_eq!(session.state(), MessageState::Encrypted);
    for l in lib.cmd(&format!("send {}", hex(b"back"))) {
        if let Some(h) = l.strip_prefix("out ") {
            let text = String::from_utf8(unhex(h)).expect("utf8");
            assert_eq!(
                router.handle_incoming(&text, 0, &mut rng),
                Some(instances[0])
            );
        }
    }
    let events: Vec<_> = std::iter::from_fn(|| router.poll_event()).collect();
    assert!(
        events.iter().any(|(t, e)| *t == instances[0]
            && *e
                == Event::Received {
                    text: "back".into(),
                    encrypted: true
                }),
        "{events:?}"
    );
}

/// Whitespace tags under the OPPORTUNISTIC policy, each side tagging: the tag is
/// stripped from the shown text and the receiver starts the AKE.
fn whitespace_tag(we_tag: bool) {
    let mut pair = Pair::new(Version::V3, 0, 13);
    pair.lib.cmd("policy 0x76"); // OTRL_POLICY_OPPORTUNISTIC
    pair.me = Session::new(
        our_key(),
        InstanceTag::new(OUR_TAG).expect("tag"),
        SessionConfig {
            policy: Policy::OPPORTUNISTIC,
            max_message_size: 0,
        },
    );
    if we_tag {
        assert_eq!(pair.me.send("hola", 0), Ok(Sent::Plaintext));
        let tagged = pair.me.poll_transmit().expect("tagged text");
        assert!(
            tagged.starts_with("hola \t  \t\t\t\t \t \t \t  "),
            "{tagged:?}"
        );
        pair.wire.push((From::Us, tagged.clone()));
        let lines = pair.lib.cmd(&format!("recv {}", hex(tagged.as_bytes())));
        // Feed libotr's answer (its DH-Commit) back and finish the AKE.
        pair.lib_events.clear();
        for l in lines {
            if let Some(h) = l.strip_prefix("out ") {
                let text = String::from_utf8(unhex(h)).expect("utf8");
                pair.wire.push((From::Lib, text.clone()));
                pair.me.handle_incoming(&text, 0, &mut pair.rng);
            } else {
                pair.lib_events.push(l);
            }
        }
        assert_eq!(pair.lib_shown(), ["hola"], "tag stripped by libotr");
        pair.pump();
    } else {
        pair.lib_send("hola");
        let tagged = &pair.wire[0].1;
        assert!(
            tagged.starts_with("hola \t  \t\t\t\t \t \t \t  "),
            "{tagged:?}"
        );
        assert!(pair.events.contains(&Event::Received {
            text: "hola".into(),
            encrypted: false
        }));
    }
    assert_eq!(
        pair.me.state(),
        MessageState::Encrypted,
        "{:?}",
        pair.lib.log
    );
    assert!(
        pair.lib_saw(&format!("secure v3 {OUR_TAG:08x}")),
        "{:?}",
        pair.lib_events
    );
    pair.assert_no_errors();
    assert_eq!(pair.lib_state().0, 1);
}

#[test]
fn v3_whitespace_tag_from_us_starts_libotrs_ake() {
    whitespace_tag(true);
}

#[test]
fn v3_whitespace_tag_from_libotr_starts_our_ake() {
    whitespace_tag(false);
}
