//! The library's errors, through the public API only: they name the
//! library's settings (`threads`), never the command line's flags
//! (`--threads`), and a caller can name the settings its own way.

use fanfold::{Error, ErrorKind, Input, OnError, Pipeline, Setting, SettingNames, Step};

fn input(dir: &tempfile::TempDir, text: &str) -> Input {
    let path = dir.path().join("in.csv");
    std::fs::write(&path, text).expect("write the input");
    Input::Path(path)
}

fn run(pipeline: &Pipeline) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    pipeline.run(&mut out, "<memory>").map(|_| out)
}

#[test]
fn zero_threads_is_a_threads_setting_error_that_names_no_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = Pipeline::builder()
        .input(input(&dir, "a\n1\n"))
        .threads(0)
        .build()
        .expect_err("threads 0 is refused");
    match err.kind() {
        ErrorKind::Setting { setting: Setting::Threads, message } => {
            assert_eq!(message.to_string(), "must be at least 1");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert_eq!(text, "threads: must be at least 1");
    assert!(!text.contains("--"), "{text}");
    assert_eq!(
        err.display_with(&|s: Setting| if s == Setting::Threads { "-j" } else { "?" }).to_string(),
        "-j: must be at least 1"
    );
    assert!(err.location().is_none());
    assert!(matches!(err.into_kind(), ErrorKind::Setting { setting: Setting::Threads, .. }));
}

#[test]
fn an_unknown_column_names_the_setting_that_named_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pipeline = Pipeline::builder()
        .input(input(&dir, "a,b\n1,2\n"))
        .select(["x"])
        .build()
        .expect("valid settings");
    let err = run(&pipeline).expect_err("no column x");
    assert!(
        matches!(err.kind(), ErrorKind::UnknownColumn { setting: Setting::Select, column, .. } if column == "x"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "select: unknown column `x`; the columns are: a, b");
}

#[test]
fn rejects_name_the_settings_with_the_run_s_naming_function() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rejects = dir.path().join("rejects.ndjson");
    let pipeline = Pipeline::builder()
        .input(input(&dir, "a\n1\nx\n"))
        .step(Step::Filter(".a + 1 > 0".into()))
        .on_error(OnError::Reject)
        .rejects(rejects.clone())
        .build()
        .expect("valid settings");
    run(&pipeline).expect("the bad record is set aside");
    let text = std::fs::read_to_string(&rejects).expect("rejects file");
    assert!(text.contains("3: filter `.a + 1 > 0`: "), "{text}");
    assert!(!text.contains("--filter"), "{text}");

    fn shout(s: Setting) -> &'static str {
        if s == Setting::Filter {
            "FILTER"
        } else {
            s.name()
        }
    }
    let pipeline =
        pipeline.to_builder().setting_names(SettingNames(shout)).build().expect("valid settings");
    run(&pipeline).expect("the bad record is set aside");
    let text = std::fs::read_to_string(&rejects).expect("rejects file");
    assert!(text.contains("3: FILTER `.a + 1 > 0`: "), "{text}");
}
