//! The vault header decoder and the backup file parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    candado_vault::fuzzing::header(data);
});
