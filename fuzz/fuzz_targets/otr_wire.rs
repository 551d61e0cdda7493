//! OTR binary message decoding, text classification, base64, fragments, queries, TLVs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    candado_otr::fuzzing::decode_wire(data);
});
