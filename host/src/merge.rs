//! Merging our keys into configuration files we do not own: daemon.json (JSON merge) and
//! containerd's config.toml (edited in place with toml_edit, so every other setting and every
//! comment survives). Used by `plan` (to show the result), `render` and `run`.

use plugin_api::{FileContent, TomlEdit};
use toml_edit::{DocumentMut, Item, Table, Value};

/// Why a merge could not be done.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The existing file does not parse.
    #[error("{path} is not valid {format}: {detail}")]
    Unparsable {
        /// The file.
        path: String,
        /// JSON or TOML.
        format: &'static str,
        /// The parser's words.
        detail: String,
    },
    /// The existing file has a value of another type where we need a table or an object.
    #[error("{path}: `{key}` is a {found}, where a table is needed")]
    NotATable {
        /// The file.
        path: String,
        /// The dotted key.
        key: String,
        /// What is there.
        found: String,
    },
    /// The existing file is not UTF-8 text: we would mangle it.
    #[error("{path} is not UTF-8 text (the first invalid byte is at offset {offset}); it was left as it is")]
    NotUtf8 {
        /// The file.
        path: String,
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// A JSON value cannot be represented in TOML (null, say).
    #[error("{path}: `{key}`: {detail}")]
    Unrepresentable {
        /// The file.
        path: String,
        /// The dotted key.
        key: String,
        /// Why.
        detail: String,
    },
}

/// The file content after merging `merge` into the bytes of an existing file (`None`: the
/// file does not exist). A file that is not UTF-8 is refused, never decoded lossily.
pub fn apply_to_bytes(
    path: &str,
    existing: Option<&[u8]>,
    merge: &FileContent,
) -> Result<String, MergeError> {
    let text = existing
        .map(std::str::from_utf8)
        .transpose()
        .map_err(|e| MergeError::NotUtf8 {
            path: path.to_owned(),
            offset: e.valid_up_to(),
        })?;
    apply(path, text, merge)
}

/// The file content after merging `merge` into `existing` (`None`: the file does not exist).
pub fn apply(
    path: &str,
    existing: Option<&str>,
    merge: &FileContent,
) -> Result<String, MergeError> {
    match merge {
        FileContent::Full { text } => Ok(text.clone()),
        FileContent::JsonMerge { value } => json_merge(path, existing, value),
        FileContent::TomlEdit { initial, edits } => {
            toml_edit_file(path, existing, initial.as_deref(), edits)
        }
    }
}

fn json_merge(
    path: &str,
    existing: Option<&str>,
    ours: &serde_json::Value,
) -> Result<String, MergeError> {
    let mut doc = match existing.map(str::trim) {
        None | Some("") => serde_json::Value::Object(Default::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| MergeError::Unparsable {
            path: path.to_owned(),
            format: "JSON",
            detail: e.to_string(),
        })?,
    };
    if !doc.is_object() {
        return Err(MergeError::NotATable {
            path: path.to_owned(),
            key: "(top level)".into(),
            found: "non-object".into(),
        });
    }
    merge_json_value(&mut doc, ours);
    // Unchanged content stays byte for byte, so a second run writes nothing.
    if let Some(text) = existing {
        if serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .as_ref()
            == Some(&doc)
        {
            return Ok(text.to_owned());
        }
    }
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON values always encode");
    text.push('\n');
    Ok(text)
}

/// Objects merge recursively; any other value of ours replaces theirs.
fn merge_json_value(theirs: &mut serde_json::Value, ours: &serde_json::Value) {
    match (theirs, ours) {
        (serde_json::Value::Object(t), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_json_value(existing, v)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (theirs, ours) => *theirs = ours.clone(),
    }
}

fn toml_edit_file(
    path: &str,
    existing: Option<&str>,
    initial: Option<&str>,
    edits: &[TomlEdit],
) -> Result<String, MergeError> {
    let source = existing.or(initial).unwrap_or("");
    let mut doc: DocumentMut =
        source
            .parse()
            .map_err(|e: toml_edit::TomlError| MergeError::Unparsable {
                path: path.to_owned(),
                format: "TOML",
                detail: e.message().to_owned(),
            })?;
    for edit in edits {
        match edit {
            TomlEdit::Set { path: keys, value } => set(&mut doc, path, keys, value)?,
            TomlEdit::RemoveFromArray { path: keys, values } => {
                remove_from_array(&mut doc, keys, values)
            }
        }
    }
    let out = doc.to_string();
    // An edit that sets what is already there leaves the text as it was.
    Ok(out)
}

fn table_at<'a>(
    doc: &'a mut DocumentMut,
    path: &str,
    keys: &[String],
) -> Result<&'a mut Table, MergeError> {
    let mut table = doc.as_table_mut();
    for (i, key) in keys.iter().enumerate() {
        let entry = table.entry(key).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        // Inline tables (`a = { b = 1 }`) are tables too.
        if let Item::Value(Value::InlineTable(_)) = entry {
            let inline = std::mem::take(entry)
                .into_table()
                .expect("an inline table converts");
            *entry = Item::Table(inline);
        }
        if !entry.is_table() {
            return Err(MergeError::NotATable {
                path: path.to_owned(),
                key: keys[..=i].join("."),
                found: entry.type_name().to_owned(),
            });
        }
        table = entry.as_table_mut().expect("checked just above");
    }
    Ok(table)
}

fn set(
    doc: &mut DocumentMut,
    path: &str,
    keys: &[String],
    value: &serde_json::Value,
) -> Result<(), MergeError> {
    let Some((last, parents)) = keys.split_last() else {
        return Ok(());
    };
    let new = to_toml(value).ok_or_else(|| MergeError::Unrepresentable {
        path: path.to_owned(),
        key: keys.join("."),
        detail: "null has no TOML form".into(),
    })?;
    let table = table_at(doc, path, parents)?;
    match table.get_mut(last).and_then(Item::as_value_mut) {
        // Same value: keep the existing item, its formatting and comments.
        Some(existing) if same_value(existing, &new) => {}
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = new;
            *existing.decor_mut() = decor;
        }
        None => {
            table.insert(last, Item::Value(new));
        }
    }
    Ok(())
}

fn remove_from_array(doc: &mut DocumentMut, keys: &[String], values: &[serde_json::Value]) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut table = doc.as_table_mut();
    for key in parents {
        match table.get_mut(key).and_then(Item::as_table_mut) {
            Some(t) => table = t,
            None => return,
        }
    }
    if let Some(array) = table.get_mut(last).and_then(Item::as_array_mut) {
        let unwanted: Vec<Value> = values.iter().filter_map(to_toml).collect();
        array.retain(|v| !unwanted.iter().any(|u| same_value(v, u)));
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Float(x), Value::Float(y)) => x.value() == y.value(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same_value(a, b))
        }
        (Value::InlineTable(x), Value::InlineTable(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => false,
    }
}

fn to_toml(value: &serde_json::Value) -> Option<Value> {
    Some(match value {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64()?),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(to_toml(item)?);
            }
            Value::Array(array)
        }
        serde_json::Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in map {
                table.insert(k, to_toml(v)?);
            }
            Value::InlineTable(table)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(path: &str) -> Vec<String> {
        path.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused_with_the_offset() {
        let merge = FileContent::JsonMerge {
            value: serde_json::json!({"a": 1}),
        };
        let err = apply_to_bytes("/etc/x.json", Some(b"{\"k\": \"caf\xe9\"}"), &merge).unwrap_err();
        assert!(
            matches!(err, MergeError::NotUtf8 { offset: 10, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("offset 10"), "{err}");
    }

    #[test]
    fn json_merge_keeps_user_keys_and_sets_ours() {
        let existing = r#"{"data-root": "/srv/docker", "registry-mirrors": ["https://m.example"], "log-opts": {"max-file": "3"}}"#;
        let ours =
            json!({"exec-opts": ["native.cgroupdriver=systemd"], "log-opts": {"max-size": "100m"}});
        let out = apply(
            "/etc/docker/daemon.json",
            Some(existing),
            &FileContent::JsonMerge {
                value: ours.clone(),
            },
        )
        .unwrap();
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["data-root"], "/srv/docker");
        assert_eq!(doc["registry-mirrors"][0], "https://m.example");
        assert_eq!(
            doc["log-opts"],
            json!({"max-file": "3", "max-size": "100m"})
        );
        assert_eq!(doc["exec-opts"][0], "native.cgroupdriver=systemd");
        // Merging again changes nothing, byte for byte.
        let again = apply(
            "/etc/docker/daemon.json",
            Some(&out),
            &FileContent::JsonMerge { value: ours },
        )
        .unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn json_merge_refuses_a_broken_file_naming_it() {
        let err = apply(
            "/etc/docker/daemon.json",
            Some("{ nope"),
            &FileContent::JsonMerge { value: json!({}) },
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/etc/docker/daemon.json is not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn toml_edit_keeps_comments_and_other_settings() {
        let existing = "# my containerd config\nversion = 2\ndisabled_plugins = [\"cri\", \"zfs\"]\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  # keep me\n  max_concurrent_downloads = 7\n";
        let edits = vec![
            TomlEdit::RemoveFromArray { path: keys("disabled_plugins"), values: vec![json!("cri")] },
            TomlEdit::Set { path: keys("plugins/io.containerd.grpc.v1.cri/sandbox_image"), value: json!("registry.k8s.io/pause:3.9") },
            TomlEdit::Set {
                path: keys("plugins/io.containerd.grpc.v1.cri/containerd/runtimes/runc/options/SystemdCgroup"),
                value: json!(true),
            },
        ];
        let merge = FileContent::TomlEdit {
            initial: None,
            edits,
        };
        let out = apply("/etc/containerd/config.toml", Some(existing), &merge).unwrap();
        assert!(
            out.contains("# my containerd config") && out.contains("# keep me"),
            "{out}"
        );
        assert!(out.contains("max_concurrent_downloads = 7"));
        let parsed: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(
            parsed["disabled_plugins"],
            toml::Value::Array(vec!["zfs".into()])
        );
        let cri = &parsed["plugins"]["io.containerd.grpc.v1.cri"];
        assert_eq!(
            cri["sandbox_image"].as_str(),
            Some("registry.k8s.io/pause:3.9")
        );
        assert_eq!(
            cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"].as_bool(),
            Some(true)
        );
        assert_eq!(
            apply("/etc/containerd/config.toml", Some(&out), &merge).unwrap(),
            out,
            "a second edit is a no-op"
        );
    }

    #[test]
    fn toml_edit_starts_from_initial_when_there_is_no_file() {
        let merge = FileContent::TomlEdit {
            initial: Some("version = 2\n".into()),
            edits: vec![TomlEdit::Set {
                path: keys("plugins/x/y"),
                value: json!(1),
            }],
        };
        let out = apply("/etc/c.toml", None, &merge).unwrap();
        let parsed: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(parsed["version"].as_integer(), Some(2));
        assert_eq!(parsed["plugins"]["x"]["y"].as_integer(), Some(1));
    }

    #[test]
    fn toml_edit_refuses_a_scalar_where_a_table_is_needed() {
        let merge = FileContent::TomlEdit {
            initial: None,
            edits: vec![TomlEdit::Set {
                path: keys("plugins/x"),
                value: json!(1),
            }],
        };
        let err = apply("/etc/c.toml", Some("plugins = 3\n"), &merge).unwrap_err();
        assert!(err.to_string().contains("`plugins` is a integer"), "{err}");
    }
}
