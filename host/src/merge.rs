//! Merging our keys into configuration files we do not own: daemon.json (JSON merge),
//! containerd's config.toml (edited in place with toml_edit, so every other setting and every
//! comment survives) and the kubelet's config.yaml (`yaml`, with yaml-edit). Used by `plan`
//! (to show the result), `render` and `run`.

mod flags;
mod yaml;

use jsonc_parser::cst::{CstArray, CstInputValue, CstNode, CstObject, CstRootNode};
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
    /// The file already sets keys we set, to other values, and the user has not said which
    /// wins.
    #[error("{path} already sets {}; the site's values were left as they are. Say which wins: --override KEY makes the plan's value win (KEY as named here), or change the file by hand", conflicts.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Conflicts {
        /// The file.
        path: String,
        /// Each key set both ways.
        conflicts: Vec<Conflict>,
    },
    /// A YAML document to edit that is not there (the host never writes one from scratch).
    #[error("{path} does not exist: there is no YAML document to edit ({why})")]
    Missing {
        /// The file.
        path: String,
        /// Who writes it.
        why: String,
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

/// A key the site's file and the plan set to different values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The key, dotted from the top (`log-opts.max-size`); what `--override` names.
    pub key: String,
    /// The site's value, as the file spells it.
    pub theirs: String,
    /// The plan's.
    pub ours: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` to {} where the plan wants {}",
            self.key, self.theirs, self.ours
        )
    }
}

/// Where the plan's value replaces one the file already has.
#[derive(Debug, Clone, Copy)]
pub enum Overrides<'a> {
    /// The keys the user named (`--override KEY`): a key matches by its full dotted name or
    /// by its last part. Any other differing value is a conflict.
    Keys(&'a [String]),
    /// Every key: the file is not the site's (a package installed it during this run).
    All,
}

impl Default for Overrides<'_> {
    fn default() -> Self {
        Overrides::Keys(&[])
    }
}

impl Overrides<'_> {
    fn wins(&self, key: &str) -> bool {
        match self {
            Overrides::All => true,
            Overrides::Keys(keys) => {
                let last = key.rsplit('.').next().unwrap_or(key);
                keys.iter().any(|o| o == key || o == last)
            }
        }
    }
}

/// Keys as TOML spells a header or a dotted key: bare where they can be, else quoted; ''
/// for none (the top level). Conflicts name TOML keys this way, and `--override` takes them.
pub fn toml_dotted(keys: &[String]) -> String {
    keys.iter()
        .map(|k| {
            if !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                k.clone()
            } else {
                format!("{k:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The file content after merging `merge` into the bytes of an existing file (`None`: the
/// file does not exist). A file that is not UTF-8 is refused, never decoded lossily.
pub fn apply_to_bytes(
    path: &str,
    existing: Option<&[u8]>,
    merge: &FileContent,
    overrides: Overrides<'_>,
) -> Result<String, MergeError> {
    let text = existing
        .map(std::str::from_utf8)
        .transpose()
        .map_err(|e| MergeError::NotUtf8 {
            path: path.to_owned(),
            offset: e.valid_up_to(),
        })?;
    apply_with(path, text, merge, overrides)
}

/// The file content after merging `merge` into `existing` (`None`: the file does not exist),
/// with no override: a key the file sets otherwise is a conflict.
pub fn apply(
    path: &str,
    existing: Option<&str>,
    merge: &FileContent,
) -> Result<String, MergeError> {
    apply_with(path, existing, merge, Overrides::default())
}

fn apply_with(
    path: &str,
    existing: Option<&str>,
    merge: &FileContent,
    overrides: Overrides<'_>,
) -> Result<String, MergeError> {
    match merge {
        FileContent::Full { text } => Ok(text.clone()),
        FileContent::JsonMerge { value } => json_merge(path, existing, value, overrides),
        FileContent::TomlEdit { initial, edits } => {
            toml_edit_file(path, existing, initial.as_deref(), edits, overrides)
        }
        FileContent::YamlSet { values } => yaml::set(path, existing, values),
        FileContent::EnvFlags {
            variable,
            set,
            remove,
        } => flags::edit(path, existing, variable, set, remove),
    }
}

/// Merges our keys into a JSON file in place: the file's text is edited (jsonc-parser's
/// concrete syntax tree), so the site's key order, spacing and numbers stay exactly as they
/// were. Objects merge key by key; arrays gain the elements they lack (an element
/// `name=value` whose `name=` the file already has with another value is a conflict, as
/// `native.cgroupdriver=` in `exec-opts`); any other value the file sets differently is a
/// conflict unless overridden.
fn json_merge(
    path: &str,
    existing: Option<&str>,
    ours: &serde_json::Value,
    overrides: Overrides<'_>,
) -> Result<String, MergeError> {
    let text = match existing {
        Some(text) if !text.trim().is_empty() => text,
        _ => {
            let mut text = serde_json::to_string_pretty(ours).expect("JSON values always encode");
            text.push('\n');
            return Ok(text);
        }
    };
    // Strict JSON first: dockerd reads JSON, not JSON with comments.
    let parsed: serde_json::Value =
        serde_json::from_str(text).map_err(|e| MergeError::Unparsable {
            path: path.to_owned(),
            format: "JSON",
            detail: e.to_string(),
        })?;
    let not_object = || MergeError::NotATable {
        path: path.to_owned(),
        key: "(top level)".into(),
        found: "non-object".into(),
    };
    if !parsed.is_object() {
        return Err(not_object());
    }
    let serde_json::Value::Object(ours) = ours else {
        return Err(not_object());
    };
    let root = CstRootNode::parse(text, &jsonc_parser::ParseOptions::default()).map_err(|e| {
        MergeError::Unparsable {
            path: path.to_owned(),
            format: "JSON",
            detail: e.to_string(),
        }
    })?;
    let object = root.object_value().ok_or_else(not_object)?;
    let mut conflicts = Vec::new();
    merge_object(&object, ours, "", overrides, &mut conflicts);
    if !conflicts.is_empty() {
        return Err(MergeError::Conflicts {
            path: path.to_owned(),
            conflicts,
        });
    }
    Ok(root.to_string())
}

fn merge_object(
    object: &CstObject,
    ours: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
    overrides: Overrides<'_>,
    conflicts: &mut Vec<Conflict>,
) {
    for (name, value) in ours {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(prop) = object.get(name) else {
            object.append(name, input(value));
            continue;
        };
        let node = prop.value();
        let theirs = node.as_ref().and_then(CstNode::to_serde_value);
        match (node.as_ref(), value) {
            (Some(node), serde_json::Value::Object(o)) if node.as_object().is_some() => {
                let inner = node.as_object().expect("checked just above");
                merge_object(&inner, o, &key, overrides, conflicts);
            }
            (Some(node), serde_json::Value::Array(elements)) if node.as_array().is_some() => {
                let array = node.as_array().expect("checked just above");
                merge_array(&array, elements, &key, overrides, conflicts);
            }
            _ if theirs.as_ref() == Some(value) => {}
            _ if overrides.wins(&key) => prop.set_value(input(value)),
            _ => conflicts.push(Conflict {
                key,
                theirs: node.map_or_else(String::new, |n| n.to_string()),
                ours: value.to_string(),
            }),
        }
    }
}

/// Our elements not yet in the file's array are added; an element `name=value` whose name
/// the file gives another value conflicts.
fn merge_array(
    array: &CstArray,
    ours: &[serde_json::Value],
    key: &str,
    overrides: Overrides<'_>,
    conflicts: &mut Vec<Conflict>,
) {
    let setting = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| s.split_once('='))
            .map(|(name, _)| name.to_owned())
    };
    for element in ours {
        let theirs: Vec<(CstNode, Option<serde_json::Value>)> = array
            .elements()
            .into_iter()
            .map(|n| {
                let v = n.to_serde_value();
                (n, v)
            })
            .collect();
        if theirs.iter().any(|(_, v)| v.as_ref() == Some(element)) {
            continue;
        }
        let clash = setting(element).and_then(|name| {
            theirs
                .iter()
                .find(|(_, v)| v.as_ref().and_then(setting).as_deref() == Some(name.as_str()))
        });
        match clash {
            None => {
                array.append(input(element));
            }
            // A clash is a `name=value` string by construction.
            Some((node, _)) if overrides.wins(key) => {
                if let Some(text) = node.as_string_lit() {
                    text.replace_with(input(element));
                }
            }
            Some((node, _)) => conflicts.push(Conflict {
                key: key.to_owned(),
                theirs: node.to_string(),
                ours: element.to_string(),
            }),
        }
    }
}

/// A serde value as jsonc-parser inserts it; numbers keep serde's text.
fn input(value: &serde_json::Value) -> CstInputValue {
    match value {
        serde_json::Value::Null => CstInputValue::Null,
        serde_json::Value::Bool(b) => CstInputValue::Bool(*b),
        serde_json::Value::Number(n) => CstInputValue::Number(n.to_string()),
        serde_json::Value::String(s) => CstInputValue::String(s.clone()),
        serde_json::Value::Array(a) => CstInputValue::Array(a.iter().map(input).collect()),
        serde_json::Value::Object(o) => {
            CstInputValue::Object(o.iter().map(|(k, v)| (k.clone(), input(v))).collect())
        }
    }
}

fn toml_edit_file(
    path: &str,
    existing: Option<&str>,
    initial: Option<&str>,
    edits: &[TomlEdit],
    overrides: Overrides<'_>,
) -> Result<String, MergeError> {
    // Values in our own initial file are ours to set.
    let overrides = if existing.is_some() {
        overrides
    } else {
        Overrides::All
    };
    let mut conflicts = Vec::new();
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
            TomlEdit::Set { path: keys, value } => {
                set(&mut doc, path, keys, value, overrides, &mut conflicts)?
            }
            TomlEdit::SetDefault { path: keys, value } => {
                if !has_key(&doc, keys) {
                    set(&mut doc, path, keys, value, Overrides::All, &mut conflicts)?
                }
            }
            TomlEdit::SetWhere {
                tables,
                when_key,
                when_values,
                path: below,
                aliases,
                value,
            } => {
                for keys in selected(&doc, tables, when_key, when_values, below, aliases) {
                    set(&mut doc, path, &keys, value, overrides, &mut conflicts)?
                }
            }
            TomlEdit::RemoveFromArray { path: keys, values } => {
                remove_from_array(&mut doc, keys, values)
            }
        }
    }
    // One key set by two edits (runc's own and every runc runtime's) is one conflict.
    let mut seen = std::collections::BTreeSet::new();
    conflicts.retain(|c| seen.insert(c.key.clone()));
    if !conflicts.is_empty() {
        return Err(MergeError::Conflicts {
            path: path.to_owned(),
            conflicts,
        });
    }
    // An edit that sets what is already there leaves the text as it was.
    Ok(doc.to_string())
}

/// The keys a [`TomlEdit::SetWhere`] sets: `tables.<name>.<below>` for every table `name`
/// below `tables` whose `when_key` is one of `when_values`, the last part spelt as the table
/// already spells it when that is one of `aliases`.
fn selected(
    doc: &DocumentMut,
    tables: &[String],
    when_key: &str,
    when_values: &[serde_json::Value],
    below: &[String],
    aliases: &[String],
) -> Vec<Vec<String>> {
    let mut item = doc.as_item();
    for key in tables {
        match item.get(key.as_str()) {
            Some(next) => item = next,
            None => return Vec::new(),
        }
    }
    let wanted: Vec<Value> = when_values.iter().filter_map(to_toml).collect();
    let Some(table) = item.as_table_like() else {
        return Vec::new();
    };
    let Some((last, parents)) = below.split_last() else {
        return Vec::new();
    };
    table
        .iter()
        .filter(|(_, sub)| {
            sub.get(when_key)
                .and_then(Item::as_value)
                .is_some_and(|v| wanted.iter().any(|w| same_value(v, w)))
        })
        .map(|(name, sub)| {
            let mut parent = Some(sub);
            for key in parents {
                parent = parent.and_then(|p| p.get(key.as_str()));
            }
            let spelt = aliases
                .iter()
                .find(|alias| parent.is_some_and(|p| p.get(alias.as_str()).is_some()))
                .unwrap_or(last);
            tables
                .iter()
                .cloned()
                .chain(std::iter::once(name.to_owned()))
                .chain(parents.iter().cloned())
                .chain(std::iter::once(spelt.clone()))
                .collect()
        })
        .collect()
}

/// Whether the document has a value at `keys` (through tables, inline ones included).
fn has_key(doc: &DocumentMut, keys: &[String]) -> bool {
    let mut item = doc.as_item();
    for key in keys {
        match item.get(key.as_str()) {
            Some(next) => item = next,
            None => return false,
        }
    }
    !item.is_none()
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
    overrides: Overrides<'_>,
    conflicts: &mut Vec<Conflict>,
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
        Some(existing) if !overrides.wins(&toml_dotted(keys)) => conflicts.push(Conflict {
            key: toml_dotted(keys),
            theirs: existing.to_string().trim().to_owned(),
            ours: new.to_string().trim().to_owned(),
        }),
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

/// A JSON value as a TOML value (`None` for null, which TOML lacks).
pub fn toml_value(value: &serde_json::Value) -> Option<Value> {
    to_toml(value)
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
mod tests;

/// Property tests: whatever a site's file holds and whatever a plugin asks, a merge never
/// panics, never loses a site's key, and a second merge of its own output changes nothing.
#[cfg(test)]
mod properties;
