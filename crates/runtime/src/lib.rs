//! Candado's browser runtime: the only wasm-specific code besides the UI.
//!
//! It runs in a dedicated Web Worker (Trunk builds `src/bin/candado-worker.rs` with `data-type="worker"`),
//! receives [`candado_api::Command`]s from the UI as JSON strings through `postMessage`, drives the sans-IO
//! [`candado_engine::Engine`], performs the effects the engine asks for (WebSocket, messages to the UI), and
//! posts [`candado_api::Event`]s back. Keeping it in a worker means no protocol work or cryptography ever
//! blocks the page.
//!
//! What it does for the engine today: one WebSocket per [`candado_engine::SocketId`] the engine names,
//! `Date.now()` as the clock for every input, one `setTimeout` armed at the engine's
//! `poll_timeout`, and `crypto.getRandomValues` (through `getrandom`) as the engine's randomness.
//! Not yet: the vault (the engine's `PutRecord` effects are dropped, so OTR keys and trust last only
//! as long as the worker), reconnection with backoff, visibility and network-change handling.
//!
//! On native targets the crate is empty: everything here needs a browser.

#[cfg(target_arch = "wasm32")]
mod worker;

#[cfg(target_arch = "wasm32")]
pub use worker::candado_worker_start;
