//! SMP against libotr, v2 and v3, after each side sent the DH-Commit: with a question
//! and with a shared secret only, correct and wrong answers, started from each side.
#![cfg(not(target_arch = "wasm32"))]

use std::time::Instant;

use candado_interop::{hex, Pair};
use candado_otr::smp::SmpStateName;
use candado_otr::wire::message::Version;
use candado_otr::Event;

#[derive(Clone, Copy, Debug)]
enum Starter {
    Us,
    Lib,
}

/// One SMP run: `starter` asks (with `question` or not) for `secret`; the other side
/// answers `answer`.
fn smp(pair: &mut Pair, starter: Starter, question: Option<&str>, secret: &[u8], answer: &[u8]) {
    pair.clear();
    let correct = secret == answer;
    match starter {
        Starter::Us => {
            pair.me
                .smp_start(question, secret, 0, &mut pair.rng)
                .expect("smp_start");
            pair.pump();
            match question {
                Some(q) => {
                    assert!(pair.lib_saw("smp ask_for_answer"), "{:?}", pair.lib_events);
                    assert!(pair.lib_saw(&format!("smpq {}", hex(q.as_bytes()))));
                }
                None => assert!(pair.lib_saw("smp ask_for_secret"), "{:?}", pair.lib_events),
            }
            assert_eq!(pair.me.smp_state(), Some(SmpStateName::Expect2));
            pair.lib(&format!("respond {}", hex(answer)));
        }
        Starter::Lib => {
            match question {
                Some(q) => pair.lib(&format!("smpq {} {}", hex(q.as_bytes()), hex(secret))),
                None => pair.lib(&format!("smp {}", hex(secret))),
            };
            assert!(
                pair.events.contains(&Event::SmpAsked {
                    question: question.map(str::to_owned)
                }),
                "{:?}",
                pair.events
            );
            pair.me
                .smp_respond(answer, 0, &mut pair.rng)
                .expect("smp_respond");
            pair.pump();
        }
    }
    pair.assert_no_errors();

    // Our outcome. libotr's trust rule: answering a question proves nothing to the
    // side that answered.
    let we_answered_question = matches!(starter, Starter::Lib) && question.is_some();
    let ours = if correct {
        Event::SmpSucceeded {
            authenticates_peer: !we_answered_question,
        }
    } else {
        Event::SmpFailed
    };
    assert!(
        pair.events.contains(&ours),
        "{starter:?} {question:?}: {:?}",
        pair.events
    );
    assert_eq!(pair.me.smp_state(), Some(SmpStateName::Expect1));

    // libotr's outcome and trust.
    let lib_result = if correct {
        "smp success"
    } else {
        "smp failure"
    };
    assert!(pair.lib_saw(lib_result), "{:?}", pair.lib_events);
    let lib_answered_question = matches!(starter, Starter::Us) && question.is_some();
    if !lib_answered_question {
        let trust = if correct { "trust smp" } else { "trust -" };
        assert!(pair.lib_saw(trust), "{:?}", pair.lib_events);
    }
    let (_, lib_smp) = pair.lib_state();
    assert_eq!(lib_smp, 0, "libotr back to EXPECT1");
}

fn all_smp(version: Version, we_query: bool) {
    let mut pair = Pair::established(version, 0, we_query, 41);
    let start = Instant::now();
    let mut runs = 0u32;
    for starter in [Starter::Us, Starter::Lib] {
        for question in [Some("¿Color favorito?"), None] {
            smp(&mut pair, starter, question, b"azul", b"azul");
            smp(&mut pair, starter, question, b"azul", b"rojo");
            runs += 2;
        }
    }
    eprintln!(
        "{version:?} we_query={we_query}: {runs} SMP runs in {:?} ({:?} each, both sides, debug build)",
        start.elapsed(),
        start.elapsed() / runs
    );
    // The session is still fine afterwards.
    pair.clear();
    pair.our_send("after smp");
    pair.lib_send("after smp too");
    assert_eq!(pair.lib_shown(), ["after smp"]);
    assert_eq!(pair.our_received(), ["after smp too"]);
}

#[test]
fn v3_smp_we_query() {
    all_smp(Version::V3, true);
}

#[test]
fn v3_smp_libotr_queries() {
    all_smp(Version::V3, false);
}

#[test]
fn v2_smp_we_query() {
    all_smp(Version::V2, true);
}

#[test]
fn v2_smp_libotr_queries() {
    all_smp(Version::V2, false);
}
