use super::*;
use proptest::prelude::*;

/// JSON values a daemon.json could hold, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z0-9=./ -]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z-]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = serde_json::Value> {
    proptest::collection::btree_map("[a-z-]{1,6}", json_value(), 0..5)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

fn keys_of(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(m) = v {
        for (k, v) in m {
            let key = format!("{prefix}/{k}");
            keys_of(v, &key, out);
            out.push(key);
        }
    }
}

proptest! {
    #[test]
    fn a_json_merge_keeps_every_site_key_and_is_idempotent(
        site in object(),
        ours in object(),
        pretty in any::<bool>(),
    ) {
        let text = if pretty {
            serde_json::to_string_pretty(&site).unwrap()
        } else {
            serde_json::to_string(&site).unwrap()
        };
        let merge = FileContent::JsonMerge { value: ours };
        match apply("/etc/x.json", Some(&text), &merge) {
            Ok(out) => {
                let doc: serde_json::Value = serde_json::from_str(&out)
                    .map_err(|e| TestCaseError::fail(format!("{e}:\n{out}")))?;
                let (mut before, mut after) = (Vec::new(), Vec::new());
                keys_of(&site, "", &mut before);
                keys_of(&doc, "", &mut after);
                for key in before {
                    prop_assert!(after.contains(&key), "{key} lost:\n{out}");
                }
                prop_assert_eq!(apply("/etc/x.json", Some(&out), &merge).unwrap(), out);
            }
            Err(MergeError::Conflicts { conflicts, .. }) => prop_assert!(!conflicts.is_empty()),
            Err(MergeError::NotATable { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }

    #[test]
    fn any_text_as_the_site_json_never_panics(text in any::<String>(), ours in object()) {
        let _ = apply("/etc/x.json", Some(&text), &FileContent::JsonMerge { value: ours });
    }

    #[test]
    fn a_toml_edit_keeps_the_file_parsable_and_is_idempotent(
        tables in proptest::collection::vec("[a-z]{1,5}", 0..4),
        key in "[A-Za-z_]{1,8}",
        value in prop_oneof![
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i32>().prop_map(serde_json::Value::from),
            "[a-z0-9./:]{0,12}".prop_map(serde_json::Value::from),
        ],
        site_key in "[a-z]{1,5}",
        site_value in any::<i32>(),
    ) {
        let site = format!("# the site's\nversion = 2\n[{site_key}]\n  kept = {site_value}\n");
        let mut path = tables.clone();
        path.push(key);
        let merge = FileContent::TomlEdit {
            initial: None,
            edits: vec![TomlEdit::Set { path, value }],
        };
        match apply("/etc/x.toml", Some(&site), &merge) {
            Ok(out) => {
                let doc: toml::Table = out
                    .parse()
                    .map_err(|e| TestCaseError::fail(format!("{e}:\n{out}")))?;
                prop_assert!(out.contains("# the site's"));
                prop_assert_eq!(doc["version"].as_integer(), Some(2));
                prop_assert_eq!(apply("/etc/x.toml", Some(&out), &merge).unwrap(), out);
            }
            // Our table path runs through the site's scalar `version` or `kept`, or our key
            // is the site's `kept` with another value.
            Err(MergeError::NotATable { .. } | MergeError::Conflicts { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }

    #[test]
    fn any_text_as_the_site_toml_never_panics(text in any::<String>()) {
        let merge = FileContent::TomlEdit {
            initial: None,
            edits: vec![TomlEdit::Set {
                path: vec!["plugins".into(), "a".into()],
                value: serde_json::Value::from(true),
            }],
        };
        let _ = apply("/etc/x.toml", Some(&text), &merge);
    }
}
