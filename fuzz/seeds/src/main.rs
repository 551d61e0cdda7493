//! Writes valid starting inputs for every fuzz target into `fuzz/corpus/<target>/`, named
//! `seed-<target>-<n>`. Run from `fuzz/seeds` with `cargo run`; then fuzz and minimise
//! (see `fuzz/README.md`).
//!
//! The OTR inputs come from real sessions built exactly as `candado_otr::fuzzing` builds
//! its own (same deterministic generator, seeds, keys, instance tags and call order), so
//! the messages in them are valid for the fuzzed sessions: a Data message decrypts, an
//! SMP2 verifies. The XMPP inputs answer the requests each stage has outstanding (their
//! ids are deterministic). The vault inputs come from the vault's own encoders.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candado_otr::crypto::dsa::{DsaPrivateKey, Fingerprint};
use candado_otr::fragment::fragment;
use candado_otr::session::{Event, Policy, Session, SessionConfig};
use candado_otr::smp::Smp;
use candado_otr::tlv::Tlv;
use candado_otr::wire::base64;
use candado_otr::wire::message::{Header, InstanceTag};
use candado_xmpp::framing::{parse_frame, Limits};
use candado_xmpp::fuzzing::{input, session_at, Stage, JID, OPEN, RESOURCE, SM_ID, STAGES};

/// The generator `candado_otr::fuzzing` uses, so the sessions here match the fuzzed ones.
use candado_otr::fuzzing::TestRng as FuzzRng;

const ALICE: u32 = 0x0000_a11c;
const BOB: u32 = 0xb0b0_0001;

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    fn write(&self, target: &str, inputs: &[Vec<u8>]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap();
        for (i, input) in inputs.iter().enumerate() {
            fs::write(dir.join(format!("seed-{target}-{i:02}")), input).unwrap();
        }
        println!("{target}: {} seeds", inputs.len());
    }
}

/// What Alice sends in an established session like `fuzzing::established_session`'s
/// (`v2`: its odd-first-byte policy), and every message of the AKE.
struct OtrTranscript {
    ake: Vec<String>,
    data: Vec<String>,
    smp: String,
    end: String,
    v2: bool,
}

fn otr_transcript(keys: &(Arc<DsaPrivateKey>, Arc<DsaPrivateKey>), v2: bool) -> OtrTranscript {
    let policy = if v2 {
        Policy::ALLOW_V2 | Policy::REQUIRE_ENCRYPTION
    } else {
        Policy::ALWAYS
    };
    let cfg = SessionConfig {
        policy,
        max_message_size: 0,
    };
    let mut alice = Session::new(keys.0.clone(), InstanceTag::new(ALICE).unwrap(), cfg);
    let mut bob = Session::new(keys.1.clone(), InstanceTag::new(BOB).unwrap(), cfg);
    let (mut ra, mut rb) = (FuzzRng::new(3), FuzzRng::new(4));
    alice.start().unwrap();
    // The same pump, but recording what goes over the wire.
    let mut ake = Vec::new();
    for _ in 0..10 {
        let mut moved = false;
        while let Some(t) = alice.poll_transmit() {
            moved = true;
            ake.push(t.clone());
            bob.handle_incoming(&t, 0, &mut rb);
        }
        while let Some(t) = bob.poll_transmit() {
            moved = true;
            ake.push(t.clone());
            alice.handle_incoming(&t, 0, &mut ra);
        }
        while alice.poll_event().is_some() {}
        while bob.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    assert_eq!(alice.state(), candado_otr::MessageState::Encrypted);
    let sent = |alice: &mut Session| {
        let out: Vec<String> = std::iter::from_fn(|| alice.poll_transmit()).collect();
        assert_eq!(out.len(), 1, "{out:?}");
        out.into_iter().next().unwrap()
    };
    let mut data = Vec::new();
    for text in ["hello", "second message, with more words in it", ""] {
        alice.send(text, 1).unwrap();
        data.push(sent(&mut alice));
    }
    alice
        .smp_start(Some("where did we meet?"), b"the library", 1, &mut ra)
        .unwrap();
    let smp = sent(&mut alice);
    alice.end(1).unwrap();
    let end = sent(&mut alice);
    // Check the first message really is accepted by a fresh copy of the fuzzed Bob: the
    // sessions here must be the fuzzed ones.
    bob.handle_incoming(&data[0], 0, &mut rb);
    let got: Vec<Event> = std::iter::from_fn(|| bob.poll_event()).collect();
    assert!(
        got.iter()
            .any(|e| matches!(e, Event::Received { text, encrypted: true } if text == "hello")),
        "{got:?}"
    );
    OtrTranscript {
        ake,
        data,
        smp,
        end,
        v2,
    }
}

fn lines(first: Option<u8>, parts: &[&str]) -> Vec<u8> {
    let mut out: Vec<u8> = first.into_iter().collect();
    out.extend_from_slice(parts.join("\n").as_bytes());
    out
}

fn otr(corpus: &Corpus) {
    let keys = (
        Arc::new(DsaPrivateKey::generate(&mut FuzzRng::new(1))),
        Arc::new(DsaPrivateKey::generate(&mut FuzzRng::new(2))),
    );
    let v3 = otr_transcript(&keys, false);
    let v2 = otr_transcript(&keys, true);

    // otr_wire: every message as text and as the binary inside `?OTR:...`.
    let mut wire: Vec<Vec<u8>> = Vec::new();
    for t in [&v3, &v2] {
        for text in t.ake.iter().chain(&t.data).chain([&t.smp, &t.end]) {
            wire.push(text.as_bytes().to_vec());
            // The query that starts the AKE is not an encoded message.
            if let Some(inner) = text.strip_prefix("?OTR:").and_then(|s| s.strip_suffix('.')) {
                wire.push(base64::decode(inner).unwrap());
            }
        }
    }
    for text in [
        "?OTRv23?",
        "?OTR?v2?",
        "?OTR Error: something broke",
        "hello \x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20\x20\x20\x09\x09\x20\x20\x09\x09",
        "?OTR:===.",
        "?OTR:.",
        "?OTR:AAMC",
        "?OTR|0000a11c|00000100,00001,00002,?OTR:AAMD,",
        "?OTR,00001,00001,?OTR:AAID.,",
    ] {
        wire.push(text.as_bytes().to_vec());
    }
    // Chained TLVs (the third decoding `decode_wire` tries).
    let tlvs = [
        Tlv {
            tlv_type: 0,
            value: vec![0; 4],
        },
        Tlv {
            tlv_type: 1,
            value: vec![],
        },
        Tlv {
            tlv_type: 8,
            value: vec![0, 0, 0, 1, 0xaa],
        },
    ];
    let mut plaintext = b"hi\0".to_vec();
    for t in &tlvs {
        plaintext.extend_from_slice(&t.tlv_type.to_be_bytes());
        plaintext.extend_from_slice(&(t.value.len() as u16).to_be_bytes());
        plaintext.extend_from_slice(&t.value);
    }
    wire.push(plaintext);
    corpus.write("otr_wire", &wire);

    // otr_fragments: long messages cut into v3 and v2 fragments, one per line, addressed
    // to the reassembler's instance 0x100.
    let ours = InstanceTag::new(0x100).unwrap();
    // The longest AKE message (Reveal Signature).
    let long = v3.ake.iter().max_by_key(|m| m.len()).unwrap();
    let mut fragments = Vec::new();
    for (header, size) in [
        (
            Header::V3 {
                sender: InstanceTag::new(ALICE).unwrap(),
                receiver: ours,
            },
            200,
        ),
        (
            Header::V3 {
                sender: InstanceTag::new(ALICE).unwrap(),
                receiver: InstanceTag::UNKNOWN,
            },
            400,
        ),
        (Header::V2, 300),
    ] {
        let pieces = fragment(long, &header, size).unwrap();
        assert!(pieces.len() > 1);
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        fragments.push(lines(None, &refs));
        // Out of order and duplicated, to start from the error paths too.
        let mut shuffled = refs.clone();
        shuffled.swap(0, 1);
        shuffled.push(refs[0]);
        fragments.push(lines(None, &shuffled));
    }
    fragments.push(b"?OTR,1,2,ab,\n?OTR,2,2,cd,".to_vec());
    fragments.push(b"?OTR,00001,00002,ab,\n?OTR,00002,00002,cd,".to_vec());
    corpus.write("otr_fragments", &fragments);

    // otr_session: first byte even for the v3 session, odd for v2; then Alice's messages.
    let mut session = Vec::new();
    for t in [&v3, &v2] {
        let first = Some(u8::from(t.v2));
        session.push(lines(first, &[&t.data[0]]));
        session.push(lines(first, &[&t.data[0], &t.data[1], &t.data[2]]));
        session.push(lines(first, &[&t.smp]));
        session.push(lines(first, &[&t.data[1], &t.end]));
        // A fresh AKE from the start while encrypted.
        let refs: Vec<&str> = t.ake.iter().map(String::as_str).collect();
        session.push(lines(first, &refs));
        let header = if t.v2 {
            Header::V2
        } else {
            Header::V3 {
                sender: InstanceTag::new(ALICE).unwrap(),
                receiver: InstanceTag::new(BOB).unwrap(),
            }
        };
        let pieces = fragment(&t.data[1], &header, 100).unwrap();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        session.push(lines(first, &refs));
    }
    session.push(lines(
        Some(0),
        &[
            "?OTRv3?",
            "?OTR Error: x",
            "plain text",
            "?OTR:AAMDAAAAAAAAAAAA.",
        ],
    ));
    corpus.write("otr_session", &session);

    // otr_smp: the TLVs of a real exchange, set up exactly as `fuzzing::smp_tlvs` sets up
    // its machines, so the SMP2 verifies at its initiator and the SMP3 at its responder.
    let fa = Fingerprint([0xaa; 20]);
    let fb = Fingerprint([0xbb; 20]);
    let ssid = [7u8; 8];
    let mut rng = FuzzRng::new(5);
    let mut alice = Smp::new(fa, fb, ssid);
    let smp1 = alice.initiate(Some("q"), b"secret", &mut rng).unwrap();
    let mut asked = Smp::new(fb, fa, ssid);
    let _ = asked.handle_tlv(&smp1, &mut rng);
    let mut answered = Smp::new(fb, fa, ssid);
    let _ = answered.handle_tlv(&smp1, &mut rng);
    let smp2 = answered.respond(b"secret", &mut rng).unwrap();
    let smp3 = alice.handle_tlv(&smp2, &mut rng).reply.unwrap();
    let smp4 = answered.handle_tlv(&smp3, &mut rng).reply.unwrap();
    let plain_smp1 = {
        let mut a = Smp::new(fa, fb, ssid);
        a.initiate(None, b"secret", &mut FuzzRng::new(9)).unwrap()
    };
    let abort = Tlv {
        tlv_type: 6,
        value: vec![],
    };
    let encode = |tlvs: &[&Tlv]| {
        let mut out = Vec::new();
        for t in tlvs {
            out.extend_from_slice(&t.tlv_type.to_be_bytes());
            out.extend_from_slice(&(t.value.len() as u16).to_be_bytes());
            out.extend_from_slice(&t.value);
        }
        out
    };
    let smp = vec![
        encode(&[&smp1]),
        encode(&[&plain_smp1]),
        encode(&[&smp2]),
        encode(&[&smp3]),
        encode(&[&smp4]),
        encode(&[&smp2, &smp3]),
        encode(&[&abort, &smp1]),
    ];
    corpus.write("otr_smp", &smp);
}

/// The `id` of the first frame `stage` sent that contains `marker`.
fn id_at(stage: Stage, marker: &str) -> String {
    let s = session_at(stage).unwrap();
    let frame = s.sent.iter().rev().find(|f| f.contains(marker)).unwrap();
    let el = parse_frame(frame, &Limits::default()).unwrap();
    el.attr("id").unwrap().to_owned()
}

fn xmpp(corpus: &Corpus) {
    let features_plain = "<stream:features xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams'><mechanisms \
        xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>\
        </stream:features>";
    let features_bind = "<stream:features xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams'><bind \
        xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><ver \
        xmlns='urn:xmpp:features:rosterver'/></stream:features>";
    let success = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
    let bind_id = id_at(Stage::Binding, "xmpp-bind");
    let bind_result = format!(
        "<iq xmlns='jabber:client' type='result' id='{bind_id}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>{JID}/{RESOURCE}</jid></bind></iq>"
    );
    let roster_id = id_at(Stage::Online, "jabber:iq:roster");
    let ping_id = id_at(Stage::Online, "urn:xmpp:ping");
    let message_id = id_at(Stage::Online, "<message");
    let session_id = id_at(Stage::EstablishingSession, "xmpp-session");
    let form_id = id_at(Stage::RegistrationForm, "jabber:iq:register");
    let submit_id = id_at(Stage::RegistrationSubmitted, "jabber:iq:register");

    let roster_result = format!(
        "<iq xmlns='jabber:client' type='result' id='{roster_id}'><query \
         xmlns='jabber:iq:roster' ver='v1'><item jid='romeo@example.net' name='Romeo' \
         subscription='both'><group>Friends</group></item><item jid='nurse@example.com' \
         subscription='from' ask='subscribe'/></query></iq>"
    );
    let ping_result = format!("<iq xmlns='jabber:client' type='result' id='{ping_id}'/>");
    let message_error = format!(
        "<message xmlns='jabber:client' type='error' id='{message_id}' \
         from='romeo@example.net'><error type='cancel'><service-unavailable \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    );
    let chat = "<message xmlns='jabber:client' type='chat' id='m1' \
        from='romeo@example.net/orchard' to='juliet@example.com/balcony'>\
        <body>?OTRv3?</body><thread>t1</thread><delay xmlns='urn:xmpp:delay' \
        stamp='2002-09-10T23:08:25Z'/></message>";
    let presence = "<presence xmlns='jabber:client' from='romeo@example.net/orchard'>\
        <show>away</show><status>in the orchard</status><priority>5</priority></presence>";
    let subscribe = "<presence xmlns='jabber:client' type='subscribe' from='nurse@example.com'/>";
    let roster_push = "<iq xmlns='jabber:client' type='set' id='push1'><query \
        xmlns='jabber:iq:roster'><item jid='benvolio@example.net' subscription='none'/>\
        </query></iq>";
    let server_ping = "<iq xmlns='jabber:client' type='get' id='s1' from='example.com'>\
        <ping xmlns='urn:xmpp:ping'/></iq>";
    let unknown_iq = "<iq xmlns='jabber:client' type='get' id='s2' from='romeo@example.net'>\
        <query xmlns='http://jabber.org/protocol/disco#info'/></iq>";
    let stream_error = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>\
        <conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text \
        xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced</text></stream:error>";
    let close = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' \
        see-other-uri='wss://other.example.com/ws'/>";

    let register_form = format!(
        "<iq xmlns='jabber:client' type='result' id='{form_id}' from='example.com'>\
         <query xmlns='jabber:iq:register'><instructions>Fill in</instructions><username/>\
         <password/><x xmlns='jabber:x:data' type='form'><title>New account</title>\
         <field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>\
         <field var='username' type='text-single'><required/></field>\
         <field var='password' type='text-private'><required/></field>\
         <field var='ocr' type='text-single' label='Enter the text'><media \
         xmlns='urn:xmpp:media-element' height='80' width='290'><uri \
         type='image/png'>cid:sha1+f24030b8d91d233bac14777be5ab531ca3b9f102@bob.xmpp.org\
         </uri></media><required/></field></x></query><data xmlns='urn:xmpp:bob' \
         cid='sha1+f24030b8d91d233bac14777be5ab531ca3b9f102@bob.xmpp.org' \
         type='image/png'>iVBORw0KGgo=</data></iq>"
    );
    let registered = format!("<iq xmlns='jabber:client' type='result' id='{submit_id}'/>");
    let conflict = format!(
        "<iq xmlns='jabber:client' type='error' id='{submit_id}'><error type='cancel'>\
         <conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    let session_result = format!("<iq xmlns='jabber:client' type='result' id='{session_id}'/>");
    let sasl = |name: &str, text: &str| {
        format!("<{name} xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{text}</{name}>")
    };
    let b64 = |s: &str| base64::encode(s.as_bytes());
    let scram_first = sasl(
        "challenge",
        &b64("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"),
    );
    let scram_final = sasl("success", &b64("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
    let failure = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>\
        <text>Wrong password</text></failure>";
    let enabled = "<enabled xmlns='urn:xmpp:sm:3' id='x' resume='true'/>";
    let resumed = format!("<resumed xmlns='urn:xmpp:sm:3' previd='{SM_ID}' h='1'/>");
    let failed = "<failed xmlns='urn:xmpp:sm:3' h='0'><item-not-found \
        xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>";

    let mut xmpp = vec![
        // A whole login, from the first stage.
        input(
            Stage::AwaitingOpen,
            &[
                OPEN,
                features_plain,
                success,
                OPEN,
                features_bind,
                &bind_result,
            ],
        ),
        input(Stage::Binding, &[&bind_result, chat]),
        // Online: answers to what is outstanding, then traffic from others.
        input(
            Stage::Online,
            &[&roster_result, &ping_result, &message_error],
        ),
        input(
            Stage::Online,
            &[
                chat,
                presence,
                subscribe,
                roster_push,
                server_ping,
                unknown_iq,
            ],
        ),
        input(Stage::Online, &[chat, stream_error]),
        input(Stage::Online, &[presence, close]),
        // Registration and SASL stages.
        input(Stage::RegistrationForm, &[&register_form]),
        input(Stage::RegistrationSubmitted, &[&registered, OPEN]),
        input(Stage::RegistrationSubmitted, &[&conflict]),
        input(Stage::AwaitingFeatures, &[features_plain, success]),
        input(Stage::ScramServerFirst, &[&scram_first]),
        input(Stage::ScramServerFinal, &[&scram_final]),
        input(Stage::PlainAuth, &[success, OPEN, features_bind]),
        input(Stage::PlainAuth, &[failure]),
        input(Stage::AuthenticatedOpen, &[OPEN, features_bind]),
        input(Stage::AuthenticatedFeatures, &[features_bind, &bind_result]),
        // Legacy session, stream management, resumption, closing.
        input(Stage::EstablishingSession, &[&session_result, chat]),
        input(
            Stage::OnlineSm,
            &[
                "<r xmlns='urn:xmpp:sm:3'/>",
                "<a xmlns='urn:xmpp:sm:3' h='1'/>",
                chat,
                enabled,
            ],
        ),
        input(Stage::Resuming, &[&resumed, chat]),
        input(Stage::Resuming, &[failed, &bind_result]),
        input(Stage::Closing, &[close]),
    ];
    // Hostile framing at every stage.
    for &stage in STAGES {
        xmpp.push(input(
            stage,
            &[
                "",
                "<a xmlns='x'><b/></a>trailing",
                "<?xml version='1.0'?><a xmlns='x'/>",
            ],
        ));
    }
    corpus.write("xmpp_frames", &xmpp);
}

fn vault(corpus: &Corpus) {
    for (target, name) in [("vault_header", "header"), ("vault_record", "record")] {
        let inputs = candado_vault::fuzzing::seed_inputs(name);
        assert!(!inputs.is_empty());
        corpus.write(target, &inputs);
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let corpus = Corpus { root };
    vault(&corpus);
    xmpp(&corpus);
    otr(&corpus);
}
