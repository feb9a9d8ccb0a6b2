//! The layering test: `ARCHITECTURE.md`'s table of layers checked against every `crate::`
//! import of `src/`. A module may import from its own layer or the layers below, never from
//! above; modules of one layer never import each other in a cycle; every module is in the table;
//! layer 0 uses neither actix nor tokio. Plain Rust over the source text, no tool: comments are
//! skipped, `use crate::{a, b::c}` groups are read entry by entry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name → layer, from the rows of the table (`| 2 | `cache`, `limits` | ... |`).
fn parse_table(markdown: &str) -> BTreeMap<String, usize> {
    let mut layers = BTreeMap::new();
    for line in markdown.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| 0 | `a`, `b` | ... |" splits into ["", "0", "`a`, `b`", ..., ""].
        let (Some(layer), Some(modules)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Ok(layer) = layer.parse::<usize>() else {
            continue;
        };
        for name in modules.split(',') {
            let name = name.trim().trim_matches('`');
            if !name.is_empty() {
                layers.insert(name.to_string(), layer);
            }
        }
    }
    layers
}

/// The line without its `//` comment (a `//` inside a string literal is kept).
fn code_of(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// The top-level modules a source text names through `crate::`.
fn imports(source: &str) -> BTreeSet<String> {
    let code: String = source.lines().map(code_of).collect::<Vec<_>>().join("\n");
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[at + "crate::".len()..];
        if preceded_by_ident {
            // `mycrate::x` is another path.
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The entries of the group at depth 0: `a`, `b::{c, d}`, `self`.
            let mut depth = 0usize;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.insert(ident(group[start..i].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(group[start..i].trim()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.remove("");
    found
}

/// Every breach of the rules, as readable lines. `files` are (path below `src/`, text).
fn check(layers: &BTreeMap<String, usize>, files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        let module = path
            .split('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_string();
        let Some(&layer) = layers.get(&module) else {
            problems.push(format!(
                "src/{path}: module `{module}` is in no layer of ARCHITECTURE.md"
            ));
            continue;
        };
        if layer == 0 {
            let code: String = text.lines().map(code_of).collect();
            for framework in ["actix", "tokio"] {
                if code.contains(framework) {
                    problems.push(format!(
                        "src/{path}: layer 0 (`{module}`) must not use {framework}"
                    ));
                }
            }
        }
        for imported in imports(text) {
            if imported == module {
                continue;
            }
            match layers.get(&imported) {
                None => problems.push(format!(
                    "src/{path}: imports `{imported}`, which is in no layer of ARCHITECTURE.md"
                )),
                Some(&above) if above > layer => problems.push(format!(
                    "src/{path}: `{module}` (layer {layer}) imports `{imported}` (layer {above})"
                )),
                Some(&same) if same == layer => {
                    edges.entry(module.clone()).or_default().insert(imported);
                }
                Some(_) => {}
            }
        }
    }
    problems.extend(cycles(&edges));
    problems
}

/// The cycles among modules of one layer, one line each.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<String>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            found.push(format!("import cycle: {}", cycle.join(" -> ")));
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

/// Every `.rs` file below `dir` but the crate roots and this test, as (relative path, text).
fn sources(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let relative = format!("{prefix}{name}");
        if path.is_dir() {
            sources(&path, &format!("{relative}/"), out);
        } else if name.ends_with(".rs")
            && !matches!(relative.as_str(), "lib.rs" | "main.rs" | "layers.rs")
        {
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            out.push((relative, text));
        }
    }
}

#[test]
fn every_module_imports_only_from_its_layer_or_below() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let layers = parse_table(&table);
    assert!(layers.len() >= 10, "the table was not read: {layers:?}");
    let mut files = Vec::new();
    sources(&root.join("src"), "", &mut files);
    assert!(files.len() > 50, "the sources were not read");
    let problems = check(&layers, &files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every module of the table exists.
    for module in layers.keys() {
        let src = root.join("src");
        assert!(
            src.join(format!("{module}.rs")).exists() || src.join(module).is_dir(),
            "ARCHITECTURE.md names `{module}`, which is not a module"
        );
    }
}

#[test]
fn the_checker_finds_upward_imports_cycles_and_strays() {
    let layers = parse_table(
        "| layer | modules | what |\n|---|---|---|\n| 0 | `low` | x |\n| 1 | `mid`, `side` | y |\n\
         | 2 | `top` | z |\n",
    );
    assert_eq!(layers.get("side"), Some(&1));
    let file = |path: &str, text: &str| (path.to_string(), text.to_string());
    let clean = [
        file(
            "top.rs",
            "use crate::{mid::A, low::{B, C}};\nfn f() { crate::side::g() }",
        ),
        file(
            "mid/mod.rs",
            "use crate::low::X; // crate::top::in_a_comment\n",
        ),
        file("low.rs", "let url = \"http://x\"; mycrate::top::y();"),
    ];
    assert_eq!(check(&layers, &clean), Vec::<String>::new());
    let upward = [file("low.rs", "use crate::{top::A};")];
    assert_eq!(
        check(&layers, &upward),
        ["src/low.rs: `low` (layer 0) imports `top` (layer 2)"]
    );
    let cycle = [
        file("mid/a.rs", "use crate::side::S;"),
        file("side.rs", "pub fn s() { crate::mid::m() }"),
    ];
    assert_eq!(check(&layers, &cycle), ["import cycle: mid -> side -> mid"]);
    let stray = [file("extra.rs", ""), file("top.rs", "use crate::gone::X;")];
    assert_eq!(check(&layers, &stray).len(), 2);
    let framework = [file("low.rs", "use tokio::sync::Mutex;")];
    assert_eq!(check(&layers, &framework).len(), 1);
}
