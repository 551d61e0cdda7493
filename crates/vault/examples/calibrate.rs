//! Prints what calibration picks on this machine and how long Argon2id takes
//! natively at a few parameter sets (compare with the browser figure printed by
//! `tests/idb.rs::calibration_in_the_browser_stays_in_range`).
//!
//! `cargo run -p candado-vault --example calibrate` (dependencies are optimised
//! even in the dev profile, so the figures are representative).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use candado_vault::*;

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    self_test()?;
    let start = Instant::now();
    let c = calibrate(Duration::from_secs(1), || start.elapsed())?;
    println!(
        "calibration (1 s target): m = {} KiB, t = {}, estimated {:?}, slow device: {}, took {:?}",
        c.params.m_kib(),
        c.params.t(),
        c.estimated,
        c.slow_device,
        start.elapsed()
    );
    for (m, t) in [
        (19 * 1024, 2),
        (64 * 1024, 2),
        (c.params.m_kib(), c.params.t()),
    ] {
        let params = KdfParams::new(m, t, 1)?;
        let config = VaultConfig {
            store: StoreName::new("bench")?,
            schema_version: 1,
        };
        let mut vault = Vault::new(MemoryStorage::new(), SystemRandom, config);
        let t0 = Instant::now();
        block_on(vault.create(&Passphrase::from("bench"), params))?;
        println!(
            "create (one Argon2id run) at m = {m} KiB, t = {t}: {:?}",
            t0.elapsed()
        );
    }
    Ok(())
}
