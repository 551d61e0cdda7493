//! A fresh XMPP session at every negotiation stage fed the input as frames (split at 0xFF).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    candado_xmpp::fuzzing::frames(data);
});
