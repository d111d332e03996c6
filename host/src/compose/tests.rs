use super::*;
use serde_json::json;

fn toml_file(edits: Vec<TomlEdit>) -> FileStep {
    FileStep {
        path: "/etc/containerd/config.toml".into(),
        mode: 0o644,
        owner: None,
        group: None,
        content: FileContent::TomlEdit {
            initial: None,
            edits,
        },
        restarts: vec![],
        skip_when: None,
    }
}

fn path(p: &str) -> Vec<String> {
    p.split('/').map(str::to_owned).collect()
}

#[test]
fn toml_edits_from_two_plugins_combine_unless_they_clash() {
    let set = |v| TomlEdit::Set {
        path: path("plugins/x/y"),
        value: json!(v),
    };
    let other = TomlEdit::Set {
        path: path("plugins/x/z"),
        value: json!(1),
    };
    assert!(combine_files(&toml_file(vec![set(1)]), &toml_file(vec![other.clone()])).is_ok());
    assert!(combine_files(&toml_file(vec![set(1)]), &toml_file(vec![set(1)])).is_ok());
    let err = combine_files(&toml_file(vec![set(1)]), &toml_file(vec![set(2)])).unwrap_err();
    assert!(err.contains("plugins.x.y"), "{err}");
    let remove = TomlEdit::RemoveFromArray {
        path: path("plugins/x/y"),
        values: vec![json!(1)],
    };
    let err = combine_files(&toml_file(vec![remove]), &toml_file(vec![set(1)])).unwrap_err();
    assert!(err.contains("conflicting"), "{err}");
}
