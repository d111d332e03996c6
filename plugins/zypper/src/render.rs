//! Rendering: repositories and packages into zypper's commands.

use std::collections::BTreeMap;

use plugin_api::validate::{self, CheckedKey, RPM_URL_VARIABLES};
use plugin_api::{
    Action, Expect, Package, Phase, PluginError, Probe, RenderRequest, RenderResponse, Repository,
    ResolveVersion, Step, StepKind, VersionListing, VersionMatch,
};

const KEYS: &str = "/etc/pki/rpm-gpg";
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
    for package in &request.packages {
        validate::package(package)?;
    }
    let mut steps = Vec::new();
    for repo in &request.repositories {
        steps.push(repository_step(repo, request)?);
    }
    let installed = installed_probe(&request.packages);
    if !request.repositories.is_empty() {
        // Skipping the refresh is safe only when the probe needs no resolved version
        // (resolving reads the metadata) and there is something to probe.
        let skippable = !request.packages.is_empty() && !request.packages.iter().any(is_prefix);
        steps.push(refresh_step(
            &request.repositories,
            skippable.then(|| installed.clone()),
        ));
    }
    if request.packages.is_empty() {
        return Ok(RenderResponse {
            steps,
            warnings: Vec::new(),
        });
    }
    steps.extend(
        request
            .packages
            .iter()
            .filter(|p| is_prefix(p))
            .map(resolve_step),
    );
    steps.push(install_step(&request.packages, installed));
    let held: Vec<&str> = request
        .packages
        .iter()
        .filter(|p| p.hold)
        .map(|p| p.name.as_str())
        .collect();
    if !held.is_empty() {
        steps.push(hold_step(&held));
    }
    Ok(RenderResponse {
        steps,
        warnings: Vec::new(),
    })
}

fn is_prefix(package: &Package) -> bool {
    package.version.is_some() && package.version_match == VersionMatch::Prefix
}

/// The text standing for a prefix pin's resolved version until the host resolves it.
fn placeholder(package: &Package, pin: &str) -> String {
    format!("<{}@{pin}>", package.name)
}

/// The package with its version joined by `separator` (`=` for zypper, `-` for `rpm -q`),
/// with a placeholder for a prefix pin.
fn spec(package: &Package, separator: char) -> String {
    match (&package.version, package.version_match) {
        (None, _) => package.name.clone(),
        (Some(v), VersionMatch::Exact) => format!("{}{separator}{v}", package.name),
        (Some(v), VersionMatch::Prefix) => {
            format!("{}{separator}{}", package.name, placeholder(package, v))
        }
    }
}

/// How a package reads in a summary.
fn shown(package: &Package) -> String {
    match (&package.version, package.version_match) {
        (None, _) => package.name.clone(),
        (Some(v), VersionMatch::Exact) => format!("{}={v}", package.name),
        (Some(v), VersionMatch::Prefix) => {
            format!(
                "{}={v}* (whole components, resolved at run time)",
                package.name
            )
        }
    }
}

fn who(requested_by: &[String]) -> String {
    if requested_by.is_empty() {
        "the plan".to_owned()
    } else {
        requested_by.join(", ")
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn run(argv: Vec<String>, unless: Option<Probe>) -> Action {
    Action::Run {
        argv,
        env: BTreeMap::new(),
        unless,
        transaction: false,
        resolve: Vec::new(),
    }
}

/// `rpm --import` of a verified key, skipped when rpm already has it. rpm names an imported
/// key `gpg-pubkey-<last 8 hex digits of the fingerprint>`; with several accepted fingerprints
/// the plan cannot know which one the key has, so the import (harmless when repeated) always
/// runs.
fn import_key(path: &str, fingerprints: &[String]) -> Action {
    let unless = match fingerprints {
        [only] => Some(Probe {
            argv: vec![
                "rpm".to_owned(),
                "-q".to_owned(),
                format!("gpg-pubkey-{}", only[32..].to_ascii_lowercase()),
            ],
            expect: Expect::Success,
        }),
        _ => None,
    };
    run(strings(&["rpm", "--import", path]), unless)
}

/// One repository: its key, verified and imported, then `zypper addrepo`.
fn repository_step(repo: &Repository, request: &RenderRequest) -> Result<Step, PluginError> {
    let key = validate::repository(repo, &request.options, RPM_URL_VARIABLES)?;
    let key_path = format!("{KEYS}/{}.asc", repo.id);
    let mut actions = Vec::new();
    let why = match &key {
        Some(CheckedKey { url, fingerprints }) => {
            actions.push(run(
                strings(&["install", "-d", "-m", "0755", KEYS]),
                Some(Probe {
                    argv: strings(&["test", "-d", KEYS]),
                    expect: Expect::Success,
                }),
            ));
            actions.push(Action::FetchKey {
                url: url.clone(),
                fingerprints: fingerprints.clone(),
                dest: key_path.clone(),
            });
            actions.push(import_key(&key_path, fingerprints));
            format!(
                "{} installs from it. Its key is fetched over https and kept only if its \
                 fingerprint is {}, then imported into rpm before zypper first reads the \
                 repository, so zypper trusts that key and only that key for it; \
                 `--gpgcheck` checks every package against it.",
                who(&repo.requested_by),
                fingerprints.join(" or ")
            )
        }
        None => format!(
            "{} installs from it. It has no key of its own (accepted by --allow-insecure-repo): \
             `--gpgcheck` still checks its packages against the keys rpm already trusts.",
            who(&repo.requested_by)
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

/// Says whether every package is installed, at its pin where it has one: `rpm -q` fails
/// unless it finds every `name-version` (or `name`) it is given.
fn installed_probe(packages: &[Package]) -> Probe {
    let mut argv = strings(&["rpm", "-q"]);
    argv.extend(packages.iter().map(|p| spec(p, '-')));
    Probe {
        argv,
        expect: Expect::Success,
    }
}

/// One metadata refresh for the repositories just added.
fn refresh_step(repos: &[Repository], unless: Option<Probe>) -> Step {
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
    Step::new(
        Phase::Repositories,
        format!("Refresh repositories {}", ids.join(", ")),
        why,
        StepKind::Actions {
            actions: vec![run(argv, unless)],
        },
    )
}

/// The read-only query that lists the versions of `package` the repositories offer.
fn resolution(package: &Package, pin: &str) -> ResolveVersion {
    ResolveVersion {
        package: package.name.clone(),
        pin: pin.to_owned(),
        placeholder: placeholder(package, pin),
        query: strings(&[
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
        listing: VersionListing {
            separator: Some("|".to_owned()),
            name_field: 1,
            names: vec![package.name.clone()],
            version_field: 3,
        },
    }
}

/// Describes, for the plan's reader, how a partial pin becomes a version at run time; the
/// install step carries the query itself.
fn resolve_step(package: &Package) -> Step {
    let pin = package.version.as_deref().unwrap_or_default();
    Step::new(
        Phase::Packages,
        format!(
            "Resolve {} {pin} to a version at run time with `zypper search -s {}`",
            package.name, package.name
        ),
        format!(
            "{} pins {} to {pin} by its leading components. Only the target's repositories \
             know which versions exist, so the host picks the newest one they offer whose \
             whole components start with {pin} (epoch aside): never {pin}0 or a longer \
             number.",
            who(&package.requested_by),
            package.name
        ),
        StepKind::Actions {
            actions: Vec::new(),
        },
    )
}

/// One transaction for every package.
fn install_step(packages: &[Package], installed: Probe) -> Step {
    let mut argv = strings(&["zypper", "--non-interactive", "install"]);
    argv.extend(packages.iter().map(|p| spec(p, '=')));
    let resolve = packages
        .iter()
        .filter(|p| is_prefix(p))
        .map(|p| resolution(p, p.version.as_deref().unwrap_or_default()))
        .collect();
    let shown: Vec<String> = packages.iter().map(shown).collect();
    Step::new(
        Phase::Packages,
        format!("Install {}", shown.join(", ")),
        "One zypper transaction installs every package the plan needs, at its pin, with every \
         package signature checked. Skipped when `rpm -q` finds them all installed.",
        StepKind::Actions {
            actions: vec![Action::Run {
                argv,
                env: BTreeMap::new(),
                unless: Some(installed),
                transaction: true,
                resolve,
            }],
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
