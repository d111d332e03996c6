//! CRI-O's configuration: drop-ins under `/etc/crio/crio.conf.d/` that we own whole, or, for
//! the Kubic-era releases that predate drop-ins, keys edited in `/etc/crio/crio.conf`.

use plugin_api::{
    CgroupDriver, Check, Expect, FileContent, FileStep, HandlerKind, Options, Phase, PluginError,
    Probe, RuntimeHandler, Step, StepKind, TomlEdit,
};
use runtime_kit::facts;
use runtime_kit::version::Version;
use serde_json::json;

/// The cgroup-manager drop-in the Kubernetes pages name.
pub const CGROUP_DROP_IN: &str = "/etc/crio/crio.conf.d/02-cgroup-manager.conf";

/// CRI-O's drop-in directory, read in lexical order after crio.conf.
pub const DROP_IN_DIR: &str = "/etc/crio/crio.conf.d";

/// The pause-image drop-in, written with `--sandbox-image`.
pub const PAUSE_DROP_IN: &str = "/etc/crio/crio.conf.d/03-pause-image.conf";

/// The main configuration file, edited only for releases before drop-ins.
pub const MAIN: &str = "/etc/crio/crio.conf";

/// The service.
pub const SERVICE: &str = "crio.service";

/// The first release reading `/etc/crio/crio.conf.d/`.
pub const FIRST_WITH_DROP_INS: (u64, u64) = (1, 18);

fn why_driver(options: &Options) -> String {
    let mut why = format!(
        "CRI-O must use the {} cgroup driver the kubelet is given, or pods become unstable \
         under pressure",
        facts::driver_clause(options)
    );
    if options.cgroup_driver == CgroupDriver::Cgroupfs {
        why.push_str(
            "; with cgroupfs, conmon must live in the pod's cgroup (conmon_cgroup = \"pod\")",
        );
    }
    why
}

/// The configuration steps for CRI-O `version`.
pub fn steps(version: &Version, options: &Options) -> Vec<Step> {
    let driver = facts::cgroup_driver_name(options.cgroup_driver);
    let cgroupfs = options.cgroup_driver == CgroupDriver::Cgroupfs;
    if version.series() < FIRST_WITH_DROP_INS {
        let mut edits = vec![TomlEdit::Set {
            path: ["crio", "runtime", "cgroup_manager"]
                .map(str::to_owned)
                .to_vec(),
            value: json!(driver),
        }];
        if cgroupfs {
            edits.push(TomlEdit::Set {
                path: ["crio", "runtime", "conmon_cgroup"]
                    .map(str::to_owned)
                    .to_vec(),
                value: json!("pod"),
            });
        }
        if let Some(image) = &options.sandbox_image {
            edits.push(TomlEdit::Set {
                path: ["crio", "image", "pause_image"].map(str::to_owned).to_vec(),
                value: json!(image),
            });
        }
        return vec![Step::new(
            Phase::Configuration,
            format!("set cgroup_manager = \"{driver}\" in {MAIN}"),
            format!(
                "{}; CRI-O {version} predates crio.conf.d drop-ins, so the packaged file is \
                 edited in place, keeping every other setting",
                why_driver(options)
            ),
            StepKind::File(FileStep {
                path: MAIN.to_owned(),
                mode: 0o644,
                owner: None,
                group: None,
                content: FileContent::TomlEdit {
                    initial: None,
                    edits,
                },
                restarts: vec![SERVICE.to_owned()],
                skip_when: None,
            }),
        )];
    }
    let other = if cgroupfs { "systemd" } else { "cgroupfs" };
    // With cgroupfs, conmon must also stay in the pod's cgroup: a drop-in moving it to a
    // systemd slice (`conmon_cgroup = "system.slice"`) makes CRI-O refuse to start.
    let mut pattern =
        format!("^[[:space:]]*cgroup_manager[[:space:]]*=[[:space:]]*[\"']{other}[\"']");
    if cgroupfs {
        pattern = format!(
            "({pattern})|(^[[:space:]]*conmon_cgroup[[:space:]]*=[[:space:]]*[\"'][^p\"'])"
        );
    }
    let mut steps = vec![Step::new(
        Phase::Prerequisites,
        format!("no other drop-in in {DROP_IN_DIR} sets cgroup_manager = \"{other}\""),
        format!(
            "CRI-O reads its drop-ins in lexical order, the last value winning: another file \
             setting the {other} driver (a GPU toolkit's, a site's) would override ours, or be \
             overridden, and either way CRI-O and the kubelet could disagree; the run stops \
             here, before anything changes"
        ),
        StepKind::Check(Check {
            description: format!(
                "no drop-in of {DROP_IN_DIR} but ours sets cgroup_manager = \"{other}\"{} (the \
                 files named below do): make them agree with --cgroup-driver {driver}, remove \
                 them, or choose --cgroup-driver {other}",
                if cgroupfs {
                    " or moves conmon out of the pod's cgroup (conmon_cgroup other than \"pod\")"
                } else {
                    ""
                }
            ),
            probe: Probe {
                argv: [
                    "sh",
                    "-c",
                    // CRI-O reads the directory recursively and follows links; a host
                    // without CRI-O yet has no directory, and nothing to say. The pattern
                    // and our own file reach the script as $0 and $1.
                    &format!(
                        "d={DROP_IN_DIR}; [ -d \"$d\" ] || exit 0; \
                         find -L \"$d\" -type f ! -path \"$1\" -exec grep -qE \"$0\" {{}} ';' -print"
                    ),
                    &pattern,
                    CGROUP_DROP_IN,
                ]
                .map(str::to_owned)
                .to_vec(),
                expect: Expect::StdoutEquals(String::new()),
            },
        }),
    )];
    let mut text = format!(
        "# Written by installer: CRI-O's cgroup driver, which the kubelet's must match.\n\
         [crio.runtime]\ncgroup_manager = \"{driver}\"\n"
    );
    if cgroupfs {
        text.push_str("conmon_cgroup = \"pod\"\n");
    }
    steps.push(Step::new(
        Phase::Configuration,
        format!("cgroup_manager = \"{driver}\" in {CGROUP_DROP_IN}"),
        format!(
            "{}; a drop-in we own whole leaves the packaged crio.conf untouched",
            why_driver(options)
        ),
        StepKind::File(FileStep {
            path: CGROUP_DROP_IN.to_owned(),
            mode: 0o644,
            owner: None,
            group: None,
            content: FileContent::Full { text },
            restarts: vec![SERVICE.to_owned()],
            skip_when: None,
        }),
    ));
    if let Some(image) = &options.sandbox_image {
        steps.push(Step::new(
            Phase::Configuration,
            format!("pause_image = \"{image}\" in {PAUSE_DROP_IN}"),
            "the pause image from --sandbox-image, so that pod sandboxes use the image kubeadm \
             expects (kubeadm warns when they differ)",
            StepKind::File(FileStep {
                path: PAUSE_DROP_IN.to_owned(),
                mode: 0o644,
                owner: None,
                group: None,
                content: FileContent::Full {
                    text: format!(
                        "# Written by installer: the pause image for pod sandboxes (--sandbox-image).\n\
                         [crio.image]\npause_image = \"{image}\"\n"
                    ),
                },
                restarts: vec![SERVICE.to_owned()],
                skip_when: None,
            }),
        ));
    }
    steps
}

/// A check, after the restart, that CRI-O reads the driver we wrote.
pub fn check(options: &Options) -> Step {
    let expected = format!(
        "cgroup_manager = \"{}\"",
        facts::cgroup_driver_name(options.cgroup_driver)
    );
    Step::new(
        Phase::Verification,
        format!("CRI-O reads {expected}"),
        "CRI-O's own view of its merged configuration is the proof the drop-in took effect",
        StepKind::Check(Check {
            description: format!("`crio config` shows {expected}"),
            probe: Probe {
                argv: vec!["crio".to_owned(), "config".to_owned()],
                expect: Expect::StdoutContains(expected),
            },
        }),
    )
}

/// The drop-in holding runtime handler `name`, after ours for the driver and the pause image.
pub fn handler_drop_in(name: &str) -> String {
    format!("{DROP_IN_DIR}/10-runtime-{name}.conf")
}

/// A drop-in per runtime handler another plugin declared, and a check that CRI-O reads it:
/// `[crio.runtime.runtimes.<name>]` with `runtime_path` and `runtime_type` (CRI-O's
/// docs/crio.conf.5.md, "CRIO.RUNTIME.RUNTIMES TABLE": `oci` runs an OCI runtime, `vm` a
/// containerd shim v2) and, for `vm`, `runtime_config_path`. Drop-ins need CRI-O 1.18.
pub fn handler_steps(
    version: &Version,
    handlers: &[RuntimeHandler],
) -> Result<Vec<Step>, PluginError> {
    let mut steps = Vec::new();
    for h in handlers {
        if version.series() < FIRST_WITH_DROP_INS {
            return Err(PluginError::unsupported(format!(
                "runtime handler `{}` (from {}) goes in a drop-in, and CRI-O {version} predates crio.conf.d",
                h.name, h.plugin
            ))
            .with_hint("choose CRI-O 1.18 or later (--version, --kubernetes-version)"));
        }
        let Some(binary) = &h.binary else {
            return Err(PluginError::unsupported(format!(
                "runtime handler `{}` (from {}) names no program for CRI-O to run (its `binary`)",
                h.name, h.plugin
            ))
            .with_hint("use it with --runtime containerd, or a version of its plugin that names its binary"));
        };
        let kind = match h.kind {
            HandlerKind::Oci => "oci",
            HandlerKind::Vm => "vm",
        };
        let mut text = format!(
            "# Written by installer: runtime handler {} (from plugin {}), for RuntimeClasses to name.\n\
             [crio.runtime.runtimes.{}]\nruntime_path = \"{binary}\"\nruntime_type = \"{kind}\"\n",
            h.name, h.plugin, h.name
        );
        if let (HandlerKind::Vm, Some(config)) = (h.kind, &h.config_path) {
            text.push_str(&format!("runtime_config_path = \"{config}\"\n"));
        }
        let path = handler_drop_in(&h.name);
        steps.push(Step::new(
            Phase::Configuration,
            format!("runtime handler {} in {path}", h.name),
            format!(
                "plugin `{}` declared it; CRI-O runs pods of a RuntimeClass naming `{}` with {binary}",
                h.plugin, h.name
            ),
            StepKind::File(FileStep {
                path,
                mode: 0o644,
                owner: None,
                group: None,
                content: FileContent::Full { text },
                restarts: vec![SERVICE.to_owned()],
                skip_when: None,
            }),
        ));
        let table = format!("[crio.runtime.runtimes.{}]", h.name);
        steps.push(Step::new(
            Phase::Verification,
            format!("CRI-O reads runtime handler {}", h.name),
            "CRI-O's own view of its merged configuration is the proof the drop-in took effect",
            StepKind::Check(Check {
                description: format!("`crio config` shows {table}"),
                probe: Probe {
                    argv: vec!["crio".to_owned(), "config".to_owned()],
                    expect: Expect::StdoutContains(table),
                },
            }),
        ));
    }
    Ok(steps)
}
