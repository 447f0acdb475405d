//! libFuzzer target `pipeline_csv`: see `tests/fuzz_checks/mod.rs` for the check.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = fuzz_checks::run_target("pipeline_csv", data) {
        panic!("pipeline_csv: {e}");
    }
});
