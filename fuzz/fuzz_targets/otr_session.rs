//! An established OTR session receiving one message per input line (first byte: v3 or v2).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    candado_otr::fuzzing::established_session(data);
});
