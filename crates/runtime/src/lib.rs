//! Candado's browser runtime: the only wasm-specific code besides the UI.
//!
//! It runs in a dedicated Web Worker (Trunk builds `src/bin/candado-worker.rs` with `data-type="worker"`),
//! receives [`candado_api::Command`]s from the UI as JSON strings through `postMessage`, drives the sans-IO
//! [`candado_engine::Engine`], performs the effects the engine asks for (WebSocket, messages to the UI), and
//! posts [`candado_api::Event`]s back. Keeping it in a worker means no protocol work or cryptography ever
//! blocks the page.
//!
//! What it does for the engine:
//!
//! - one WebSocket per [`candado_engine::SocketId`] the engine names; `Date.now()` as the clock for
//!   every input; one `setTimeout` armed at the engine's `poll_timeout` (reconnection backoff, key
//!   generation, keepalives); `crypto.getRandomValues` (through `getrandom`) as its randomness;
//! - the vault ([`store`]): `CreateVault`/`Unlock`/`Lock`/`ChangePassphrase` run here against the
//!   IndexedDB-backed `candado_vault::Vault`, one operation at a time in order (Argon2id itself
//!   runs in a short-lived worker of its own, [`kdf`], so its 64 MiB are given back); the engine's
//!   `PutRecord`/`DeleteRecord` effects join the same queue, and after unlocking every record is
//!   handed to the engine before `handle_unlocked`;
//! - XEP-0156 discovery (`Discover`): the domain's host-meta over HTTPS;
//! - the worker's `online` event becomes `Command::Wake` (the page sends `Wake` when it becomes
//!   visible: workers have no visibility events).
//!
//! On native targets the crate is empty: everything here needs a browser.

#[cfg(target_arch = "wasm32")]
mod discover;
#[cfg(target_arch = "wasm32")]
pub mod kdf;
pub mod queue;
#[cfg(target_arch = "wasm32")]
pub mod store;
#[cfg(target_arch = "wasm32")]
mod worker;

#[cfg(target_arch = "wasm32")]
pub use worker::candado_worker_start;
