//! Rendering: repositories and packages into zypper's commands.

use std::collections::BTreeMap;

use package_kit::action::{ensure_dir, run, strings, transaction};
use package_kit::pin::{self, prefix_pins, resolve_step};
use package_kit::{rpm, why};
use plugin_api::validate::{self, RPM_URL_VARIABLES};
use plugin_api::{
    Action, Expect, Package, Phase, PluginError, Probe, RenderRequest, RenderResponse, Repository,
    ResolveVersion, Step, StepKind, VersionListing,
};

const REPOS: &str = "/etc/zypp/repos.d";
const LOCKS: &str = "/etc/zypp/locks";

/// Renders every repository and package of `request` as zypper steps, in the order they run.
pub fn render(request: &RenderRequest) -> Result<RenderResponse, PluginError> {
    if request.distro.package_manager != "zypper" {
        return Err(PluginError::unsupported(format!(
            "distro pack `{}` names package manager `{}`; the zypper plugin drives zypper only",
            request.distro.id, request.distro.package_manager
        )));
    }
    let mut response = installs(request)?;
    // zypper's locks (addlock) stop a removal: released first.
    response.steps.extend(package_kit::remove::removal_steps(
        &request.remove,
        |name| package_kit::remove::Remover {
            installed: "rpm -q --quiet \"$1\"",
            unlock: Some(strings(&[
                "zypper",
                "--non-interactive",
                "removelock",
                name,
            ])),
            remove: strings(&["zypper", "--non-interactive", "remove", name]),
            env: Default::default(),
        },
    )?);
    Ok(response)
}

fn installs(request: &RenderRequest) -> Result<RenderResponse, PluginError> {
    for package in &request.packages {
        validate::package(package)?;
    }
    let mut steps = Vec::new();
    for repo in &request.repositories {
        steps.push(repository_step(repo, request)?);
    }
    let installed = installed_probe(&request.packages);
    if !request.repositories.is_empty() {
        // Skipped when every package is installed as pinned. With a prefix pin the probe
        // needs the resolved version, which reads the metadata: before the first refresh it
        // cannot be resolved, and the host then runs the refresh (the command does not need it).
        let resolve = prefix_pins(&request.packages)
            .map(|(p, pin)| resolution(p, pin))
            .collect();
        let probe = (!request.packages.is_empty()).then(|| installed.clone());
        steps.push(refresh_step(&request.repositories, probe, resolve));
    }
    if request.packages.is_empty() {
        return Ok(RenderResponse {
            steps,
            warnings: Vec::new(),
        });
    }
    steps.extend(prefix_pins(&request.packages).map(|(package, pin)| {
        resolve_step(package, pin, &format!("zypper search -s {}", package.name))
    }));
    steps.push(install_step(&request.packages, installed));
    let held = pin::held(&request.packages);
    if !held.is_empty() {
        steps.push(hold_step(&held));
    }
    Ok(RenderResponse {
        steps,
        warnings: Vec::new(),
    })
}

/// One repository: its key, verified and imported, then `zypper addrepo`.
fn repository_step(repo: &Repository, request: &RenderRequest) -> Result<Step, PluginError> {
    let key = validate::repository(repo, &request.options, RPM_URL_VARIABLES)?;
    let key_path = rpm::key_path(&repo.id);
    let mut actions = Vec::new();
    let why = match &key {
        Some(key) => {
            actions.push(ensure_dir(rpm::KEYS));
            actions.extend(rpm::fetch_and_import(key, &key_path));
            why::keyed(
                &repo.requested_by,
                key,
                ", then imported into rpm before zypper first reads the repository, so zypper \
                 trusts that key and only that key for it; `--gpgcheck` checks every package \
                 against it.",
            )
        }
        None => why::unkeyed(
            &repo.requested_by,
            "`--gpgcheck` still checks its packages against the keys rpm already trusts.",
        ),
    };
    let mut argv = strings(&[
        "zypper",
        "--non-interactive",
        "addrepo",
        "--refresh",
        "--gpgcheck",
    ]);
    if !repo.name.is_empty() {
        argv.push("--name".to_owned());
        argv.push(repo.name.clone());
    }
    argv.push(repo.url.clone());
    argv.push(repo.id.clone());
    actions.push(run(
        argv,
        Some(Probe {
            argv: strings(&["test", "-f", &format!("{REPOS}/{}.repo", repo.id)]),
            expect: Expect::Success,
        }),
    ));
    Ok(Step::new(
        Phase::Repositories,
        format!("Add repository {}: {}", repo.id, repo.url),
        why,
        StepKind::Actions { actions },
    ))
}

/// Says whether every package is installed, at its pin where it has one.
fn installed_probe(packages: &[Package]) -> Probe {
    rpm::installed(packages.iter().map(|p| pin::spec(p, '-')))
}

/// One metadata refresh for the repositories just added.
fn refresh_step(repos: &[Repository], unless: Option<Probe>, resolve: Vec<ResolveVersion>) -> Step {
    let mut argv = strings(&["zypper", "--non-interactive", "refresh"]);
    argv.extend(repos.iter().map(|r| r.id.clone()));
    let ids: Vec<&str> = repos.iter().map(|r| r.id.as_str()).collect();
    let mut why = "zypper reads the new repositories' metadata once, checking its signature \
                   against the keys imported above. There is no --gpg-auto-import-keys: the \
                   verified keys are already trusted, and that flag would also trust any other \
                   key a repository offered, which is what pinning fingerprints prevents."
        .to_owned();
    if unless.is_some() {
        why.push_str(" Skipped when every package is already installed as pinned.");
    }
    let mut action = run(argv, unless);
    if let Action::Run { resolve: r, .. } = &mut action {
        *r = resolve;
    }
    Step::new(
        Phase::Repositories,
        format!("Refresh repositories {}", ids.join(", ")),
        why,
        StepKind::Actions {
            actions: vec![action],
        },
    )
}

/// The read-only query that lists the versions of `package` the repositories offer.
fn resolution(package: &Package, pin: &str) -> ResolveVersion {
    pin::resolution(
        package,
        pin,
        strings(&[
            "zypper",
            "--non-interactive",
            "search",
            "--details",
            "--match-exact",
            "--type",
            "package",
            &package.name,
        ]),
        // `S | Name | Type | Version | Arch | Repository`
        VersionListing {
            separator: Some("|".to_owned()),
            name_field: 1,
            names: vec![package.name.clone()],
            version_field: 3,
        },
    )
}

/// One transaction for every package.
fn install_step(packages: &[Package], installed: Probe) -> Step {
    let mut argv = strings(&["zypper", "--non-interactive", "install"]);
    argv.extend(packages.iter().map(|p| pin::spec(p, '=')));
    let resolve = prefix_pins(packages)
        .map(|(package, pin)| resolution(package, pin))
        .collect();
    let shown: Vec<String> = packages.iter().map(|p| pin::shown(p, '=')).collect();
    Step::new(
        Phase::Packages,
        format!("Install {}", shown.join(", ")),
        "One zypper transaction installs every package the plan needs, at its pin, with every \
         package signature checked. Skipped when `rpm -q` finds them all installed.",
        StepKind::Actions {
            actions: vec![transaction(
                argv,
                BTreeMap::new(),
                installed,
                resolve,
                rpm::audit(packages, "zypper --non-interactive remove"),
            )],
        },
    )
}

/// Locks the held packages. The probe looks for each lock's `solvable_name: <name>` line in
/// zypper's lock file, whole lines only, so `docker` is not mistaken for `docker-buildx`.
fn hold_step(held: &[&str]) -> Step {
    let mut argv = strings(&["zypper", "--non-interactive", "addlock"]);
    argv.extend(strings(held));
    let lines: Vec<String> = held.iter().map(|h| format!("solvable_name: {h}")).collect();
    let mut probe = strings(&["grep", "-x", "-F"]);
    for line in &lines {
        probe.push("-e".to_owned());
        probe.push(line.clone());
    }
    probe.push(LOCKS.to_owned());
    Step::new(
        Phase::Packages,
        format!("Lock {} against changes", held.join(", ")),
        "An update would otherwise replace the pinned versions; `zypper addlock` keeps them \
         until someone removes the lock with `zypper removelock`. It comes after the install, \
         which a lock would block. Skipped when they are all locked.",
        StepKind::Actions {
            actions: vec![run(
                argv,
                Some(Probe {
                    argv: probe,
                    expect: Expect::StdoutLines(lines),
                }),
            )],
        },
    )
}
