//! The shape of the engine's server half (docs/architecture.md, "Modules"): its parts (the
//! modules under `src/server/`) import each other without a cycle, and none imports
//! `src/server.rs`, which only names what is public. Read from the source's `use` paths
//! (`crate::server::…`, and `super::…` in a part's own root file).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

const ROOT: &str = "(src/server.rs)";

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

/// The first-level names after each `prefix` in `code`: `a` in `prefix a::b`, `a` and `c` in
/// `prefix {a::b, c}`.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            names.push(item);
        } else {
            names.push(rest.to_owned());
        }
    }
    names
        .iter()
        .filter_map(|n| {
            let n: String = n
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!n.is_empty()).then_some(n)
        })
        .collect()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server");
    let mut all = Vec::new();
    files(&src, &mut all);
    let parts: BTreeSet<String> = fs::read_dir(&src)
        .expect("src/server")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in all {
        let rel = file.strip_prefix(&src).expect("under src/server");
        let part = rel
            .components()
            .next()
            .and_then(|c| Path::new(c.as_os_str()).file_stem()?.to_str())
            .expect("a part")
            .to_owned();
        let code: String = fs::read_to_string(&file)
            .expect("readable")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut names = names_after(&code, "crate::server::");
        // `super::` in a part's own root file (`auth.rs`, `sessions/mod.rs`) is src/server.rs.
        let depth = rel.components().count();
        let part_root = depth == 1 || (depth == 2 && rel.ends_with("mod.rs"));
        if part_root {
            names.extend(names_after(&code, "super::"));
        }
        for name in names {
            let target = if parts.contains(&name) {
                name
            } else {
                ROOT.to_owned()
            };
            if target != part {
                edges.entry(part.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

#[test]
fn no_part_imports_the_root_of_the_server_half() {
    let importers: Vec<_> = graph()
        .into_iter()
        .filter(|(_, to)| to.contains(ROOT))
        .map(|(from, _)| from)
        .collect();
    assert!(
        importers.is_empty(),
        "these parts import {ROOT}: {importers:?}"
    );
}

#[test]
fn the_parts_import_each_other_without_a_cycle() {
    let edges = graph();
    // Depth-first; a node met again while still on the path closes a cycle.
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_owned());
            return Some(cycle);
        }
        if !done.insert(n.to_owned()) {
            return None;
        }
        path.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(cycle) = visit(n, &edges, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
    assert!(edges.contains_key("http") && edges["http"].contains("auth"));
}
