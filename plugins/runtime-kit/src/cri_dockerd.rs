//! cri-dockerd: the CRI adapter through which the kubelet drives Docker Engine or MCR since
//! Kubernetes 1.24 removed the dockershim.

use plugin_api::{
    Check, Expect, FileContent, FileStep, Package, Phase, Probe, ServiceStep, Step, StepKind,
    VersionMatch,
};

/// The socket cri-dockerd serves, as the kubelet's `--container-runtime-endpoint`.
pub const SOCKET: &str = "unix:///run/cri-dockerd.sock";

/// The systemd socket unit that creates [`SOCKET`] (`ListenStream=%t/cri-dockerd.sock`).
pub const SOCKET_UNIT: &str = "cri-docker.socket";

/// The service the socket activates.
pub const SERVICE_UNIT: &str = "cri-docker.service";

/// The package.
pub const PACKAGE: &str = "cri-dockerd";

/// Our drop-in for [`SERVICE_UNIT`], written only with `--sandbox-image`.
pub const DROP_IN: &str =
    "/etc/systemd/system/cri-docker.service.d/10-pod-infra-container-image.conf";

/// The cri-dockerd package, unpinned: it follows the Docker Engine it adapts.
pub fn package() -> Package {
    Package {
        name: PACKAGE.to_owned(),
        version: None,
        version_match: VersionMatch::Exact,
        hold: false,
        requested_by: Vec::new(),
        vulnerabilities: Vec::new(),
    }
}

/// The configuration, service and verification steps for cri-dockerd; the package itself
/// goes into the plugin's one package step.
pub fn steps(sandbox_image: Option<&str>) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(image) = sandbox_image {
        // The packaged unit runs `cri-dockerd --container-runtime-endpoint fd://`; a drop-in
        // can only add arguments by replacing ExecStart, so it repeats that and adds ours.
        let text = format!(
            "# Written by installer: the pause image for pod sandboxes (--sandbox-image).\n\
             [Service]\n\
             ExecStart=\n\
             ExecStart=/usr/bin/cri-dockerd --container-runtime-endpoint fd:// \
             --pod-infra-container-image={image}\n"
        );
        steps.push(Step::new(
            Phase::Configuration,
            format!("pause image {image} for cri-dockerd ({DROP_IN})"),
            "cri-dockerd takes the sandbox image only as --pod-infra-container-image; a drop-in \
             keeps the packaged unit untouched, and the image must be the one kubeadm expects \
             or pods are created with a different pause image than the node was prepared for",
            StepKind::File(FileStep {
                path: DROP_IN.to_owned(),
                mode: 0o644,
                owner: None,
                group: None,
                content: FileContent::Full { text },
                restarts: vec![SERVICE_UNIT.to_owned()],
                skip_when: None,
            }),
        ));
    }
    steps.push(Step::new(
        Phase::Services,
        format!("enable and start {SOCKET_UNIT}"),
        "the kubelet reaches Docker through cri-dockerd's socket; socket activation starts \
         cri-dockerd on the first connection and after every restart of docker",
        StepKind::Service(ServiceStep {
            unit: SOCKET_UNIT.to_owned(),
            enable: true,
            start: true,
            restart_on_change: false,
            daemon_reload: false,
        }),
    ));
    steps.push(Step::new(
        Phase::Services,
        format!("enable {SERVICE_UNIT}, restart it when its configuration changed"),
        "so that a changed pause image takes effect now rather than at the next reboot",
        StepKind::Service(ServiceStep {
            unit: SERVICE_UNIT.to_owned(),
            enable: true,
            start: false,
            restart_on_change: true,
            daemon_reload: sandbox_image.is_some(),
        }),
    ));
    steps.push(Step::new(
        Phase::Verification,
        format!("{SOCKET_UNIT} listens on {SOCKET}"),
        "the socket the plan reports to the kubelet must be the one the unit creates",
        StepKind::Check(Check {
            description: format!("{SOCKET_UNIT} has ListenStream= .../cri-dockerd.sock"),
            probe: Probe {
                argv: [
                    "grep",
                    "-rhs",
                    "--include=cri-docker.socket",
                    "ListenStream=",
                    "/usr/lib/systemd/system",
                    "/lib/systemd/system",
                    "/etc/systemd/system",
                ]
                .map(str::to_owned)
                .to_vec(),
                expect: Expect::StdoutContains("/cri-dockerd.sock".to_owned()),
            },
        }),
    ));
    steps
}
