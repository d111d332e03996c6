//! `installer render --format ansible`: for every built-in pack and runtime, a playbook that
//! ansible-playbook accepts and ansible-lint passes, and that holds what the plan does (every
//! file's content, every config edit, every download's checksum, every check, a handler per
//! restarted service); and the collection's version filters read versions as run does.

use std::process::Command;

use serde_json::{json, Value};

use crate::render::builtin_distros;
use crate::util::{workspace_root, Installer, PluginDir};

fn need(program: &str, package: &str) {
    assert!(
        Command::new(program).arg("--version").output().is_ok(),
        "this test needs {program}: apt-get install {package} (scripts/test-all does)"
    );
}

/// A YAML value as JSON, Ansible's `!unsafe` tags dropped (they only stop templating).
fn plain(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => serde_json::to_value(n).unwrap(),
        Y::String(s) => json!(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(plain).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), plain(v)))
                .collect(),
        ),
        Y::Tagged(t) => {
            assert_eq!(t.tag, "unsafe", "only !unsafe tags are written");
            plain(t.value)
        }
    }
}

/// Every task of the play, blocks opened, handlers last.
fn all_tasks(play: &Value) -> Vec<Value> {
    fn walk(tasks: &Value, out: &mut Vec<Value>) {
        for t in tasks.as_array().into_iter().flatten() {
            match t.get("block") {
                Some(inner) => walk(inner, out),
                None => out.push(t.clone()),
            }
        }
    }
    let mut out = Vec::new();
    walk(&play["tasks"], &mut out);
    walk(&play["handlers"], &mut out);
    out
}

fn with_module<'a>(tasks: &'a [Value], module: &str) -> Vec<&'a Value> {
    tasks.iter().filter(|t| t.get(module).is_some()).collect()
}

/// The playbook holds what the plan does, action by action.
fn holds_the_plan(plan: &Value, playbook: &Value, what: &str) {
    let tasks = all_tasks(&playbook[0]);
    // The systemd module refuses a task that asks nothing of the unit.
    for t in with_module(&tasks, "ansible.builtin.systemd") {
        let args = &t["ansible.builtin.systemd"];
        assert!(
            ["state", "enabled", "daemon_reload"]
                .iter()
                .any(|k| !args[*k].is_null()),
            "{what}: a systemd task with nothing to do: {t:#}"
        );
    }
    let notified = |path: &str| -> Vec<String> {
        tasks
            .iter()
            .filter(|t| {
                [
                    "ansible.builtin.copy",
                    "installer.runtime.config_edit",
                    "ansible.builtin.get_url",
                ]
                .iter()
                .any(|m| {
                    t.get(*m)
                        .is_some_and(|a| a["dest"] == path || a["path"] == path)
                })
            })
            .flat_map(|t| t["notify"].as_array().cloned().unwrap_or_default())
            .map(|n| n.as_str().unwrap().to_owned())
            .collect()
    };
    for action in plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
    {
        match action["type"].as_str().unwrap() {
            "write_file" => {
                let copy = with_module(&tasks, "ansible.builtin.copy")
                    .into_iter()
                    .find(|t| t["ansible.builtin.copy"]["dest"] == action["path"])
                    .unwrap_or_else(|| panic!("{what}: no copy of {}", action["path"]));
                let args = &copy["ansible.builtin.copy"];
                assert_eq!(
                    args["content"], action["content"],
                    "{what}: {}",
                    action["path"]
                );
                let mode = format!("{:04o}", action["mode"].as_u64().unwrap());
                assert_eq!(args["mode"], mode.as_str(), "{what}");
            }
            "merge_file" => {
                let edit = with_module(&tasks, "installer.runtime.config_edit")
                    .into_iter()
                    .find(|t| t["installer.runtime.config_edit"]["path"] == action["path"])
                    .unwrap_or_else(|| panic!("{what}: no config_edit of {}", action["path"]));
                // The edit itself, types and all, as run would apply it.
                assert_eq!(
                    edit["installer.runtime.config_edit"]["merge"], action["merge"],
                    "{what}"
                );
            }
            "download" => {
                let sha = format!(
                    "sha256:{}",
                    action["sha256"].as_str().unwrap().to_lowercase()
                );
                assert!(
                    with_module(&tasks, "ansible.builtin.get_url")
                        .iter()
                        .any(|t| t["ansible.builtin.get_url"]["checksum"] == sha.as_str()
                            && t["ansible.builtin.get_url"]["url"] == action["url"]),
                    "{what}: no checked download of {}",
                    action["url"]
                );
            }
            "check" => {
                let description = action["description"].as_str().unwrap();
                assert!(
                    with_module(&tasks, "ansible.builtin.assert")
                        .iter()
                        .any(|t| t["ansible.builtin.assert"]["fail_msg"]
                            .as_str()
                            .is_some_and(|m| m.ends_with(description))),
                    "{what}: no assert for {description}"
                );
            }
            "service" => {
                let unit = action["unit"].as_str().unwrap();
                let systemd = with_module(&tasks, "ansible.builtin.systemd");
                let state = match (action["start"].as_bool(), action["stop"].as_bool()) {
                    (Some(true), _) => json!("started"),
                    (_, Some(true)) => json!("stopped"),
                    _ => Value::Null,
                };
                let enabled = match (action["enable"].as_bool(), action["disable"].as_bool()) {
                    (Some(true), _) => json!(true),
                    (_, Some(true)) => json!(false),
                    _ => Value::Null,
                };
                // A unit the plan only restarts on change has no task of its own.
                let reload = action["daemon_reload"].as_bool() == Some(true);
                if !state.is_null() || !enabled.is_null() || reload {
                    assert!(
                        systemd
                            .iter()
                            .any(|t| t["ansible.builtin.systemd"]["name"] == unit
                                && t["ansible.builtin.systemd"]["state"] == state
                                && t["ansible.builtin.systemd"]["enabled"] == enabled
                                && t["when"] == "installer_systemd"),
                        "{what}: {unit} not managed as the plan says"
                    );
                }
                let handler = format!("Restart {unit}");
                for trigger in action["restart_when_changed"].as_array().unwrap() {
                    let trigger = trigger.as_str().unwrap();
                    if trigger.starts_with('/') {
                        assert!(
                            notified(trigger).contains(&handler),
                            "{what}: a change of {trigger} does not restart {unit}"
                        );
                    }
                }
                if !action["restart_when_changed"]
                    .as_array()
                    .unwrap()
                    .is_empty()
                {
                    // Restarted only if it runs, as run does.
                    assert!(
                        with_module(&tasks, "ansible.builtin.command")
                            .iter()
                            .any(|t| t["name"] == handler.as_str()
                                && t["ansible.builtin.command"]["argv"]
                                    == json!(["systemctl", "try-restart", unit])),
                        "{what}: no handler {handler}"
                    );
                }
            }
            _ => {}
        }
    }
}

#[test]
fn every_builtin_pack_and_runtime_renders_a_playbook_ansible_accepts_and_lint_passes() {
    need("ansible-playbook", "ansible");
    need("ansible-lint", "ansible-lint");
    let dir = PluginDir::new().with_workspace_plugins();
    let out_dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for distro in builtin_distros() {
        for runtime in ["containerd", "docker", "cri-o", "mcr"] {
            let args = [
                "--distro",
                distro.as_str(),
                "--runtime",
                runtime,
                "--kubernetes-version",
                "1.30",
            ];
            let out = Installer::isolated(dir.path())
                .args(["render", "--format", "ansible"])
                .args(args)
                .run();
            if out.code == 2 {
                continue; // a combination the matrix refuses (tests/cli/runtimes.rs)
            }
            assert_eq!(out.code, 0, "{distro} {runtime}: {}", out.stderr);
            let file = out_dir.path().join(format!("{distro}-{runtime}.yml"));
            std::fs::write(&file, &out.stdout).unwrap();
            files.push(file);
            // One kind of node fixed: the playbook holds that plan, action by action.
            let fixed = ["--arch", "x86_64", "--cgroup-driver", "systemd"];
            let playbook = Installer::isolated(dir.path())
                .args(["render", "--format", "ansible"])
                .args(args)
                .args(fixed)
                .run()
                .code(0)
                .stdout;
            let plan = Installer::isolated(dir.path())
                .args(["plan", "--output", "json"])
                .args(args)
                .args(fixed)
                .run()
                .code(0)
                .json();
            let parsed = plain(serde_yaml_ng::from_str(&playbook).unwrap());
            holds_the_plan(&plan, &parsed, &format!("{distro} {runtime}"));
        }
    }
    assert!(
        files.len() >= 40,
        "only {} combinations rendered",
        files.len()
    );

    let collections = crate::util::ansible_collections();
    let syntax = Command::new("ansible-playbook")
        .args(["--syntax-check", "-i", "localhost,"])
        .args(&files)
        .env("ANSIBLE_COLLECTIONS_PATH", collections.path())
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "ansible-playbook --syntax-check:\n{}{}",
        String::from_utf8_lossy(&syntax.stdout),
        String::from_utf8_lossy(&syntax.stderr)
    );
    let lint = Command::new("ansible-lint")
        .args(["-q", "--nocolor", "--offline"])
        .args(&files)
        .current_dir(out_dir.path())
        .env("ANSIBLE_COLLECTIONS_PATH", collections.path())
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "ansible-lint:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
}

/// The first `program` on PATH.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Runs the collection's filter module in python3 on `calls` ([name, args...] each), returns
/// each result (or `{"error": message}`).
fn filters(calls: &Value) -> Vec<Value> {
    let program = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import versions
out = []
for name, *args in json.loads(sys.stdin.read()):
    try:
        out.append(getattr(versions, name)(*args))
    except Exception as e:
        out.append({"error": str(e)})
print(json.dumps(out))
"#;
    // The Python Ansible itself runs on (the first line of ansible-playbook), which has
    // `ansible` to import.
    let python = which("ansible-playbook")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| {
            let first = text
                .lines()
                .next()?
                .trim_start_matches("#!")
                .trim()
                .to_owned();
            Some(first.split_whitespace().next()?.to_owned())
        })
        .expect("ansible-playbook on PATH (scripts/test-all installs ansible)");
    let mut child = Command::new(python)
        .args(["-c", program])
        .arg(workspace_root().join("ansible/plugins/filter"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(calls.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_collections_version_filters_read_versions_as_run_does() {
    use plugin_api::version;
    let versions = [
        "1.6.20-1",
        "5:24.0.7-1~debian.12~bookworm",
        "5:24.0.9-1~debian.12~bookworm",
        "24.04.1",
        "5:24.04.1-1~ubuntu",
        "124.0",
        "19.03.8~3-0~ubuntu-focal",
        "5:19.03.8~3-0~ubuntu-focal",
        "19.03.8-3.el7",
        "3:28.3.3-1.el9",
        "24.0.7_ce-150000.198.2",
        "1.7.27-3.1.el9",
        "1.7.27-1",
        "1.7.28~beta1-1",
        "1.7.28+dfsg-1",
        "1.7.28",
        "1.0rc1",
        "1.0",
        "1.0~rc1",
        "1.0-1",
        "1.00",
        "1.03",
        "1.3",
        "0:1.2",
        "2:1.0",
        "1.2.13-1",
        "1.a",
        "1.+",
        "1.~",
        "10",
        "9",
        "1.2.3.4",
    ];
    let pins = [
        "1",
        "1.0",
        "1.7",
        "1.7.27-3",
        "24.0",
        "19.03.8",
        "5:19.03",
        "0:19.03.8",
        "28.3",
        "1.2.13",
        "0:1.2",
        "2:1",
        "1.",
        "",
        "5:",
        "24.0.7_ce",
    ];
    let mut calls = Vec::new();
    let mut expected = Vec::new();
    for a in versions {
        for b in versions {
            calls.push(json!(["compare", a, b]));
            expected.push(json!(version::compare(a, b) as i8));
        }
        calls.push(json!(["release", a]));
        expected.push(json!(version::release(a).map(|(x, y, z)| [x, y, z])));
    }
    for pin in pins {
        for v in versions {
            calls.push(json!(["matches", pin, v]));
            expected.push(json!(version::matches(pin, v)));
        }
        calls.push(json!(["pick", pin, versions]));
        expected.push(json!(version::pick(pin, versions)));
    }
    let got = filters(&Value::Array(calls.clone()));
    for ((call, want), got) in calls.iter().zip(&expected).zip(&got) {
        assert_eq!(got, want, "{call}");
    }

    // A listing as apt-cache madison prints it; a pin nothing matches names what was seen.
    let madison = " containerd.io | 1.7.27-1 | https://x bookworm/stable amd64 Packages\n containerd.io | 1.7.28-1 | https://x bookworm/stable amd64 Packages\n other | 1.7.99 | x\n";
    let got = filters(&json!([
        ["pick_version", madison, "1.7", ["containerd.io"], 0, 1, "|", "containerd.io"],
        ["pick_version", madison, "1.6", ["containerd.io"], 0, 1, "|", "containerd.io"],
        ["pick_version", madison, "1.6", ["containerd.io"], 0, 1, "|", "containerd.io", true],
        ["vulnerable_to", "1.6.20-1", [{"id": "CVE-X", "affected": [["1.4.0", "1.6.28"]]}, {"id": "CVE-Y", "affected": [["1.7.0", "1.7.13"]]}]],
    ]));
    assert_eq!(got[0], "1.7.28-1");
    let error = got[1]["error"].as_str().unwrap();
    assert!(
        error.contains("no version of containerd.io matches the pin 1.6")
            && error.contains("1.7.27-1, 1.7.28-1"),
        "{error}"
    );
    assert_eq!(got[2], "");
    assert_eq!(got[3], json!(["CVE-X"]));
}

#[test]
fn a_playbook_that_aligns_the_kubelet_restarts_it_only_through_a_handler() {
    let dir = PluginDir::new().with_workspace_plugins();
    let args = [
        "--distro",
        "debian-12",
        "--runtime",
        "containerd",
        "--configure-kubelet",
        "--arch",
        "x86_64",
        "--cgroup-driver",
        "systemd",
    ];
    let playbook = Installer::isolated(dir.path())
        .args(["render", "--format", "ansible"])
        .args(args)
        .run()
        .code(0)
        .stdout;
    let plan = Installer::isolated(dir.path())
        .args(["plan", "--output", "json"])
        .args(args)
        .run()
        .code(0)
        .json();
    let parsed = plain(serde_yaml_ng::from_str(&playbook).unwrap());
    holds_the_plan(&plan, &parsed, "--configure-kubelet");
    let tasks = all_tasks(&parsed[0]);
    let edit = with_module(&tasks, "installer.runtime.config_edit")
        .into_iter()
        .find(|t| t["installer.runtime.config_edit"]["path"] == "/var/lib/kubelet/config.yaml")
        .expect("the kubelet's configuration is edited");
    assert_eq!(edit["notify"], json!(["Restart kubelet.service"]));
}

#[test]
fn the_playbooks_key_check_keeps_a_good_stored_key_and_refuses_an_expired_one_as_run_does() {
    need("ansible-playbook", "ansible");
    let dir = PluginDir::new().with_workspace_plugins();
    let rendered = Installer::isolated(dir.path())
        .args(["render", "--format", "ansible", "--distro", "debian-12"])
        .args([
            "--runtime",
            "containerd",
            "--arch",
            "x86_64",
            "--cgroup-driver",
            "systemd",
        ])
        .run()
        .code(0)
        .stdout;
    let tasks = all_tasks(&plain(serde_yaml_ng::from_str(&rendered).unwrap())[0]);
    let named = |suffix: &str| {
        tasks
            .iter()
            .find(|t| t["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
            .unwrap_or_else(|| panic!("a task named `...{suffix}`"))
            .clone()
    };
    let register = |t: &Value| t["register"].as_str().unwrap().to_owned();
    let read_stored = named(": read the stored key's fingerprints");
    let read_fetched = named(": read the key's fingerprints");
    for read in [&read_stored, &read_fetched] {
        let argv = read["ansible.builtin.command"]["argv"].as_array().unwrap();
        assert_eq!(
            argv[1], "--homedir",
            "gpg reads in a home of installer's: {argv:?}"
        );
    }
    let (stored, fetched) = (register(&read_stored), register(&read_fetched));
    let mut fetch = named(": fetch the signing key");
    let is_expected = named(": the key is exactly one of those expected");
    let not_expired = named(": the key has not expired");

    // What gpg prints for keys the test makes (the pinned one is Docker's): the pin is
    // replaced by theirs in each task's vars.
    let tmp = tempfile::tempdir().unwrap();
    let keyring = tmp.path().join("keyring");
    std::fs::create_dir_all(&keyring).unwrap();
    std::fs::set_permissions(
        &keyring,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let listing = |expiry: &str, options: &[&str]| {
        let (key, fpr) = crate::render::exported_key(
            &keyring,
            &format!("k{expiry} <k@example.org>"),
            expiry,
            options,
        );
        let file = tmp.path().join(format!("{expiry}.gpg"));
        std::fs::write(&file, key).unwrap();
        let home = tempfile::tempdir().unwrap();
        let shown = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["--show-keys", "--with-colons"])
            .arg(&file)
            .output()
            .unwrap();
        let lines: Vec<String> = String::from_utf8_lossy(&shown.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        (json!({"rc": 0, "stdout_lines": lines}), fpr)
    };
    let (fresh, fresh_fpr) = listing("never", &[]);
    // Made on 2020-01-01 to expire a day later, as gpg's faked clock allows.
    let (old, old_fpr) = listing("1d", &["--faked-system-time", "20200101T000000"]);
    let missing = json!({"rc": 2, "stdout_lines": []});
    // A fetch that runs fails (nothing listens there) and writes nowhere of this host's.
    fetch["ansible.builtin.get_url"]["url"] = json!("http://127.0.0.1:1/key.gpg");
    fetch["ansible.builtin.get_url"]["dest"] = json!(tmp.path().join("fetched.gpg"));
    let play = |name: &str, pin: &str, facts: Value, steps: &[&Value]| {
        let mut list = vec![json!({"ansible.builtin.set_fact": facts})];
        for step in steps {
            let mut step = (*step).clone();
            step["vars"]["installer_fingerprints"] = json!([pin]);
            list.push(step);
        }
        let file = tmp.path().join(format!("{name}.yml"));
        let doc = json!([{"hosts": "localhost", "gather_facts": false, "tasks": list}]);
        std::fs::write(&file, doc.to_string()).unwrap();
        let out = Command::new("ansible-playbook")
            .args(["-i", "localhost,", "-c", "local"])
            .arg(&file)
            .env("ANSIBLE_LOCALHOST_WARNING", "false")
            .env("ANSIBLE_NOCOLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let checks = [&fetch, &is_expected, &not_expired];
    // A stored key that is the pinned one and unexpired: nothing fetched, nothing asserted.
    let (code, out) = play("kept", &fresh_fpr, json!({&stored: fresh.clone()}), &checks);
    assert_eq!(code, Some(0), "{out}");
    // A stored key that has expired is fetched again (here the fetch fails).
    let (code, out) = play(
        "refetched",
        &old_fpr,
        json!({&stored: old.clone()}),
        &checks,
    );
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("fetch the signing key"), "{out}");
    // None stored: the fetched key is checked; the good one passes, an expired one does not.
    let checked = [&is_expected, &not_expired];
    let facts = |key: &Value| json!({&stored: missing.clone(), &fetched: key.clone()});
    let (code, out) = play("fresh", &fresh_fpr, facts(&fresh), &checked);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = play("expired", &old_fpr, facts(&old), &checked);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("has expired"), "{out}");
    // And another key than the pinned one is refused.
    let (code, out) = play("another", &old_fpr, facts(&fresh), &checked);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("is not the one expected"), "{out}");
}
