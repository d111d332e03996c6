use super::*;
use std::path::Path;

fn facts(text: &str) -> Facts {
    Facts::from_os_release(&crate::detect::parse(text), "x86_64").unwrap()
}

const MINIMAL: &str = r#"
id = "mini-1"
name = "Mini 1"
family = "debian"
package_manager = "apt"
os_id = "mini"
version_id = "1"
codename = "one"

[match]
version_ids = ["1"]

[vars]
"docker.repo_path" = "debian"
"#;

#[test]
fn builtin_list_is_the_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../distros");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let listed: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        listed, on_disk,
        "BUILTIN in host/src/packs.rs must list every distros/*.toml"
    );
    for (name, text) in BUILTIN {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(*text, on_disk, "{name} is embedded from the wrong file");
    }
}

#[test]
fn every_builtin_pack_parses() {
    let set = PackSet::builtin().unwrap();
    assert_eq!(set.packs().len(), BUILTIN.len());
    for loaded in set.packs() {
        let pack = &loaded.pack;
        assert!(!loaded.overrides);
        if pack.family.as_str() != "rhel" {
            assert!(!pack.vars.contains_key("rpm.releasever"), "{}", pack.id);
        }
        if pack.family.as_str() == "suse" {
            assert!(!pack.vars.contains_key("docker.repo_path"), "{}", pack.id);
        }
    }
}

#[test]
fn package_managers_follow_the_release() {
    let set = PackSet::builtin().unwrap();
    let pm = |id| set.get(id).unwrap().package_manager.clone();
    assert_eq!(pm("centos-7"), PackageManager("yum".to_owned()));
    assert_eq!(pm("centos-stream-9"), PackageManager("dnf".to_owned()));
    assert_eq!(pm("rhel-8"), PackageManager("dnf".to_owned()));
    assert_eq!(pm("fedora-40"), PackageManager("dnf".to_owned()));
    assert_eq!(pm("debian-10"), PackageManager("apt".to_owned()));
    assert_eq!(pm("sles-15"), PackageManager("zypper".to_owned()));
}

#[test]
fn version_prefix_respects_the_dot() {
    assert!(in_prefix("9", "9"));
    assert!(in_prefix("9.4", "9"));
    assert!(!in_prefix("90", "9"));
    assert!(!in_prefix("24.04", "24.0"));
    assert!(in_prefix("24.0.1", "24.0"));
}

#[test]
fn exact_and_prefix_matches() {
    let set = PackSet::builtin().unwrap();
    let m = set
        .match_facts(&facts("ID=debian\nVERSION_ID=\"10\"\n"))
        .unwrap();
    assert_eq!(
        (m.pack.id.as_str(), m.matched_by),
        ("debian-10", MatchedBy::Exact)
    );
    let m = set
        .match_facts(&facts(
            "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n",
        ))
        .unwrap();
    assert_eq!(
        (m.pack.id.as_str(), m.matched_by),
        ("rocky-9", MatchedBy::VersionPrefix)
    );
    // Rocky 8 has no pack of its own, and rhel-8 lets RHEL rebuilds in through ID_LIKE.
    let m = set
        .match_facts(&facts(
            "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.10\"\n",
        ))
        .unwrap();
    assert_eq!(
        (m.pack.id.as_str(), m.matched_by),
        ("rhel-8", MatchedBy::IdLike)
    );
    assert!(m.note.contains("derivative"), "{}", m.note);
}

#[test]
fn derivatives_map_only_where_the_pack_allows() {
    let set = PackSet::builtin().unwrap();
    let mint = facts(
        "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"21.3\"\n\
         VERSION_CODENAME=virginia\nUBUNTU_CODENAME=jammy\n",
    );
    let m = set.match_facts(&mint).unwrap();
    assert_eq!(
        (m.pack.id.as_str(), m.matched_by),
        ("ubuntu-22.04", MatchedBy::UbuntuCodename)
    );
    assert!(m.note.contains("UBUNTU_CODENAME=jammy"), "{}", m.note);

    // Raspbian 11 says ID_LIKE=debian and VERSION_ID=11, but debian-11 does not take
    // derivatives through ID_LIKE (Raspbian has its own archive), so nothing matches.
    let raspbian11 = facts("ID=raspbian\nID_LIKE=debian\nVERSION_ID=\"11\"\n");
    let err = set.match_facts(&raspbian11).unwrap_err();
    assert!(matches!(err, DetectError::Unmatched { .. }));

    // A pack that forbids codename mapping is not used even when the codename agrees.
    let mut set = set;
    for loaded in &mut set.packs {
        loaded.pack.rules.ubuntu_codename = false;
        loaded.pack.rules.id_like = false;
    }
    assert!(set.match_facts(&mint).is_err());
}

#[test]
fn debian_without_version_id_is_testing_and_unstable_is_manual() {
    let set = PackSet::builtin().unwrap();
    let m = set
        .match_facts(&facts(
            "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\nVERSION_CODENAME=trixie\n",
        ))
        .unwrap();
    assert_eq!(m.pack.id, "debian-testing");
    assert_eq!(m.matched_by, MatchedBy::WithoutVersionId);
    assert!(m.note.contains("debian-unstable"), "{}", m.note);
    assert!(set.get("debian-unstable").unwrap().rules.manual);
}

#[test]
fn unknown_distro_names_its_facts_and_same_id_packs() {
    let set = PackSet::builtin().unwrap();
    let err = set
        .match_facts(&facts(
            "ID=debian\nVERSION_ID=\"9\"\nVERSION_CODENAME=stretch\n",
        ))
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("ID=debian VERSION_ID=9"), "{message}");
    assert!(message.contains("debian-10"), "{message}");
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("--distro ID") && hint.contains("--distro-dir"),
        "{hint}"
    );
}

#[test]
fn to_distro_maps_arch_per_family() {
    let set = PackSet::builtin().unwrap();
    let deb = set.get("ubuntu-22.04").unwrap();
    assert_eq!(deb.to_distro("x86_64").arch, "amd64");
    assert_eq!(deb.to_distro("aarch64").arch, "arm64");
    assert_eq!(deb.to_distro("armv7l").arch, "armhf");
    let rpm = set.get("rhel-9").unwrap();
    assert_eq!(rpm.to_distro("x86_64").arch, "x86_64");
    assert_eq!(rpm.to_distro("aarch64").arch, "aarch64");
    let d = deb.to_distro("x86_64");
    assert_eq!(d.package_manager, "apt");
    assert_eq!(d.codename.as_deref(), Some("jammy"));
    assert_eq!(d.var_opt("kubic.os"), Some("xUbuntu_22.04"));
}

#[test]
fn unknown_id_lists_known_ones_and_suggests() {
    let set = PackSet::builtin().unwrap();
    let err = set.get("debian10").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("did you mean `debian-10`"), "{message}");
    assert!(message.contains("ubuntu-22.04"), "{message}");
}

fn malformed(text: &str) -> (usize, usize, Option<String>, String) {
    match parse_pack(text, "x/mini-1.toml", "mini-1.toml").unwrap_err() {
        PackError::Malformed {
            line,
            column,
            field,
            message,
            ..
        } => (line, column, field, message),
        other => panic!("not malformed: {other}"),
    }
}

#[test]
fn an_end_of_life_that_is_not_a_date_is_named() {
    let text = MINIMAL.replace(
        "os_id = \"mini\"",
        "os_id = \"mini\"\nend_of_life = \"June 2024\"",
    );
    assert_ne!(text, MINIMAL, "the fixture changed");
    let (line, _, field, message) = malformed(&text);
    assert_eq!(field.as_deref(), Some("end_of_life"));
    assert!(message.contains("YYYY-MM-DD"), "{message}");
    assert!(line > 1);
    let ok = MINIMAL.replace(
        "os_id = \"mini\"",
        "os_id = \"mini\"\nend_of_life = \"2024-06-30\"",
    );
    let pack = parse_pack(&ok, "x/mini-1.toml", "mini-1.toml").unwrap();
    assert_eq!(pack.end_of_life.as_deref(), Some("2024-06-30"));
}

#[test]
fn minimal_pack_parses() {
    let pack = parse_pack(MINIMAL, "x/mini-1.toml", "mini-1.toml").unwrap();
    assert_eq!(pack.ids(), vec!["mini"]);
    assert_eq!(pack.vars["docker.repo_path"], "debian");
}

#[test]
fn malformed_packs_name_line_and_field() {
    let (line, column, field, message) =
        malformed(&MINIMAL.replace("family = \"debian\"", "family = \"debain\""));
    assert_eq!((line, field.as_deref()), (4, Some("family")));
    assert_eq!(column, 1, "the key's column");
    assert!(
        message.contains("debain") && message.contains("did you mean `debian`?"),
        "{message}"
    );

    let (line, _, field, message) = malformed(&MINIMAL.replace("os_id", "os_idd"));
    assert_eq!((line, field.as_deref()), (6, Some("os_idd")));
    assert!(message.contains("unknown field"), "{message}");

    let (line, _, field, _) =
        malformed(&MINIMAL.replace("version_ids = [\"1\"]", "version_ids = \"1\""));
    assert_eq!((line, field.as_deref()), (11, Some("match.version_ids")));

    let (line, _, field, _) = malformed(&MINIMAL.replace("version_ids", "versions_ids"));
    assert_eq!((line, field.as_deref()), (11, Some("match.versions_ids")));

    let (line, _, field, message) =
        malformed(&MINIMAL.replace("package_manager = \"apt\"", "package_manager = \"dnf\""));
    assert_eq!((line, field.as_deref()), (5, Some("package_manager")));
    assert!(message.contains("family"), "{message}");

    let (_, _, field, message) = malformed(&MINIMAL.replace("id = \"mini-1\"", "id = \"mini-2\""));
    assert_eq!(field.as_deref(), Some("id"));
    assert!(message.contains("rename"), "{message}");

    let (line, _, _, _) = malformed(&MINIMAL.replace("name = \"Mini 1\"", "name = \"Mini 1"));
    assert_eq!(line, 3);
}
