//! The house reads as the data flow: a check over the `crate::`, `super::`
//! and `self::` paths in `src/` (the library; the binary's `main.rs` and
//! `cli/` use it from outside, as `fanfold::`).
//!
//! Two rules, each a test:
//! - **No import runs backwards.** Every top-level module has a layer,
//!   from the foundations up the data flow (see [`LAYERS`]); a file may
//!   name its own module, the foundations, and the layers below its own,
//!   never one above.
//! - **No cycle between files.** The files' import graph has no cycle.
//!   A `pub use` re-export is not counted as a dependency of the file that
//!   re-exports (a `mod.rs` re-exporting its children is how a module
//!   shows its surface); the file that uses the re-exported name depends
//!   on the file that re-exports it.
//!
//! Unit tests (`#[cfg(test)]` to the end of a file), comments and string
//! literals are not read. [`KNOWN`] lists the backward imports still to
//! remove; the test fails when a listed one is gone (so the list only
//! shrinks) as well as when a new one appears.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, from the bottom: the foundations (errors, units, formats,
/// records, cancellation, the shared byte grammar), then the stages in
/// data-flow order, the executor that wires them, the pipeline that wires
/// a run, and the crate root.
const LAYERS: &[(&str, u32)] = &[
    ("units", 0),
    ("format", 0),
    ("cancel", 0),
    ("error", 0),
    ("record", 0),
    ("syntax", 0),
    ("source", 1),
    ("parse", 2),
    ("transform", 3),
    ("sink", 4),
    ("reduce", 5),
    ("exec", 6),
    ("pipeline", 7),
    ("lib", 8),
];

/// Backward imports not removed yet: (file, module it names).
const KNOWN: &[(&str, &str)] = &[];

/// Import cycles between files not removed yet, each as its files in
/// order.
const KNOWN_CYCLES: &[&[&str]] = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The library's source files, relative to the crate root
/// (`src/...`), without the binary's (`main.rs`, `cli/`).
fn files() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src/") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&src(), &mut paths);
    let root = src().parent().expect("crate root").to_path_buf();
    let mut names: Vec<String> = paths
        .iter()
        .map(|p| p.strip_prefix(&root).expect("under the root").display().to_string())
        .filter(|p| p != "src/main.rs" && p != "src/cli.rs" && !p.starts_with("src/cli/"))
        .collect();
    names.sort();
    names
}

/// The code of `text` without unit tests, comments, and the contents of
/// string and character literals.
fn code(text: &str) -> String {
    let text = match text.find("\n#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                i = end;
            }
            b'r' if b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"') => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let from = i + 2 + hashes;
                i = text[from..].find(&close).map_or(b.len(), |e| from + e + close.len());
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' => {
                // A character literal ('x', '\n', '\'', '\u{1F}'), or a
                // lifetime ('a), which is kept.
                let lit = if b.get(i + 1) == Some(&b'\\') {
                    text[i + 2..].find('\'').map(|e| i + 2 + e + 1)
                } else {
                    let c = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (b.get(i + 1 + c) == Some(&b'\'')).then_some(i + 2 + c)
                };
                match lit {
                    Some(end) => {
                        out.push_str("' '");
                        i = end;
                    }
                    None => {
                        out.push('\'');
                        i += 1;
                    }
                }
            }
            _ => {
                let c = text[i..].chars().next().expect("in bounds");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// A path the code names: its segments, from `crate`, and whether it
/// comes from a `pub use` re-export.
#[derive(Debug, Clone)]
struct Named {
    segments: Vec<String>,
    reexport: bool,
}

/// Tokens: identifiers, `::`, and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(code[i..end].to_string());
        } else if c == ':' && chars.peek().is_some_and(|&(_, d)| d == ':') {
            chars.next();
            out.push("::".to_string());
        } else if !c.is_whitespace() {
            out.push(c.to_string());
        }
    }
    out
}

/// The module path of `file` (`src/source/split.rs` is `source::split`,
/// `src/source/mod.rs` is `source`, `src/lib.rs` the root).
fn module_of(file: &str) -> Vec<String> {
    let rel = file.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// Parses a use tree or path at `t[i..]`, `prefix` before it, into `out`.
/// Returns the index after it.
fn path_tree(t: &[String], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        match t.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                loop {
                    match t.get(i).map(String::as_str) {
                        Some("}") | None => return i + 1,
                        Some(",") => i += 1,
                        _ => i = path_tree(t, i, path.clone(), out),
                    }
                }
            }
            Some(s) if s.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_') => {
                path.push(s.to_string());
                i += 1;
                if t.get(i).map(String::as_str) == Some("::") {
                    i += 1;
                    continue;
                }
                if t.get(i).map(String::as_str) == Some("as") {
                    i += 2;
                }
                out.push(path);
                return i;
            }
            Some("*") => {
                out.push(path);
                return i + 1;
            }
            _ => {
                out.push(path);
                return i;
            }
        }
    }
}

/// Every path `file`'s code names, resolved to start at `crate`.
fn named_paths(file: &str, text: &str) -> Vec<Named> {
    let t = tokens(&code(text));
    let here = module_of(file);
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let start = t[i].as_str();
        let root = match start {
            "crate" => Some(Vec::new()),
            "super" => Some(here[..here.len().saturating_sub(1)].to_vec()),
            "self" => Some(here.clone()),
            _ => None,
        };
        let follows = t.get(i + 1).map(String::as_str) == Some("::");
        let after_path = i > 0 && t[i - 1] == "::";
        let (Some(mut root), true, false) = (root, follows, after_path) else {
            i += 1;
            continue;
        };
        // `super::super::x`
        let mut j = i + 2;
        while t.get(j).map(String::as_str) == Some("super")
            && t.get(j + 1).map(String::as_str) == Some("::")
        {
            root.pop();
            j += 2;
        }
        let reexport = {
            // `pub use`, `pub(crate) use`, `pub(super) use` before the path.
            let mut k = i;
            while k > 0 && t[k - 1] != ";" && t[k - 1] != "}" && t[k - 1] != "{" {
                k -= 1;
            }
            let stmt = &t[k..i];
            stmt.first().is_some_and(|s| s == "pub") && stmt.iter().any(|s| s == "use")
        };
        let mut paths = Vec::new();
        i = path_tree(&t, j, root, &mut paths);
        out.extend(paths.into_iter().map(|segments| Named { segments, reexport }));
    }
    out
}

/// The file a path names: the longest prefix of it that is a module.
fn resolve(segments: &[String], files: &BTreeSet<String>) -> Option<String> {
    (0..=segments.len()).rev().find_map(|n| {
        let m = &segments[..n];
        let candidates = if m.is_empty() {
            vec!["src/lib.rs".to_string()]
        } else {
            let base = format!("src/{}", m.join("/"));
            vec![format!("{base}.rs"), format!("{base}/mod.rs")]
        };
        candidates.into_iter().find(|c| files.contains(c))
    })
}

/// The layer of a top-level module.
fn layer(module: &str) -> u32 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .map(|&(_, l)| l)
        .unwrap_or_else(|| panic!("module `{module}` has no layer in LAYERS: give it one"))
}

/// Each file's imports: the files it names (re-exports not counted), and
/// the top-level modules it names.
fn graph() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let files = files();
    let set: BTreeSet<String> = files.iter().cloned().collect();
    let root = src().parent().expect("crate root").to_path_buf();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(root.join(f)).expect("read a source file");
            let mut deps = BTreeSet::new();
            let mut modules = BTreeSet::new();
            for named in named_paths(f, &text) {
                if let Some(top) = named.segments.first() {
                    if LAYERS.iter().any(|(m, _)| m == top) {
                        modules.insert(top.clone());
                    }
                }
                if named.reexport {
                    continue;
                }
                if let Some(target) = resolve(&named.segments, &set).filter(|t| t != f) {
                    deps.insert(target);
                }
            }
            (f.clone(), (deps, modules))
        })
        .collect()
}

fn top_module(file: &str) -> String {
    module_of(file).first().cloned().unwrap_or_else(|| "lib".to_string())
}

#[test]
fn no_import_runs_backwards() {
    let mut backward = BTreeSet::new();
    for (file, (_, modules)) in graph() {
        let own = top_module(&file);
        for m in modules {
            if m != own && layer(&m) > layer(&own) {
                backward.insert((file.clone(), m));
            }
        }
    }
    let known: BTreeSet<(String, String)> =
        KNOWN.iter().map(|&(f, m)| (f.to_string(), m.to_string())).collect();
    let new: Vec<_> = backward.difference(&known).collect();
    let gone: Vec<_> = known.difference(&backward).collect();
    assert!(new.is_empty(), "imports of a layer above (file, module): {new:?}");
    assert!(gone.is_empty(), "removed from the code, remove them from KNOWN too: {gone:?}");
}

#[test]
fn no_cycle_between_files() {
    let graph = graph();
    // Depth-first search; a back edge closes a cycle.
    fn visit(
        f: &str,
        graph: &BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        cycles: &mut BTreeSet<Vec<String>>,
    ) {
        state.insert(f.to_string(), 1);
        stack.push(f.to_string());
        for d in graph.get(f).map(|(d, _)| d.iter()).into_iter().flatten() {
            match state.get(d.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == d).expect("on the stack");
                    let mut cycle = stack[at..].to_vec();
                    // Start each cycle at its smallest file, so it reads the
                    // same whatever the search order.
                    let min = (0..cycle.len()).min_by_key(|&k| &cycle[k]).unwrap_or(0);
                    cycle.rotate_left(min);
                    cycles.insert(cycle);
                }
                Some(_) => {}
                None => visit(d, graph, state, stack, cycles),
            }
        }
        stack.pop();
        state.insert(f.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = BTreeSet::new();
    for f in graph.keys() {
        if !state.contains_key(f) {
            visit(f, &graph, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    let known: BTreeSet<Vec<String>> =
        KNOWN_CYCLES.iter().map(|c| c.iter().map(|s| s.to_string()).collect()).collect();
    let new: Vec<_> = cycles.difference(&known).collect();
    let gone: Vec<_> = known.difference(&cycles).collect();
    assert!(new.is_empty(), "import cycles between files: {new:#?}");
    assert!(gone.is_empty(), "removed from the code, remove them from KNOWN_CYCLES: {gone:?}");
}

/// The checker itself: it reads `use` trees, inline paths and `super::`,
/// skips comments, strings and tests, and tells re-exports apart.
#[test]
fn the_checker_reads_paths_as_rustc_does() {
    let text = "//! crate::pipeline in a comment\n\
        use crate::source::{chunk::{Chunk, ChunkLimit}, Input};\n\
        pub use crate::exec::run;\n\
        use super::sibling::Thing;\n\
        fn f() { let s = \"crate::reduce::x\"; let c = '\"'; crate::units::human_bytes(1); }\n\
        #[cfg(test)]\nmod tests { use crate::pipeline::Pipeline; }\n";
    let named = named_paths("src/parse/mod.rs", text);
    let got: Vec<(String, bool)> =
        named.iter().map(|n| (n.segments.join("::"), n.reexport)).collect();
    assert_eq!(
        got,
        [
            ("source::chunk::Chunk".to_string(), false),
            ("source::chunk::ChunkLimit".to_string(), false),
            ("source::Input".to_string(), false),
            ("exec::run".to_string(), true),
            ("sibling::Thing".to_string(), false),
            ("units::human_bytes".to_string(), false),
        ]
    );
    let files: BTreeSet<String> =
        ["src/lib.rs", "src/source/mod.rs", "src/source/chunk.rs"].map(String::from).into();
    let seg = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    assert_eq!(
        resolve(&seg("source::chunk::Chunk"), &files).as_deref(),
        Some("src/source/chunk.rs")
    );
    assert_eq!(resolve(&seg("source::Input"), &files).as_deref(), Some("src/source/mod.rs"));
    assert_eq!(resolve(&seg("Error"), &files).as_deref(), Some("src/lib.rs"));
}
