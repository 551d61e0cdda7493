//! Browser figures for `cargo xtask bench vault`: Argon2id time (one vault creation) in a dedicated Web Worker
//! of headless Chromium, at the same parameters as `examples/argon2_bench.rs`, and what calibration picks
//! there. Prints `BENCH key=value…` lines; asserts nothing about time.
//!
//! Built only with the `browser-bench` feature:
//! `cargo test -p candado-vault --release --features browser-bench --target wasm32-unknown-unknown
//!  --test bench_worker -- --nocapture`
#![cfg(all(target_arch = "wasm32", feature = "browser-bench"))]

use candado_vault::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const PARAMS: [(u32, u32); 2] = [(19 * 1024, 2), (64 * 1024, 2)];
const RUNS: usize = 5;

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[wasm_bindgen_test]
async fn argon2id_in_a_worker() {
    assert_eq!(self_test(), Ok(()));
    for (m, t) in PARAMS {
        let params = KdfParams::new(m, t, 1).unwrap();
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            let config = VaultConfig {
                store: StoreName::new("bench").unwrap(),
                schema_version: 1,
            };
            let mut vault = Vault::new(MemoryStorage::new(), SystemRandom, config);
            let t0 = now_ms();
            vault
                .create(&Passphrase::from("bench passphrase"), params)
                .await
                .unwrap();
            samples.push(now_ms() - t0);
        }
        console_log!(
            "BENCH argon2id m_kib={m} t={t} median_ms={:.1}",
            median(samples)
        );
    }
    let clock = || core::time::Duration::from_secs_f64(now_ms() / 1000.0);
    let c = calibrate(core::time::Duration::from_secs(1), clock).unwrap();
    console_log!(
        "BENCH calibration m_kib={} t={} estimated_ms={:.0}",
        c.params.m_kib(),
        c.params.t(),
        c.estimated.as_secs_f64() * 1000.0
    );
}
