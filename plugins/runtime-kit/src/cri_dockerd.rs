//! cri-dockerd: the CRI adapter through which the kubelet drives Docker Engine or MCR since
//! Kubernetes 1.24 removed the dockershim.
//!
//! MCR's repositories carry it as a package (`cri-dockerd-ee`): [`package`] and [`steps`].
//! Docker's repository and the distros do not, so for Docker Engine it is installed from
//! Mirantis' release archives, as kubespray does: the archive for the node's architecture,
//! checked against a pinned sha256 ([`RELEASES`]), its binary at [`BINARY`], and systemd
//! units of our own ([`release_steps`]).

use plugin_api::{
    Check, Distro, DownloadStep, Expect, FileContent, FileStep, Package, Phase, PluginError, Probe,
    ServiceStep, Step, StepKind, VersionMatch,
};

use crate::settings::{self, Settings};

/// The socket cri-dockerd serves, as the kubelet's `--container-runtime-endpoint`.
pub const SOCKET: &str = "unix:///run/cri-dockerd.sock";

/// The systemd socket unit that creates [`SOCKET`] (`ListenStream=%t/cri-dockerd.sock`).
pub const SOCKET_UNIT: &str = "cri-docker.socket";

/// The service the socket activates.
pub const SERVICE_UNIT: &str = "cri-docker.service";

/// Our drop-in for [`SERVICE_UNIT`], written only with `--sandbox-image`.
pub const DROP_IN: &str =
    "/etc/systemd/system/cri-docker.service.d/10-pod-infra-container-image.conf";

/// Where the binary from a release archive goes: installed by us, not by a package, so under
/// /usr/local (kubespray installs it in its `bin_dir`, /usr/local/bin by default).
pub const BINARY: &str = "/usr/local/bin/cri-dockerd";

/// The archive member holding the binary. Mirantis' `packaging/static/Makefile` builds each
/// archive with `tar -C build/linux -c -z -f cri-dockerd-$(VERSION).<arch>.tgz cri-dockerd`,
/// the directory holding the binary.
pub const MEMBER: &str = "cri-dockerd/cri-dockerd";

/// Our units, where a package would put its own (`/usr/lib/systemd/system`) left alone.
pub const SERVICE_FILE: &str = "/etc/systemd/system/cri-docker.service";
/// The socket unit's file.
pub const SOCKET_FILE: &str = "/etc/systemd/system/cri-docker.socket";

/// A cri-dockerd release: its version and the sha256 of its archive per architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The version, as in the tag without its `v`.
    pub version: &'static str,
    /// The sha256 of `cri-dockerd-<version>.amd64.tgz`.
    pub amd64: &'static str,
    /// The sha256 of `cri-dockerd-<version>.arm64.tgz`.
    pub arm64: &'static str,
}

/// The releases we know the archives of, newest first; the first is the default.
///
/// Source of every digest: kubernetes-sigs/kubespray
/// `roles/kubespray_defaults/vars/main/checksums.yml`, `cri_dockerd_archive_checksums`
/// (0.3.26 added in 8d69fb8f9, "Patch versions updates (#13393)", 2026-07-24; read at
/// 46dbdd39). kubespray installs 0.3.26 by default (its `cri_dockerd_version` is the first
/// amd64 key). cri-dockerd 0.3.x is built with the Docker client of Engine 25
/// (`github.com/docker/docker v25.0.8` in Mirantis/cri-dockerd `go.mod` from v0.3.20 on),
/// which speaks API 1.44, the oldest Docker Engine 29 accepts.
pub const RELEASES: &[Release] = &[
    Release {
        version: "0.3.26",
        amd64: "87f31c964d974cdce9c883c79b69e355c3c323e51d3a7d36cda140e6df7b8d5a",
        arm64: "d33e46e0d7ce28b22fdf7fa6327961cf0220ec3814fd7cc482f8cb77e7fd986a",
    },
    Release {
        version: "0.3.25",
        amd64: "adb9b9785dc10fe49107f5d9e6a62c4271d268a214b9813f5dce251afc9d78ff",
        arm64: "7eda6e815ed80ddf28095587038a8c48cb9af2060f7b45f9d8e68603c42caa67",
    },
    Release {
        version: "0.3.24",
        amd64: "dd4b7f514c248a3aaca398f467430a4c58aae9a77ea8b96a2f5b5d6fba0948d1",
        arm64: "c783a03735887c4a8fc894bd4cf7a1c0defef3ecf50a4d79ff31eed45c26b17e",
    },
];

/// Where Mirantis publishes the archives: the release assets of Mirantis/cri-dockerd (the
/// URL kubespray downloads, `cri_dockerd_download_url` in
/// `roles/kubespray_defaults/defaults/main/download.yml`).
pub const ORIGIN: &str = "https://github.com";

/// The archive's path under [`ORIGIN`], or under a mirror that keeps the origin's host as its
/// top directory (kubespray's `files_repo` layout, docs/operations/offline-environment.md).
pub fn archive_path(version: &str, arch: &str) -> String {
    format!("/Mirantis/cri-dockerd/releases/download/v{version}/cri-dockerd-{version}.{arch}.tgz")
}

/// The `--set` keys of a plugin that installs cri-dockerd from a release archive.
pub fn options(plugin: &str) -> Vec<plugin_api::OptionDoc> {
    let versions: Vec<&str> = RELEASES.iter().map(|r| r.version).collect();
    vec![
        settings::doc(
            plugin,
            "cri-dockerd-version",
            &format!(
                "the cri-dockerd release to install from Mirantis' archives: one of {}",
                versions.join(", ")
            ),
            Some(RELEASES[0].version),
        ),
        settings::doc(
            plugin,
            "cri-dockerd-url",
            "where to fetch the cri-dockerd archive instead (a .tgz holding \
             cri-dockerd/cri-dockerd); its sha256 must still be the pinned one, unless \
             cri-dockerd-sha256 names another (a build of your own)",
            Some("with --mirror: <mirror>/github.com/Mirantis/cri-dockerd/releases/download/..."),
        ),
        settings::doc(
            plugin,
            "cri-dockerd-sha256",
            "the sha256 of the archive at cri-dockerd-url, for an archive that is not one of \
             Mirantis' releases",
            None,
        ),
    ]
}

/// Mirantis' spelling of the node's architecture, from the package manager's.
fn archive_arch(distro: &Distro) -> Option<&'static str> {
    match distro.arch.as_str() {
        "amd64" | "x86_64" => Some("amd64"),
        "arm64" | "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// The download of cri-dockerd for `distro`: the release asked for (or the newest), from
/// Mirantis, a mirror, or a URL the user gave, with the digest it must have. Also returns a
/// line for the plan saying what was chosen.
pub fn download(
    distro: &Distro,
    mirror: Option<&str>,
    settings: &Settings<'_>,
) -> Result<(DownloadStep, String), PluginError> {
    let plugin = settings.plugin();
    let hint_out = format!(
        "or leave cri-dockerd out with --set {plugin}.without-cri-dockerd=true and install it your own way"
    );
    let url = settings.get("cri-dockerd-url");
    let sha256 = settings.get("cri-dockerd-sha256");
    if sha256.is_some() && url.is_none() {
        return Err(PluginError::invalid_input(format!(
            "--set {plugin}.cri-dockerd-sha256 names the digest of an archive of your own, but no \
             --set {plugin}.cri-dockerd-url says where it is"
        ))
        .with_hint(format!(
            "give both, or neither to install Mirantis' release {}",
            RELEASES[0].version
        )));
    }
    if let (Some(url), Some(sha256)) = (url, sha256) {
        if settings.get("cri-dockerd-version").is_some() {
            return Err(PluginError::invalid_input(format!(
                "--set {plugin}.cri-dockerd-version names one of Mirantis' releases, and \
                 cri-dockerd-url with cri-dockerd-sha256 an archive of your own"
            ))
            .with_hint("give one or the other"));
        }
        let what = "--set cri-dockerd-url";
        plugin_api::validate::url(url, &[], what, &format!("plugin `{plugin}`"))?;
        let sha256 = plugin_api::validate::sha256(sha256, &format!("plugin `{plugin}`"))?;
        let chosen = format!("cri-dockerd from {url} (your archive, sha256 {sha256})");
        return Ok((step(url.to_owned(), sha256), chosen));
    }
    let release =
        match settings.get("cri-dockerd-version") {
            None => RELEASES[0],
            Some(v) => {
                *RELEASES.iter().find(|r| r.version == v).ok_or_else(|| {
                    PluginError::invalid_input(format!(
                        "--set {plugin}.cri-dockerd-version={}: no pinned digest for that release",
                        v.escape_debug()
                    ))
                    .with_hint(format!(
                "choose one of {}, or give an archive with --set {plugin}.cri-dockerd-url=... \
                 and --set {plugin}.cri-dockerd-sha256=...",
                RELEASES.iter().map(|r| r.version).collect::<Vec<_>>().join(", ")
            ))
                })?
            }
        };
    let Some(arch) = archive_arch(distro) else {
        return Err(PluginError::unsupported(format!(
            "Mirantis publishes cri-dockerd archives for amd64 and arm64, not for {} ({})",
            distro.arch, distro.id
        ))
        .with_hint(format!(
            "give an archive built for it with --set {plugin}.cri-dockerd-url=... and --set \
             {plugin}.cri-dockerd-sha256=..., {hint_out}"
        )));
    };
    let sha256 = if arch == "amd64" {
        release.amd64
    } else {
        release.arm64
    };
    let path = archive_path(release.version, arch);
    let url = match (url, mirror) {
        (Some(url), _) => {
            plugin_api::validate::url(
                url,
                &[],
                "--set cri-dockerd-url",
                &format!("plugin `{plugin}`"),
            )?;
            url.to_owned()
        }
        (None, Some(mirror)) => format!("{}/github.com{path}", mirror.trim_end_matches('/')),
        (None, None) => format!("{ORIGIN}{path}"),
    };
    let chosen = format!(
        "cri-dockerd {} for {arch} from {url} (sha256 {sha256}, as kubespray pins it){}",
        release.version,
        if settings.get("cri-dockerd-version").is_some() {
            ""
        } else {
            ", the newest release with a pinned digest"
        }
    );
    Ok((step(url, sha256.to_owned()), chosen))
}

fn step(url: String, sha256: String) -> DownloadStep {
    DownloadStep {
        url,
        sha256,
        member: Some(MEMBER.to_owned()),
        path: BINARY.to_owned(),
        mode: 0o755,
        restarts: vec![SERVICE_UNIT.to_owned()],
    }
}

/// The steps that install cri-dockerd from a release archive and run it: the download, our
/// units, their services and the socket check.
pub fn release_steps(
    download: DownloadStep,
    chosen: &str,
    sandbox_image: Option<&str>,
) -> Vec<Step> {
    let mut steps = vec![Step::new(
        Phase::Packages,
        format!("install {BINARY} from {}", download.url),
        format!(
            "neither Docker's repository nor the distros carry cri-dockerd; Mirantis publishes \
             it as release archives: {chosen}"
        ),
        StepKind::Download(download),
    )];
    steps.push(Step::new(
        Phase::Configuration,
        format!("{SOCKET_UNIT} for cri-dockerd ({SOCKET_FILE})"),
        "an archive brings no units; ours start cri-dockerd by socket activation after \
         docker, as the units in Mirantis' packaging do",
        StepKind::File(FileStep {
            path: SOCKET_FILE.to_owned(),
            mode: 0o644,
            owner: None,
            group: None,
            content: FileContent::Full {
                text: socket_unit(),
            },
            restarts: vec![SERVICE_UNIT.to_owned()],
            skip_when: None,
        }),
    ));
    steps.push(Step::new(
        Phase::Configuration,
        format!("{SERVICE_UNIT} running {BINARY} ({SERVICE_FILE})"),
        match sandbox_image {
            Some(_) => {
                "the service cri-dockerd runs as, with the pause image for pod sandboxes \
                        (--sandbox-image), which cri-dockerd takes only as a flag"
            }
            None => "the service cri-dockerd runs as",
        },
        StepKind::File(FileStep {
            path: SERVICE_FILE.to_owned(),
            mode: 0o644,
            owner: None,
            group: None,
            content: FileContent::Full {
                text: service_unit(BINARY, sandbox_image),
            },
            restarts: vec![SERVICE_UNIT.to_owned()],
            skip_when: None,
        }),
    ));
    steps.extend(service_steps(true));
    steps
}

/// Our `cri-docker.socket`. The settings are those of Mirantis' `packaging/systemd/
/// cri-docker.socket` (last changed in 0240e449): the socket in the runtime directory,
/// owned by root and group docker, mode 0660.
pub fn socket_unit() -> String {
    format!(
        "# Written by installer: cri-dockerd's socket, from which systemd starts {SERVICE_UNIT}.\n\
         [Unit]\n\
         Description=CRI socket of cri-dockerd (Docker Engine for the kubelet)\n\
         PartOf={SERVICE_UNIT}\n\
         \n\
         [Socket]\n\
         ListenStream=%t/cri-dockerd.sock\n\
         SocketMode=0660\n\
         SocketUser=root\n\
         SocketGroup=docker\n\
         \n\
         [Install]\n\
         WantedBy=sockets.target\n"
    )
}

/// Our `cri-docker.service`, running `binary` on the socket systemd hands it (`fd://`). The
/// settings are those of Mirantis' `packaging/systemd/cri-docker.service` (33b18752): notify
/// type, after docker, restarted always, no resource limits on what it starts, and only the
/// main process killed on stop so that containers outlive a restart of the adapter.
pub fn service_unit(binary: &str, sandbox_image: Option<&str>) -> String {
    let image = sandbox_image
        .map(|i| format!(" --pod-infra-container-image={i}"))
        .unwrap_or_default();
    format!(
        "# Written by installer: cri-dockerd, through which the kubelet drives Docker Engine.\n\
         [Unit]\n\
         Description=cri-dockerd, the CRI adapter for Docker Engine\n\
         Documentation=https://github.com/Mirantis/cri-dockerd\n\
         After=network-online.target firewalld.service docker.service\n\
         Wants=network-online.target\n\
         Requires={SOCKET_UNIT}\n\
         \n\
         [Service]\n\
         Type=notify\n\
         ExecStart={binary} --container-runtime-endpoint fd://{image}\n\
         ExecReload=/bin/kill -s HUP $MAINPID\n\
         TimeoutSec=0\n\
         RestartSec=2\n\
         Restart=always\n\
         StartLimitBurst=3\n\
         StartLimitInterval=60s\n\
         LimitNOFILE=infinity\n\
         LimitNPROC=infinity\n\
         LimitCORE=infinity\n\
         TasksMax=infinity\n\
         Delegate=yes\n\
         KillMode=process\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// MCR's cri-dockerd package: docker-ee recommends `cri-dockerd-ee` (Mirantis/launchpad
/// `pkg/product/common/config/mcr_config.go`, the `InstallRecommends` comment, PRODENG-3641),
/// so a host that skips recommended packages gets none unless the plan names it.
pub const EE_PACKAGE: &str = "cri-dockerd-ee";

/// What no public source confirms about [`EE_PACKAGE`], for the plan to say.
pub const EE_UNCONFIRMED: &str = "cri-dockerd-ee's unit names (cri-docker.socket, \
     cri-docker.service) and binary (/usr/bin/cri-dockerd) are taken from Mirantis' open-source \
     packaging and are not confirmed for the -ee package; the plan's last check fails if its \
     socket unit is named otherwise";

/// A cri-dockerd package named `name`, unpinned: it follows the engine it adapts.
pub fn package(name: &str) -> Package {
    Package {
        name: name.to_owned(),
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
    steps.extend(service_steps(sandbox_image.is_some()));
    steps
}

/// Enabling the socket and the service, and checking the socket is the one we report.
/// `daemon_reload` when the plan writes unit files or drop-ins.
fn service_steps(daemon_reload: bool) -> Vec<Step> {
    let mut steps = Vec::new();
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
            daemon_reload,
        }),
    ));
    steps.push(Step::new(
        Phase::Services,
        format!("enable {SERVICE_UNIT}, restart it when it changed"),
        "so that a changed pause image or binary takes effect now rather than at the next reboot",
        StepKind::Service(ServiceStep {
            unit: SERVICE_UNIT.to_owned(),
            enable: true,
            start: false,
            restart_on_change: true,
            daemon_reload,
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
