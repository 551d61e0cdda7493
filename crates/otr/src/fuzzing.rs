//! Entry points for fuzz targets and their corpus replay: each takes arbitrary bytes and
//! drives one decoder or state machine with them. None of them may panic, whatever the
//! input; that is the property the fuzz targets check.
//!
//! | entry point | drives |
//! |---|---|
//! | [`decode_wire`] | binary message decoding, text classification, base64, fragments, queries, TLVs |
//! | [`reassemble`] | the fragment reassembler, one fragment per input line |
//! | [`established_session`] | a v3 (or v2) session that completed its AKE, one incoming message per line |
//! | [`smp_tlvs`] | the SMP state machine in each of its states, with hostile TLVs |
//!
//! [`run`] dispatches by target name ([`TARGETS`]), so one test can replay every corpus
//! directory (`fuzz/corpus/<target>/*`).
//!
//! Randomness inside comes from [`TestRng`], a fixed-seed SHA-256 counter generator, so runs
//! are reproducible. The crate's tests, the libotr interop harness and the fuzz seed generator
//! use the same generator. It is **not** for real keys: nothing else in the API uses it.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use rand_core::{TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

use crate::crypto::dsa::{DsaPrivateKey, Fingerprint};
use crate::fragment::Reassembler;
use crate::session::{Policy, Session, SessionConfig};
use crate::smp::Smp;
use crate::tlv::{Plaintext, Tlv};
use crate::wire::message::{EncodedMessage, InstanceTag};
use crate::wire::text::TextMessage;
use crate::wire::Codec;

/// The fuzz targets by name, as `fuzz/` and its corpus replay test use them.
pub const TARGETS: &[&str] = &[
    "decode_wire",
    "reassemble",
    "established_session",
    "smp_tlvs",
];

/// Run the target called `name` on `data` (for replaying a corpus directory per target).
/// Returns `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "decode_wire" => {
            decode_wire(data);
        }
        "reassemble" => {
            reassemble(data);
        }
        "established_session" => {
            established_session(data);
        }
        "smp_tlvs" => {
            smp_tlvs(data);
        }
        _ => return false,
    }
    true
}

/// SHA-256 in counter mode (block i = SHA-256(seed ‖ i), both big-endian u64): reproducible
/// transcripts for fuzzing and tests. Never for real keys.
#[derive(Debug, Clone)]
pub struct TestRng {
    seed: u64,
    counter: u64,
}

impl TestRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, counter: 0 }
    }
}

impl TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            let mut h = Sha256::new();
            h.update(self.seed.to_be_bytes());
            h.update(self.counter.to_be_bytes());
            self.counter = self.counter.wrapping_add(1);
            let out: [u8; 32] = h.finalize().into();
            for (d, s) in chunk.iter_mut().zip(out.iter()) {
                *d = *s;
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

fn keys() -> &'static (Arc<DsaPrivateKey>, Arc<DsaPrivateKey>) {
    static KEYS: OnceLock<(Arc<DsaPrivateKey>, Arc<DsaPrivateKey>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            Arc::new(DsaPrivateKey::generate(&mut TestRng::new(1))),
            Arc::new(DsaPrivateKey::generate(&mut TestRng::new(2))),
        )
    })
}

const ALICE: u32 = 0x0000_a11c;
const BOB: u32 = 0xb0b0_0001;

fn lines(data: &[u8]) -> impl Iterator<Item = String> + '_ {
    data.split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
}

/// Decode `data` as a binary OTR message, as message text, and as a TLV payload.
/// Returns whether the binary decoding succeeded (for corpus statistics).
pub fn decode_wire(data: &[u8]) -> bool {
    let binary = EncodedMessage::decode(data);
    if let Ok(m) = &binary {
        // Whatever decodes must re-encode to the same bytes (encodings are canonical
        // except for MPI leading zeros, which decoding drops).
        let again = EncodedMessage::decode(&m.to_bytes());
        debug_assert!(again.as_ref() == Ok(m));
    }
    let text = String::from_utf8_lossy(data);
    let _ = TextMessage::parse(&text);
    let _ = Plaintext::parse(data);
    binary.is_ok()
}

/// Feed each line of `data` to a reassembler (our instance 0x100). Returns how many
/// messages completed.
pub fn reassemble(data: &[u8]) -> usize {
    let mut r = Reassembler::default();
    let ours = InstanceTag::new(0x100).unwrap_or(InstanceTag::UNKNOWN);
    let mut done = 0;
    for line in lines(data) {
        match TextMessage::parse(&line) {
            Ok(TextMessage::Fragment(f)) => {
                if let crate::fragment::Reassembly::Complete(text) = r.accumulate(&f, ours) {
                    let _ = TextMessage::parse(&text);
                    done += 1;
                }
            }
            _ => r.clear(),
        }
    }
    done
}

/// Two sessions (v3 if the first byte is even, else v2) that completed the AKE; the
/// rest of `data`, line by line, is received by one of them, with its replies delivered
/// to the other. Returns whether both are still ENCRYPTED.
pub fn established_session(data: &[u8]) -> bool {
    let (ka, kb) = keys();
    let policy = match data.first() {
        Some(b) if b % 2 == 1 => Policy::ALLOW_V2 | Policy::REQUIRE_ENCRYPTION,
        _ => Policy::ALWAYS,
    };
    let cfg = SessionConfig {
        policy,
        max_message_size: 0,
    };
    let (Some(a_tag), Some(b_tag)) = (InstanceTag::new(ALICE), InstanceTag::new(BOB)) else {
        return false;
    };
    let mut alice = Session::new(ka.clone(), a_tag, cfg);
    let mut bob = Session::new(kb.clone(), b_tag, cfg);
    let (mut ra, mut rb) = (TestRng::new(3), TestRng::new(4));
    if alice.start().is_err() {
        return false;
    }
    let pump = |alice: &mut Session, bob: &mut Session, ra: &mut TestRng, rb: &mut TestRng| {
        for _ in 0..10 {
            let mut moved = false;
            while let Some(t) = alice.poll_transmit() {
                moved = true;
                bob.handle_incoming(&t, 0, rb);
            }
            while let Some(t) = bob.poll_transmit() {
                moved = true;
                alice.handle_incoming(&t, 0, ra);
            }
            while alice.poll_event().is_some() {}
            while bob.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
    };
    pump(&mut alice, &mut bob, &mut ra, &mut rb);
    for line in lines(data.get(1..).unwrap_or_default()) {
        bob.handle_incoming(&line, 0, &mut rb);
        pump(&mut alice, &mut bob, &mut ra, &mut rb);
    }
    // The session must still work after whatever came in.
    let _ = alice.send("ping", 1);
    pump(&mut alice, &mut bob, &mut ra, &mut rb);
    alice.state() == crate::MessageState::Encrypted && bob.state() == crate::MessageState::Encrypted
}

/// Feed TLVs decoded from `data` (SHORT type, SHORT length, value; as in a Data message)
/// to SMP state machines in each state: idle, after initiating, after being asked, after
/// answering. Returns how many TLVs were fed.
pub fn smp_tlvs(data: &[u8]) -> usize {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(data);
    let tlvs: Vec<Tlv> = Plaintext::parse(&bytes).tlvs;
    let fa = Fingerprint([0xaa; 20]);
    let fb = Fingerprint([0xbb; 20]);
    let ssid = [7u8; 8];
    let mut rng = TestRng::new(5);
    let mut machines = Vec::new();
    // Idle.
    machines.push(Smp::new(fb, fa, ssid));
    // Initiated (EXPECT2), and a responder that was asked (AWAITING_ANSWER), and one that
    // answered (EXPECT3).
    let mut alice = Smp::new(fa, fb, ssid);
    if let Ok(smp1) = alice.initiate(Some("q"), b"secret", &mut rng) {
        let mut asked = Smp::new(fb, fa, ssid);
        let _ = asked.handle_tlv(&smp1, &mut rng);
        let mut answered = Smp::new(fb, fa, ssid);
        let _ = answered.handle_tlv(&smp1, &mut rng);
        let _ = answered.respond(b"secret", &mut rng);
        machines.push(asked);
        machines.push(answered);
    }
    machines.push(alice);
    for smp in &mut machines {
        for tlv in &tlvs {
            let _ = smp.handle_tlv(tlv, &mut rng);
        }
    }
    tlvs.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_survive_seed_inputs() {
        assert!(!decode_wire(b""));
        assert!(!decode_wire(&[0, 3, 3, 0xff, 0xff, 0xff, 0xff]));
        assert_eq!(reassemble(b"?OTR,1,2,ab,\n?OTR,2,2,cd,\n?OTR,2,1,x,"), 1);
        assert_eq!(reassemble(b"?OTR,1,2,ab,\nhello\n?OTR,2,2,cd,"), 0);
        assert!(established_session(
            b"\0?OTR:AAMDAAAAAAAAAAAA.\n?OTR Error: x\n?OTRv3?\nhi"
        ));
        assert!(established_session(b"\x01?OTR,1,1,?OTR:AAID.,\n\xff\xfe"));
        // SMP2 with a zero count, an abort, and an SMP1 of garbage.
        let mut tlvs = vec![];
        for (t, v) in [
            (3u16, vec![0u8, 0, 0, 0]),
            (6, vec![]),
            (2, vec![0, 0, 0, 6, 0, 0]),
        ] {
            tlvs.extend_from_slice(&t.to_be_bytes());
            tlvs.extend_from_slice(&(v.len() as u16).to_be_bytes());
            tlvs.extend_from_slice(&v);
        }
        assert_eq!(smp_tlvs(&tlvs), 3);
        for name in TARGETS {
            assert!(run(name, b"?OTR,1,1,x,"), "{name}");
        }
        assert!(!run("nope", b""));
    }
}
