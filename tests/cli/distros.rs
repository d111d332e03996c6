//! `installer distros list|show`, overriding packs from --distro-dir, and malformed packs.

use std::path::Path;

use serde_json::Value;

use super::detect::{installer, root_with};

/// A valid pack, `debian-10` by id, with a var the built-in one lacks.
const DEBIAN_10_OVERRIDE: &str = r#"# a site's own Debian 10 pack
id = "debian-10"
name = "Debian 10 (buster), site mirror"
family = "debian"
package_manager = "apt"
os_id = "debian"
version_id = "10"
codename = "buster"

[match]
version_ids = ["10"]

[vars]
"docker.repo_path" = "debian"
"site.mirror" = "https://mirror.example/docker"
"#;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn rows(run: &super::detect::Run) -> Vec<Value> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json().as_array().unwrap().clone()
}

#[test]
fn list_shows_every_builtin_pack_with_family_and_package_manager() {
    let rows = rows(&installer(
        &[&"distros", &"list", &"--output", &"json"],
        &[],
    ));
    let find = |id: &str| {
        rows.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed"))
            .clone()
    };
    for (id, family, pm) in [
        ("debian-10", "debian", "apt"),
        ("ubuntu-20.04", "debian", "apt"),
        ("centos-7", "rhel", "yum"),
        ("rhel-9", "rhel", "dnf"),
        ("fedora-40", "rhel", "dnf"),
        ("sles-15", "suse", "zypper"),
        ("opensuse-tumbleweed", "suse", "zypper"),
    ] {
        let row = find(id);
        assert_eq!(row["family"], family, "{row}");
        assert_eq!(row["package_manager"], pm, "{row}");
        assert_eq!(row["source"], "built-in", "{row}");
        assert_eq!(row["overrides"], false, "{row}");
    }
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);

    let text = installer(&[&"distros", &"list"], &[]);
    assert!(text.stdout.starts_with("ID "), "{}", text.stdout);
    assert!(text.stdout.contains("centos-7"), "{}", text.stdout);
}

#[test]
fn a_pack_in_distro_dir_overrides_the_builtin_one_and_list_says_so() {
    let dir = dir_with(&[("debian-10.toml", DEBIAN_10_OVERRIDE)]);
    let file = dir.path().join("debian-10.toml");

    let rows = rows(&installer(
        &[
            &"distros",
            &"list",
            &"--output",
            &"json",
            &"--distro-dir",
            &dir.path(),
        ],
        &[],
    ));
    let row = rows.iter().find(|r| r["id"] == "debian-10").unwrap();
    assert_eq!(Path::new(row["source"].as_str().unwrap()), file);
    assert_eq!(row["overrides"], true);
    assert_eq!(rows.iter().filter(|r| r["id"] == "debian-10").count(), 1);
    let other = rows.iter().find(|r| r["id"] == "debian-11").unwrap();
    assert_eq!(other["overrides"], false);

    let text = installer(&[&"distros", &"list", &"--distro-dir", &dir.path()], &[]);
    let line = text
        .stdout
        .lines()
        .find(|l| l.starts_with("debian-10 "))
        .unwrap();
    assert!(line.contains("(overrides built-in)"), "{line}");

    // The overriding pack is the one shown and the one detection uses.
    let shown = installer(
        &[
            &"distros",
            &"show",
            &"debian-10",
            &"--output",
            &"json",
            &"--distro-dir",
            &dir.path(),
        ],
        &[],
    );
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let json = shown.json();
    assert_eq!(json["vars"]["site.mirror"], "https://mirror.example/docker");
    assert_eq!(json["overrides"], true);
    assert!(json["vars"].get("kubic.os").is_none(), "{json:#}");

    let root = root_with("debian-10", "etc/os-release");
    let detect = installer(
        &[
            &"detect",
            &"--root",
            &root.path(),
            &"--distro-dir",
            &dir.path(),
        ],
        &[],
    );
    assert_eq!(detect.code, 0, "{}", detect.stderr);
    assert!(
        detect.stdout.contains(&file.display().to_string()),
        "{}",
        detect.stdout
    );
}

#[test]
fn installer_distro_path_is_read_too() {
    let dir = dir_with(&[("debian-10.toml", DEBIAN_10_OVERRIDE)]);
    let path = dir.path().to_str().unwrap();
    let rows = rows(&installer(
        &[&"distros", &"list", &"--output", &"json"],
        &[("INSTALLER_DISTRO_PATH", path)],
    ));
    let row = rows.iter().find(|r| r["id"] == "debian-10").unwrap();
    assert_eq!(row["overrides"], true);
}

#[test]
fn a_malformed_pack_exits_2_naming_file_line_and_field() {
    let bad = DEBIAN_10_OVERRIDE
        .replace("id = \"debian-10\"", "id = \"debian-10-site\"")
        .replace("family = \"debian\"", "family = \"debain\"");
    let dir = dir_with(&[("debian-10-site.toml", &bad)]);
    let file = dir.path().join("debian-10-site.toml");
    for args in [
        vec!["distros", "list"],
        vec!["distros", "show", "debian-11"],
        vec!["detect"],
    ] {
        let root = root_with("debian-11", "etc/os-release");
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = args
            .iter()
            .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
            .collect();
        let root_path = root.path();
        let dir_path = dir.path();
        all.extend([
            &"--root" as &dyn AsRef<std::ffi::OsStr>,
            &root_path,
            &"--distro-dir",
            &dir_path,
        ]);
        let run = installer(&all, &[]);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
        let at = format!("{}:4:1: field `family`", file.display());
        assert!(
            run.stderr.contains(&at),
            "{args:?}: want {at} in\n{}",
            run.stderr
        );
        assert!(run.stderr.contains("debain"), "{}", run.stderr);
        assert!(
            run.stderr.contains("docs/distro-packs.md"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn malformed_match_rules_and_unknown_fields_are_located() {
    let typo = DEBIAN_10_OVERRIDE.replace("version_ids = [\"10\"]", "version_id = [\"10\"]");
    let dir = dir_with(&[("debian-10.toml", &typo)]);
    let run = installer(&[&"distros", &"list", &"--distro-dir", &dir.path()], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("debian-10.toml:11:1: field `match.version_id`: unknown field"),
        "{}",
        run.stderr
    );

    let misnamed = dir_with(&[("debian-ten.toml", DEBIAN_10_OVERRIDE)]);
    let run = installer(
        &[&"distros", &"list", &"--distro-dir", &misnamed.path()],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("debian-ten.toml:2:1: field `id`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("rename"), "{}", run.stderr);
}

#[test]
fn the_same_id_in_a_later_directory_wins_and_names_what_it_overrides() {
    let first = dir_with(&[("debian-10.toml", DEBIAN_10_OVERRIDE)]);
    let later = DEBIAN_10_OVERRIDE.replace(
        "https://mirror.example/docker",
        "https://later.example/docker",
    );
    let second = dir_with(&[("debian-10.toml", &later)]);
    // INSTALLER_DISTRO_PATH is read before --distro-dir, which overrides it.
    let run = installer(
        &[
            &"distros",
            &"show",
            &"debian-10",
            &"--output",
            &"json",
            &"--distro-dir",
            &second.path(),
        ],
        &[("INSTALLER_DISTRO_PATH", first.path().to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["vars"]["site.mirror"], "https://later.example/docker");
    let first_file = first.path().join("debian-10.toml").display().to_string();
    assert_eq!(json["replaces"], first_file.as_str(), "{json:#}");

    let list = installer(
        &[
            &"distros",
            &"list",
            &"--distro-dir",
            &first.path(),
            &"--distro-dir",
            &second.path(),
        ],
        &[],
    );
    assert_eq!(list.code, 0, "{}", list.stderr);
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with("debian-10 "))
        .unwrap();
    assert!(
        line.contains(&second.path().display().to_string())
            && line.contains(&format!("(overrides {first_file})")),
        "{line}"
    );
}

#[test]
fn a_missing_distro_dir_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let run = installer(&[&"distros", &"list", &"--distro-dir", &missing], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&missing.display().to_string()),
        "{}",
        run.stderr
    );
}

#[test]
fn show_prints_the_pack_file_and_its_origin() {
    let run = installer(&[&"distros", &"show", &"ubuntu-22.04"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("# ubuntu-22.04: built-in (distros/ubuntu-22.04.toml)")
    );
    let builtin = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../distros/ubuntu-22.04.toml"),
    )
    .unwrap();
    assert_eq!(lines.collect::<Vec<_>>().join("\n"), builtin.trim_end());

    let run = installer(
        &[&"distros", &"show", &"ubuntu-22.04", &"--output", &"json"],
        &[],
    );
    let json = run.json();
    assert_eq!(json["id"], "ubuntu-22.04");
    assert_eq!(json["codename"], "jammy");
    assert_eq!(json["package_manager"], "apt");
    assert_eq!(json["source"], "built-in");
    assert_eq!(json["match"]["ubuntu_codename"], true);
    assert_eq!(json["vars"]["kubic.os"], "xUbuntu_22.04");
    assert_eq!(json["vars"]["docker.repo_path"], "ubuntu");
}

#[test]
fn show_of_an_unknown_id_lists_the_known_ones() {
    let run = installer(&[&"distros", &"show", &"ubuntu2204"], &[]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("did you mean `ubuntu-22.04`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("debian-10"), "{}", run.stderr);
    assert!(run.stderr.contains("--distro-dir"), "{}", run.stderr);
}

/// A vendor's pack for a distro no built-in plugin drives: Photon OS, rpm-based, with tdnf.
const PHOTON_5: &str = r#"id = "photon-5"
name = "Photon OS 5"
family = "rhel"
package_manager = "tdnf"
os_id = "photon"
version_id = "5.0"

[match]
version_prefix = "5"
"#;

#[test]
fn a_pack_may_name_a_package_manager_only_a_loaded_plugin_drives() {
    use crate::util::{Installer, PluginDir};
    let packs = dir_with(&[("photon-5.toml", PHOTON_5)]);
    let plan = |plugins: &PluginDir| {
        Installer::isolated(plugins.path())
            .args([
                "plan",
                "--distro",
                "photon-5",
                "--runtime",
                "test-runtime",
                "--output",
                "json",
            ])
            .arg_list(["--distro-dir"])
            .arg_list([packs.path()])
            .run()
    };
    // Listed as it is: an open name, not a typo.
    let rows = rows(&installer(
        &[
            &"distros",
            &"list",
            &"--output",
            &"json",
            &"--distro-dir",
            &packs.path(),
        ],
        &[],
    ));
    let row = rows.iter().find(|r| r["id"] == "photon-5").unwrap();
    assert_eq!(
        (&row["family"], &row["package_manager"]),
        (&"rhel".into(), &"tdnf".into())
    );

    // Without a tdnf plugin: a clear refusal naming it and the loaded ones.
    let without = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let out = plan(&without).code(2);
    let error = &out.json()["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no loaded package-manager plugin drives `tdnf`"),
        "{error:#}"
    );
    assert!(
        error["hint"].as_str().unwrap().contains("apt, yum, zypper"),
        "{error:#}"
    );

    // With the vendor's plugin dropped in: the plan installs with tdnf.
    let with = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
        .with_fixture("test-tdnf");
    let doc = plan(&with).code(0).json();
    let tdnf = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .find(|a| a["argv"][0] == "tdnf")
        .unwrap_or_else(|| panic!("no tdnf command in {doc:#}"));
    assert_eq!(tdnf["argv"][1], "install", "{tdnf}");
}

#[test]
fn a_family_with_its_letters_swapped_is_a_typo_and_another_family_is_not() {
    let typo = PHOTON_5.replace("family = \"rhel\"", "family = \"rhle\"");
    let dir = dir_with(&[("photon-5.toml", &typo)]);
    let run = installer(&[&"distros", &"list", &"--distro-dir", &dir.path()], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("did you mean `rhel`?"),
        "{}",
        run.stderr
    );

    // A family of its own: listed; a runtime that does not declare it says so.
    let own = PHOTON_5.replace("family = \"rhel\"", "family = \"photon\"");
    let dir = dir_with(&[("photon-5.toml", &own)]);
    let run = installer(&[&"distros", &"list", &"--distro-dir", &dir.path()], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = installer(
        &[
            &"plan",
            &"--distro",
            &"photon-5",
            &"--runtime",
            &"containerd",
            &"--distro-dir",
            &dir.path(),
        ],
        &[],
    );
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(
        plan.stderr
            .contains("runtime plugin `containerd` supports the debian, rhel, suse families")
            && plan.stderr.contains("`photon` family"),
        "{}",
        plan.stderr
    );
}

#[test]
fn distros_check_says_what_a_pack_would_match_override_and_need() {
    use crate::util::{Installer, PluginDir};
    let dir = dir_with(&[("photon-5.toml", PHOTON_5)]);
    let file = dir.path().join("photon-5.toml");
    let plugins = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let check = |file: &Path, plugins: &PluginDir| {
        Installer::isolated(plugins.path())
            .args(["distros", "check", "--output", "json"])
            .arg_list([file])
            .run()
    };
    let doc = check(&file, &plugins).code(0).json();
    assert_eq!(doc["id"], "photon-5");
    assert_eq!(
        doc["matches"],
        serde_json::json!(["ID=photon with VERSION_ID 5 or 5.<anything>"])
    );
    assert_eq!(doc["overrides"], Value::Null, "a new pack");
    assert_eq!(
        doc["package_manager_plugin"],
        Value::Null,
        "no tdnf plugin loaded"
    );
    assert!(
        doc["runtimes"]
            .as_array()
            .unwrap()
            .contains(&"test-runtime".into()),
        "{doc:#}"
    );

    // With the vendor's plugin, its file is named; a copy of a built-in pack overrides it.
    let with = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-tdnf");
    let doc = check(&file, &with).code(0).json();
    assert_eq!(
        doc["package_manager_plugin"],
        with.path().join("libtest-tdnf.so").display().to_string()
    );
    let copy = dir_with(&[("debian-10.toml", DEBIAN_10_OVERRIDE)]);
    let doc = check(&copy.path().join("debian-10.toml"), &with)
        .code(0)
        .json();
    assert_eq!(doc["overrides"], "built-in");

    // Not a valid pack: exit 2, the file, line and field named.
    let bad = dir_with(&[(
        "photon-5.toml",
        &PHOTON_5.replace("family = \"rhel\"", "family = \"rhle\""),
    )]);
    let out = check(&bad.path().join("photon-5.toml"), &plugins).code(2);
    let error = &out.json()["error"];
    assert_eq!(error["kind"], "distro_pack");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("photon-5.toml:3:1: field `family`"),
        "{error:#}"
    );
}

#[test]
fn an_end_of_life_is_warned_about_only_once_it_has_passed() {
    use crate::util::{Installer, PluginDir};
    let plugins = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let warnings = |end_of_life: &str| {
        let pack = DEBIAN_10_OVERRIDE.replace(
            "codename = \"buster\"\n",
            &format!("codename = \"buster\"\nend_of_life = \"{end_of_life}\"\n"),
        );
        let packs = dir_with(&[("debian-10.toml", &pack)]);
        let doc = Installer::isolated(plugins.path())
            .args(["plan", "--distro", "debian-10", "--runtime", "test-runtime"])
            .args(["--output", "json", "--distro-dir"])
            .arg_list([packs.path()])
            .run()
            .code(0)
            .json();
        doc["warnings"].to_string()
    };
    assert!(warnings("2024-06-30").contains("end of life on 2024-06-30"));
    // A day still to come (a pack may state it ahead), or today, the last day supported:
    // nothing said yet.
    assert!(!warnings("2999-01-01").contains("end of life"));
    assert!(!warnings(&installer::day::today()).contains("end of life"));
}
