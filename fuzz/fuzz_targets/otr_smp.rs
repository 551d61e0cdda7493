//! SMP state machines in each state fed the TLVs in the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    candado_otr::fuzzing::smp_tlvs(data);
});
