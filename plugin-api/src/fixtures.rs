//! Distro values as the built-in packs describe them, for the plugins' unit tests (feature
//! `fixtures`). They are written out rather than read from `distros/`, so that a test says
//! exactly which facts it relies on.

use std::collections::BTreeMap;

use crate::{
    CgroupDriver, Check, Distro, FileStep, Options, Package, PlanRequest, Repository, RuntimePlan,
    ServiceStep, StepKind,
};

/// The distro of pack `id`: one of debian-10, debian-12, debian-13, debian-testing,
/// raspbian-10, ubuntu-18.04, ubuntu-20.04, ubuntu-22.04, ubuntu-24.04, ubuntu-26.04,
/// centos-7, centos-stream-9, centos-stream-10, rocky-9, rocky-10, rhel-8, rhel-9, rhel-10,
/// fedora-40, opensuse-leap-15, opensuse-tumbleweed, sles-15.
pub fn distro(id: &str) -> Distro {
    let pack = PACKS
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no fixture for distro {id}"));
    let arch = if pack.package_manager == "apt" {
        "amd64"
    } else {
        "x86_64"
    };
    Distro {
        id: id.to_owned(),
        name: id.to_owned(),
        family: pack.family.to_owned(),
        package_manager: pack.package_manager.to_owned(),
        os_id: pack.os_id.to_owned(),
        version_id: pack.version_id.map(str::to_owned),
        codename: pack.codename.map(str::to_owned),
        arch: arch.to_owned(),
        vars: pack
            .vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The ids [`distro`] knows.
pub fn ids() -> Vec<&'static str> {
    PACKS.iter().map(|p| p.id).collect()
}

struct Pack {
    id: &'static str,
    family: &'static str,
    package_manager: &'static str,
    os_id: &'static str,
    version_id: Option<&'static str>,
    codename: Option<&'static str>,
    vars: &'static [(&'static str, &'static str)],
}

const PACKS: &[Pack] = &[
    Pack {
        id: "debian-10",
        family: "debian",
        package_manager: "apt",
        os_id: "debian",
        version_id: Some("10"),
        codename: Some("buster"),
        vars: &[
            ("docker.repo_path", "debian"),
            ("docker.distro_package", "docker.io"),
            ("kubic.os", "Debian_10"),
            ("crio.default_minor", "1.17"),
        ],
    },
    Pack {
        id: "debian-12",
        family: "debian",
        package_manager: "apt",
        os_id: "debian",
        version_id: Some("12"),
        codename: Some("bookworm"),
        vars: &[
            ("docker.repo_path", "debian"),
            ("docker.distro_package", "docker.io"),
            ("containerd.distro_package", "containerd"),
            ("kubic.os", "Debian_12"),
        ],
    },
    Pack {
        id: "debian-13",
        family: "debian",
        package_manager: "apt",
        os_id: "debian",
        version_id: Some("13"),
        codename: Some("trixie"),
        vars: &[
            ("docker.repo_path", "debian"),
            ("docker.distro_package", "docker.io"),
            ("containerd.distro_package", "containerd"),
        ],
    },
    Pack {
        id: "debian-testing",
        family: "debian",
        package_manager: "apt",
        os_id: "debian",
        version_id: None,
        codename: None,
        vars: &[
            ("docker.distro_package", "docker.io"),
            ("containerd.distro_package", "containerd"),
        ],
    },
    Pack {
        id: "raspbian-10",
        family: "debian",
        package_manager: "apt",
        os_id: "raspbian",
        version_id: Some("10"),
        codename: Some("buster"),
        vars: &[
            ("docker.repo_path", "raspbian"),
            ("docker.distro_package", "docker.io"),
            ("kubic.os", "Raspbian_10"),
            ("crio.default_minor", "1.17"),
        ],
    },
    Pack {
        id: "ubuntu-18.04",
        family: "debian",
        package_manager: "apt",
        os_id: "ubuntu",
        version_id: Some("18.04"),
        codename: Some("bionic"),
        vars: &[
            ("docker.repo_path", "ubuntu"),
            ("docker.distro_package", "docker.io"),
            ("containerd.distro_package", "containerd"),
            ("mcr.repo_path", "ubuntu"),
            ("kubic.os", "xUbuntu_18.04"),
            ("crio.default_minor", "1.17"),
        ],
    },
    Pack {
        id: "ubuntu-20.04",
        family: "debian",
        package_manager: "apt",
        os_id: "ubuntu",
        version_id: Some("20.04"),
        codename: Some("focal"),
        vars: &[
            ("docker.repo_path", "ubuntu"),
            ("docker.distro_package", "docker.io"),
            ("containerd.distro_package", "containerd"),
            ("mcr.repo_path", "ubuntu"),
            ("kubic.os", "xUbuntu_20.04"),
            ("crio.default_minor", "1.18"),
        ],
    },
    Pack {
        id: "ubuntu-22.04",
        family: "debian",
        package_manager: "apt",
        os_id: "ubuntu",
        version_id: Some("22.04"),
        codename: Some("jammy"),
        vars: &[
            ("docker.repo_path", "ubuntu"),
            ("docker.distro_package", "docker.io"),
            ("containerd.distro_package", "containerd"),
            ("mcr.repo_path", "ubuntu"),
            ("kubic.os", "xUbuntu_22.04"),
        ],
    },
    Pack {
        id: "ubuntu-24.04",
        family: "debian",
        package_manager: "apt",
        os_id: "ubuntu",
        version_id: Some("24.04"),
        codename: Some("noble"),
        vars: &[
            ("docker.repo_path", "ubuntu"),
            ("docker.distro_package", "docker.io"),
            ("containerd.distro_package", "containerd"),
            ("mcr.repo_path", "ubuntu"),
        ],
    },
    Pack {
        id: "ubuntu-26.04",
        family: "debian",
        package_manager: "apt",
        os_id: "ubuntu",
        version_id: Some("26.04"),
        codename: Some("resolute"),
        vars: &[("docker.repo_path", "ubuntu")],
    },
    Pack {
        id: "centos-7",
        family: "rhel",
        package_manager: "yum",
        os_id: "centos",
        version_id: Some("7"),
        codename: None,
        vars: &[
            ("docker.repo_path", "centos"),
            ("kubic.os", "CentOS_7"),
            ("mcr.repo_path", "centos"),
            ("rpm.releasever", "7"),
        ],
    },
    Pack {
        id: "centos-stream-9",
        family: "rhel",
        package_manager: "dnf",
        os_id: "centos",
        version_id: Some("9"),
        codename: None,
        vars: &[
            ("docker.repo_path", "centos"),
            ("kubic.os", "CentOS_9_Stream"),
            ("rpm.releasever", "9"),
        ],
    },
    Pack {
        id: "centos-stream-10",
        family: "rhel",
        package_manager: "dnf",
        os_id: "centos",
        version_id: Some("10"),
        codename: None,
        vars: &[("docker.repo_path", "centos"), ("rpm.releasever", "10")],
    },
    Pack {
        id: "rocky-10",
        family: "rhel",
        package_manager: "dnf",
        os_id: "rocky",
        version_id: Some("10.0"),
        codename: None,
        vars: &[("docker.repo_path", "centos"), ("rpm.releasever", "10")],
    },
    Pack {
        id: "rhel-10",
        family: "rhel",
        package_manager: "dnf",
        os_id: "rhel",
        version_id: Some("10.0"),
        codename: None,
        vars: &[("docker.repo_path", "rhel"), ("rpm.releasever", "10")],
    },
    Pack {
        id: "rocky-9",
        family: "rhel",
        package_manager: "dnf",
        os_id: "rocky",
        version_id: Some("9.4"),
        codename: None,
        vars: &[
            ("docker.repo_path", "centos"),
            ("mcr.repo_path", "rocky"),
            ("rpm.releasever", "9"),
        ],
    },
    Pack {
        id: "rhel-8",
        family: "rhel",
        package_manager: "dnf",
        os_id: "rhel",
        version_id: Some("8.10"),
        codename: None,
        vars: &[
            ("docker.repo_path", "rhel"),
            ("mcr.repo_path", "rhel"),
            ("rpm.releasever", "8"),
        ],
    },
    Pack {
        id: "rhel-9",
        family: "rhel",
        package_manager: "dnf",
        os_id: "rhel",
        version_id: Some("9"),
        codename: None,
        vars: &[
            ("docker.repo_path", "rhel"),
            ("mcr.repo_path", "rhel"),
            ("rpm.releasever", "9"),
        ],
    },
    Pack {
        id: "fedora-40",
        family: "rhel",
        package_manager: "dnf",
        os_id: "fedora",
        version_id: Some("40"),
        codename: None,
        vars: &[
            ("docker.repo_path", "fedora"),
            ("docker.distro_package", "moby-engine"),
            ("containerd.distro_package", "containerd"),
            ("crio.distro_package", "cri-o"),
            ("rpm.releasever", "40"),
        ],
    },
    Pack {
        id: "opensuse-leap-15",
        family: "suse",
        package_manager: "zypper",
        os_id: "opensuse-leap",
        version_id: Some("15.6"),
        codename: None,
        vars: &[
            ("docker.distro_package", "docker"),
            ("containerd.distro_package", "containerd"),
        ],
    },
    Pack {
        id: "opensuse-tumbleweed",
        family: "suse",
        package_manager: "zypper",
        os_id: "opensuse-tumbleweed",
        version_id: None,
        codename: None,
        vars: &[
            ("docker.distro_package", "docker"),
            ("containerd.distro_package", "containerd"),
            ("crio.distro_package", "cri-o"),
        ],
    },
    Pack {
        id: "sles-15",
        family: "suse",
        package_manager: "zypper",
        os_id: "sles",
        version_id: Some("15.5"),
        codename: None,
        vars: &[
            ("docker.distro_package", "docker"),
            ("containerd.distro_package", "containerd"),
            ("mcr.repo_path", "sles"),
        ],
    },
];

/// A request for `runtime` on pack `distro` with the systemd driver and nothing else set.
pub fn request(distro_id: &str, runtime: &str) -> PlanRequest {
    PlanRequest {
        distro: distro(distro_id),
        options: Options {
            runtime: runtime.to_owned(),
            cgroup_driver: CgroupDriver::Systemd,
            cgroup_driver_reason: "systemd is init (/run/systemd/system exists)".to_owned(),
            ..Options::default()
        },
        handlers: Vec::new(),
    }
}

/// The repositories of a plan, in order.
pub fn repositories(plan: &RuntimePlan) -> Vec<&Repository> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Repository(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Every package of a plan, in order.
pub fn packages(plan: &RuntimePlan) -> Vec<&Package> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Packages { packages } => Some(packages.iter()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The package `name` of a plan; panics naming the packages when it is missing.
pub fn package<'a>(plan: &'a RuntimePlan, name: &str) -> &'a Package {
    let all = packages(plan);
    all.iter()
        .copied()
        .find(|p| p.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no package {name} in {:?}",
                all.iter().map(|p| &p.name).collect::<Vec<_>>()
            )
        })
}

/// The file step for `path`; panics naming the files when it is missing.
pub fn file<'a>(plan: &'a RuntimePlan, path: &str) -> &'a FileStep {
    let files: Vec<&FileStep> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::File(f) => Some(f),
            _ => None,
        })
        .collect();
    files
        .iter()
        .copied()
        .find(|f| f.path == path)
        .unwrap_or_else(|| {
            panic!(
                "no file {path} in {:?}",
                files.iter().map(|f| &f.path).collect::<Vec<_>>()
            )
        })
}

/// The service steps of a plan.
pub fn services(plan: &RuntimePlan) -> Vec<&ServiceStep> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Service(u) => Some(u),
            _ => None,
        })
        .collect()
}

/// The checks of a plan.
pub fn checks(plan: &RuntimePlan) -> Vec<&Check> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Check(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Asserts what every plan must have: the node prerequisites, a one-line summary and a why on
/// every step, and the facts the kubelet and `verify` need.
pub fn assert_well_formed(plan: &RuntimePlan) {
    for step in crate::prerequisites::node_prerequisites() {
        assert!(
            plan.steps.contains(&step),
            "missing prerequisite {}",
            step.summary
        );
    }
    for step in &plan.steps {
        assert!(
            !step.summary.is_empty() && !step.summary.contains('\n'),
            "{:?}",
            step.summary
        );
        assert!(!step.why.is_empty(), "step without a why: {}", step.summary);
    }
    for fact in ["cri_socket", "cgroup_driver", "runtime"] {
        assert!(
            plan.facts.contains_key(fact),
            "missing fact {fact}: {:?}",
            plan.facts
        );
    }
}

/// Plans `runtime` for every fixture distro, upstream and from the distro, and asserts that
/// each either plans (well formed) or is refused as bad input or an unsupported combination
/// (exit 2) with a hint, never any other failure. `adjust` sets what the runtime requires.
pub fn assert_matrix(
    runtime: &str,
    plan: impl Fn(&PlanRequest) -> Result<RuntimePlan, crate::PluginError>,
    adjust: impl Fn(&mut PlanRequest),
) {
    use crate::{ErrorKind, Source};
    for id in ids() {
        for source in [Source::Upstream, Source::Distro] {
            let mut req = request(id, runtime);
            req.options.source = source;
            adjust(&mut req);
            match plan(&req) {
                Ok(p) => assert_well_formed(&p),
                Err(e) => {
                    assert!(
                        matches!(
                            e.kind,
                            ErrorKind::Unsupported
                                | ErrorKind::InvalidInput
                                | ErrorKind::MissingVariable
                        ),
                        "{runtime} on {id} ({source:?}): {e:?}"
                    );
                    assert!(e.message.contains(id), "{runtime} on {id}: {}", e.message);
                    assert!(
                        e.hint.is_some(),
                        "{runtime} on {id}: no hint for {}",
                        e.message
                    );
                }
            }
        }
    }
}

/// Whether the pattern a probe hands to `grep -qE` matches `text`, asked of the real grep:
/// a plugin's shell-free probe is checked as the target will run it.
pub fn grep_pattern_matches(probe: &crate::Probe, text: &str) -> bool {
    use std::io::Write;
    // `grep -qE PATTERN` in the argv, or a `sh -c SCRIPT PATTERN` that hands it over as $0.
    let at = match probe.argv.iter().position(|a| a == "-qE") {
        Some(at) => at + 1,
        None if probe.argv[0] == "sh" => 3,
        None => panic!("the probe runs no grep -qE: {:?}", probe.argv),
    };
    let mut grep = std::process::Command::new("grep")
        .args(["-qE", &probe.argv[at]])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("grep runs");
    // grep -q may stop reading at its first match: a failed write is not an error here.
    let _ = grep.stdin.take().expect("piped").write_all(text.as_bytes());
    grep.wait().expect("grep ends").success()
}

/// The stdout of a probe run with `/etc` inside `scratch` standing for the target's (every
/// argument's `/etc` replaced), with the real commands; the probe must succeed.
pub fn probe_stdout_under(probe: &crate::Probe, scratch: &std::path::Path) -> String {
    let etc = scratch.join("etc");
    let argv: Vec<String> = probe
        .argv
        .iter()
        .map(|a| a.replace("/etc", etc.to_str().expect("a UTF-8 scratch path")))
        .collect();
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .expect("the probe's command runs");
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The check of the plan's prerequisites phase whose description contains `words`.
pub fn prerequisite_check<'a>(plan: &'a RuntimePlan, words: &str) -> &'a Check {
    plan.steps
        .iter()
        .filter(|s| s.phase == crate::Phase::Prerequisites)
        .find_map(|s| match &s.kind {
            StepKind::Check(c) if c.description.contains(words) => Some(c),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no prerequisites check mentions {words:?}"))
}
