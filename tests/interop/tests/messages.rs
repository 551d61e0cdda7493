//! Data messages against libotr, v2 and v3, each side sending the DH-Commit:
//! 1000 alternating messages (a DH key rotation every turn) with every text checked,
//! and traffic forced through fragmentation at a small fragment size.
#![cfg(not(target_arch = "wasm32"))]

use std::time::Instant;

use candado_interop::{From, Pair};
use candado_otr::wire::message::Version;

/// A message text that differs for every index and exercises UTF-8.
fn text(from: &str, i: usize) -> String {
    format!("{from} #{i}: ¿qué tal? ✓ {}", "x".repeat(i % 17))
}

fn alternating(version: Version, we_query: bool) {
    const N: usize = 1000;
    let mut pair = Pair::established(version, 0, we_query, 21);
    pair.clear();
    let start = Instant::now();
    // Whoever queried also speaks first. (When libotr speaks first, our first act after
    // the AKE is to receive: a heartbeat sent right then would show up below as one
    // Data message too many.)
    let ours = |i: usize| i.is_multiple_of(2) == we_query;
    for i in 0..N {
        if ours(i) {
            pair.our_send(&text("candado", i));
        } else {
            pair.lib_send(&text("libotr", i));
        }
    }
    let elapsed = start.elapsed();
    eprintln!(
        "{version:?} we_query={we_query}: {N} alternating messages in {elapsed:?} ({:?} per message, both sides, debug build)",
        elapsed / N as u32
    );
    pair.assert_no_errors();
    let expected_lib: Vec<String> = (0..N)
        .filter(|&i| ours(i))
        .map(|i| text("candado", i))
        .collect();
    let expected_ours: Vec<String> = (0..N)
        .filter(|&i| !ours(i))
        .map(|i| text("libotr", i))
        .collect();
    assert_eq!(pair.lib_shown(), expected_lib);
    assert_eq!(pair.our_received(), expected_ours);

    // Key rotation every turn: each side's sender key id goes up by one with every
    // message it sends (after the first), and so does the recipient key id it names.
    for from in [From::Us, From::Lib] {
        let ids = pair.data_keyids(from);
        assert_eq!(ids.len(), N / 2, "{from:?}");
        for w in ids[1..].windows(2) {
            assert_eq!(w[1].0, w[0].0 + 1, "{from:?} sender key ids {w:?}");
            assert_eq!(w[1].1, w[0].1 + 1, "{from:?} recipient key ids {w:?}");
        }
    }
    let (state, _) = pair.lib_state();
    assert_eq!(state, 1);
}

#[test]
fn v3_alternating_1000_we_query() {
    alternating(Version::V3, true);
}

#[test]
fn v3_alternating_1000_libotr_queries() {
    alternating(Version::V3, false);
}

#[test]
fn v2_alternating_1000_we_query() {
    alternating(Version::V2, true);
}

#[test]
fn v2_alternating_1000_libotr_queries() {
    alternating(Version::V2, false);
}

/// Both sides fragment at `mms`: the AKE itself, long messages both ways, and SMP
/// (whose messages are the longest) all go through fragments.
fn fragmented(version: Version, we_query: bool, mms: usize) {
    let mut pair = Pair::established(version, mms, we_query, 31);
    let long = |from: &str, i: usize| format!("{from} {i} {}", "ñandú ".repeat(20 + 7 * i));
    for i in 0..6 {
        pair.our_send(&long("candado", i));
        pair.lib_send(&long("libotr", i));
    }
    pair.me
        .smp_start(Some("fragmented?"), b"yes", 0, &mut pair.rng)
        .expect("smp");
    pair.pump();
    pair.lib(&format!("respond {}", candado_interop::hex(b"yes")));
    pair.assert_no_errors();
    assert!(pair.lib_saw("smp success"), "{:?}", pair.lib_events);
    assert!(pair.events.contains(&candado_otr::Event::SmpSucceeded {
        authenticates_peer: true
    }));

    let expected_lib: Vec<String> = (0..6).map(|i| long("candado", i)).collect();
    let expected_ours: Vec<String> = (0..6).map(|i| long("libotr", i)).collect();
    assert_eq!(pair.lib_shown(), expected_lib);
    assert_eq!(pair.our_received(), expected_ours);

    let fragment_prefix = match version {
        Version::V3 => "?OTR|",
        Version::V2 => "?OTR,",
    };
    for from in [From::Us, From::Lib] {
        let sent: Vec<&String> = pair
            .wire
            .iter()
            .filter(|(f, _)| *f == from)
            .map(|(_, t)| t)
            .collect();
        let fragments = sent
            .iter()
            .filter(|t| t.starts_with(fragment_prefix))
            .count();
        // Every AKE and data message is longer than mms, so all but the query are fragments.
        assert!(fragments > 100, "{from:?} sent only {fragments} fragments");
        for t in &sent {
            if t.starts_with("?OTR:") || t.starts_with(fragment_prefix) {
                assert!(
                    t.len() <= mms,
                    "{from:?} sent {} > {mms} bytes: {t}",
                    t.len()
                );
                assert!(
                    !t.starts_with("?OTR:"),
                    "{from:?} sent an unfragmented message: {t}"
                );
            }
        }
    }
}

#[test]
fn v3_fragments_we_query() {
    fragmented(Version::V3, true, 60);
}

#[test]
fn v3_fragments_libotr_queries() {
    fragmented(Version::V3, false, 60);
}

#[test]
fn v2_fragments_we_query() {
    fragmented(Version::V2, true, 40);
}

#[test]
fn v2_fragments_libotr_queries() {
    fragmented(Version::V2, false, 40);
}
