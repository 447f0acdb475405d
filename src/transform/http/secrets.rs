//! `--http-header 'Name: value'` templates: `$VAR` and `${VAR}` taken from
//! the environment, and the [`Redactor`] that keeps their values out of
//! every message, reject, statistic and journal.
//!
//! A header's value is a secret as a whole (`Bearer sk-…`), and so is each
//! variable's value in it (`sk-…`): both are replaced by `<redacted>`
//! wherever a message could show them (a server that echoes the request
//! in its error body, an error that quotes a header). Headers are shown by
//! name only (`Authorization: <redacted>`).

use crate::error::{Error, Result, Setting};

/// What stands for a secret in messages.
pub const REDACTED: &str = "<redacted>";

/// A header of the step, its value expanded.
#[derive(Clone)]
pub(crate) struct Header {
    /// The name as written (`Authorization`).
    pub name: String,
    /// The value with the variables put in.
    pub value: String,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {REDACTED}", self.name)
    }
}

/// Replaces the secrets in text.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    /// Longest first, so that a value is replaced before a part of it.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// `text` with every secret replaced by [`REDACTED`].
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

/// The name of a header template (`Authorization` of `Authorization:
/// Bearer $KEY`), for messages and fingerprints.
pub(crate) fn header_name(template: &str) -> &str {
    template.split_once(':').map_or(template, |(n, _)| n).trim()
}

/// Expands the header templates from the environment (`env` looks a
/// variable up). Returns the headers and the redactor of their values.
///
/// # Errors
/// [`ErrorKind::Setting`](crate::ErrorKind::Setting) naming
/// `--http-header` for a template without `Name:`, a name that is not a
/// header token, an unclosed `${`, or a variable that is not set (named;
/// its value never is).
pub(crate) fn expand_headers(
    templates: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<Header>, Redactor)> {
    let mut headers = Vec::new();
    let mut secrets = Vec::new();
    for t in templates {
        let bad = |why: String| Error::setting(Setting::HttpHeader, why);
        let Some((name, value)) = t.split_once(':') else {
            return Err(bad(format!(
                "`{}`: expected `Name: value`",
                header_name(t).chars().take(40).collect::<String>()
            )));
        };
        let name = name.trim();
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(bad(format!("`{name}`: not a header name")));
        }
        let mut out = String::new();
        let mut rest = value.trim();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (var, tail) = if let Some(inner) = after.strip_prefix('{') {
                let end =
                    inner.find('}').ok_or_else(|| bad(format!("{name}: a `${{` is not closed")))?;
                (&inner[..end], &inner[end + 1..])
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if var.is_empty() {
                out.push('$');
            } else {
                let v = env(var).ok_or_else(|| {
                    bad(format!("{name}: the environment variable `{var}` is not set"))
                })?;
                secrets.push(v.clone());
                out.push_str(&v);
            }
            rest = tail;
        }
        out.push_str(rest);
        secrets.push(out.clone());
        headers.push(Header { name: name.to_string(), value: out });
    }
    secrets.retain(|s| s.len() >= 4);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    Ok((headers, Redactor { secrets }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        match var {
            "KEY" => Some("sk-12345".into()),
            "ORG" => Some("acme-org".into()),
            _ => None,
        }
    }

    #[test]
    fn templates() {
        let t = ["Authorization: Bearer $KEY".to_string(), "X-Org: ${ORG}/a $ b".to_string()];
        let (h, r) = expand_headers(&t, &env).unwrap();
        assert_eq!(h[0].value, "Bearer sk-12345");
        assert_eq!(h[1].value, "acme-org/a $ b");
        assert_eq!(format!("{:?}", h[0]), "Authorization: <redacted>");
        assert_eq!(
            r.redact("got Bearer sk-12345 and sk-12345, acme-org"),
            "got <redacted> and <redacted>, <redacted>"
        );
        let e = expand_headers(&["A: $NOPE".to_string()], &env).unwrap_err();
        assert!(e.to_string().contains("`NOPE` is not set"), "{e}");
        assert!(expand_headers(&["no colon".to_string()], &env).is_err());
        assert!(expand_headers(&["A B: x".to_string()], &env).is_err());
        assert!(expand_headers(&["A: ${KEY".to_string()], &env).is_err());
        assert_eq!(header_name(" X-Api-Key : v"), "X-Api-Key");
    }
}
