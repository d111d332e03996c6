//! Rendering: repositories and packages into yum/dnf's files and commands.
//!
//! Two distro-pack variables adjust the holds where a release differs from the defaults:
//! `yum.versionlock_package` (the package providing `versionlock`; empty when the package
//! manager has it built in) and `yum.versionlock_list` (the file the locks are kept in).

use std::collections::BTreeMap;

use package_kit::action::{run, strings, transaction};
use package_kit::pin::{self, prefix_pins, resolve_step};
use package_kit::{rpm, why};
use plugin_api::validate::{self, RPM_URL_VARIABLES};
use plugin_api::{
    Action, Distro, Expect, Package, Phase, PluginError, Probe, RenderRequest, RenderResponse,
    Repository, ResolveVersion, Step, StepKind, VersionListing,
};

const REPOS: &str = "/etc/yum.repos.d";

/// Renders every repository and package of `request` as yum or dnf steps, in the order they
/// run.
pub fn render(request: &RenderRequest) -> Result<RenderResponse, PluginError> {
    let pm = package_manager(&request.distro)?;
    let mut response = installs(request, pm)?;
    // A versionlock keeps other versions out; it does not stop a removal.
    response.steps.extend(package_kit::remove::removal_steps(
        &request.remove,
        |name| package_kit::remove::Remover {
            installed: "rpm -q --quiet \"$1\"",
            unlock: None,
            // dnf removes dependencies no longer needed by default
            // (clean_requirements_on_remove): containerd.io must stay.
            remove: if pm == "dnf" {
                strings(&[pm, "remove", "-y", "--noautoremove", name])
            } else {
                strings(&[pm, "remove", "-y", name])
            },
            env: Default::default(),
        },
    )?);
    Ok(response)
}

fn installs(request: &RenderRequest, pm: &'static str) -> Result<RenderResponse, PluginError> {
    for package in &request.packages {
        validate::package(package)?;
    }
    let mut steps = Vec::new();
    for repo in &request.repositories {
        steps.push(repository_step(repo, request)?);
    }
    if request.packages.is_empty() {
        return Ok(RenderResponse {
            steps,
            warnings: Vec::new(),
        });
    }
    let held = pin::held(&request.packages);
    let lock_plugin = if held.is_empty() {
        None
    } else {
        versionlock_package(&request.distro, pm)
    };
    steps.extend(prefix_pins(&request.packages).map(|(package, pin)| {
        resolve_step(
            package,
            pin,
            &format!("{pm} list --showduplicates {}", package.name),
        )
    }));
    steps.push(install_step(
        &request.packages,
        pm,
        &request.distro.arch,
        lock_plugin.as_deref(),
    ));
    if !held.is_empty() {
        steps.push(hold_step(&held, pm, &versionlock_list(&request.distro, pm)));
    }
    Ok(RenderResponse {
        steps,
        warnings: Vec::new(),
    })
}

/// `yum` or `dnf`, as the distro pack names it.
fn package_manager(distro: &Distro) -> Result<&'static str, PluginError> {
    match distro.package_manager.as_str() {
        "yum" => Ok("yum"),
        "dnf" => Ok("dnf"),
        other => Err(PluginError::unsupported(format!(
            "distro pack `{}` names package manager `{other}`; the yum plugin drives yum and dnf",
            distro.id
        ))),
    }
}

/// The package that provides `versionlock`, or `None` where it is built in.
fn versionlock_package(distro: &Distro, pm: &str) -> Option<String> {
    match distro.var_opt("yum.versionlock_package") {
        Some("") => None,
        Some(name) => Some(name.to_owned()),
        None if pm == "yum" => Some("yum-plugin-versionlock".to_owned()),
        None => Some("python3-dnf-plugin-versionlock".to_owned()),
    }
}

/// The file `versionlock` keeps its locks in.
fn versionlock_list(distro: &Distro, pm: &str) -> String {
    match distro.var_opt("yum.versionlock_list") {
        Some(path) => path.to_owned(),
        None if pm == "yum" => "/etc/yum/pluginconf.d/versionlock.list".to_owned(),
        None => "/etc/dnf/plugins/versionlock.list".to_owned(),
    }
}

/// Whether the repository signs its metadata with this key: the `repodata/repomd.xml.key`
/// convention (Open Build Service, pkgs.k8s.io) publishes the key beside a signed
/// `repomd.xml.asc`. Vendors that sign only packages (Docker's repositories) publish the key
/// elsewhere, and `repo_gpgcheck=1` would make every refresh fail for them.
fn signs_metadata(key_url: &str) -> bool {
    key_url.ends_with("/repodata/repomd.xml.key")
}

/// One repository: its key, verified and imported, then its `.repo` file.
fn repository_step(repo: &Repository, request: &RenderRequest) -> Result<Step, PluginError> {
    let key = validate::repository(repo, &request.options, RPM_URL_VARIABLES)?;
    let key_path = rpm::key_path(&repo.id);
    let name = if repo.name.is_empty() {
        &repo.id
    } else {
        &repo.name
    };
    let mut content = format!(
        "[{id}]\nname={name}\nbaseurl={url}\nenabled=1\ngpgcheck=1\n",
        id = repo.id,
        url = repo.url
    );
    let mut actions = Vec::new();
    let why = match &key {
        Some(key) => {
            let metadata = signs_metadata(&key.url);
            // Without signed metadata the line is left out rather than set to 0, so that a
            // host-wide `repo_gpgcheck=1` in yum.conf is not weakened.
            if metadata {
                content.push_str("repo_gpgcheck=1\n");
            }
            content.push_str(&format!("gpgkey=file://{key_path}\n"));
            actions.extend(rpm::fetch_and_import(key, &key_path));
            why::keyed(
                &repo.requested_by,
                key,
                &format!(
                    ", then imported into rpm; `gpgcheck=1` makes every package from it checked \
                     against that key{}. The file is written directly, so nothing depends on \
                     yum-config-manager.",
                    if metadata {
                        ", and `repo_gpgcheck=1` its metadata too (it publishes a signed \
                         repomd.xml)"
                    } else {
                        ""
                    }
                ),
            )
        }
        None => why::unkeyed(
            &repo.requested_by,
            "`gpgcheck=1` still checks its packages against the keys rpm already trusts.",
        ),
    };
    actions.push(Action::WriteFile {
        path: format!("{REPOS}/{}.repo", repo.id),
        mode: 0o644,
        content,
        owner: None,
        group: None,
    });
    Ok(Step::new(
        Phase::Repositories,
        format!("Add repository {}: {}", repo.id, repo.url),
        why,
        StepKind::Actions { actions },
    ))
}

/// The read-only query that lists the versions of `package` the repositories offer.
fn resolution(package: &Package, pin: &str, pm: &str, arch: &str) -> ResolveVersion {
    pin::resolution(
        package,
        pin,
        strings(&[pm, "list", "--showduplicates", &package.name]),
        VersionListing {
            separator: None,
            name_field: 0,
            names: vec![
                format!("{}.{arch}", package.name),
                format!("{}.noarch", package.name),
            ],
            version_field: 1,
        },
    )
}

/// One transaction for every package (and the versionlock plugin the holds need).
fn install_step(packages: &[Package], pm: &str, arch: &str, lock_plugin: Option<&str>) -> Step {
    let mut specs: Vec<String> = packages.iter().map(|p| pin::spec(p, '-')).collect();
    specs.extend(lock_plugin.map(str::to_owned));
    let mut argv = strings(&[pm, "install", "-y"]);
    argv.extend(specs.iter().cloned());
    let resolve = prefix_pins(packages)
        .map(|(package, pin)| resolution(package, pin, pm, arch))
        .collect();
    let mut shown: Vec<String> = packages.iter().map(|p| pin::shown(p, '-')).collect();
    let mut why = format!(
        "One {pm} transaction installs every package the plan needs, at its pin, with every \
         package signature checked (never --nogpgcheck); {pm} fetches the metadata of the \
         repositories just added itself, so no separate refresh runs. Skipped when `rpm -q` \
         finds them all installed."
    );
    if let Some(plugin) = lock_plugin {
        shown.push(plugin.to_owned());
        why.push_str(&format!(
            " {plugin} comes in the same transaction because `{pm} versionlock`, which holds \
             the pinned packages next, is not there without it."
        ));
    }
    Step::new(
        Phase::Packages,
        format!("Install {}", shown.join(", ")),
        why,
        StepKind::Actions {
            actions: vec![transaction(
                argv,
                BTreeMap::new(),
                rpm::installed(specs),
                resolve,
                rpm::audit(packages, &format!("{pm} remove -y")),
            )],
        },
    )
}

/// An extended regular expression matching `name` literally.
fn regex_literal(name: &str) -> String {
    name.chars()
        .flat_map(|c| match c {
            '.' | '+' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// Locks the held packages at the version installed. The probe reads the lock file: a lock
/// is `[epoch:]name-[epoch:]version-release.*` (yum puts the epoch first, dnf after the name),
/// and `sed` prints the name of each lock on a held package, so `docker-ce` is not mistaken
/// for `docker-ce-cli`.
fn hold_step(held: &[&str], pm: &str, list: &str) -> Step {
    let mut argv = strings(&[pm, "versionlock", "add"]);
    argv.extend(strings(held));
    let names: Vec<String> = held.iter().map(|h| regex_literal(h)).collect();
    let script = format!(
        "s/^([0-9]+:)?({})-([0-9]+:)?[^-]+-[^-]+$/\\2/p",
        names.join("|")
    );
    let probe = Probe {
        argv: vec![
            "sed".to_owned(),
            "-n".to_owned(),
            "-r".to_owned(),
            "-e".to_owned(),
            script,
            list.to_owned(),
        ],
        expect: Expect::StdoutLines(strings(held)),
    };
    Step::new(
        Phase::Packages,
        format!("Lock {} at the installed version", held.join(", ")),
        format!(
            "An update would otherwise replace the pinned versions; `{pm} versionlock add` \
             keeps them until someone removes the lock with `{pm} versionlock delete`. Skipped \
             when {list} already locks them all."
        ),
        StepKind::Actions {
            actions: vec![run(argv, Some(probe))],
        },
    )
}
