//! libFuzzer target `read_ndjson`: see `tests/fuzz_checks/mod.rs` for the check.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = fuzz_checks::run_target("read_ndjson", data) {
        panic!("read_ndjson: {e}");
    }
});
