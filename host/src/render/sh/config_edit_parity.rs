use super::*;
use serde_json::json;

/// containerd's edits for schema 2 with the systemd driver and a sandbox image.
fn containerd_edits() -> FileContent {
    let cri = |rest: &[&str]| {
        ["plugins", "io.containerd.grpc.v1.cri"]
            .iter()
            .chain(rest)
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
    };
    FileContent::TomlEdit {
        initial: None,
        edits: vec![
            TomlEdit::Set {
                path: vec!["version".into()],
                value: json!(2),
            },
            TomlEdit::RemoveFromArray {
                path: vec!["disabled_plugins".into()],
                values: vec![json!("cri"), json!("io.containerd.grpc.v1.cri")],
            },
            TomlEdit::Set {
                path: cri(&["containerd", "runtimes", "runc", "runtime_type"]),
                value: json!("io.containerd.runc.v2"),
            },
            TomlEdit::Set {
                path: cri(&["containerd", "runtimes", "runc", "options", "SystemdCgroup"]),
                value: json!(true),
            },
            TomlEdit::Set {
                path: cri(&["sandbox_image"]),
                value: json!("registry.k8s.io/pause:3.9"),
            },
        ],
    }
}

/// Runs the script's edit of `text` with sh; `Err` with its stderr when it refuses.
/// Runs the script's edit of a file named `name` holding `text` with sh; `Err` with its
/// stderr when it refuses.
fn script_merge(
    name: &str,
    text: &str,
    merge: &FileContent,
    overrides: &[String],
) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    let call = sh_merge_call(file.to_str().unwrap(), merge, overrides, true);
    let script =
        format!("set -eu\nsay() {{ printf '%s\\n' \"$*\" >&2; }}\n{CONFIG_EDITS}\n{call}\n");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh runs");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn script_edit(text: &str, merge: &FileContent, overrides: &[String]) -> Result<String, String> {
    script_merge("config.toml", text, merge, overrides)
}

/// `run`'s edit of a config.toml holding `text`.
fn run_edit(
    text: &str,
    merge: &FileContent,
    overrides: &[String],
) -> Result<String, crate::merge::MergeError> {
    crate::merge::apply_to_bytes(
        "/etc/containerd/config.toml",
        Some(text.as_bytes()),
        merge,
        crate::merge::Overrides::Keys(overrides),
    )
}

fn parsed(text: &str) -> toml::Table {
    text.parse()
        .unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

#[test]
fn the_script_edits_toml_as_run_does() {
    let merge = containerd_edits();
    let sites = [
        // Debian's packaged config.toml (containerd 1.6.20~ds1-1+deb12u3).
        "version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n      bin_dir = \"/usr/lib/cni\"\n      conf_dir = \"/etc/cni/net.d\"\n  [plugins.\"io.containerd.internal.v1.opt\"]\n    path = \"/var/lib/containerd/opt\"\n",
        // Docker's containerd.io default: CRI disabled, nothing else.
        "#   Copyright 2018-2022 Docker Inc.\n\ndisabled_plugins = [\"cri\"]\n\n#root = \"/var/lib/containerd\"\n",
        // A site's file with the tables already there, other runtimes and comments.
        "version = 2\noom_score = -999\ndisabled_plugins = [\"io.containerd.internal.v1.tracing\", \"cri\"]\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"k8s.gcr.io/pause:3.2\" # old\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  BinaryName = \"/usr/bin/runc\"\n  SystemdCgroup = false\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\n  runtime_type = \"io.containerd.kata.v2\"\n",
    ];
    // The site's own SystemdCgroup and sandbox image differ from the plan's: a conflict
    // for both, until the same overrides let the plan's values win in both.
    let overrides = ["SystemdCgroup".to_owned(), "sandbox_image".to_owned()];
    let mut conflicted = 0;
    for site in sites {
        for overrides in [&[][..], &overrides[..]] {
            let run = run_edit(site, &merge, overrides);
            let script = script_edit(site, &merge, overrides);
            let (run, script) = match (run, script) {
                (Ok(run), Ok(script)) => (run, script),
                (Err(crate::merge::MergeError::Conflicts { conflicts, .. }), Err(e)) => {
                    assert!(e.contains("--override"), "{e}");
                    assert!(
                        conflicts.iter().any(|c| e.contains(&c.key)),
                        "the script names another conflict than run ({conflicts:?}): {e}"
                    );
                    conflicted += 1;
                    continue;
                }
                (run, script) => {
                    panic!("run and the script disagree:\n{run:?}\n{script:?}\n{site}")
                }
            };
            assert_eq!(
                parsed(&script),
                parsed(&run),
                "script:\n{script}\nrun:\n{run}"
            );
            // A second pass of the script changes nothing.
            assert_eq!(script_edit(&script, &merge, overrides).unwrap(), script);
        }
    }
    assert_eq!(
        conflicted, 1,
        "only the site's own file conflicts, without overrides"
    );
}

#[test]
fn a_default_is_set_only_where_the_file_has_none_by_run_and_script_alike() {
    let merge = FileContent::TomlEdit {
        initial: None,
        edits: vec![
            TomlEdit::SetDefault {
                path: vec!["version".into()],
                value: json!(4),
            },
            TomlEdit::SetDefault {
                path: vec!["plugins".into(), "x".into(), "mode".into()],
                value: json!("auto"),
            },
        ],
    };
    for (site, version, mode) in [
        ("disabled_plugins = [\"cri\"]\n", 4, "auto"),
        (
            "version = 3\n\n[grpc]\n  address = \"/run/c.sock\"\n",
            3,
            "auto",
        ),
        ("version = 4\n\n[plugins.x]\n  mode = \"site\"\n", 4, "site"),
    ] {
        // A value already there is never a conflict, even under strict merging.
        let run = run_edit(site, &merge, &[]).unwrap();
        let script = script_edit(site, &merge, &[]).unwrap();
        assert_eq!(
            parsed(&script),
            parsed(&run),
            "script:\n{script}\nrun:\n{run}"
        );
        let doc = parsed(&run);
        assert_eq!(doc["version"].as_integer(), Some(version), "{run}");
        assert_eq!(doc["plugins"]["x"]["mode"].as_str(), Some(mode), "{run}");
        assert_eq!(script_edit(&script, &merge, &[]).unwrap(), script);
    }
}

/// The runtimes table of containerd's CRI config for `schema` (2 or 3).
fn runtimes_table(schema: i64) -> Vec<String> {
    let cri = if schema == 2 {
        "io.containerd.grpc.v1.cri"
    } else {
        "io.containerd.cri.v1.runtime"
    };
    ["plugins", cri, "containerd", "runtimes"]
        .map(str::to_owned)
        .to_vec()
}

/// The containerd plugin's edit giving every runtime of the runc shim the driver.
fn set_driver_on_runc_runtimes(schema: i64, systemd: bool) -> TomlEdit {
    TomlEdit::SetWhere {
        tables: runtimes_table(schema),
        when_key: "runtime_type".into(),
        when_values: vec![
            json!("io.containerd.runc.v2"),
            json!("io.containerd.runc.v1"),
        ],
        path: vec!["options".into(), "SystemdCgroup".into()],
        aliases: vec!["systemdCgroup".into()],
        value: json!(systemd),
    }
}

/// That edit alone, for schema 2.
fn every_runc_runtime(systemd: bool) -> FileContent {
    FileContent::TomlEdit {
        initial: None,
        edits: vec![set_driver_on_runc_runtimes(2, systemd)],
    }
}

#[test]
fn every_runtime_of_the_runc_shim_gets_the_driver_by_run_and_script_alike() {
    // A GPU node as NVIDIA's toolkit leaves it: `nvidia` the default runtime (runc.v2 with
    // its own binary), kata beside it, a test handler spelling the key in lower camel case,
    // one name quoted in its header and written bare in its options' header.
    let site = r#"version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "nvidia"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
  runtime_type = "io.containerd.runc.v2"
  privileged_without_host_devices = false

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
  BinaryName = "/usr/bin/nvidia-container-runtime"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]
  runtime_type = "io.containerd.kata.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."test-handler"]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.test-handler.options]
  systemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.legacy]
  runtime_type = "io.containerd.runc.v1"
"#;
    let merge = every_runc_runtime(true);
    let run = run_edit(site, &merge, &[]).unwrap();
    let script = script_edit(site, &merge, &[]).unwrap();
    assert_eq!(
        parsed(&script),
        parsed(&run),
        "script:\n{script}\nrun:\n{run}"
    );
    let doc = parsed(&run);
    let runtimes = &doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"];
    assert_eq!(
        runtimes["nvidia"]["options"]["SystemdCgroup"].as_bool(),
        Some(true)
    );
    assert_eq!(
        runtimes["nvidia"]["options"]["BinaryName"].as_str(),
        Some("/usr/bin/nvidia-container-runtime")
    );
    assert_eq!(
        runtimes["legacy"]["options"]["SystemdCgroup"].as_bool(),
        Some(true)
    );
    // The site's spelling is the key set; no second spelling is added.
    let handler = runtimes["test-handler"]["options"].as_table().unwrap();
    assert_eq!(
        handler.get("systemdCgroup").and_then(|v| v.as_bool()),
        Some(true)
    );
    assert!(!handler.contains_key("SystemdCgroup"), "{run}");
    // Other shims have no such option.
    assert!(runtimes["kata"].get("options").is_none(), "{run}");
    // A second pass changes nothing.
    assert_eq!(script_edit(&script, &merge, &[]).unwrap(), script);

    // The other driver: each runtime the site set otherwise is one conflict, by name,
    // until --override SystemdCgroup lets the plan win, in run and script alike.
    let merge = every_runc_runtime(false);
    let err = run_edit(site, &merge, &[]).unwrap_err();
    assert!(err.to_string().contains("test-handler"), "{err}");
    assert!(script_edit(site, &merge, &[])
        .unwrap_err()
        .contains("--override"));
    let overrides = ["systemdCgroup".to_owned()];
    let run = run_edit(site, &merge, &overrides).unwrap();
    assert_eq!(
        parsed(&script_edit(site, &merge, &overrides).unwrap()),
        parsed(&run)
    );
}

#[test]
fn a_runtime_defined_inline_is_edited_by_run_and_refused_by_the_script() {
    let site = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]\n  nvidia = { runtime_type = \"io.containerd.runc.v2\" }\n";
    let merge = every_runc_runtime(true);
    let run = run_edit(site, &merge, &[]).unwrap();
    assert_eq!(
        parsed(&run)["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"]
            ["options"]["SystemdCgroup"]
            .as_bool(),
        Some(true)
    );
    let err = script_edit(site, &merge, &[]).unwrap_err();
    assert!(err.contains("installer run"), "{err}");
}

/// Runs the script's `archive_entry` on a .tgz of `entries` (name, bytes; a `None` is a
/// symlink) for `member`.
fn archive_entry(entries: &[(&str, Option<&[u8]>)], member: &str) -> Result<String, ()> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        match bytes {
            Some(bytes) => {
                header.set_size(bytes.len() as u64);
                header.set_mode(0o755);
                // The name as written, `./` kept (append_data would drop it).
                header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                header.set_cksum();
                builder.append(&header, *bytes).unwrap();
            }
            None => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder
                    .append_link(&mut header, name, "/etc/shadow")
                    .unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("a.tgz");
    std::fs::write(&tgz, builder.into_inner().unwrap().finish().unwrap()).unwrap();
    let script = format!(
        "set -eu\nsay() {{ printf '%s\\n' \"$*\" >&2; }}\n{DOWNLOADS}\narchive_entry \"$1\" \"$2\"\n"
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script, "sh"])
        .arg(&tgz)
        .arg(member)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_owned())
    } else {
        Err(())
    }
}

#[test]
fn the_script_takes_an_archive_member_only_where_run_does() {
    let program: Option<&[u8]> = Some(b"program");
    assert_eq!(archive_entry(&[("d/p", program)], "d/p"), Ok("d/p".into()));
    assert_eq!(
        archive_entry(&[("./d/p", program)], "d/p"),
        Ok("./d/p".into())
    );
    // Twice, a link, or absent: refused, as run refuses them (exec::download::unpack).
    assert!(archive_entry(&[("d/p", program), ("./d/p", program)], "d/p").is_err());
    assert!(archive_entry(&[("d/p", None)], "d/p").is_err());
    assert!(archive_entry(&[("d/q", program)], "d/p").is_err());
}

#[test]
fn forms_the_script_cannot_edit_are_refused_naming_the_file() {
    let merge = containerd_edits();
    for site in [
        // A dotted key where the script would add a table.
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  runtimes.runc.options.SystemdCgroup = false\n",
        // An inline table.
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]\n  runc = { runtime_type = \"io.containerd.runc.v2\" }\n",
        // A multi-line array.
        "disabled_plugins = [\n  \"cri\",\n]\n",
    ] {
        let err = script_edit(site, &merge, &[]).unwrap_err();
        assert!(err.contains("config.toml") && err.contains("installer run"), "{err}");
    }
}

/// Runs the script's JSON merge of `text` with sh and jq; `Err` with its stderr when it
/// refuses.
fn script_json(
    text: &str,
    ours: serde_json::Value,
    overrides: &[String],
) -> Result<String, String> {
    assert!(
        std::process::Command::new("jq")
            .arg("--version")
            .output()
            .is_ok(),
        "this test needs jq, as rendered scripts do: apt-get install jq (scripts/test-all does)"
    );
    let merge = FileContent::JsonMerge { value: ours };
    script_merge("daemon.json", text, &merge, overrides)
}

#[test]
fn the_script_merges_json_as_run_does_conflicts_included() {
    let ours = json!({"exec-opts": ["native.cgroupdriver=systemd"], "log-driver": "json-file", "log-opts": {"max-size": "100m"}});
    let site = "{\n  \"data-root\": \"/srv/docker\",\n  \"exec-opts\": [\"native.umask=normal\"],\n  \"log-opts\": {\"max-file\": \"3\"}\n}\n";
    let merge = FileContent::JsonMerge {
        value: ours.clone(),
    };
    let run = crate::merge::apply("/etc/docker/daemon.json", Some(site), &merge).unwrap();
    let script = script_json(site, ours.clone(), &[]).unwrap();
    let as_json = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
    assert_eq!(
        as_json(&script),
        as_json(&run),
        "script:\n{script}\nrun:\n{run}"
    );

    // A conflict stops both; the same override lets the plan's value win in both.
    let site = "{\"log-driver\": \"journald\", \"exec-opts\": [\"native.cgroupdriver=cgroupfs\"]}";
    assert!(crate::merge::apply("/etc/docker/daemon.json", Some(site), &merge).is_err());
    let err = script_json(site, ours.clone(), &[]).unwrap_err();
    // jq stops at the first conflict; run lists them all.
    assert!(
        err.contains("exec-opts") && err.contains("--override"),
        "{err}"
    );
    let overrides = ["log-driver".to_owned(), "exec-opts".to_owned()];
    let run = crate::merge::apply_to_bytes(
        "/etc/docker/daemon.json",
        Some(site.as_bytes()),
        &merge,
        crate::merge::Overrides::Keys(&overrides),
    )
    .unwrap();
    let script = script_json(site, ours, &overrides).unwrap();
    assert_eq!(as_json(&script), as_json(&run));
}

/// The edits the containerd plugin plans for a file of `schema` (2 or 3) and a driver.
fn plugin_like_edits(schema: i64, systemd: bool) -> FileContent {
    let runtimes = runtimes_table(schema);
    let runc = |rest: &[&str]| {
        runtimes
            .iter()
            .cloned()
            .chain(std::iter::once("runc".to_owned()))
            .chain(rest.iter().map(|s| (*s).to_owned()))
            .collect::<Vec<_>>()
    };
    FileContent::TomlEdit {
        initial: None,
        edits: vec![
            TomlEdit::Set {
                path: vec!["version".into()],
                value: json!(schema),
            },
            TomlEdit::RemoveFromArray {
                path: vec!["disabled_plugins".into()],
                values: vec![json!("cri"), json!("io.containerd.grpc.v1.cri")],
            },
            TomlEdit::Set {
                path: runc(&["runtime_type"]),
                value: json!("io.containerd.runc.v2"),
            },
            TomlEdit::Set {
                path: runc(&["options", "SystemdCgroup"]),
                value: json!(systemd),
            },
            set_driver_on_runc_runtimes(schema, systemd),
        ],
    }
}

#[test]
fn the_script_edits_every_real_config_of_the_corpus_as_run_does() {
    // tests/fixtures/wild: kind, EKS (single-quoted keys), NVIDIA, microk8s, k0s, containerd's
    // docs... Each edited by run and by the script, both drivers: the same parsed result, or
    // both refuse (a conflict, or a form the script does not edit and says so).
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wild/containerd");
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let schema = parsed(&text)
            .get("version")
            .and_then(|v| v.as_integer())
            .unwrap_or(1);
        if !(2..=3).contains(&schema) {
            continue;
        }
        for systemd in [true, false] {
            let merge = plugin_like_edits(schema, systemd);
            match (
                run_edit(&text, &merge, &[]),
                script_edit(&text, &merge, &[]),
            ) {
                (Ok(run), Ok(script)) => {
                    assert_eq!(
                        parsed(&script),
                        parsed(&run),
                        "{name} (systemd {systemd}):\nscript:\n{script}\nrun:\n{run}"
                    );
                    compared += 1;
                }
                (Err(_), Err(e)) => assert!(
                    e.contains("--override") || e.contains("installer run"),
                    "{name}: {e}"
                ),
                (run, script) => {
                    panic!("{name} (systemd {systemd}): run {run:?}\nscript {script:?}")
                }
            }
        }
    }
    assert!(compared >= 20, "only {compared} edits compared");
}

/// The kubelet's configuration as the script and `run` align it: the same text, comments,
/// order and other keys kept, for the shapes kubeadm and operators write.
#[test]
fn the_script_sets_kubelet_keys_as_run_does() {
    let merge = FileContent::YamlSet {
        values: [
            ("cgroupDriver", "systemd"),
            (
                "containerRuntimeEndpoint",
                "unix:///run/containerd/containerd.sock",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    };
    for text in [
        // kubeadm's, with the other driver.
        "apiVersion: kubelet.config.k8s.io/v1beta1\nauthentication:\n  anonymous:\n    enabled: false\ncgroupDriver: cgroupfs\nclusterDNS:\n- 10.96.0.10\nkind: KubeletConfiguration\n",
        // No driver at all, a comment on top, a nested key of the same name left alone.
        "# managed by hand\nkind: KubeletConfiguration\nevictionHard:\n  cgroupDriver: untouched\n",
        // Already aligned, with comments on the lines: nothing changes.
        "cgroupDriver: systemd  # ours\ncontainerRuntimeEndpoint: unix:///run/containerd/containerd.sock\nkind: KubeletConfiguration\n",
        // The endpoint as a block value below its key.
        "kind: KubeletConfiguration\ncontainerRuntimeEndpoint:\n  unix:///var/run/crio/crio.sock\ncgroupDriver: cgroupfs\n",
        // Quoted values already right, with comments: nothing changes.
        "cgroupDriver: \"systemd\"  # pinned\ncontainerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock'\n",
        // A comment and a document marker before the document.
        "# note\n---\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n",
    ] {
        assert_same_edit("/var/lib/kubelet/config.yaml", text, &merge);
    }
    // What neither can edit faithfully, both refuse.
    for text in [
        "kind: KubeletConfiguration\n---\nkind: Other\n",
        "kind: KubeletConfiguration\r\ncgroupDriver: cgroupfs\r\n",
    ] {
        assert!(
            crate::merge::apply_to_bytes(
                "/var/lib/kubelet/config.yaml",
                Some(text.as_bytes()),
                &merge,
                crate::merge::Overrides::default(),
            )
            .is_err(),
            "run refuses {text:?}"
        );
        assert!(
            script_merge("config.yaml", text, &merge, &[]).is_err(),
            "the script refuses {text:?}"
        );
    }
}

/// kubeadm-flags.env as the script and `run` migrate it: the same text.
#[test]
fn the_script_edits_kubelet_flags_as_run_does() {
    let merge = FileContent::EnvFlags {
        variable: "KUBELET_KUBEADM_ARGS".to_owned(),
        set: [
            (
                "--container-runtime-endpoint",
                "unix:///run/containerd/containerd.sock",
            ),
            ("--cgroup-driver", "systemd"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        remove: vec!["--container-runtime".to_owned()],
    };
    for text in [
        // Seed 004's node.
        "KUBELET_KUBEADM_ARGS=\"--network-plugin=cni --pod-infra-container-image=k8s.gcr.io/pause:3.2\"\n",
        // Flags in both spellings, ours among them, a comment line kept.
        "# from kubeadm\nKUBELET_KUBEADM_ARGS=\"--container-runtime remote --cgroup-driver cgroupfs --node-ip=10.0.0.4\"\n",
        // Already migrated: unchanged.
        "KUBELET_KUBEADM_ARGS=\"--cgroup-driver=systemd --container-runtime-endpoint=unix:///run/containerd/containerd.sock\"\n",
        // No variable at all.
        "OTHER=1\n",
        // Set twice: systemd reads the last, which is the one edited.
        "KUBELET_KUBEADM_ARGS=\"--v=1\"\nKUBELET_KUBEADM_ARGS=\"--v=2 --cgroup-driver=cgroupfs\"\n",
        // A value holding `=`, tabs between flags.
        "KUBELET_KUBEADM_ARGS=\"--node-labels=a=b,c=d\t--v=2\"\n",
    ] {
        assert_same_edit("/var/lib/kubelet/kubeadm-flags.env", text, &merge);
    }
}

/// `run`'s edit of `text` at `path` and the script's are the same text.
#[track_caller]
fn assert_same_edit(path: &str, text: &str, merge: &FileContent) {
    let run = crate::merge::apply_to_bytes(
        path,
        Some(text.as_bytes()),
        merge,
        crate::merge::Overrides::default(),
    )
    .unwrap();
    let name = path.rsplit('/').next().unwrap();
    let script = script_merge(name, text, merge, &[]).unwrap();
    assert_eq!(script, run, "for:\n{text}");
}

/// What the script writes back to the kubelet's files, as `run` writes them: an edit in
/// place, an unchanged file left exactly as it was (even without a final newline), a missing
/// one left missing.
#[test]
fn the_script_writes_kubeadms_files_back_only_when_run_would_change_them() {
    let merge = FileContent::YamlSet {
        values: [("cgroupDriver".to_owned(), "systemd".to_owned())].into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "changed.yaml",
            Some("kind: KubeletConfiguration\ncgroupDriver: cgroupfs\n"),
        ),
        (
            "unchanged.yaml",
            Some("kind: KubeletConfiguration\ncgroupDriver: systemd"),
        ),
        ("missing.yaml", None),
    ];
    let mut script = format!("set -eu\n{PRELUDE}\n{CONFIG_EDITS}\n");
    for (name, text) in &cases {
        let path = dir.path().join(name);
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        script.push_str(&sh_merge(path.to_str().unwrap(), 0o644, &merge, &[]));
    }
    // Backups of what the script replaces go to the test's directory, never the host's
    // /var/lib/installer.
    let backups = dir.path().join("backups");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env("INSTALLER_BACKUPS", &backups)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        backups
            .join(dir.path().strip_prefix("/").unwrap())
            .join("changed.yaml")
            .is_file(),
        "the replaced file is backed up there"
    );
    for (name, text) in &cases {
        let path = dir.path().join(name);
        let run = text.map(|t| {
            crate::merge::apply_to_bytes(name, Some(t.as_bytes()), &merge, Default::default())
                .unwrap()
        });
        assert_eq!(std::fs::read_to_string(&path).ok(), run, "{name}");
    }
}
