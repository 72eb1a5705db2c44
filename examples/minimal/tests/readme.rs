//! The README's "Using the engine in another app" shows this example's wiring; this keeps the
//! copy identical to the code that compiles (and that `cargo xtask test` runs in a browser).

#[test]
fn the_readme_shows_the_wiring_that_compiles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(root.join("src/main.rs")).unwrap();
    let readme = std::fs::read_to_string(root.join("../../README.md")).unwrap();
    let begin = main.find("// README: begin").expect("begin marker");
    let start = begin + main[begin..].find('\n').unwrap() + 1;
    let end = main.find("// README: end").expect("end marker");
    // The body of `main`, one indent less, without its whole-line comments.
    let wiring: String = main[start..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        readme.contains(wiring.trim()),
        "README.md must contain, verbatim, the wiring of examples/minimal/src/main.rs:\n{wiring}"
    );
}
