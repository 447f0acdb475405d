//! The README's library section quotes code that compiles: each of its
//! Rust snippets is a part of an example (`examples/`) or of a doctest in
//! `src/pipeline/builder.rs`, line for line (indentation aside).

/// The lines of `text`, trimmed, without doc-comment markers and blanks.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().trim_start_matches("///").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn every_library_snippet_is_quoted_from_code_that_compiles() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let start = readme.find("## As a library").expect("a library section");
    let end = readme[start..].find("\n## ").map_or(readme.len(), |e| start + e);
    let section = &readme[start..end];
    let sources: Vec<Vec<String>> =
        ["examples/library_tour.rs", "examples/speed_by_hour.rs", "src/pipeline/builder.rs"]
            .iter()
            .map(|p| lines(&std::fs::read_to_string(p).expect("a source")))
            .collect();
    let mut snippets = 0;
    for block in section.split("```rust\n").skip(1) {
        let code = block.split("```").next().expect("a closed block");
        let want = lines(code);
        let quoted =
            sources.iter().any(|src| src.windows(want.len()).any(|w| w == want.as_slice()));
        assert!(quoted, "a README snippet is not in the examples or doctests:\n{code}");
        snippets += 1;
    }
    assert!(snippets >= 6, "{snippets} snippets");
}
