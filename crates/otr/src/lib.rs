//! # candado-otr
//!
//! Off-the-Record Messaging (OTR) versions 2 and 3 in pure Rust, sans-IO, aiming at byte
//! compatibility with libotr 4.1.1 (Pidgin, Profanity, mcabber and others).
//!
//! OTR gives a two-party chat encryption, authentication, deniability and forward
//! secrecy on top of any text transport (here: XMPP). Two clients run an authenticated
//! Diffie–Hellman key exchange (the AKE), then exchange AES-128-CTR encrypted, HMAC-SHA1
//! authenticated Data messages whose keys are rotated with every round trip; old MAC keys
//! are published so that transcripts cannot be proven authentic afterwards. Users verify
//! each other by fingerprint or by the Socialist Millionaires' Protocol (SMP).
//!
//! Specifications followed:
//! - OTR v3, libotr 4.1.1 revision: <https://otr.cypherpunks.ca/Protocol-v3-4.1.1.html>
//!   (Debian ships it as `/usr/share/doc/libotr5/Protocol-v3.html`).
//! - OTR v2: <https://otr.cypherpunks.ca/Protocol-v2-3.1.0.html>.
//! - RFC 3526 §2 (the 1536-bit MODP group), FIPS 186 (DSA).
//! - Where libotr's behaviour differs from the text, libotr wins; the code says where.
//!
//! ## Status
//!
//! | part | status |
//! |---|---|
//! | wire codec: BYTE/SHORT/INT/MPI/DATA/CTR/MAC/PUBKEY/SIG, all five binary message types, v2/v3 headers with instance tags ([`wire`]) | done |
//! | text framing: `?OTR:` base64, query messages, whitespace tags, `?OTR Error:`, v2/v3 fragment parsing and formatting ([`wire::text`]) | done |
//! | 1536-bit MODP group, constant-time DH, range checks ([`crypto::group`]) | done |
//! | AKE and data-key derivations, AES-128-CTR, HMACs ([`crypto::kdf`]) | done |
//! | DSA 1024/160: generate, sign (value mod q), verify, fingerprint ([`crypto::dsa`]) | done |
//! | the AKE for v2 and v3, every authstate transition ([`ake`]) | done |
//! | data messages: key ids, counters, key rotation, old MAC key reveal ([`data`]) | done |
//! | SMP: TLVs 2–7 (SMP1–4, abort, SMP1Q), initiator and responder, abort, cheating detection, range checks, libotr's secret ([`smp`]) | done |
//! | [`Session`]: message states, policies, query/tag/error handling, heartbeats, disconnect TLV, extra symmetric key TLV, SMP commands, REQUIRE_ENCRYPTION queue, 60 s AKE expiry ([`session`]) | done |
//! | instance tags: receiver-tag checks, one session per peer instance, [`Router`] with libotr's master/child rules | done (the master's DH-Commit moves to the first answering instance instead of being copied to each) |
//! | fragmentation: sending with a maximum size, libotr's reassembly rules ([`fragment`]) | done |
//! | entry points for fuzz targets (`fuzzing`, hidden) | done (the `fuzz/` crate itself is not here) |
//! | libotr's private-key file (`otr.private_key`): read, and write byte-identical to libotr ([`keyfile`]) | done |
//! | libotr's fingerprint (trust) file | **not yet** |
//! | interop tests against libotr 4.1.1 (`tests/interop`, v2 and v3: AKE, 1000 messages, fragments, SMP, abort, disconnect, extra key, key files) | done |
//! | two-peer test on wasm32 in headless Chromium (`tests/wasm.rs`) | done |
//! | benchmarks: native `examples/otr_bench.rs`, browser `tests/bench_worker.rs` (feature `browser-bench`), libotr `tests/interop` `examples/libotr_bench.rs` (`bench`, hidden: the raw modexp) | done (the `cargo xtask bench otr` wiring is in xtask) |
//!
//! ## Shape
//!
//! Nothing here performs IO or reads a clock. Randomness is always an argument
//! (`&mut impl rand_core::CryptoRng`), and time is a `now` argument in milliseconds.
//! Protocol state machines take input through `handle_*` methods and produce output
//! through `poll_*` methods that the caller drains after every input; [`session`]
//! documents the full taxonomy and the drain order.
//!
//! ```text
//!  transport text ──▶ Router::handle_incoming ──▶ Session (per peer instance)
//!                                                   │  parse (wire::text) ─ fragments ─▶ fragment::Reassembler
//!                                                   │  AKE messages ──▶ ake::Ake ──▶ data::DataChannel (ENCRYPTED)
//!                                                   │  Data messages ─▶ DataChannel ─▶ tlv::Plaintext ─▶ text, smp::Smp, TLV 1, TLV 8
//!  poll_transmit ◀── text to send (fragmented) ◀────┤
//!  poll_event    ◀── Event (Encrypted, Received, Smp*, Finished, Error, ...)
//! ```
//!
//! Errors say who is to blame ([`Error`]): malformed input, an opaque authentication
//! failure, a peer protocol violation, or API misuse. Library code never panics on input
//! (`unwrap`, `expect`, `panic!` and slice indexing are denied by lints outside tests).
//! Secrets live in zeroizing types and no `Debug` impl prints them.
//!
//! ## Example: two sessions in memory
//!
//! ```
//! use std::sync::Arc;
//! use candado_otr::crypto::dsa::DsaPrivateKey;
//! use candado_otr::wire::message::InstanceTag;
//! use candado_otr::{Event, MessageState, Policy, Sent, Session, SessionConfig};
//! # use rand_core::{TryCryptoRng, TryRng};
//! # struct Rng(u64);
//! # impl TryRng for Rng {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
//! #         // xorshift: for the example only, never for real keys.
//! #         self.0 ^= self.0 << 13; self.0 ^= self.0 >> 7; self.0 ^= self.0 << 17; Ok(self.0)
//! #     }
//! #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
//! #         for b in dst { *b = self.try_next_u64()? as u8; } Ok(())
//! #     }
//! # }
//! # impl TryCryptoRng for Rng {}
//! # let mut rng = Rng(0x1234_5678_9abc_def1);
//! // In the app, `rng` is backed by the platform CSPRNG (getrandom).
//! let config = SessionConfig { policy: Policy::ALWAYS, max_message_size: 0 };
//! let alice_key = Arc::new(DsaPrivateKey::generate(&mut rng));
//! let bob_key = Arc::new(DsaPrivateKey::generate(&mut rng));
//! let mut alice = Session::new(alice_key, InstanceTag::new(0x100).unwrap(), config);
//! let mut bob = Session::new(bob_key, InstanceTag::new(0x200).unwrap(), config);
//! let now = 0; // milliseconds, from the caller's clock
//!
//! // Under REQUIRE_ENCRYPTION the text waits; a query message goes out instead.
//! assert_eq!(alice.send("hello Bob", now)?, Sent::Queued);
//!
//! // The transport: deliver everything each side transmits until both are quiet.
//! loop {
//!     let mut moved = false;
//!     while let Some(text) = alice.poll_transmit() {
//!         assert!(text.starts_with("?OTR")); // never the plaintext
//!         bob.handle_incoming(&text, now, &mut rng);
//!         moved = true;
//!     }
//!     while let Some(text) = bob.poll_transmit() {
//!         alice.handle_incoming(&text, now, &mut rng);
//!         moved = true;
//!     }
//!     if !moved { break; }
//! }
//! assert_eq!(alice.state(), MessageState::Encrypted);
//! // Both compare the session id (and fingerprints) out of band, or run SMP.
//! assert_eq!(alice.ssid().map(|s| s.bytes), bob.ssid().map(|s| s.bytes));
//! let events: Vec<Event> = std::iter::from_fn(|| bob.poll_event()).collect();
//! assert!(events.contains(&Event::Received { text: "hello Bob".into(), encrypted: true }));
//! # Ok::<(), candado_otr::Error>(())
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod ake;
#[doc(hidden)]
pub mod bench;
pub mod crypto;
pub mod data;
pub mod error;
pub mod fragment;
#[doc(hidden)]
pub mod fuzzing;
pub mod keyfile;
pub mod session;
pub mod smp;
pub mod tlv;
pub mod wire;

pub use error::{DecodeError, Error, PeerError, UsageError};
pub use session::{Event, MessageState, Policy, Router, Sent, Session, SessionConfig};

/// The OTR protocol versions this crate speaks (listed in `candado.doap`; a test keeps them equal).
pub const SUPPORTED_VERSIONS: &[wire::message::Version] =
    &[wire::message::Version::V2, wire::message::Version::V3];
