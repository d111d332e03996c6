use plugin_api::{CgroupDriver, ErrorKind, FileContent, Source, TomlEdit, VersionMatch};
use runtime_kit::fixtures::{
    assert_well_formed, checks, file, package, packages, repositories, request, services,
};
use toml_edit::{DocumentMut, Item, Table};

use super::*;

fn plan_for(request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
    Containerd.plan(request)
}

/// Applies TOML edits the way the host does (enough for these tests): tables created as
/// needed, values set, array values removed.
fn apply(text: &str, edits: &[TomlEdit]) -> DocumentMut {
    let mut doc: DocumentMut = text.parse().expect("valid TOML");
    for edit in edits {
        match edit {
            TomlEdit::SetWhere {
                tables,
                when_key,
                when_values,
                path: below,
                aliases,
                value,
            } => {
                let parts: Vec<&str> = tables.iter().map(String::as_str).collect();
                let names: Vec<(String, bool)> = lookup(&doc, &parts)
                    .and_then(Item::as_table_like)
                    .map(|t| {
                        t.iter()
                            .filter(|(_, sub)| {
                                sub.get(when_key)
                                    .and_then(Item::as_str)
                                    .is_some_and(|v| when_values.iter().any(|w| w == v))
                            })
                            .map(|(name, sub)| {
                                let aliased = aliases
                                    .iter()
                                    .any(|a| sub.get(&below[0]).and_then(|o| o.get(a)).is_some());
                                (name.to_owned(), aliased)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                for (name, aliased) in names {
                    let mut keys = tables.clone();
                    keys.push(name);
                    keys.extend(below[..below.len() - 1].iter().cloned());
                    keys.push(if aliased {
                        aliases[0].clone()
                    } else {
                        below[below.len() - 1].clone()
                    });
                    doc = apply(
                        &doc.to_string(),
                        &[TomlEdit::Set {
                            path: keys,
                            value: value.clone(),
                        }],
                    );
                }
            }
            TomlEdit::SetDefault { path, value } => {
                let parts: Vec<&str> = path.iter().map(String::as_str).collect();
                if lookup(&doc, &parts).is_none() {
                    doc = apply(
                        &doc.to_string(),
                        &[TomlEdit::Set {
                            path: path.clone(),
                            value: value.clone(),
                        }],
                    );
                }
            }
            TomlEdit::Set { path, value } => {
                let (key, tables) = path.split_last().unwrap();
                let mut table: &mut Table = doc.as_table_mut();
                for name in tables {
                    table = table
                        .entry(name)
                        .or_insert_with(|| {
                            let mut t = Table::new();
                            t.set_implicit(true);
                            Item::Table(t)
                        })
                        .as_table_mut()
                        .expect("a table");
                }
                let v: toml_edit::Value = match value {
                    serde_json::Value::Bool(b) => (*b).into(),
                    serde_json::Value::Number(n) => n.as_i64().unwrap().into(),
                    serde_json::Value::String(s) => s.as_str().into(),
                    other => panic!("unexpected {other}"),
                };
                match table.get_mut(key).and_then(Item::as_value_mut) {
                    Some(old) => {
                        let decor = old.decor().clone();
                        *old = v;
                        *old.decor_mut() = decor;
                    }
                    None => {
                        table.insert(key, toml_edit::value(v));
                    }
                }
            }
            TomlEdit::RemoveFromArray { path, values } => {
                assert_eq!(path.len(), 1, "only top-level arrays here");
                if let Some(array) = doc.get_mut(&path[0]).and_then(|i| i.as_array_mut()) {
                    array.retain(|v| !values.iter().any(|x| x.as_str() == v.as_str()));
                }
            }
        }
    }
    doc
}

fn toml_edit_of(plan: &RuntimePlan) -> (String, Vec<TomlEdit>) {
    match &file(plan, config::PATH).content {
        FileContent::TomlEdit { initial, edits } => (initial.clone().unwrap(), edits.clone()),
        other => panic!("config.toml should be a TOML edit, got {other:?}"),
    }
}

fn lookup<'a>(doc: &'a DocumentMut, path: &[&str]) -> Option<&'a Item> {
    let mut item = doc.as_item();
    for p in path {
        item = item.get(p)?;
    }
    Some(item)
}

const RUNC_V2: [&str; 6] = [
    "plugins",
    "io.containerd.grpc.v1.cri",
    "containerd",
    "runtimes",
    "runc",
    "options",
];

#[test]
fn upstream_on_debian_12_uses_dockers_repository_and_pins_the_default_series() {
    let plan = plan_for(&request("debian-12", PLUGIN)).unwrap();
    assert_well_formed(&plan);
    let repos = repositories(&plan);
    assert_eq!(repos.len(), 1);
    let repo = repos[0];
    assert_eq!(repo.url, "https://download.docker.com/linux/debian");
    assert_eq!(repo.suite.as_deref(), Some("bookworm"));
    assert_eq!(repo.components, ["stable"]);
    assert_eq!(repo.architectures, ["amd64"]);
    let key = repo.key.as_ref().unwrap();
    assert_eq!(key.url, "https://download.docker.com/linux/debian/gpg");
    assert_eq!(
        key.fingerprints,
        ["9DC858229FC7DD38854AE2D88D81803C0EBFCD88"]
    );

    let pkg = package(&plan, "containerd.io");
    assert_eq!(pkg.version.as_deref(), Some("1.7"));
    assert_eq!(pkg.version_match, VersionMatch::Prefix);
    assert!(!pkg.hold, "the plugin's default is not a user pin");
    assert_eq!(
        plan.facts["cri_socket"],
        "unix:///run/containerd/containerd.sock"
    );
    assert_eq!(plan.facts["cgroup_driver"], "systemd");
    assert_eq!(plan.facts["config_version"], "2");
}

#[test]
fn config_enables_cri_sets_systemd_cgroup_and_keeps_user_settings() {
    let mut req = request("ubuntu-24.04", PLUGIN);
    req.options.sandbox_image = Some("registry.k8s.io/pause:3.10".into());
    let plan = plan_for(&req).unwrap();
    let step = file(&plan, config::PATH);
    assert_eq!(step.restarts, ["containerd.service"]);
    let (initial, edits) = toml_edit_of(&plan);

    // A fresh file: the initial text parses and already says what the edits set.
    let fresh = apply(&initial, &edits);
    assert_eq!(fresh.to_string(), apply(&initial, &[]).to_string());
    assert_eq!(fresh["version"].as_integer(), Some(2));
    let opts = lookup(&fresh, &RUNC_V2).unwrap();
    assert_eq!(opts["SystemdCgroup"].as_bool(), Some(true));
    assert_eq!(
        fresh["plugins"]["io.containerd.grpc.v1.cri"]["sandbox_image"].as_str(),
        Some("registry.k8s.io/pause:3.10")
    );

    // The file containerd.io ships: CRI disabled and no version (read as schema 1).
    let packaged = "# packaged\ndisabled_plugins = [\"cri\"]\n\n[grpc]\n  address = \"/run/containerd/containerd.sock\"\n# keep me\n";
    let edited = apply(packaged, &edits);
    let text = edited.to_string();
    assert!(text.contains("# keep me"), "{text}");
    assert_eq!(
        edited["grpc"]["address"].as_str(),
        Some("/run/containerd/containerd.sock")
    );
    assert_eq!(edited["disabled_plugins"].as_array().unwrap().len(), 0);
    assert_eq!(edited["version"].as_integer(), Some(2));
    assert_eq!(
        lookup(&edited, &RUNC_V2).unwrap()["SystemdCgroup"].as_bool(),
        Some(true)
    );
}

#[test]
fn cgroupfs_driver_is_written_and_reported() {
    let mut req = request("debian-12", PLUGIN);
    req.options.cgroup_driver = CgroupDriver::Cgroupfs;
    req.options.cgroup_driver_reason = "no systemd in this image".into();
    let plan = plan_for(&req).unwrap();
    let (initial, edits) = toml_edit_of(&plan);
    let doc = apply(&initial, &edits);
    assert_eq!(
        lookup(&doc, &RUNC_V2).unwrap()["SystemdCgroup"].as_bool(),
        Some(false)
    );
    assert_eq!(plan.facts["cgroup_driver"], "cgroupfs");
    assert_eq!(
        plan.facts["cgroup_driver_reason"],
        "no systemd in this image"
    );
    assert!(checks(&plan)
        .iter()
        .any(|c| c.probe.argv == ["containerd", "config", "dump"]));
}

#[test]
fn containerd_2_writes_schema_3() {
    let mut req = request("rocky-9", PLUGIN);
    req.options.version = Some("2.1".into());
    req.options.sandbox_image = Some("registry.k8s.io/pause:3.10".into());
    let plan = plan_for(&req).unwrap();
    assert_eq!(plan.facts["config_version"], "3");
    let pkg = package(&plan, "containerd.io");
    assert_eq!(pkg.version.as_deref(), Some("2.1"));
    assert!(pkg.hold, "a user pin is held");
    let (initial, edits) = toml_edit_of(&plan);
    let doc = apply(&initial, &edits);
    assert_eq!(doc["version"].as_integer(), Some(3));
    let opts = lookup(
        &doc,
        &[
            "plugins",
            "io.containerd.cri.v1.runtime",
            "containerd",
            "runtimes",
            "runc",
            "options",
        ],
    )
    .unwrap();
    assert_eq!(opts["SystemdCgroup"].as_bool(), Some(true));
    assert_eq!(
        lookup(
            &doc,
            &[
                "plugins",
                "io.containerd.cri.v1.images",
                "pinned_images",
                "sandbox"
            ]
        )
        .unwrap()
        .as_str(),
        Some("registry.k8s.io/pause:3.10")
    );
    assert!(edits.iter().any(|e| matches!(e,
        TomlEdit::RemoveFromArray { values, .. } if values.contains(&serde_json::json!("io.containerd.grpc.v1.cri")))));

    let repo = repositories(&plan)[0];
    assert_eq!(
        repo.url,
        "https://download.docker.com/linux/centos/9/$basearch/stable"
    );
    assert_eq!(
        repo.key.as_ref().unwrap().fingerprints,
        ["060A61C51B558A7F742B77AAC52FEB6B621E9F35"]
    );
}

/// The schema check's probe, run with the real grep on a file declaring `version` (or none):
/// whether the check lets the run go on.
fn schema_check_accepts(plan: &RuntimePlan, version: Option<u8>) -> bool {
    let check = plan
        .steps
        .iter()
        .find_map(|s| match &s.kind {
            StepKind::Check(c) if s.phase == Phase::Prerequisites => Some(c),
            _ => None,
        })
        .expect("a schema check among the prerequisites");
    assert_eq!(check.probe.argv[0], "find");
    assert!(check.description.contains("containerd.config-version"));
    // find ... -exec grep -qE PATTERN {} ; -print: the file is named (refused) when grep
    // finds the pattern.
    let text = match version {
        Some(n) => format!("# site config\nversion = {n}\n\n[grpc]\n  address = \"/run/c.sock\"\n"),
        None => "disabled_plugins = [\"cri\"]\n".to_owned(),
    };
    let found = runtime_kit::fixtures::grep_pattern_matches(&check.probe, &text);
    !found
}

#[test]
fn an_existing_config_of_another_schema_stops_the_run_before_anything_changes() {
    let with = |version: &str| {
        let mut req = request("rocky-9", PLUGIN);
        req.options.version = Some(version.into());
        plan_for(&req).unwrap()
    };
    for (containerd, accepted) in [
        ("1.7", [false, true, false, false]),
        ("2.1", [false, false, true, false]),
        // containerd 2.3 reads version 3 files as they are.
        ("2.3", [false, false, true, true]),
    ] {
        let plan = with(containerd);
        for (n, want) in (1u8..=4).zip(accepted) {
            assert_eq!(
                schema_check_accepts(&plan, Some(n)),
                want,
                "containerd {containerd}, a file of version {n}"
            );
        }
        // A packaged file without a version is ours to give one.
        assert!(schema_check_accepts(&plan, None), "containerd {containerd}");
    }
}

#[test]
fn containerd_2_3_writes_schema_4_and_leaves_a_version_3_file_at_3() {
    let mut req = request("rocky-9", PLUGIN);
    req.options.version = Some("2.3".into());
    req.options.sandbox_image = Some("registry.k8s.io/pause:3.10".into());
    let plan = plan_for(&req).unwrap();
    assert_eq!(plan.facts["config_version"], "4");
    let (initial, edits) = toml_edit_of(&plan);
    let fresh = apply(&initial, &edits);
    assert_eq!(fresh["version"].as_integer(), Some(4));

    // A version 3 file (containerd 2.2's `config default`, server settings at the top): its
    // version stays, since version 4 reads [ttrpc] differently; the CRI tables are the same.
    let site = "version = 3\n\n[grpc]\n  address = \"/run/containerd/containerd.sock\"\n";
    let edited = apply(site, &edits);
    assert_eq!(edited["version"].as_integer(), Some(3));
    assert_eq!(
        edited["grpc"]["address"].as_str(),
        Some("/run/containerd/containerd.sock")
    );
    let runtime = [
        "plugins",
        "io.containerd.cri.v1.runtime",
        "containerd",
        "runtimes",
        "runc",
        "options",
        "SystemdCgroup",
    ];
    for doc in [&fresh, &edited] {
        assert_eq!(lookup(doc, &runtime).unwrap().as_bool(), Some(true));
        assert_eq!(
            lookup(
                doc,
                &[
                    "plugins",
                    "io.containerd.cri.v1.images",
                    "pinned_images",
                    "sandbox"
                ]
            )
            .unwrap()
            .as_str(),
            Some("registry.k8s.io/pause:3.10")
        );
    }
    // A packaged file with no version at all gets 4.
    let packaged = apply("disabled_plugins = [\"cri\"]\n", &edits);
    assert_eq!(packaged["version"].as_integer(), Some(4));
}

#[test]
fn ubuntu_lts_from_its_own_archive_reads_schema_3() {
    for id in ["ubuntu-22.04", "ubuntu-24.04"] {
        let mut req = request(id, PLUGIN);
        req.options.source = Source::Distro;
        let plan = plan_for(&req).unwrap();
        assert_eq!(plan.facts["version"], "2.2", "{id}");
        assert_eq!(plan.facts["config_version"], "3", "{id}");
    }
}

#[test]
fn distro_source_uses_the_pack_package_and_a_known_schema() {
    let mut req = request("debian-12", PLUGIN);
    req.options.source = Source::Distro;
    let plan = plan_for(&req).unwrap();
    assert!(repositories(&plan).is_empty());
    let pkg = package(&plan, "containerd");
    assert_eq!(pkg.version, None);
    assert!(!pkg.hold);
    assert_eq!(plan.facts["version"], "1.6");
    assert_eq!(plan.facts["config_version"], "2");
    let config = plan
        .steps
        .iter()
        .find(|s| s.phase == Phase::Configuration)
        .unwrap();
    assert!(
        config.why.contains("debian-12 ships containerd 1.6"),
        "{}",
        config.why
    );
}

#[test]
fn distro_source_on_suse_and_an_explicit_schema() {
    let mut req = request("opensuse-tumbleweed", PLUGIN);
    req.options.source = Source::Distro;
    req.options
        .set
        .insert("containerd.config-version".into(), "3".into());
    let plan = plan_for(&req).unwrap();
    assert_eq!(packages(&plan).len(), 1);
    assert_eq!(plan.facts["config_version"], "3");
    req.options
        .set
        .insert("containerd.config-version".into(), "5".into());
    assert_eq!(plan_for(&req).unwrap_err().kind, ErrorKind::InvalidInput);
}

#[test]
fn suse_has_no_docker_repository() {
    let e = plan_for(&request("opensuse-leap-15", PLUGIN)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("opensuse-leap-15"), "{}", e.message);
    assert!(e.hint.unwrap().contains("--source distro"));
}

#[test]
fn a_pack_without_the_distro_package_names_pack_variable_and_plugin() {
    let mut req = request("debian-10", PLUGIN);
    req.options.source = Source::Distro;
    let e = plan_for(&req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingVariable);
    assert!(e.message.contains("debian-10"));
    assert!(e.message.contains("containerd.distro_package"));
    assert!(e.message.contains("containerd"));
}

#[test]
fn vulnerable_pins_are_refused_naming_the_cve() {
    let mut req = request("ubuntu-20.04", PLUGIN);
    req.options.version = Some("1.4.2".into());
    let e = plan_for(&req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("CVE-2020-15257"), "{}", e.message);
    assert!(e
        .hint
        .as_deref()
        .unwrap()
        .contains("--allow-vulnerable CVE-2020-15257"));

    req.options.allow_vulnerable = vec!["CVE-2020-15257".into()];
    let plan = plan_for(&req).unwrap();
    assert_eq!(
        plan.warnings.iter().filter(|w| w.contains("CVE-")).count(),
        1
    );

    req.options.version = Some("1.7.13".into());
    req.options.allow_vulnerable.clear();
    assert!(plan_for(&req).is_ok());
}

#[test]
fn containerd_1_2_uses_the_schema_the_seeds_describe() {
    let mut req = request("ubuntu-20.04", PLUGIN);
    req.options.version = Some("1.2.13".into());
    req.options.allow_vulnerable = vec!["CVE-2020-15257".into(), "CVE-2024-21626".into()];
    let plan = plan_for(&req).unwrap();
    let (initial, edits) = toml_edit_of(&plan);
    let doc = apply(&initial, &edits);
    assert_eq!(
        doc["plugins"]["cri"]["systemd_cgroup"].as_bool(),
        Some(true)
    );
    assert!(doc.get("version").is_none());
    assert_eq!(plan.facts["config_version"], "1");
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let mut req = request("debian-12", PLUGIN);
    req.options.version = Some("latest".into());
    let e = plan_for(&req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.hint.unwrap().contains("--version"));

    let mut req = request("debian-12", PLUGIN);
    req.options.sandbox_image = Some("Pause:3.10".into());
    assert_eq!(plan_for(&req).unwrap_err().kind, ErrorKind::InvalidInput);

    let mut req = request("debian-12", PLUGIN);
    req.options
        .set
        .insert("containerd.key-fingerprnt".into(), "x".into());
    let e = plan_for(&req).unwrap_err();
    assert!(e.hint.unwrap().contains("containerd.key-fingerprint"));
}

#[test]
fn mirror_serves_repository_and_key() {
    let mut req = request("debian-12", PLUGIN);
    req.options.mirror = Some("http://127.0.0.1:8080/".into());
    req.options.set.insert(
        "containerd.key-fingerprint".into(),
        "AAAA BBBB CCCC DDDD EEEE  FFFF 0000 1111 2222 3333".into(),
    );
    let plan = plan_for(&req).unwrap();
    let repo = repositories(&plan)[0];
    assert_eq!(repo.url, "http://127.0.0.1:8080/linux/debian");
    let key = repo.key.as_ref().unwrap();
    assert_eq!(key.url, "http://127.0.0.1:8080/linux/debian/gpg");
    assert_eq!(
        key.fingerprints,
        ["AAAABBBBCCCCDDDDEEEEFFFF0000111122223333"]
    );
}

#[test]
fn service_is_enabled_started_and_restarted_on_change() {
    let plan = plan_for(&request("centos-7", PLUGIN)).unwrap();
    let svc = services(&plan);
    assert_eq!(svc.len(), 1);
    assert_eq!(svc[0].unit, "containerd.service");
    assert!(svc[0].enable && svc[0].start && svc[0].restart_on_change);
    assert_eq!(
        repositories(&plan)[0].url,
        "https://download.docker.com/linux/centos/7/$basearch/stable"
    );
}

#[test]
fn plans_are_deterministic() {
    let req = request("ubuntu-22.04", PLUGIN);
    assert_eq!(plan_for(&req).unwrap(), plan_for(&req).unwrap());
}

#[test]
fn options_document_every_key_read() {
    let keys: Vec<String> = Containerd.options().into_iter().map(|d| d.key).collect();
    assert_eq!(
        keys,
        [
            "containerd.key-url",
            "containerd.key-fingerprint",
            "containerd.config-version"
        ]
    );
}

/// containerd itself parses what the plan writes, when a containerd binary is installed
/// (Debian 12's is 1.6, so schema 2; `apt-get install containerd`). Skipped, saying so,
/// otherwise.
#[test]
fn the_installed_containerd_reads_the_written_config() {
    let Ok(out) = std::process::Command::new("containerd")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: no containerd binary on this machine");
        return;
    };
    let version = String::from_utf8_lossy(&out.stdout).to_string();
    if !version.contains(" 1.") {
        eprintln!("skipped: this test knows containerd 1.x, found {version}");
        return;
    }
    let mut req = request("debian-12", PLUGIN);
    req.options.source = Source::Distro;
    req.options.sandbox_image = Some("registry.k8s.io/pause:3.10".into());
    let plan = plan_for(&req).unwrap();
    let (initial, edits) = toml_edit_of(&plan);
    let packaged = "disabled_plugins = [\"cri\"]\n";
    let dir = std::env::temp_dir().join(format!("containerd-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("fresh.toml", apply(&initial, &edits).to_string()),
        ("packaged.toml", apply(packaged, &edits).to_string()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &text).unwrap();
        let out = std::process::Command::new("containerd")
            .arg("--config")
            .arg(&path)
            .args(["config", "dump"])
            .output()
            .unwrap();
        let dump = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            dump.contains("SystemdCgroup = true"),
            "{name}:\n{text}\n---\n{dump}"
        );
        assert!(
            dump.contains("sandbox_image = \"registry.k8s.io/pause:3.10\""),
            "{name}:\n{dump}"
        );
        assert!(dump.contains("disabled_plugins = []"), "{name}:\n{dump}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_fixture_distro_plans_or_is_refused_with_a_reason() {
    runtime_kit::fixtures::assert_matrix(PLUGIN, plan_for, |_| {});
}

#[test]
fn a_versionless_config_with_schema_1_tables_is_refused_before_anything_changes() {
    let plan = plan_for(&request("debian-12", PLUGIN)).unwrap();
    let check = runtime_kit::fixtures::prerequisite_check(&plan, "has no `version`");
    assert_eq!(
        plan.steps[plan
            .steps
            .iter()
            .position(|s| matches!(&s.kind, StepKind::Check(c) if c == check))
            .unwrap()]
        .phase,
        Phase::Prerequisites
    );
    // The probe with the real find and grep, on a scratch tree standing for /etc.
    let scratch = std::env::temp_dir().join(format!("containerd-probe-{}", std::process::id()));
    let file = scratch.join("etc/containerd/config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let named = |text: &str| -> bool {
        std::fs::write(&file, text).unwrap();
        !runtime_kit::fixtures::probe_stdout_under(&check.probe, &scratch).is_empty()
    };
    // NVIDIA's schema 1 test config: short-named tables, no version.
    assert!(named("oom_score = 0\n\n[plugins]\n\n  [plugins.cri]\n    sandbox_image = \"k8s.gcr.io/pause:3.1\"\n"));
    // Docker's packaged file, and any file that says its version: not this check's business.
    assert!(!named("disabled_plugins = [\"cri\"]\n"));
    assert!(!named(
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n"
    ));
    assert!(!named("version = 1\n[plugins.cri]\n"));
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn an_imported_drop_in_with_its_own_cri_table_is_named_before_anything_changes() {
    let plan = plan_for(&request("debian-12", PLUGIN)).unwrap();
    let check = runtime_kit::fixtures::prerequisite_check(&plan, "imports");
    let scratch = std::env::temp_dir().join(format!("containerd-imports-{}", std::process::id()));
    let etc = scratch.join("etc/containerd");
    let run = |config: &str, drop_ins: &[(&str, &str)]| -> String {
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(etc.join("config.d")).unwrap();
        std::fs::write(etc.join("config.toml"), config).unwrap();
        for (name, text) in drop_ins {
            std::fs::write(etc.join("config.d").join(name), text).unwrap();
        }
        runtime_kit::fixtures::probe_stdout_under(&check.probe, &scratch)
    };
    let imports = "version = 2\nimports = [\"/etc/containerd/config.d/*.toml\"]\n";
    let gpu = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"nvidia\"\n";
    let quoted = "version = 2\n[plugins.'io.containerd.grpc.v1.cri']\n  sandbox_image = 'x'\n";
    let other = "version = 2\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"/opt\"\n";
    assert!(run(imports, &[("10-gpu.toml", gpu)])
        .trim_end()
        .ends_with("config.d/10-gpu.toml"));
    assert!(!run(imports, &[("20-eks.toml", quoted)]).is_empty());
    // Another plugin's table, or no imports in config.toml: nothing to say.
    assert_eq!(run(imports, &[("30-opt.toml", other)]), "");
    assert_eq!(run("version = 2\n", &[("10-gpu.toml", gpu)]), "");
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn an_empty_imports_list_imports_nothing_and_a_fifo_is_not_read() {
    let plan = plan_for(&request("debian-12", PLUGIN)).unwrap();
    let check = runtime_kit::fixtures::prerequisite_check(&plan, "imports");
    let scratch =
        std::env::temp_dir().join(format!("containerd-empty-imports-{}", std::process::id()));
    let etc = scratch.join("etc/containerd");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(etc.join("backup")).unwrap();
    // `containerd config default` writes `imports = []`; a stray copy sits in a subdirectory.
    std::fs::write(etc.join("config.toml"), "version = 2\nimports = []\n").unwrap();
    let stray = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n";
    std::fs::write(etc.join("backup/config.toml"), stray).unwrap();
    assert_eq!(
        runtime_kit::fixtures::probe_stdout_under(&check.probe, &scratch),
        ""
    );
    // Something imported, and a FIFO beside the drop-ins: named drop-ins only, no hang.
    std::fs::write(
        etc.join("config.toml"),
        "version = 2\nimports = [\n  \"/etc/containerd/backup/*.toml\",\n]\n",
    )
    .unwrap();
    let fifo = etc.join("backup/pipe.toml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let found = runtime_kit::fixtures::probe_stdout_under(&check.probe, &scratch);
    assert!(
        found.trim_end().ends_with("backup/config.toml") && !found.contains("pipe"),
        "{found}"
    );
    std::fs::remove_dir_all(&scratch).unwrap();
}
