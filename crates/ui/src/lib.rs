//! Candado's user interface: a Leptos single-page app rendered in the browser.
//!
//! The UI holds no protocol state and does no cryptography. It starts the runtime in a dedicated Web
//! Worker ([`worker_link`]), sends it [`candado_api::Command`]s and renders the [`candado_api::Event`]s it
//! gets back. It knows no OTR or XMPP types, only `candado-api`.
//!
//! On native targets the crate is empty: everything here needs a browser.

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod config;
pub mod i18n;
#[cfg(target_arch = "wasm32")]
pub mod worker_link;

#[cfg(target_arch = "wasm32")]
pub use app::start;
