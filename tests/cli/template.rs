//! templates/runtime-plugin as a platform team uses it: copied outside the workspace, renamed,
//! built with only a path dependency on plugin-api, dropped into a plugin directory, and used
//! by the installer binary as built (no host rebuild). And the plugin authors' guide shows only
//! code that is in that template, which builds.

use std::process::Command;

use crate::util::{profile_dir, workspace_root, Installer, PluginDir};

/// The lines of `text` that hold code, comments and blanks trimmed.
fn code_lines(text: &str, comment: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.split(comment)
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// Whether every line of `sample` appears in `source`, in order.
fn is_excerpt(sample: &[String], source: &[String]) -> bool {
    let mut at = 0;
    for line in sample {
        match source[at..].iter().position(|l| l == line) {
            Some(i) => at += i + 1,
            None => return false,
        }
    }
    true
}

#[test]
fn the_guides_code_is_the_templates() {
    let guide = std::fs::read_to_string(workspace_root().join("docs/plugin-authors.md")).unwrap();
    let template = workspace_root().join("templates/runtime-plugin");
    let lib = code_lines(
        &std::fs::read_to_string(template.join("src/lib.rs")).unwrap(),
        "//",
    );
    let manifest = code_lines(
        &std::fs::read_to_string(template.join("Cargo.toml")).unwrap(),
        "#",
    );
    let mut checked = 0;
    for (fence, source, comment) in [("```rust\n", &lib, "//"), ("```toml\n", &manifest, "#")] {
        for block in guide.split(fence).skip(1) {
            let sample = code_lines(block.split("```").next().unwrap(), comment);
            assert!(
                is_excerpt(&sample, source),
                "a {fence}sample of the guide is not in the template:\n{}",
                sample.join("\n")
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "{checked} samples");
}

#[test]
fn a_copy_of_the_template_built_outside_the_workspace_plans_with_the_installer_as_built() {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("site-extras");
    let status = Command::new("cp")
        .arg("-r")
        .arg(workspace_root().join("templates/runtime-plugin"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    // Renamed, as the template says, and pointed at this checkout's plugin-api.
    let cargo_toml = std::fs::read_to_string(copy.join("Cargo.toml"))
        .unwrap()
        .replace("name = \"acme-runtime\"", "name = \"site-extras\"")
        .replace(
            "path = \"../../plugin-api\"",
            &format!(
                "path = {:?}",
                workspace_root().join("plugin-api").display().to_string()
            ),
        );
    std::fs::write(copy.join("Cargo.toml"), cargo_toml).unwrap();
    let lib = std::fs::read_to_string(copy.join("src/lib.rs"))
        .unwrap()
        .replace(
            "pub const PLUGIN: &str = \"acme\";",
            "pub const PLUGIN: &str = \"site-extras\";",
        );
    std::fs::write(copy.join("src/lib.rs"), lib).unwrap();
    // The workspace's lock, so that the build takes the versions already built for the
    // fixture plugins, in their target directory, offline.
    std::fs::copy(workspace_root().join("Cargo.lock"), copy.join("Cargo.lock")).unwrap();
    let target = profile_dir().parent().unwrap().join("test-plugins");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--offline", "--target-dir"])
        .arg(&target)
        .current_dir(&copy)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build of the copy:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = target.join("debug/libsite_extras.so");
    let plugins = PluginDir::new()
        .with_workspace_plugins()
        .with(&lib, "libsite-extras.so");

    let shown = Installer::isolated(plugins.path())
        .args(["plugins", "show", "site-extras", "--output", "json"])
        .run()
        .code(0)
        .json();
    assert_eq!(shown["options"][0]["key"], "site-extras.team");
    let plan = Installer::isolated(plugins.path())
        .args([
            "plan",
            "--distro",
            "debian-12",
            "--runtime",
            "containerd",
            "--with",
            "site-extras",
            "--set",
            "site-extras.team=storage",
            "--output",
            "json",
        ])
        .run()
        .code(0)
        .json();
    let actions: Vec<&serde_json::Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .collect();
    assert!(
        actions
            .iter()
            .any(|a| a["path"] == "/etc/acme/runtime.conf" && a["content"] == "team = storage\n"),
        "the plugin's own file"
    );
    assert!(
        plan.to_string().contains("\"runsc\""),
        "its handler, written by containerd's plugin"
    );
    // Selected alone, as `--runtime`: its own file, and no handler (no runtime to own it).
    let alone = Installer::isolated(plugins.path())
        .args([
            "plan",
            "--distro",
            "debian-12",
            "--runtime",
            "site-extras",
            "--output",
            "json",
        ])
        .run()
        .code(0)
        .json();
    assert_eq!(alone["runtime"], "site-extras");
    assert!(alone.to_string().contains("/etc/acme/runtime.conf"));
    assert!(!alone.to_string().contains("\"runsc\""));
    // Its own refusal, with its hint, exit 2.
    let out = Installer::isolated(plugins.path())
        .args([
            "plan",
            "--distro",
            "debian-12",
            "--runtime",
            "containerd",
            "--with",
            "site-extras",
            "--set",
            "site-extras.team=",
        ])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("--set site-extras.team is empty"),
        "{}",
        out.stderr
    );
}
