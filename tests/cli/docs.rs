//! What packages install besides the binary: man pages and shell completions generated from
//! the command line's own definition (`installer generate-docs`), and a `--version` that says
//! the release, the plugin protocol and the commit.

use clap::CommandFactory;

use crate::util::{workspace_root, Installer, PluginDir};

#[test]
fn version_names_the_release_the_protocol_and_the_commit() {
    let dir = PluginDir::new();
    let out = Installer::isolated(dir.path())
        .args(["--version"])
        .run()
        .code(0);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(workspace_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        out.stdout.trim(),
        format!(
            "installer {} (plugin protocol {}, commit {commit})",
            env!("CARGO_PKG_VERSION"),
            plugin_api::PROTOCOL_VERSION
        )
    );
}

#[test]
fn the_man_pages_and_completions_cover_every_command() {
    let plugins = PluginDir::new();
    let out = tempfile::tempdir().unwrap();
    Installer::isolated(plugins.path())
        .args(["generate-docs"])
        .arg_list([out.path()])
        .run()
        .code(0);
    // roff writes each `-` as `\-`.
    let main_page = std::fs::read_to_string(out.path().join("installer.1"))
        .unwrap()
        .replace("\\-", "-");
    let bash = std::fs::read_to_string(out.path().join("installer.bash")).unwrap();
    let cli = installer::cli::Cli::command();
    let visible: Vec<&clap::Command> = cli.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    assert!(visible.len() >= 10, "{} commands", visible.len());
    for command in visible {
        let name = command.get_name();
        // Listed on the main page, described on its own, completed by the shell.
        assert!(main_page.contains(name), "installer.1 does not list {name}");
        let page = out.path().join(format!("installer-{name}.1"));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|_| panic!("no {}", page.display()))
            .replace("\\-", "-");
        if let Some(about) = command.get_about() {
            let first_words: String = about
                .to_string()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                text.contains(&first_words),
                "installer-{name}.1 lacks its description {first_words:?}"
            );
        }
        assert!(bash.contains(name), "bash completion lacks {name}");
    }
    // Hidden plumbing is not documented as a command.
    assert!(!out.path().join("installer-generate-docs.1").exists());
    assert!(std::fs::read_to_string(out.path().join("_installer"))
        .unwrap()
        .contains("--runtime"));
    assert!(std::fs::read_to_string(out.path().join("installer.fish"))
        .unwrap()
        .contains("render"));
}
