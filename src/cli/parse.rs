//! The value parsers of the command line's flags: sizes, delimiters,
//! renames, `--sort-by`/`--agg`/`--max-errors` specs, replicas, and the
//! checks of jq expressions and `--exec` commands, so that clap reports a
//! bad value (exit status 2) with its flag's name.

use std::time::Duration;

use fanfold::{ExecSpec, HttpSpec, Rate, Setting};

use super::flags::flag;

/// Parses a size: a number of bytes with an optional unit: B, K/KiB, M/MiB,
/// G/GiB (powers of 1024) or KB, MB, GB (powers of 1000).
pub(super) fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        other => return Err(format!("unknown unit `{other}` in `{s}`; use e.g. 64KiB, 4MiB, 1GB")),
    };
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a size; use e.g. 64KiB, 4MiB"))?;
    let bytes = (n * mult).round();
    if bytes < 1.0 || !bytes.is_finite() {
        return Err(format!("`{s}`: the size must be at least 1 byte"));
    }
    Ok(bytes as usize)
}

/// The message of a setting's error without the setting (clap names the
/// flag), or the whole message; settings named as flags.
fn setting_message(e: &fanfold::Error) -> String {
    match e.kind() {
        fanfold::ErrorKind::Setting { message, .. } => message.display_with(&flag).to_string(),
        _ => super::flags::message(e),
    }
}

/// Parses a `--sort-by` or `--agg` spec, so that clap reports a bad one
/// (exit status 2) with the flag's name.
pub(super) fn parse_spec<T: std::str::FromStr<Err = fanfold::Error>>(s: &str) -> Result<T, String> {
    s.parse::<T>().map_err(|e| setting_message(&e))
}

/// Checks a jq expression given by `setting` with global variables `vars`, so
/// that clap reports a syntax error (exit status 2) with the flag's name.
fn check_jq(setting: Setting, vars: &[&str], s: &str) -> Result<String, String> {
    match fanfold::JqProgram::new(setting, s, vars) {
        Ok(_) => Ok(s.to_string()),
        Err(e) => Err(setting_message(&e)),
    }
}

pub(super) fn check_exec(s: &str) -> Result<String, String> {
    match ExecSpec::new(s) {
        Ok(_) => Ok(s.to_string()),
        Err(e) => Err(setting_message(&e)),
    }
}

pub(super) fn check_exec_persistent(s: &str) -> Result<String, String> {
    match ExecSpec::persistent(s) {
        Ok(_) => Ok(s.to_string()),
        Err(e) => Err(setting_message(&e)),
    }
}

pub(super) fn check_http(s: &str) -> Result<String, String> {
    match HttpSpec::new(s) {
        Ok(_) => Ok(s.to_string()),
        Err(e) => Err(setting_message(&e)),
    }
}

pub(super) fn check_http_request(s: &str) -> Result<String, String> {
    check_jq(Setting::HttpRequest, &[], s)
}

pub(super) fn check_http_response(s: &str) -> Result<String, String> {
    check_jq(Setting::HttpResponse, &[], s)
}

pub(super) fn check_tokens(s: &str) -> Result<String, String> {
    check_jq(Setting::Tokens, &[], s)
}

pub(super) fn parse_rate(s: &str) -> Result<Rate, String> {
    Rate::parse(s)
}

pub(super) fn parse_replicas(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(k) if k >= 2 => Ok(k),
        _ => Err(format!("`{s}`: the replicas must be a whole number, at least 2")),
    }
}

pub(super) fn check_filter(s: &str) -> Result<String, String> {
    check_jq(Setting::Filter, &[], s)
}

pub(super) fn check_map(s: &str) -> Result<String, String> {
    check_jq(Setting::Map, &[], s)
}

pub(super) fn check_init(s: &str) -> Result<String, String> {
    check_jq(Setting::ReduceInit, &[], s)
}

pub(super) fn check_update(s: &str) -> Result<String, String> {
    check_jq(Setting::ReduceUpdate, &["$record"], s)
}

pub(super) fn check_merge(s: &str) -> Result<String, String> {
    check_jq(Setting::ReduceMerge, &["$left", "$right"], s)
}

pub(super) fn check_finish(s: &str) -> Result<String, String> {
    check_jq(Setting::ReduceFinish, &[], s)
}

pub(super) fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" => Ok(b'\t'),
        _ if s.len() == 1 && s != "\"" && s != "\n" => Ok(s.as_bytes()[0]),
        _ => {
            Err(format!("`{s}`: the delimiter must be one byte (not a quote or newline), or `tab`"))
        }
    }
}

/// Parses `--comment`: one ASCII byte, not a quote or a line end.
pub(super) fn parse_comment(s: &str) -> Result<u8, String> {
    match s.as_bytes() {
        [c] if !matches!(c, b'"' | b'\n' | b'\r') && c.is_ascii() => Ok(*c),
        _ => {
            Err(format!("`{s}`: the comment marker must be one ASCII byte, not a quote or newline"))
        }
    }
}

/// Parses `--encoding`: a label of the WHATWG Encoding Standard.
pub(super) fn parse_encoding(s: &str) -> Result<fanfold::TextEncoding, String> {
    fanfold::TextEncoding::from_label(s).ok_or_else(|| {
        format!(
            "`{s}`: not an encoding label of the WHATWG Encoding Standard (e.g. utf-8, \
             utf-16le, windows-1252, latin1, iso-8859-15, shift_jis, gbk)"
        )
    })
}

pub(super) fn parse_rename(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => Err(format!("`{s}`: use old=new")),
    }
}

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h` (`500ms`,
/// `30s`, `1.5m`, `2h`); a bare number is seconds.
///
/// # Errors
/// A message when the text is not such a duration, or is negative or not
/// finite.
pub(super) fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let secs: f64 = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{s}`; use e.g. 500ms, 30s, 2m")),
    };
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration; use e.g. 30s"))?;
    Duration::try_from_secs_f64(n * secs).map_err(|_| format!("`{s}`: out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("0").is_err());
        assert!(parse_size("4XB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
