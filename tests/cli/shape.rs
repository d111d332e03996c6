//! The shape of the host crate that docs/ARCHITECTURE.md promises maintainers: its top-level
//! modules depend on each other without a cycle, and no source file outgrows a reading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
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

/// The top-level modules of host/src and the `crate::` modules each one's code names (unit
/// tests excluded: a test may reach anywhere). `crate::Error` is the `error` module's.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let module_of = |path: &Path| -> String {
        let rel = path.strip_prefix(src()).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_owned()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name == "properties.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let from = module_of(file);
        if !modules.contains(&from) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        // Code, not the unit tests a file may carry inline.
        let text = text.split("#[cfg(test)]\nmod tests {").next().unwrap();
        let mut named = |word: &str| {
            let word = if word == "Error" { "error" } else { word };
            if modules.contains(word) && word != from {
                graph
                    .entry(from.clone())
                    .or_default()
                    .insert(word.to_owned());
            }
        };
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    named(item.trim().split("::").next().unwrap_or(""));
                }
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                named(&rest[..end]);
            }
        }
    }
    for m in modules {
        graph.entry(m).or_default();
    }
    graph
}

#[test]
fn the_host_modules_depend_on_each_other_without_a_cycle() {
    let graph = module_graph();
    assert!(graph.len() >= 10, "modules found: {graph:?}");
    assert!(
        graph["cli"].contains("compose") && graph["render"].contains("compose"),
        "the scan sees the imports it should: {graph:?}"
    );
    // Depth-first search; a module met again while still on the stack closes a cycle.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| *s == node) {
            let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in &graph[node] {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let cycle = visit(node, &graph, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "host/src has an import cycle: {}",
            cycle.unwrap().join(" -> ")
        );
    }
}

#[test]
fn no_host_source_file_is_over_700_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 20);
    let long: Vec<String> = files
        .iter()
        .map(|f| (f, std::fs::read_to_string(f).unwrap().lines().count()))
        .filter(|(_, n)| *n > 700)
        .map(|(f, n)| format!("{} ({n} lines)", f.display()))
        .collect();
    assert!(
        long.is_empty(),
        "split these by concern, unit tests in their own file: {long:?}"
    );
}

#[test]
fn the_protocol_crate_carries_no_abi() {
    // The documents are data: a tool that reads or writes plans, or a plugin in another
    // language, needs no abi_stable. Only plugin-api (the ABI and the SDK) links it.
    let manifest =
        std::fs::read_to_string(crate::util::workspace_root().join("plugin-protocol/Cargo.toml"))
            .unwrap();
    let table: toml::Table = manifest.parse().unwrap();
    for section in ["dependencies", "dev-dependencies"] {
        if let Some(deps) = table.get(section).and_then(|d| d.as_table()) {
            assert!(
                !deps.contains_key("abi_stable"),
                "plugin-protocol's {section} name abi_stable"
            );
        }
    }
    let api: toml::Table =
        std::fs::read_to_string(crate::util::workspace_root().join("plugin-api/Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    assert!(api["dependencies"]
        .as_table()
        .unwrap()
        .contains_key("plugin-protocol"));
}
