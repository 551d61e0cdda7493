//! The sealed-record opener: framing (first byte even) or the plaintext behind the AEAD (odd).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    candado_vault::fuzzing::record(data);
});
