//! Every environment variable the code reads is documented: a row of the table in
//! `docs/configuration.md` (its first cell `` `NAME` ``) and a line of `.env.example` (`NAME=…`,
//! commented out when optional). And every row of that table is a variable the code reads.
//!
//! The variables are found by scanning the engine (`src/`) and the binary (`server/src/`) for
//! the ways they read the environment: a string literal in SCREAMING_CASE passed to `var(…)`,
//! `var_os(…)` or a lookup closure (`get("NAME")`, `env("NAME")`), or as the variable of a
//! helper that takes the lookup first (`duration(&get, "NAME", …)`); and tracing's
//! `EnvFilter::…from_default_env`, which reads `RUST_LOG`. Comments are skipped, so a variable
//! named only in prose does not count.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("server/ sits in the workspace")
        .to_path_buf()
}

/// What precedes a literal that names a variable being read (whitespace removed).
const READS: &[&str] = &["var(", "var_os(", "get(", "env(", "&get,", "get,"];

/// A Rust source with its comments removed, split into code and string literals.
enum Piece {
    Code(String),
    Str(String),
}

/// Splits `src` into code and string literals, dropping `//` and `/* */` comments. Knows
/// escapes, raw strings (`r"…"`, `r#"…"#`), byte strings, char literals and lifetimes.
fn pieces(src: &str) -> Vec<Piece> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut code = String::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            code.push(' ');
            continue;
        }
        let ident_before = i > 0 && (s[i - 1].is_alphanumeric() || s[i - 1] == '_');
        // Raw strings: r"…", r#"…"#, br"…".
        if c == 'r' && !ident_before || (c == 'b' && next == Some('r') && !ident_before) {
            let start = if c == 'b' { i + 1 } else { i };
            let mut j = start + 1;
            let mut hashes = 0;
            while s.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if s.get(j) == Some(&'"') {
                let close = format!("\"{}", "#".repeat(hashes));
                let body_start = j + 1;
                let rest: String = s[body_start..].iter().collect();
                let len = rest.find(&close).unwrap_or(rest.len());
                out.push(Piece::Code(std::mem::take(&mut code)));
                out.push(Piece::Str(rest[..len].to_owned()));
                i = body_start + rest[..len].chars().count() + close.chars().count();
                continue;
            }
        }
        if c == '"' {
            let mut j = i + 1;
            let mut lit = String::new();
            while j < s.len() && s[j] != '"' {
                if s[j] == '\\' {
                    j += 1;
                }
                if let Some(&ch) = s.get(j) {
                    lit.push(ch);
                }
                j += 1;
            }
            out.push(Piece::Code(std::mem::take(&mut code)));
            out.push(Piece::Str(lit));
            i = j + 1;
            continue;
        }
        if c == '\'' {
            // A char literal ('a', '\n', '\''), or a lifetime ('a, 'static): left as code.
            if next == Some('\\') {
                let mut j = i + 3;
                while j < s.len() && s[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                code.push(' ');
                continue;
            }
            if s.get(i + 2) == Some(&'\'') {
                i += 3;
                code.push(' ');
                continue;
            }
        }
        code.push(c);
        i += 1;
    }
    out.push(Piece::Code(code));
    out
}

fn is_variable_name(s: &str) -> bool {
    s.len() >= 3
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !s.ends_with('_')
}

/// The variables one source file reads.
fn variables_read(src: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut before = String::new();
    for piece in pieces(src) {
        match piece {
            Piece::Code(code) => {
                let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
                if compact.contains("from_default_env") {
                    found.insert("RUST_LOG".to_owned());
                }
                before.push_str(&compact);
                // Only the tail matters: what directly precedes the next literal.
                let excess = before.chars().count().saturating_sub(64);
                if excess > 0 {
                    before = before.chars().skip(excess).collect();
                }
            }
            Piece::Str(lit) => {
                if is_variable_name(&lit) && READS.iter().any(|r| before.ends_with(r)) {
                    found.insert(lit);
                }
                before.clear();
                before.push('"');
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every variable the engine and the binary read. A test module in a file of its own
/// (`…_tests.rs`, compiled only under `cfg(test)`) is not the code: the store's contract tests
/// read `TEST_DATABASE_URL`, which configures the tests, not the engine.
fn variables_in_code() -> BTreeSet<String> {
    let mut files = Vec::new();
    for dir in ["src", "server/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    files
        .iter()
        .filter(|f| {
            !f.file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| s.ends_with("_tests"))
        })
        .flat_map(|f| variables_read(&fs::read_to_string(f).unwrap()))
        .collect()
}

/// The variables of `docs/configuration.md`'s table: rows whose first cell is `` `NAME` ``.
fn variables_in_table() -> BTreeSet<String> {
    let doc = fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    doc.lines()
        .filter_map(|l| l.trim().strip_prefix('|'))
        .filter_map(|row| row.split('|').next())
        .filter_map(|cell| {
            let name = cell.trim().strip_prefix('`')?.strip_suffix('`')?;
            is_variable_name(name).then(|| name.to_owned())
        })
        .collect()
}

/// The variables `.env.example` sets or shows commented out (`NAME=` or `# NAME=`).
fn variables_in_env_example() -> BTreeSet<String> {
    let example = fs::read_to_string(root().join(".env.example")).unwrap();
    example
        .lines()
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches('#').trim_start();
            let (name, _) = l.split_once('=')?;
            is_variable_name(name).then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn every_variable_the_code_reads_is_documented() {
    let read = variables_in_code();
    assert!(
        !read.is_empty(),
        "the scan found no environment variable in src/ or server/src/: it no longer matches \
         how the code reads them"
    );
    let table = variables_in_table();
    let example = variables_in_env_example();
    let missing_table: Vec<_> = read.difference(&table).collect();
    let missing_example: Vec<_> = read.difference(&example).collect();
    let stale: Vec<_> = table.difference(&read).collect();
    assert!(
        missing_table.is_empty() && missing_example.is_empty() && stale.is_empty(),
        "the code reads {read:?}\n\
         missing from docs/configuration.md's table: {missing_table:?}\n\
         missing from .env.example: {missing_example:?}\n\
         in the table but read nowhere: {stale:?}"
    );
}

#[test]
fn the_scan_sees_every_way_of_reading_and_nothing_else() {
    let src = r##"
        // get("IN_A_COMMENT") is prose, /* env("NOR_THIS") */ too.
        let url = "sqlite://data/app.db"; // a literal with a slash pair inside
        let a = get("PLAIN_GET");
        let b = std::env::var("STD_VAR").ok();
        let c = std::env::var_os( "VAR_OS" );
        let d = env("CLOSURE_ENV");
        let e = duration(
            &get,
            "HELPER_FIRST_ARG",
            default,
        )?;
        let f = r#"get("IN_A_RAW_STRING")"#;
        let g = headers.get("idempotency-key");
        let h = ConfigError::new("NAMED_IN_AN_ERROR", "", "reason");
        let i: &'static str = if '"' == '\'' { "x" } else { get("AFTER_CHAR_LITERALS") };
        let j = EnvFilter::try_from_default_env();
    "##;
    let found: Vec<_> = variables_read(src).into_iter().collect();
    assert_eq!(
        found,
        [
            "AFTER_CHAR_LITERALS",
            "CLOSURE_ENV",
            "HELPER_FIRST_ARG",
            "PLAIN_GET",
            "RUST_LOG",
            "STD_VAR",
            "VAR_OS"
        ]
    );
}
