//! Candado's user interface: a Leptos single-page app rendered in the browser.
//!
//! The UI holds no protocol state and does no cryptography. It starts the runtime in a dedicated Web
//! Worker ([`worker_link`]), sends it [`candado_api::Command`]s and renders the [`candado_api::Event`]s it
//! gets back. It knows no OTR or XMPP types, only `candado-api`.
//!
//! One store ([`store::Store`], signals only) is fed by the worker's events; the screens
//! (`screens::*`) read it and send commands; their words come from `texts`, compiled from
//! `locales/*.json` by `leptos_i18n`. The decisions that need no DOM live in [`logic`] and are
//! tested on every target. On native targets only [`lang`] and [`logic`] exist: the rest needs a browser.

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod config;
pub mod lang;
pub mod logic;
#[cfg(target_arch = "wasm32")]
pub mod screens;
#[cfg(target_arch = "wasm32")]
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod texts;
#[cfg(target_arch = "wasm32")]
pub mod web;
#[cfg(target_arch = "wasm32")]
pub mod worker_link;

#[cfg(target_arch = "wasm32")]
pub use app::start;
