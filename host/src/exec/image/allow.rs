//! What a plan's command may hand to the build host's dnf/yum, zypper or rpm: an allowlist
//! of the subcommands and options installer's own plugins emit (plugins/yum,
//! plugins/zypper, plugins/package-kit), each option spelled exactly as they spell it.
//!
//! A denylist of the options that re-target a tool cannot be complete: dnf takes any
//! unambiguous prefix of a long option (`--installr=/`, `--setop=`, `--conf=`) and keeps the
//! last value given, so a plan's would override installer's own `--installroot` and
//! `--config`; short options bundle (dnf `-yc FILE`, rpm `-vE`, zypper `-nR`); and rpm has
//! more ways to run code than a list remembers (`-r DIR`, `--load FILE`, `--predefine`).
//! So every word beginning with `-` must be one of the options listed here for its
//! subcommand, whole; every other word (a package spec, a repository id, a URL) is passed as
//! it is, and an option's value must not begin with `-` either.

/// An option, and whether it takes the next word as its value.
type Opt = (&'static str, bool);

/// What a plan may pass to one build-host tool.
struct Allowed {
    /// Options before the subcommand.
    global: &'static [Opt],
    /// The subcommands and the options each takes after it. rpm's are its modes, which are
    /// options themselves (`-q`, `--import`), and come first.
    commands: &'static [(&'static str, &'static [Opt])],
}

/// dnf and yum (run as this host's dnf): plugins/yum/src/render.rs.
const DNF: Allowed = Allowed {
    global: &[],
    commands: &[
        ("install", &[("-y", false)]),
        ("remove", &[("-y", false), ("--noautoremove", false)]),
        ("list", &[("--showduplicates", false)]),
        // `versionlock add NAME...`: `add` is a positional word.
        ("versionlock", &[]),
    ],
};

/// zypper: plugins/zypper/src/render.rs (`search -s` is how its resolve step shows the
/// query, `--details` how it runs it).
const ZYPPER: Allowed = Allowed {
    global: &[("--non-interactive", false)],
    commands: &[
        (
            "addrepo",
            &[
                ("--refresh", false),
                ("--gpgcheck", false),
                ("--name", true),
            ],
        ),
        ("refresh", &[]),
        ("install", &[]),
        ("addlock", &[]),
        ("removelock", &[]),
        ("remove", &[]),
        (
            "search",
            &[
                ("--details", false),
                ("-s", false),
                ("--match-exact", false),
                ("--type", true),
            ],
        ),
    ],
};

/// rpm: plugins/package-kit/src/rpm.rs (`--import FILE`, `-q NAME...`), the removal
/// steps' `rpm -q --quiet`, and `-e NAME`.
const RPM: Allowed = Allowed {
    global: &[],
    commands: &[
        ("--import", &[]),
        ("-q", &[("--quiet", false)]),
        ("-e", &[]),
    ],
};

fn allowed(tool: &str) -> &'static Allowed {
    match tool {
        "dnf" => &DNF,
        "zypper" => &ZYPPER,
        _ => &RPM,
    }
}

/// What a build-host `tool` takes from a plan, for a message: `install -y, remove ...`.
pub(super) fn summary(tool: &str) -> String {
    let allowed = allowed(tool);
    let spell = |opts: &[Opt]| -> Vec<String> {
        opts.iter()
            .map(|(o, value)| {
                if *value {
                    format!("{o} VALUE")
                } else {
                    (*o).to_owned()
                }
            })
            .collect()
    };
    let commands: Vec<String> = allowed
        .commands
        .iter()
        .map(|(c, opts)| {
            std::iter::once((*c).to_owned())
                .chain(spell(opts))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let global = spell(allowed.global);
    if global.is_empty() {
        commands.join(", ")
    } else {
        format!(
            "{} before one of: {}",
            global.join(" "),
            commands.join(", ")
        )
    }
}

/// Why the plan's `args` for a build-host `tool` are refused, naming the word; `None` when
/// every one is allowed.
pub(super) fn refused(tool: &str, args: &[String]) -> Option<Refusal> {
    let allowed = allowed(tool);
    let mut words = args.iter();
    let mut command: Option<&[Opt]> = None;
    while let Some(word) = words.next() {
        let options = command.unwrap_or(allowed.global);
        if command.is_none() {
            // rpm's mode is an option; every other tool's subcommand is a word.
            let mode = tool == "rpm" || !word.starts_with('-');
            if mode {
                match allowed.commands.iter().find(|(c, _)| c == word) {
                    Some((_, opts)) => {
                        command = Some(opts);
                        continue;
                    }
                    None => return Some(Refusal::Command(word.clone())),
                }
            }
        }
        if !word.starts_with('-') {
            continue;
        }
        let Some((_, takes_value)) = options.iter().find(|(o, _)| o == word) else {
            return Some(Refusal::Option(word.clone()));
        };
        if *takes_value {
            match words.next() {
                Some(value) if !value.starts_with('-') => {}
                Some(value) => return Some(Refusal::Option(value.clone())),
                None => return Some(Refusal::Option(word.clone())),
            }
        }
    }
    command.is_none().then_some(Refusal::NoCommand)
}

/// What [`refused`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A word beginning with `-` that is not an option allowed where it stands.
    Option(String),
    /// A subcommand (rpm: a mode) not among the allowed ones.
    Command(String),
    /// No subcommand at all.
    NoCommand,
}
