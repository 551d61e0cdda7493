//! Browser figures for `cargo xtask bench otr`: the figures of `examples/otr_bench.rs`
//! (listed in `common/bench.rs`) in a dedicated Web Worker of headless Chromium, timed
//! with the worker's `performance.now()` (wall time only: no `cpu_median_ms`). Prints
//! `BENCH name median_ms=… min_ms=… runs=…` lines;
//! asserts the protocol runs succeed, nothing about time.
//!
//! Built only with the `browser-bench` feature:
//! `cargo test -p candado-otr --release --features browser-bench --target wasm32-unknown-unknown
//!  --test bench_worker -- --nocapture`
#![cfg(all(target_arch = "wasm32", feature = "browser-bench"))]

#[path = "common/bench.rs"]
mod bench;

use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
fn otr_figures_in_a_worker() {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let performance = scope.performance().unwrap();
    let wall = move || performance.now();
    let clocks = bench::Clocks {
        wall: &wall,
        cpu: None,
    };
    bench::run(&clocks, &mut |line| console_log!("{line}"));
}
