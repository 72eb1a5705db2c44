//! The shape of the crates (docs/architecture.md, "Modules"): no file imports another that
//! imports it back, directly or through others, in the engine (`src/`), the notes app
//! (`app/src/`) or the server (`server/src/`); and no part of the server half imports
//! `src/server.rs`, which only names what is public.
//!
//! Read from the source: every path that starts with `crate::`, `super::`, `self::` or the name
//! of a child module (`mod name;`), in `use` lines and in code, brace groups included, resolved
//! to the file of the longest module it names. `mod name;` itself is not an edge. Comments are
//! left out; a module inline in a file (`mod tests { … }`) is that file.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// One crate's source: module paths (`["server", "http"]`) to files, relative to the crate root.
struct Crate {
    root: PathBuf,
    modules: BTreeMap<Vec<String>, PathBuf>,
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

impl Crate {
    fn read(root: &Path) -> Crate {
        let mut all = Vec::new();
        files(root, &mut all);
        let mut modules = BTreeMap::new();
        for file in all {
            let rel = file.strip_prefix(root).expect("under the root").to_owned();
            let mut path: Vec<String> = rel
                .iter()
                .map(|c| {
                    c.to_str()
                        .expect("utf-8")
                        .trim_end_matches(".rs")
                        .to_owned()
                })
                .collect();
            if matches!(
                path.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                path.pop();
            }
            // A binary's `main.rs` beside a `lib.rs` is its own crate: left out.
            if rel == Path::new("main.rs") && root.join("lib.rs").exists() {
                continue;
            }
            modules.insert(path, rel);
        }
        Crate {
            root: root.to_owned(),
            modules,
        }
    }

    /// The file of the longest module `path` names.
    fn file_of(&self, path: &[String]) -> Option<&PathBuf> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.modules.get(&path[..n]))
    }

    /// Every file-to-file edge: `from` uses something `to` defines.
    fn edges(&self) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
        let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
        for (module, file) in &self.modules {
            let mut pieces = Vec::new();
            inline_modules(&code_of(&self.root.join(file)), module.clone(), &mut pieces);
            for (code, at) in pieces {
                // Child files are children of the file's own module only.
                let children: Vec<String> = if &at == module {
                    self.modules
                        .keys()
                        .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
                        .map(|m| m.last().expect("a child").clone())
                        .collect()
                } else {
                    Vec::new()
                };
                // (anchor, the module it stands for)
                let mut anchors = vec![
                    ("crate".to_owned(), Vec::new()),
                    (
                        "super".to_owned(),
                        at[..at.len().saturating_sub(1)].to_vec(),
                    ),
                    ("self".to_owned(), at.clone()),
                ];
                for child in children {
                    let mut path = module.clone();
                    path.push(child.clone());
                    anchors.push((child, path));
                }
                for (anchor, base) in anchors {
                    for rest in paths_after(&code, &anchor) {
                        let mut path = base.clone();
                        // `super::super::x`
                        let mut rest = rest.as_slice();
                        while let Some(("super", tail)) =
                            rest.split_first().map(|(h, t)| (h.as_str(), t))
                        {
                            path.pop();
                            rest = tail;
                        }
                        path.extend(rest.iter().cloned());
                        if let Some(to) = self.file_of(&path) {
                            if to != file {
                                edges.entry(file.clone()).or_default().insert(to.clone());
                            }
                        }
                    }
                }
            }
        }
        edges
    }
}

/// The file without its comments.
fn code_of(file: &Path) -> String {
    strip_comments(&fs::read_to_string(file).expect("readable"))
}

/// `code` without line comments (doc comments included; block comments are not used in this
/// code base). A `//` after an odd number of quotes is inside a string ("https://…") and kept.
fn strip_comments(code: &str) -> String {
    code.lines()
        .map(|l| match l.find("//") {
            Some(at) if l[..at].matches('"').count() % 2 == 0 => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits `code` (module `at`) into the pieces each module inline in it holds (`mod tests {
/// … }`), each with its module path, so that `super::` inside one means the file's module.
fn inline_modules(code: &str, at: Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    let mut outer = String::new();
    let mut rest = code;
    while let Some(found) = find_inline_mod(rest) {
        let (start, name, open) = found;
        outer.push_str(&rest[..start]);
        // The matching brace (strings and chars with braces are rare enough to ignore).
        let mut depth = 0;
        let mut end = rest.len();
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let mut inner = at.clone();
        inner.push(name);
        inline_modules(&rest[open + 1..end], inner, out);
        rest = &rest[(end + 1).min(rest.len())..];
    }
    outer.push_str(rest);
    out.push((outer, at));
}

/// The first `mod name {` in `code`: where `mod` starts, the name, where `{` is.
fn find_inline_mod(code: &str) -> Option<(usize, String, usize)> {
    for (at, _) in code.match_indices("mod ") {
        if code[..at].ends_with(is_ident) {
            continue;
        }
        let after = &code[at + 4..];
        let name: String = after
            .trim_start()
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        if name.is_empty() {
            continue;
        }
        let skipped = after.len() - after.trim_start().len();
        let tail = &after[skipped + name.len()..];
        if tail.trim_start().starts_with('{') {
            let open = at + 4 + skipped + name.len() + (tail.len() - tail.trim_start().len());
            return Some((at, name, open));
        }
    }
    None
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path after `anchor::` in `code`, brace groups expanded: `a::b` and `c` in
/// `anchor::{a::b, c}`. Only the segments that are identifiers are kept.
fn paths_after(code: &str, anchor: &str) -> Vec<Vec<String>> {
    let needle = format!("{anchor}::");
    let mut out = Vec::new();
    for (at, _) in code.match_indices(&needle) {
        let before = &code[..at];
        // `$crate::` is the crate; `x::anchor::` or `xanchor::` is another path.
        if before.ends_with(|c: char| is_ident(c) || c == ':')
            || (anchor != "crate" && before.ends_with('$'))
        {
            continue;
        }
        tree(&code[at + needle.len()..], Vec::new(), &mut out);
    }
    out
}

/// Parses one use tree at the start of `s` (after a `::`), pushing each full path.
fn tree(s: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let s = s.trim_start();
    if let Some(group) = s.strip_prefix('{') {
        let (mut depth, mut start) = (0, 0);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    tree(&group[start..i], prefix.clone(), out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    tree(&group[start..i], prefix.clone(), out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let name: String = s.chars().take_while(|c| is_ident(*c)).collect();
    let mut path = prefix;
    // `self` and `*` name the prefix itself; nothing (after a trailing comma) names nothing.
    if name == "self" || (name.is_empty() && s.starts_with('*')) {
        out.push(path);
        return;
    }
    if name.is_empty() {
        return;
    }
    let rest = &s[name.len()..];
    path.push(name);
    match rest.trim_start().strip_prefix("::") {
        Some(more) => tree(more, path, out),
        None => out.push(path),
    }
}

fn first_cycle(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    // Depth-first; a node met again while still on the path closes a cycle.
    fn visit(
        n: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        path: &mut Vec<PathBuf>,
        done: &mut BTreeSet<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.clone());
            return Some(cycle);
        }
        if !done.insert(n.clone()) {
            return None;
        }
        path.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

fn crate_at(dir: &str) -> Crate {
    Crate::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
}

/// The groups of files that import each other (strongly connected, more than one file).
fn knots(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<BTreeSet<PathBuf>> {
    let reach = |from: &PathBuf| {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![from.clone()]);
        while let Some(n) = todo.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<_, _> = edges.keys().map(|n| (n.clone(), reach(n))).collect();
    let mut out: Vec<BTreeSet<PathBuf>> = Vec::new();
    for (n, r) in &reaches {
        let knot: BTreeSet<PathBuf> = r
            .iter()
            .filter(|m| reaches.get(*m).is_some_and(|back| back.contains(n)))
            .cloned()
            .collect();
        if knot.len() > 1 && !out.contains(&knot) {
            out.push(knot);
        }
    }
    out
}

fn assert_no_cycle(dir: &str) {
    let c = crate_at(dir);
    let edges = c.edges();
    if let Some(cycle) = first_cycle(&edges) {
        let names: Vec<_> = cycle.iter().map(|p| p.display().to_string()).collect();
        let knots: Vec<String> = knots(&edges)
            .iter()
            .map(|k| {
                let files: Vec<_> = k.iter().map(|p| p.display().to_string()).collect();
                format!("  {{{}}}", files.join(", "))
            })
            .collect();
        panic!(
            "import cycle in {dir}: {}\nfiles that import each other:\n{}",
            names.join(" → "),
            knots.join("\n")
        );
    }
}

#[test]
fn the_engine_has_no_import_cycle() {
    assert_no_cycle("src");
}

#[test]
fn the_notes_app_has_no_import_cycle() {
    assert_no_cycle("app/src");
}

#[test]
fn the_server_has_no_import_cycle() {
    assert_no_cycle("server/src");
}

#[test]
fn the_reader_sees_the_edges_that_make_a_cycle() {
    // The reader itself: a child that uses its parent's item while the parent uses the child's.
    let code = strip_comments(
        "use super::{channel::Outcome, Hook};\nlet x = crate::a::b::c(); // crate::z\n",
    );
    assert_eq!(
        paths_after(&code, "super"),
        vec![vec!["channel", "Outcome"], vec!["Hook"]]
    );
    assert_eq!(paths_after(&code, "crate"), vec![vec!["a", "b", "c"]]);
    let c = crate_at("src");
    let edges = c.edges();
    let server = PathBuf::from("server.rs");
    assert!(
        edges[&server].contains(&PathBuf::from("server/auth.rs")),
        "src/server.rs re-exports the engine from server/auth.rs: {:?}",
        edges[&server]
    );
    let mut toy = BTreeMap::new();
    toy.insert(PathBuf::from("a"), BTreeSet::from([PathBuf::from("b")]));
    toy.insert(PathBuf::from("b"), BTreeSet::from([PathBuf::from("a")]));
    assert!(first_cycle(&toy).is_some());
}

#[test]
fn no_part_of_the_server_half_imports_its_root() {
    let c = crate_at("src");
    let root = PathBuf::from("server.rs");
    let importers: Vec<_> = c
        .edges()
        .into_iter()
        .filter(|(from, to)| from.starts_with("server/") && to.contains(&root))
        .map(|(from, _)| from.display().to_string())
        .collect();
    assert!(
        importers.is_empty(),
        "these files import src/server.rs: {importers:?}"
    );
}
