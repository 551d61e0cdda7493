//! Shared helpers for the integration tests: a deterministic RNG and cached keys.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use candado_otr::crypto::dsa::DsaPrivateKey;

pub use candado_otr::fuzzing::TestRng;

/// Alice's and Bob's long-term keys, generated once per test binary.
pub fn keys() -> &'static (Arc<DsaPrivateKey>, Arc<DsaPrivateKey>) {
    static KEYS: OnceLock<(Arc<DsaPrivateKey>, Arc<DsaPrivateKey>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            Arc::new(DsaPrivateKey::generate(&mut TestRng::new(0xa11ce))),
            Arc::new(DsaPrivateKey::generate(&mut TestRng::new(0xb0b))),
        )
    })
}

use candado_otr::ake::{Ake, AkeSuccess};
use candado_otr::wire::message::{InstanceTag, Version};
use candado_otr::wire::text::{encode_message, TextMessage};

pub const ALICE_TAG: u32 = 0x0000_a11c;
pub const BOB_TAG: u32 = 0xb0b0_0001;

pub fn tag(v: u32) -> InstanceTag {
    InstanceTag::new(v).unwrap()
}

/// Run a complete AKE (Bob initiating) through the text encoding; returns
/// (Alice's result, Bob's result).
pub fn established(version: Version, rng: &mut TestRng) -> (AkeSuccess, AkeSuccess) {
    let (alice_key, bob_key) = keys();
    let mut alice = Ake::new(alice_key.clone(), tag(ALICE_TAG), InstanceTag::UNKNOWN);
    let mut bob = Ake::new(bob_key.clone(), tag(BOB_TAG), InstanceTag::UNKNOWN);
    bob.initiate(version, rng);
    let mut to_alice = true;
    loop {
        let (from, to) = if to_alice {
            (&mut bob, &mut alice)
        } else {
            (&mut alice, &mut bob)
        };
        let Some(msg) = from.poll_transmit() else {
            break;
        };
        let Ok(TextMessage::Encoded(parsed)) = TextMessage::parse(&encode_message(&msg)) else {
            panic!("bad encoding");
        };
        to.handle_message(&parsed, rng).unwrap();
        to_alice = !to_alice;
    }
    (
        alice.poll_established().unwrap(),
        bob.poll_established().unwrap(),
    )
}
