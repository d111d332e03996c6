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
    let err = apply_to_bytes(
        "/etc/x.json",
        Some(b"{\"k\": \"caf\xe9\"}"),
        &merge,
        Overrides::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, MergeError::NotUtf8 { offset: 10, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("offset 10"), "{err}");
}

fn merge_json(
    existing: &str,
    ours: serde_json::Value,
    overrides: &[String],
) -> Result<String, MergeError> {
    apply_to_bytes(
        "/etc/docker/daemon.json",
        Some(existing.as_bytes()),
        &FileContent::JsonMerge { value: ours },
        Overrides::Keys(overrides),
    )
}

#[test]
fn a_value_the_site_set_otherwise_is_a_conflict_until_overridden() {
    let site =
        "{\n  \"storage-driver\": \"devicemapper\",\n  \"log-opts\": {\"max-size\": \"10m\"}\n}\n";
    let ours = json!({"storage-driver": "overlay2", "log-opts": {"max-size": "100m"}});
    let err = merge_json(site, ours.clone(), &[]).unwrap_err();
    let MergeError::Conflicts { conflicts, .. } = &err else {
        panic!("{err}")
    };
    let keys: Vec<&str> = conflicts.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["log-opts.max-size", "storage-driver"]);
    assert!(
        err.to_string().contains("\"devicemapper\"") && err.to_string().contains("--override"),
        "{err}"
    );
    // The user names what wins: by the full key or its last part.
    let out = merge_json(site, ours, &["storage-driver".into(), "max-size".into()]).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["storage-driver"], "overlay2");
    assert_eq!(doc["log-opts"]["max-size"], "100m");
}

#[test]
fn arrays_gain_our_entries_and_keep_the_sites() {
    let site = r#"{"exec-opts": ["native.umask=normal"]}"#;
    let out = merge_json(
        site,
        json!({"exec-opts": ["native.cgroupdriver=systemd"]}),
        &[],
    )
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["exec-opts"],
        json!(["native.umask=normal", "native.cgroupdriver=systemd"])
    );
    // The same setting with another value is a conflict; overridden, only that entry
    // changes.
    let site = r#"{"exec-opts": ["native.cgroupdriver=cgroupfs", "native.umask=normal"]}"#;
    let ours = json!({"exec-opts": ["native.cgroupdriver=systemd"]});
    let err = merge_json(site, ours.clone(), &[]).unwrap_err();
    assert!(
        err.to_string().contains("native.cgroupdriver=cgroupfs"),
        "{err}"
    );
    let out = merge_json(site, ours, &["exec-opts".into()]).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["exec-opts"],
        json!(["native.cgroupdriver=systemd", "native.umask=normal"])
    );
}

#[test]
fn the_sites_text_stays_as_written_numbers_order_and_spacing() {
    let site = "{\n    \"zeta\": 1.50,\n    \"max-concurrent-downloads\": 1e1,\n    \"big\": 123456789012345678901234567890,\n    \"alpha\": {\"a\": 1}\n}\n";
    let out = merge_json(site, json!({"cgroup-driver": "systemd"}), &[]).unwrap();
    for kept in [
        "\"zeta\": 1.50,",
        "1e1,",
        "123456789012345678901234567890",
        "\"alpha\": {\"a\": 1}",
    ] {
        assert!(out.contains(kept), "{kept} lost:\n{out}");
    }
    assert!(
        out.find("zeta") < out.find("alpha"),
        "keys reordered:\n{out}"
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["cgroup-driver"], "systemd");
    // Setting what is there already changes nothing, byte for byte.
    assert_eq!(
        merge_json(&out, json!({"cgroup-driver": "systemd"}), &[]).unwrap(),
        out
    );
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
        TomlEdit::RemoveFromArray {
            path: keys("disabled_plugins"),
            values: vec![json!("cri")],
        },
        TomlEdit::Set {
            path: keys("plugins/io.containerd.grpc.v1.cri/sandbox_image"),
            value: json!("registry.k8s.io/pause:3.9"),
        },
        TomlEdit::Set {
            path: keys(
                "plugins/io.containerd.grpc.v1.cri/containerd/runtimes/runc/options/SystemdCgroup",
            ),
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
