//! libFuzzer target `split_ndjson`: see `tests/fuzz_checks/mod.rs` for the check.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = fuzz_checks::run_target("split_ndjson", data) {
        panic!("split_ndjson: {e}");
    }
});
