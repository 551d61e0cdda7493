//! OTR fragment reassembly, one fragment per input line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    candado_otr::fuzzing::reassemble(data);
});
