//! Native figures for `cargo xtask bench otr`: DSA keygen, AKE, ping-pong and burst
//! messages, SMP with a question, and the raw 1536-bit modexp, each the median of at least
//! 11 samples. Prints one `BENCH name median_ms=… min_ms=… cpu_median_ms=… runs=…` line
//! per figure (the list is in `tests/common/bench.rs`, shared with the browser figures of
//! `tests/bench_worker.rs`). `cpu_median_ms` is this thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), which other processes on a busy machine do not inflate.
//!
//! Then `BENCH otr_ct_… t=…` lines: Welch's t of the dudect-style timing test of the
//! constant-time exponentiation (`candado_otr::bench::ct_tstat`) in each radix, and of the
//! variable-time control.
//!
//! `cargo run --profile bench-native -p candado-otr --example otr_bench`

#[path = "../tests/common/bench.rs"]
mod bench;

use std::time::Instant;

#[cfg(not(target_arch = "wasm32"))]
fn thread_cpu_ms() -> Option<f64> {
    use nix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    Some(t.tv_sec() as f64 * 1000.0 + t.tv_nsec() as f64 / 1e6)
}

#[cfg(target_arch = "wasm32")]
fn thread_cpu_ms() -> Option<f64> {
    None
}

fn main() {
    let start = Instant::now();
    let wall = || start.elapsed().as_secs_f64() * 1000.0;
    let cpu = || thread_cpu_ms().unwrap_or(0.0);
    let clocks = bench::Clocks {
        wall: &wall,
        cpu: thread_cpu_ms()
            .is_some()
            .then_some(&cpu as &dyn Fn() -> f64),
    };
    bench::run(&clocks, &mut |line| println!("{line}"));

    // The dudect-style timing test of the constant-time exponentiation (320-bit DH
    // exponents), and its variable-time control, which it must flag.
    use candado_otr::bench::{ct_tstat, Exponentiation};
    // Timed with this thread's CPU time where there is one, which preemption does not inflate.
    let mut now = || thread_cpu_ms().unwrap_or_else(&wall);
    for (name, which) in [
        ("otr_ct_t64", Exponentiation::ConstantTime64),
        ("otr_ct_t28", Exponentiation::ConstantTime28),
        ("otr_ct_tfixed64", Exponentiation::FixedBase64),
        ("otr_ct_tfixed28", Exponentiation::FixedBase28),
        ("otr_ct_tvartime", Exponentiation::VariableTime),
    ] {
        let samples = 3000;
        let t = ct_tstat(samples, 320, which, &mut now);
        println!("BENCH {name} t={t:.3} samples={samples}");
    }
}
