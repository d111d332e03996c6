//! Distro packs installed where a vendor's package and a site put them: the system's
//! /usr/share/installer/distros and /etc/installer/distros, read by the real binary chrooted
//! into a root that has them (the host's own directories are never touched).

use std::fs;

use crate::support::require;
use crate::support::root::DebianRoot;
use crate::util::bin;

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
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn packs_in_the_system_directories_are_read_and_the_sites_override_the_vendors() {
    require(&[]);
    let root = DebianRoot::fresh("system-packs");
    let inside = root.join("/opt/installer");
    fs::create_dir_all(&inside).unwrap();
    fs::copy(bin(), inside.join("installer")).unwrap();
    // The vendor's package ships a pack; the site overrides it (another name) and a built-in one.
    root.write("/usr/share/installer/distros/photon-5.toml", PHOTON_5);
    root.write(
        "/etc/installer/distros/photon-5.toml",
        &PHOTON_5.replace("Photon OS 5\"", "Photon OS 5 (site)\""),
    );
    let debian =
        fs::read_to_string(crate::util::workspace_root().join("distros/debian-12.toml")).unwrap();
    root.write("/etc/installer/distros/debian-12.toml", &debian);
    let list = |extra: &[&str]| -> serde_json::Value {
        let out = root
            .chroot(
                &[
                    &[
                        "/opt/installer/installer",
                        "distros",
                        "list",
                        "--output",
                        "json",
                    ][..],
                    extra,
                ]
                .concat(),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let rows = list(&[]);
    let row = |id: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    let photon = row("photon-5");
    assert_eq!(photon["name"], "Photon OS 5 (site)", "{photon:#}");
    assert_eq!(photon["source"], "/etc/installer/distros/photon-5.toml");
    assert_eq!(
        photon["replaces"],
        "/usr/share/installer/distros/photon-5.toml"
    );
    let debian = row("debian-12");
    assert_eq!(
        (&debian["source"], &debian["replaces"]),
        (
            &"/etc/installer/distros/debian-12.toml".into(),
            &"built-in".into()
        )
    );
    // --no-default-distro-dirs: the built-in packs only.
    let rows = list(&["--no-default-distro-dirs"]);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["source"] == "built-in"),
        "{rows:#}"
    );
}
