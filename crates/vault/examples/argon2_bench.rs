//! Native figures for `cargo xtask bench vault`: Argon2id time (one vault creation) at fixed parameters,
//! and what calibration picks on this machine. Prints one `BENCH key=value…` line per figure.
//!
//! `cargo run --profile bench-native -p candado-vault --example argon2_bench`

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use candado_vault::*;

/// The parameter sets timed natively and in the browser (same list in `tests/bench_worker.rs`).
const PARAMS: [(u32, u32); 2] = [(19 * 1024, 2), (64 * 1024, 2)];
const RUNS: usize = 5;

/// Polls a future whose storage is in memory (always ready) to completion.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    self_test()?;
    for (m, t) in PARAMS {
        let params = KdfParams::new(m, t, 1)?;
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            let config = VaultConfig {
                store: StoreName::new("bench")?,
                schema_version: 1,
            };
            let mut vault = Vault::new(MemoryStorage::new(), SystemRandom, config);
            let t0 = Instant::now();
            block_on(vault.create(&Passphrase::from("bench passphrase"), params))?;
            samples.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "BENCH argon2id m_kib={m} t={t} median_ms={:.1}",
            median(samples)
        );
    }
    let start = Instant::now();
    let c = calibrate(Duration::from_secs(1), || start.elapsed())?;
    println!(
        "BENCH calibration m_kib={} t={} estimated_ms={:.0}",
        c.params.m_kib(),
        c.params.t(),
        c.estimated.as_secs_f64() * 1000.0
    );
    Ok(())
}
