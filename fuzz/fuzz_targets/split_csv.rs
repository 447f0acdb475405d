//! libFuzzer target `split_csv`: see `tests/fuzz_checks/mod.rs` for the check.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = fuzz_checks::run_target("split_csv", data) {
        panic!("split_csv: {e}");
    }
});
