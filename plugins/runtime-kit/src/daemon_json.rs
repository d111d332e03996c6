//! `/etc/docker/daemon.json` (Docker Engine and MCR): our keys merged into whatever the file holds, and a check that
//! no systemd unit or environment file passes the same settings as flags.

use crate::facts;
use plugin_api::{
    Check, Expect, FileContent, FileStep, Options, Phase, Probe, ServiceStep, SkipWhen, Step,
    StepKind,
};
use serde_json::{json, Map, Value};

/// The file.
pub const PATH: &str = "/etc/docker/daemon.json";

/// The unit restarted when it changes.
pub const SERVICE: &str = "docker.service";

/// The daemon.json keys we set, each with the dockerd flag that sets the same option.
/// dockerd refuses to start when a flag and the file both set one ("the following directives
/// are specified both as a flag and in the configuration file").
const FLAGS: [(&str, &str); 5] = [
    ("exec-opts", "--exec-opt"),
    ("log-driver", "--log-driver"),
    ("log-opts", "--log-opt"),
    ("storage-driver", "--storage-driver"),
    ("storage-opts", "--storage-opt"),
];

/// The object merged into daemon.json. `override_kernel_check` is the CentOS 7 setting the
/// Kubernetes pages give (its 3.10 kernel carries overlay2 backports the check does not see);
/// Docker 24.0 removed the option and refuses to start with it, so it is only for older pins.
pub fn value(options: &Options, override_kernel_check: bool) -> Value {
    let mut object = Map::new();
    object.insert(
        "exec-opts".to_owned(),
        json!([format!(
            "native.cgroupdriver={}",
            facts::cgroup_driver_name(options.cgroup_driver)
        )]),
    );
    object.insert("log-driver".to_owned(), json!("json-file"));
    object.insert("log-opts".to_owned(), json!({ "max-size": "100m" }));
    object.insert("storage-driver".to_owned(), json!("overlay2"));
    if override_kernel_check {
        object.insert(
            "storage-opts".to_owned(),
            json!(["overlay2.override_kernel_check=true"]),
        );
    }
    Value::Object(object)
}

/// The merge step.
pub fn step(options: &Options, override_kernel_check: bool) -> Step {
    let mut why = format!(
        "dockerd must use the {} cgroup driver the kubelet is given; json-file logs capped \
         at 100m keep container logs from filling the disk and are what the kubelet's log \
         readers expect; overlay2 is the storage driver Docker supports on these kernels. \
         Merged, so keys you set yourself stay",
        facts::driver_clause(options)
    );
    if override_kernel_check {
        why.push_str(
            "; overlay2.override_kernel_check because CentOS 7's 3.10 kernel has overlay2 \
             backported where dockerd's version check cannot see it",
        );
    }
    Step::new(
        Phase::Configuration,
        format!(
            "merge native.cgroupdriver={}, json-file logs (max-size 100m) and overlay2 into {PATH}",
            facts::cgroup_driver_name(options.cgroup_driver)
        ),
        why,
        StepKind::File(FileStep {
            path: PATH.to_owned(),
            mode: 0o644,
            owner: None,
            group: None,
            content: FileContent::JsonMerge {
                value: value(options, override_kernel_check),
            },
            restarts: vec![SERVICE.to_owned()],
            skip_when: Some(conflict_guard(&value(options, override_kernel_check))),
        }),
    )
}

/// Leaves daemon.json alone, with a warning, when a docker.service drop-in or environment
/// file already passes a flag for a key the merge sets: dockerd refuses to start when a flag
/// and daemon.json set the same option (a guide's `ExecStart=... --exec-opt
/// native.cgroupdriver=...` drop-in, RHEL's `--log-driver=journald` in /etc/sysconfig/docker).
///
/// Only files under `/etc` are searched: Docker's own units pass none of these flags. `find`
/// prints each file that passes one; any output means "leave it".
pub fn conflict_guard(value: &Value) -> SkipWhen {
    let flags: Vec<&str> = FLAGS
        .iter()
        .filter(|(key, _)| value.get(key).is_some())
        .map(|(_, flag)| *flag)
        .collect();
    let pattern = format!("^[^#]*({})", flags.join("|"));
    let mut argv: Vec<String> = ["find", "/etc", "-maxdepth", "4", "("]
        .map(str::to_owned)
        .to_vec();
    let places = [
        "/etc/systemd/system/docker.service",
        "/etc/systemd/system/docker.service.d/*",
        "/etc/default/docker",
        "/etc/sysconfig/docker",
    ];
    for (i, place) in places.iter().enumerate() {
        if i > 0 {
            argv.push("-o".to_owned());
        }
        argv.push("-path".to_owned());
        argv.push((*place).to_owned());
    }
    argv.extend(
        [
            ")", "-type", "f", "-exec", "grep", "-qE", &pattern, "{}", ";", "-print",
        ]
        .map(str::to_owned),
    );
    SkipWhen {
        probe: Probe {
            argv,
            expect: Expect::StdoutContains("/etc/".to_owned()),
        },
        warning: format!(
            "{PATH} was left as it is: a docker.service drop-in or environment file already \
             passes {}, and dockerd refuses an option set both there and in {PATH}. Remove the \
             flag from that file (and check its cgroup driver is the kubelet's), then run again",
            flags.join(", ")
        ),
    }
}

/// docker.service enabled and started, and restarted only when its configuration changed;
/// `why` says what needs it running.
pub fn service_step(why: &str) -> Step {
    Step::new(
        Phase::Services,
        format!("enable and start {SERVICE}, restart it when its configuration changed"),
        why,
        StepKind::Service(ServiceStep {
            unit: SERVICE.to_owned(),
            enable: true,
            start: true,
            restart_on_change: true,
            daemon_reload: true,
        }),
    )
}

/// dockerd's own parse of the merged file, flags included: `dockerd --validate` (Docker 23.0
/// and later).
pub fn validate_check() -> Step {
    Step::new(
        Phase::Verification,
        format!("dockerd accepts {PATH}"),
        "dockerd's own parse of the merged file, flags included, is the proof it will start",
        StepKind::Check(Check {
            description: format!("`dockerd --validate --config-file {PATH}` succeeds"),
            probe: Probe {
                argv: ["dockerd", "--validate", "--config-file", PATH]
                    .map(str::to_owned)
                    .to_vec(),
                expect: Expect::Success,
            },
        }),
    )
}
