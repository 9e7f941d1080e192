//! The house's one rule: imports point down. Every `crate::…` path outside `#[cfg(test)]`
//! (doc links included: a reader follows them too) is an edge from its file to the file it
//! names. The top-level modules of `src/` sit in the layers of `ARCHITECTURE.md`, and a module
//! may name only modules of its own layer or below; and no files may name each other in a
//! loop, directly or through others. A new module must be given a layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom up, as in ARCHITECTURE.md.
const LAYERS: &[&[&str]] = &[
    &[
        "exit", "secret", "text", "diag", "file", "phone", "email", "model",
    ],
    &["plan", "audit", "ps"],
    &["http"],
    &["auth"],
    &["directory"],
    &["error"],
    &["import"],
    &["output"],
    &["cli"],
    &["settings"],
    &["commands"],
    &["lib", "main"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The part of a file that ships: everything before its first `#[cfg(test)]`, unless the file
/// is itself a test module.
fn shipped(rel: &str, text: &str) -> Option<String> {
    if rel.ends_with("/tests.rs") || rel.contains("/tests/") {
        return None;
    }
    Some(text.split("#[cfg(test)]").next().unwrap_or("").to_string())
}

/// The `crate::` paths a text names: `crate::a::b::C` gives `["a", "b", "C"]`.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `foocrate::`, not ours
        }
        let mut path = Vec::new();
        for seg in rest.split("::") {
            let ident: String = seg
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let whole = ident.len() == seg.len();
            if !ident.is_empty() {
                path.push(ident);
            }
            if !whole || path.is_empty() {
                break;
            }
        }
        if !path.is_empty() {
            paths.push(path);
        }
    }
    paths
}

/// The file of `src/` a path names: its longest prefix that is a module file.
fn resolve(files: &BTreeSet<String>, path: &[String]) -> Option<String> {
    (1..=path.len()).rev().find_map(|n| {
        let p = path[..n].join("/");
        [format!("{p}.rs"), format!("{p}/mod.rs")]
            .into_iter()
            .find(|f| files.contains(f))
    })
}

fn top(rel: &str) -> &str {
    rel.split('/').next().unwrap().trim_end_matches(".rs")
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let rel = |p: &Path| {
        p.strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/")
    };
    let files: BTreeSet<String> = paths.iter().map(|p| rel(p)).collect();
    let mut edges = BTreeMap::new();
    for p in &paths {
        let r = rel(p);
        let Some(code) = shipped(&r, &std::fs::read_to_string(p).unwrap()) else {
            continue;
        };
        let to: BTreeSet<String> = crate_paths(&code)
            .iter()
            .filter_map(|path| resolve(&files, path))
            .filter(|f| *f != r)
            .collect();
        edges.insert(r, to);
    }
    Graph { edges }
}

/// A loop through `start`, if there is one.
fn loop_from(g: &Graph, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in g.edges.get(&node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn every_top_level_module_has_a_layer() {
    let g = graph();
    let missing: BTreeSet<&str> = g
        .edges
        .keys()
        .map(|f| top(f))
        .filter(|m| layer(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "give these modules a layer in tests/architecture.rs and ARCHITECTURE.md: {missing:?}"
    );
}

#[test]
fn imports_point_only_down_the_layers() {
    let g = graph();
    let mut upward = Vec::new();
    for (from, tos) in &g.edges {
        for to in tos {
            let (a, b) = (top(from), top(to));
            if let (Some(la), Some(lb)) = (layer(a), layer(b))
                && lb > la
            {
                upward.push(format!("{from} -> {to} ({a} is below {b})"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports pointing up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_files_import_each_other_in_a_loop() {
    let g = graph();
    let loops: Vec<String> = g
        .edges
        .keys()
        .filter_map(|f| loop_from(&g, f))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn the_checker_sees_loops_and_paths() {
    assert_eq!(
        crate_paths("use crate::auth::token::{Tokens, unavailable};\n[`crate::http`] mycrate::x"),
        vec![vec!["auth", "token"], vec!["http"]]
    );
    let files: BTreeSet<String> = ["auth/mod.rs", "auth/token.rs", "http.rs"]
        .map(String::from)
        .into();
    let p = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    assert_eq!(
        resolve(&files, &p("auth::token::Tokens")).unwrap(),
        "auth/token.rs"
    );
    assert_eq!(
        resolve(&files, &p("auth::Credential")).unwrap(),
        "auth/mod.rs"
    );
    assert_eq!(resolve(&files, &p("http::Http")).unwrap(), "http.rs");
    let g = Graph {
        edges: [
            ("a.rs", vec!["b.rs"]),
            ("b.rs", vec!["c.rs"]),
            ("c.rs", vec!["a.rs"]),
            ("d.rs", vec!["a.rs"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect(),
    };
    assert_eq!(
        loop_from(&g, "a.rs").unwrap(),
        ["a.rs", "b.rs", "c.rs", "a.rs"]
    );
    assert!(loop_from(&g, "d.rs").is_none());
}
