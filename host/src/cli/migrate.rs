//! `installer migrate --from docker --to containerd|cri-o`: the new runtime's plan with the
//! migration's own steps around it, run like any other plan.

use std::process::ExitCode;

use super::args::{MigrateArgs, RenderFormat};
use super::{plan, run as apply_run, Context};
use crate::compose::migrate::{self, Drain, Migration, KUBEADM_FLAGS};
use crate::target::{Target, FILE_LIMIT};
use crate::Error;

/// Docker's packages: docker-ce and docker-ce-cli from Docker's repositories (seed 004
/// removes those two and keeps containerd.io), docker.io from Debian's and Ubuntu's archives
/// (which depends on their separate containerd package). Each is removed only where
/// installed.
const DOCKER_PACKAGES: &[&str] = &["docker-ce", "docker-ce-cli", "docker.io"];

/// Where kubeadm's kubelet unit reads KUBELET_EXTRA_ARGS (Debian family, RHEL family),
/// given after kubeadm-flags.env's flags, so winning over them.
const KUBELET_EXTRA_ARGS: &[&str] = &["/etc/default/kubelet", "/etc/sysconfig/kubelet"];

/// The admin kubeconfig kubeadm leaves on control-plane nodes: what cordon and drain need
/// (a node's own kubelet.conf may not cordon or drain, the node authorizer forbids it).
const ADMIN_KUBECONFIG: &str = "/etc/kubernetes/admin.conf";

/// Builds and runs the migration's plan.
pub fn run(ctx: &Context, args: &MigrateArgs) -> Result<ExitCode, Error> {
    if args.render == Some(RenderFormat::Ansible) {
        return Err(Error::input(
            "migrate --render ansible: a migration is planned from what this node's kubelet and Docker show, so it is not rendered as a playbook for other nodes",
            "render it per node with --render sh (or cloud-init), or have Ansible run `installer migrate` on each node",
        ));
    }
    let mut selection = args.run.selection.clone();
    match &selection.runtime {
        Some(runtime) if runtime != &args.to => {
            return Err(Error::input(
                format!(
                    "--runtime {runtime} and --to {} name different runtimes",
                    args.to
                ),
                "leave --runtime out: migrate installs the runtime --to names",
            ))
        }
        _ => selection.runtime = Some(args.to.clone()),
    }
    selection.configure_kubelet = true;
    if args.remove_docker {
        selection.remove_packages = DOCKER_PACKAGES.iter().map(|p| (*p).to_owned()).collect();
    }
    let kubelet = selection
        .kubernetes_version
        .as_deref()
        .and_then(crate::compose::kubelet::minor)
        .ok_or_else(|| {
            Error::input(
                "migrate needs the kubelet's version: its flags differ by version (1.24 removed the dockershim flags, 1.27 --container-runtime)",
                "pass --kubernetes-version X.Y, the kubelet's (`kubelet --version` on the node)",
            )
        })?;
    let target = ctx.target()?;
    let node = match &args.node {
        Some(node) => node.clone(),
        None => hostname(&target)?,
    };
    if node.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(Error::input(
            format!("--node {node}: a Kubernetes node's name is in lower case"),
            "name it as `kubectl get nodes` lists it",
        ));
    }
    crate::options::check_token(&node, "--node", &plugin_api::validate::NODE_NAME)?;
    let [cordon, drain_cmd] = migrate::drain_commands(&node);
    let undrained = format!(
        "node {node} must be drained before its runtime changes, and this node has no kubectl with {ADMIN_KUBECONFIG} to do it"
    );
    let drain_hint = format!(
        "from a machine with cluster access run `{cordon}` and `{drain_cmd}`, then run migrate again with --drained"
    );
    let mut warnings = Vec::new();
    let drain = if args.drained {
        Drain::ByHand
    } else if target.exists(ADMIN_KUBECONFIG) && has_kubectl(&target) {
        Drain::Kubectl {
            kubeconfig: ADMIN_KUBECONFIG.to_owned(),
        }
    } else if args.run.dry_run {
        // The plan is still worth seeing; the run itself will ask for --drained.
        warnings.push(format!("{undrained}: the run will refuse; {drain_hint}"));
        Drain::ByHand
    } else {
        return Err(Error::input(
            format!("{undrained}; nothing was changed"),
            drain_hint,
        ));
    };
    let (mut built, resolved) = plan::build_with_options(ctx, &target, &selection)?;
    let flags_now = target
        .read(KUBEADM_FLAGS, FILE_LIMIT)
        .ok()
        .flatten()
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned());
    let Some(flags) = flags_now.as_deref() else {
        return Err(Error::input(
            format!("{KUBEADM_FLAGS} does not exist in {}: this is not a node kubeadm set up, and nothing would point its kubelet at {}; nothing was changed", target.dir().display(), args.to),
            "migrate moves kubeadm nodes; point another kubelet at the new runtime's socket yourself (its --container-runtime-endpoint)",
        ));
    };
    // Flags the kubelet reads after kubeadm's, which would keep it on the old runtime.
    for extra in KUBELET_EXTRA_ARGS {
        if let Some(file) = target.read(extra, FILE_LIMIT).ok().flatten() {
            let text = String::from_utf8_lossy(&file.bytes);
            if let Some(flag) = [
                "--container-runtime-endpoint",
                "--container-runtime",
                "--cgroup-driver",
            ]
            .into_iter()
            .find(|f| text.contains(f))
            {
                return Err(Error::input(
                    format!("{extra} sets {flag} for the kubelet, after the flags migrate edits, so it would keep the kubelet as it is; nothing was changed"),
                    format!("remove {flag} from KUBELET_EXTRA_ARGS in {extra}, then run migrate again"),
                ));
            }
        }
    }
    let flags_now = Some(flags.to_owned());
    let migration = Migration {
        from: args.from.clone(),
        to: args.to.clone(),
        node,
        kubelet,
        drain,
    };
    migrate::extend(&mut built, &migration, flags_now.as_deref());
    built.warnings.extend(warnings);
    built.migration = Some(migration);
    match args.render {
        Some(RenderFormat::Sh) => {
            print!("{}", crate::render::sh(&built));
            return Ok(ExitCode::SUCCESS);
        }
        Some(RenderFormat::Json) => {
            super::json::print_json(&built);
            return Ok(ExitCode::SUCCESS);
        }
        Some(RenderFormat::CloudInit) => {
            print!(
                "{}",
                crate::render::cloud_init(&built, &crate::render::sh(&built))
            );
            return Ok(ExitCode::SUCCESS);
        }
        Some(RenderFormat::Ansible) => unreachable!("refused before anything is read"),
        None => {}
    }
    apply_run::apply(ctx, &target, &built, &resolved, &args.run)
}

/// The node's name as the kubelet registers it by default: its hostname, in lower case.
fn hostname(target: &Target) -> Result<String, Error> {
    let text = target
        .read("/etc/hostname", 4096)
        .ok()
        .flatten()
        .map(|f| {
            String::from_utf8_lossy(&f.bytes)
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|h| !h.is_empty());
    text.ok_or_else(|| {
        Error::input(
            format!(
                "cannot tell the node's name: {} has no /etc/hostname",
                target.dir().display()
            ),
            "name it with --node NAME (as `kubectl get nodes` lists it)",
        )
    })
}

fn has_kubectl(target: &Target) -> bool {
    [
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
        "/usr/local/sbin",
        "/usr/sbin",
    ]
    .iter()
    .any(|d| target.exists(&format!("{d}/kubectl")))
}
