//! Rendering: repositories and packages into apt's files and commands.

use std::collections::BTreeMap;

use package_kit::action::{ensure_dir, fetch_key, run, strings, transaction};
use package_kit::pin::{self, prefix_pins, resolve_step};
use package_kit::why;
use plugin_api::validate;
use plugin_api::{
    Action, Audit, Check, Expect, Package, Phase, PluginError, Probe, RenderRequest,
    RenderResponse, Repository, ResolveVersion, Step, StepKind, VersionListing,
};

/// The `--set` key bounding how long apt waits for the dpkg lock, in seconds.
pub const LOCK_TIMEOUT_KEY: &str = "apt.lock-timeout";
/// The wait when `--set apt.lock-timeout` is not given, in seconds.
pub const DEFAULT_LOCK_TIMEOUT: u32 = 120;
/// The longest wait accepted: a day.
const MAX_LOCK_TIMEOUT: u32 = 86_400;

const KEYRINGS: &str = "/etc/apt/keyrings";
const SOURCES: &str = "/etc/apt/sources.list.d";

/// Renders every repository and package of `request` as apt steps, in the order they run:
/// the installs, then the removals.
pub fn render(request: &RenderRequest) -> Result<RenderResponse, PluginError> {
    let lock = lock_option(&request.options.set)?;
    let mut response = installs(request, &lock)?;
    // dpkg's own view: `installed`, not `config-files` (removed, its configuration kept).
    let removals = package_kit::remove::removal_steps(&request.remove, |name| {
        package_kit::remove::Remover {
            installed: "dpkg-query --show --showformat='${db:Status-Status}' \"$1\" 2>/dev/null | grep -qx installed",
            unlock: Some(strings(&["apt-mark", "unhold", name])),
            remove: strings(&["apt-get", "-o", &lock, "remove", "-y", name]),
            env: BTreeMap::from([("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())]),
        }
    })?;
    if !removals.is_empty() && !request.packages.is_empty() {
        // What the plan installs may have come in as a dependency of what goes (containerd
        // of docker.io): marked as installed by hand, a later `apt autoremove` keeps it.
        let names: Vec<&str> = request.packages.iter().map(|p| p.name.as_str()).collect();
        let mut argv = strings(&["apt-mark", "manual"]);
        argv.extend(names.iter().map(|n| (*n).to_owned()));
        let mut probe = strings(&["apt-mark", "showmanual"]);
        probe.extend(names.iter().map(|n| (*n).to_owned()));
        response.steps.push(Step::new(
            Phase::Verification,
            format!("Mark {} as installed by hand", names.join(", ")),
            "a package that came as a dependency of one this plan removes would otherwise go at the next `apt autoremove`",
            StepKind::Actions {
                actions: vec![run(
                    argv,
                    Some(Probe {
                        argv: probe,
                        expect: Expect::StdoutLines(names.iter().map(|n| (*n).to_owned()).collect()),
                    }),
                )],
            },
        ));
    }
    response.steps.extend(removals);
    Ok(response)
}

fn installs(request: &RenderRequest, lock: &str) -> Result<RenderResponse, PluginError> {
    let lock = lock.to_owned();
    for package in &request.packages {
        validate::package(package)?;
    }
    let mut steps = Vec::new();
    for repo in &request.repositories {
        steps.push(repository_step(repo, request)?);
    }
    if request.repositories.is_empty() && request.packages.is_empty() {
        return Ok(RenderResponse::default());
    }
    if let Some(suite) = request.distro.var_opt(ARCHIVED_VAR) {
        steps.insert(0, archived_check(suite)?);
    }
    let installed = installed_probe(&request.packages);
    // The refresh is skipped when every package is installed as pinned. With a prefix pin the
    // probe needs the resolved version, which reads the index: before the first refresh it
    // cannot be resolved, and the host then runs the refresh (the command does not need it).
    let resolve: Vec<ResolveVersion> = prefix_pins(&request.packages)
        .map(|(p, pin)| resolution(p, pin))
        .collect();
    let probe = (!request.packages.is_empty()).then(|| installed.clone());
    steps.push(update_step(&lock, probe, resolve));
    if request.packages.is_empty() {
        return Ok(RenderResponse {
            steps,
            warnings: Vec::new(),
        });
    }
    steps.extend(prefix_pins(&request.packages).map(|(package, pin)| {
        resolve_step(package, pin, &format!("apt-cache madison {}", package.name))
    }));
    steps.push(install_step(&request.packages, &lock, installed));
    let held = pin::held(&request.packages);
    if !held.is_empty() {
        steps.push(hold_step(&held, &lock));
    }
    Ok(RenderResponse {
        steps,
        warnings: Vec::new(),
    })
}

/// `DPkg::Lock::Timeout=<secs>` from `--set apt.lock-timeout`, checked.
fn lock_option(set: &BTreeMap<String, String>) -> Result<String, PluginError> {
    let seconds = match set.get(LOCK_TIMEOUT_KEY) {
        None => DEFAULT_LOCK_TIMEOUT,
        Some(value) => value
            .parse::<u32>()
            .ok()
            .filter(|s| *s <= MAX_LOCK_TIMEOUT && value.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                PluginError::invalid_input(format!(
                    "`--set {LOCK_TIMEOUT_KEY}={}` is not a number of seconds from 0 to \
                     {MAX_LOCK_TIMEOUT}",
                    value.escape_debug()
                ))
                .with_hint(format!(
                    "write `--set {LOCK_TIMEOUT_KEY}=300` to wait up to five minutes for the \
                     dpkg lock"
                ))
            })?,
    };
    Ok(format!("DPkg::Lock::Timeout={seconds}"))
}

/// One repository: its key, then its one-line source file.
fn repository_step(repo: &Repository, request: &RenderRequest) -> Result<Step, PluginError> {
    let key = validate::repository(repo, &request.options, &[])?;
    let origin = format!("repository `{}`", repo.id);
    let suite = match (&repo.suite, &request.distro.codename) {
        (Some(suite), _) => suite.clone(),
        (None, Some(codename)) => codename.clone(),
        (None, None) => {
            return Err(PluginError::invalid_input(format!(
                "{origin} names no suite and distro pack `{}` has no codename to use instead",
                request.distro.id
            ))
            .with_hint("give the repository a suite (`stable`, or `/` for a flat repository)"))
        }
    };
    let flat = suite.ends_with('/');
    if flat && !repo.components.is_empty() {
        return Err(PluginError::invalid_input(format!(
            "{origin} is flat (suite `{suite}`) but names components {:?}; a flat repository \
             has none",
            repo.components
        )));
    }
    if !flat && repo.components.is_empty() {
        return Err(PluginError::invalid_input(format!(
            "{origin} has suite `{suite}` but no components"
        ))
        .with_hint(
            "name its components (`stable`, `main`), or use suite `/` for a flat repository",
        ));
    }

    let mut options = Vec::new();
    if !repo.architectures.is_empty() {
        options.push(format!("arch={}", repo.architectures.join(",")));
    }
    let keyring = format!("{KEYRINGS}/{}.asc", repo.id);
    if key.is_some() {
        options.push(format!("signed-by={keyring}"));
    }
    let mut line = String::from("deb ");
    if !options.is_empty() {
        line.push_str(&format!("[{}] ", options.join(" ")));
    }
    line.push_str(&format!("{} {suite}", repo.url));
    for component in &repo.components {
        line.push(' ');
        line.push_str(component);
    }
    line.push('\n');

    let mut actions = Vec::new();
    let why = match &key {
        Some(key) => {
            actions.push(ensure_dir(KEYRINGS));
            actions.push(fetch_key(key, &keyring));
            why::keyed(
                &repo.requested_by,
                key,
                "; `signed-by=` makes that key vouch for this repository alone (no apt-key, no \
                 trusted=yes).",
            )
        }
        None => why::unkeyed(
            &repo.requested_by,
            "apt checks it against the keys the system already trusts, and refuses it if none \
             signs it.",
        ),
    };
    actions.push(Action::WriteFile {
        path: format!("{SOURCES}/{}.list", repo.id),
        mode: 0o644,
        content: line.clone(),
        owner: None,
        group: None,
    });
    Ok(Step::new(
        Phase::Repositories,
        format!("Add apt repository {}: {}", repo.id, line.trim_end()),
        why,
        StepKind::Actions { actions },
    ))
}

/// Says whether every package is installed, at its pin where it has one: `dpkg-query` prints
/// `<name> installed` and `<name>=<version>` for each, and each expected line must appear
/// (whatever order dpkg lists them in). A package that was removed but left its
/// configuration reads `config-files`, not `installed`.
fn installed_probe(packages: &[Package]) -> Probe {
    let mut argv = vec![
        "dpkg-query".to_owned(),
        "--show".to_owned(),
        "--showformat=${Package} ${db:Status-Status}\\n${Package}=${Version}\\n".to_owned(),
    ];
    let mut lines = Vec::new();
    for package in packages {
        argv.push(package.name.clone());
        lines.push(format!("{} installed", package.name));
        if package.version.is_some() {
            lines.push(pin::spec(package, '='));
        }
    }
    Probe {
        argv,
        expect: Expect::StdoutLines(lines),
    }
}

/// One index refresh for every repository.
/// The pack variable naming a release whose suites Debian moved off its mirrors to
/// archive.debian.org (`buster` in debian-10.toml).
pub const ARCHIVED_VAR: &str = "apt.archived_suite";

/// Debian's own hosts, which stop serving a release once it moved to archive.debian.org (not
/// archive.debian.org itself, nor a site's mirror, which may keep it).
const DEBIAN_MIRRORS: &str =
    r"((deb|security|ftp|httpredir)|ftp\.[a-z]+|cdn-fastly\.deb)\.debian\.org";

/// A check, first of all, that the target's apt sources do not fetch `suite` from a Debian
/// mirror that no longer has it: Debian moved buster to archive.debian.org in July 2025
/// (debian-devel-announce 2025/06/msg00001, as fluent/fluent-bit#10597 cites it), and from
/// then `apt-get update` fails on deb.debian.org and security.debian.org with 404 and "does
/// not have a Release file" for buster, buster-updates and buster/updates
/// (oakestra/oakestra#437, KhiopsML/khiops#756). One-line sources only: buster's own format.
fn archived_check(suite: &str) -> Result<Step, PluginError> {
    validate::token(
        suite,
        "",
        "archived suite",
        &format!("pack variable `{ARCHIVED_VAR}`"),
    )?;
    let pattern = format!(
        r"^[[:space:]]*deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://{DEBIAN_MIRRORS}/[^[:space:]]*[[:space:]]+{suite}([-/][a-z]+)?([[:space:]]|$)"
    );
    Ok(Step::new(
        Phase::Prerequisites,
        format!("the apt sources do not fetch {suite} from Debian's mirrors, which dropped it"),
        format!(
            "Debian moved {suite} to archive.debian.org in July 2025; apt-get update fails on \
             sources still pointing at deb.debian.org or security.debian.org, so the run stops \
             here, before anything changes, rather than at the refresh"
        ),
        StepKind::Actions {
            actions: vec![Action::Check(Check {
                description: format!(
                    "no apt source fetches {suite} from a Debian mirror (the files named below \
                     do); point those lines at http://archive.debian.org/debian (and \
                     http://archive.debian.org/debian-security for {suite}/updates), drop \
                     {suite}-backports, then run again"
                ),
                probe: Probe {
                    argv: strings(&[
                        "find",
                        "/etc/apt",
                        "-maxdepth",
                        "2",
                        "-type",
                        "f",
                        "(",
                        "-name",
                        "sources.list",
                        "-o",
                        "-name",
                        "*.list",
                        ")",
                        "-exec",
                        "grep",
                        "-qE",
                        &pattern,
                        "{}",
                        ";",
                        "-print",
                    ]),
                    expect: Expect::StdoutEquals(String::new()),
                },
            })],
        },
    ))
}

fn update_step(lock: &str, unless: Option<Probe>, resolve: Vec<ResolveVersion>) -> Step {
    let why = if unless.is_some() {
        "apt must see the repositories just added before it can install from them or list the \
         versions they offer; one refresh serves them all. Skipped when every package is already \
         installed as pinned."
    } else {
        "apt must see the repositories just added before it can install from them or list the \
         versions they offer; one refresh serves them all."
    };
    let mut action = run(strings(&["apt-get", "-o", lock, "update"]), unless);
    if let Action::Run { resolve: r, .. } = &mut action {
        *r = resolve;
    }
    Step::new(
        Phase::Repositories,
        "Refresh the apt package index",
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
        strings(&["apt-cache", "madison", &package.name]),
        VersionListing {
            separator: Some("|".to_owned()),
            name_field: 0,
            names: vec![package.name.clone()],
            version_field: 1,
        },
    )
}

/// What a failed apt transaction left: each package's state as dpkg records it
/// (`half-configured`, `unpacked`, `installed`, ...; dpkg-query(1), `db:Status-Status`).
fn audit(packages: &[Package]) -> Audit {
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let mut argv = strings(&[
        "dpkg-query",
        "--show",
        "--showformat=${Package} ${db:Status-Status}\\n",
    ]);
    argv.extend(names.iter().map(|n| (*n).to_owned()));
    Audit {
        argv,
        hint: format!(
            "`dpkg --configure -a` finishes configuring what was unpacked (once its cause is fixed), `apt-get remove {}` removes it",
            names.join(" ")
        ),
    }
}

/// One transaction for every package.
fn install_step(packages: &[Package], lock: &str, installed: Probe) -> Step {
    // A configuration file the site wrote before the package arrives (containerd's
    // config.toml, say) is a conffile "created locally" to dpkg, which then asks what to do
    // and, with no terminal, fails the install. --force-confdef takes the default answer
    // where there is one, --force-confold keeps the file on the system otherwise; the
    // package's version is left beside it as `.dpkg-dist` (dpkg(1), man/dpkg.pod, --force-conf*;
    // passed through apt as DPkg::Options, apt.conf(5)).
    let mut argv = strings(&[
        "apt-get",
        "-o",
        lock,
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
        "install",
        "-y",
        "--no-install-recommends",
    ]);
    argv.extend(packages.iter().map(|p| pin::spec(p, '=')));
    let resolve = prefix_pins(packages)
        .map(|(package, pin)| resolution(package, pin))
        .collect();
    let env = BTreeMap::from([("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())]);
    let names: Vec<String> = packages.iter().map(|p| pin::shown(p, '=')).collect();
    Step::new(
        Phase::Packages,
        format!("Install {}", names.join(", ")),
        "One apt transaction installs every package the plan needs, at its pin. \
         DEBIAN_FRONTEND=noninteractive keeps debconf from asking, and `--force-confdef \
         --force-confold` keep dpkg from asking about a configuration file the site already \
         has (it stays; the package's version is left beside it as `.dpkg-dist`, and the \
         plan then edits the site's file in place); `DPkg::Lock::Timeout` makes \
         apt wait (up to the bound) for another apt or unattended-upgrades rather than fail \
         (apt 1.9.11 and later; older apt stops at once when dpkg is busy). Skipped when every \
         package is already installed as pinned.",
        StepKind::Actions {
            actions: vec![transaction(argv, env, installed, resolve, audit(packages))],
        },
    )
}

/// Holds the pinned packages against upgrades.
fn hold_step(held: &[&str], lock: &str) -> Step {
    let mut argv = vec!["apt-mark", "-o", lock, "hold"];
    argv.extend(held);
    // A hold is dpkg's selection state `hold` (what `apt-mark hold` sets and `showhold`
    // lists), read straight from dpkg's database: `db:Status-Want`, since dpkg 1.17.11
    // (dpkg-query(1)), without loading apt's cache as `apt-mark showhold` does.
    let probe = Probe {
        argv: [
            "dpkg-query",
            "--show",
            "--showformat=${Package} ${db:Status-Want}\\n",
        ]
        .iter()
        .chain(held)
        .map(|a| (*a).to_owned())
        .collect(),
        expect: Expect::StdoutLines(held.iter().map(|h| format!("{h} hold")).collect()),
    };
    Step::new(
        Phase::Packages,
        format!("Hold {} at the installed version", held.join(", ")),
        "An upgrade would otherwise replace the pinned versions; `apt-mark hold` keeps them \
         until someone releases them with `apt-mark unhold`. Skipped when they are all held.",
        StepKind::Actions {
            actions: vec![run(strings(&argv), Some(probe))],
        },
    )
}
