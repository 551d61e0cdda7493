//! The figures of `cargo xtask bench otr`, shared by the native example
//! (`examples/otr_bench.rs`) and the browser test (`tests/bench_worker.rs`): each is timed
//! with the caller's clocks and reported as one line
//! `BENCH name median_ms=… min_ms=… [cpu_median_ms=…] runs=…`: wall-time median and
//! minimum, and natively the median of this thread's CPU time (which load from other
//! processes does not inflate).
//!
//! | line | what is timed (one sample) |
//! |---|---|
//! | `otr_keygen` | `DsaPrivateKey::generate` (fresh 1024/160 parameters and key) |
//! | `otr_ake` | a v3 AKE between two `Session`s in memory, query message to both ENCRYPTED |
//! | `otr_pingpong` | per message: 20 messages sent and read, alternating directions (DH rotation every turn) |
//! | `otr_burst` | per message: 20 messages sent and read in one direction |
//! | `otr_smp` | SMP with a question, both sides, start to both `SmpSucceeded` |
//! | `otr_modexp320` / `otr_modexp1536` | one 1536-bit modexp, random base, 320-bit / 1536-bit exponent |
//! | `otr_gpow320_table` / `_ladder`, `otr_gpow1536_…` | g^e from the table and with the ladder, timed in alternation |
//! | `otr_dh_table` / `otr_smp_table` | building the table of powers of the generator for 320-bit DH / 1536-bit SMP exponents (once per process in the app) |
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::Arc;

use candado_otr::bench::{build_g_table, g_pow, modexp_1536};
use candado_otr::crypto::dsa::DsaPrivateKey;
use candado_otr::wire::message::InstanceTag;
use candado_otr::{Event, MessageState, Policy, Session, SessionConfig};
use rand_core::{TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

/// Samples per figure (the medians are over at least this many).
pub const RUNS: usize = 11;
/// Messages per sample of the message figures (a sample is their mean, so that the
/// clock's cost and resolution do not matter).
const MESSAGES: usize = 20;

/// SHA-256 in counter mode: reproducible, and cheap next to the arithmetic. Benchmarks only.
#[derive(Debug)]
pub struct BenchRng(u64);

impl TryRng for BenchRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            self.0 += 1;
            let out = Sha256::digest(self.0.to_be_bytes());
            chunk.copy_from_slice(&out[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for BenchRng {}

pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Deliver everything both sides transmit until both are quiet.
fn pump(a: &mut Session, b: &mut Session, rng: &mut BenchRng) {
    loop {
        let mut moved = false;
        while let Some(text) = a.poll_transmit() {
            b.handle_incoming(&text, 0, rng);
            moved = true;
        }
        while let Some(text) = b.poll_transmit() {
            a.handle_incoming(&text, 0, rng);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn pair(keys: &(Arc<DsaPrivateKey>, Arc<DsaPrivateKey>)) -> (Session, Session) {
    let config = SessionConfig {
        policy: Policy::MANUAL,
        max_message_size: 0,
    };
    let tag = |v| InstanceTag::new(v).unwrap();
    (
        Session::new(keys.0.clone(), tag(0x100), config),
        Session::new(keys.1.clone(), tag(0x200), config),
    )
}

fn ake(a: &mut Session, b: &mut Session, rng: &mut BenchRng) {
    a.start().unwrap();
    pump(a, b, rng);
    assert_eq!(a.state(), MessageState::Encrypted);
    assert_eq!(b.state(), MessageState::Encrypted);
}

/// Send `text` from `from` to `to`, deliver everything, check it arrived.
fn message(from: &mut Session, to: &mut Session, text: &str, rng: &mut BenchRng) {
    from.send(text, 0).unwrap();
    pump(from, to, rng);
    let got = events(to);
    assert!(
        got.iter()
            .any(|e| matches!(e, Event::Received { text: t, encrypted: true } if t == text)),
        "{got:?}"
    );
}

/// The caller's clocks, in milliseconds: wall time, and (natively, where the OS offers it)
/// this thread's CPU time, which a busy machine does not inflate.
pub struct Clocks<'a> {
    pub wall: &'a dyn Fn() -> f64,
    pub cpu: Option<&'a dyn Fn() -> f64>,
}

/// Wall and CPU samples of one figure.
#[derive(Default)]
struct Samples {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Samples {
    /// Times `f`, divided by `per` (the operations it performs).
    fn time<T>(&mut self, clocks: &Clocks<'_>, per: usize, f: impl FnOnce() -> T) -> T {
        let c0 = clocks.cpu.map(|c| c());
        let t0 = (clocks.wall)();
        let out = f();
        self.wall.push(((clocks.wall)() - t0) / per as f64);
        if let (Some(c), Some(c0)) = (clocks.cpu, c0) {
            self.cpu.push((c() - c0) / per as f64);
        }
        out
    }

    /// `BENCH name median_ms=… min_ms=… [cpu_median_ms=…] runs=…`
    fn line(self, name: &str) -> String {
        let runs = self.wall.len();
        let min = self.wall.iter().copied().fold(f64::INFINITY, f64::min);
        let mut line = format!(
            "BENCH {name} median_ms={:.4} min_ms={min:.4}",
            median(self.wall)
        );
        if !self.cpu.is_empty() {
            line += &format!(" cpu_median_ms={:.4}", median(self.cpu));
        }
        line + &format!(" runs={runs}")
    }
}

/// Runs every figure, timing with `clocks`, and hands each `BENCH` line to `out`.
pub fn run(clocks: &Clocks<'_>, out: &mut dyn FnMut(String)) {
    let mut rng = BenchRng(0xbe_0c4);

    let mut s = Samples::default();
    let mut generated = Vec::new();
    for _ in 0..RUNS {
        let key = s.time(clocks, 1, || DsaPrivateKey::generate(&mut rng));
        generated.push(Arc::new(key));
    }
    out(s.line("otr_keygen"));
    let keys = (generated[0].clone(), generated[1].clone());

    let mut s = Samples::default();
    for _ in 0..RUNS {
        let (mut a, mut b) = pair(&keys);
        s.time(clocks, 1, || ake(&mut a, &mut b, &mut rng));
    }
    out(s.line("otr_ake"));

    let text = "The quick brown fox jumps over the lazy dog. 0123456789";
    let (mut a, mut b) = pair(&keys);
    ake(&mut a, &mut b, &mut rng);
    // Warm up: one round trip so that both sides have rotated once.
    message(&mut a, &mut b, text, &mut rng);
    message(&mut b, &mut a, text, &mut rng);
    let mut s = Samples::default();
    for _ in 0..RUNS {
        s.time(clocks, MESSAGES, || {
            for _ in 0..MESSAGES / 2 {
                message(&mut a, &mut b, text, &mut rng);
                message(&mut b, &mut a, text, &mut rng);
            }
        });
    }
    out(s.line("otr_pingpong"));

    let mut s = Samples::default();
    for _ in 0..RUNS {
        s.time(clocks, MESSAGES, || {
            for _ in 0..MESSAGES {
                message(&mut a, &mut b, text, &mut rng);
            }
        });
    }
    out(s.line("otr_burst"));

    let mut s = Samples::default();
    for _ in 0..RUNS {
        s.time(clocks, 1, || {
            a.smp_start(Some("Where did we meet?"), b"in Lisbon", 0, &mut rng)
                .unwrap();
            pump(&mut a, &mut b, &mut rng);
            assert!(events(&mut b)
                .iter()
                .any(|e| matches!(e, Event::SmpAsked { question: Some(_) })));
            b.smp_respond(b"in Lisbon", 0, &mut rng).unwrap();
            pump(&mut a, &mut b, &mut rng);
        });
        assert!(events(&mut a)
            .iter()
            .any(|e| matches!(e, Event::SmpSucceeded { .. })));
        assert!(events(&mut b)
            .iter()
            .any(|e| matches!(e, Event::SmpSucceeded { .. })));
    }
    out(s.line("otr_smp"));

    for (name, bits) in [("otr_modexp320", 320u32), ("otr_modexp1536", 1536)] {
        let mut s = Samples::default();
        for _ in 0..RUNS * 5 {
            let mut base = [0u8; 192];
            let mut exp = [0u8; 192];
            rng.try_fill_bytes(&mut base).unwrap();
            rng.try_fill_bytes(&mut exp).unwrap();
            base[0] &= 0x7f;
            let r = s.time(clocks, 1, || modexp_1536(&base, &exp, bits));
            assert_eq!(r.len(), 192);
        }
        out(s.line(name));
    }

    // g^e from the table and with the ladder, in alternation (so that drifts in the machine's
    // speed hit both alike): 320-bit DH exponents and 1536-bit SMP ones.
    for (name, bits) in [("otr_gpow320", 320u32), ("otr_gpow1536", 1536)] {
        let (mut table, mut ladder) = (Samples::default(), Samples::default());
        for _ in 0..RUNS * 5 {
            let mut exp = [0u8; 192];
            rng.try_fill_bytes(&mut exp).unwrap();
            let a = table.time(clocks, 1, || g_pow(&exp, bits, true));
            let b = ladder.time(clocks, 1, || g_pow(&exp, bits, false));
            assert_eq!(a, b);
        }
        out(table.line(&format!("{name}_table")));
        out(ladder.line(&format!("{name}_ladder")));
    }

    for (name, bits) in [("otr_dh_table", 320u32), ("otr_smp_table", 1536)] {
        let mut s = Samples::default();
        for _ in 0..RUNS {
            let built = s.time(clocks, 1, || build_g_table(bits));
            assert_eq!(built, bits);
        }
        out(s.line(name));
    }
}
