//! A script for whichever node runs it: facts the user left `auto` (the machine architecture,
//! the cgroup driver) are decided on the node, not on the machine that rendered it. The plan
//! is composed once per value those facts can take; the script probes the node and runs the
//! plan composed for it. Plans that come out the same are written once.

use std::fmt::Write as _;

use plugin_api::CgroupDriver;

use super::sh::{body, head, libraries};
use super::sh_quote;
use crate::compose::Plan;

/// One plan of a script, and the node facts it was composed for.
pub struct Variant {
    /// The architecture in `uname -m` spelling; `None` when the user fixed it (`--arch`).
    pub arch: Option<String>,
    /// The cgroup driver; `None` when the user fixed it (`--cgroup-driver`).
    pub driver: Option<CgroupDriver>,
    /// The plan, or why there is none for such a node (a plugin refused it).
    pub plan: Result<Plan, String>,
}

impl Variant {
    /// The `case` pattern matching `"$node_arch/$node_driver"` on such a node.
    fn pattern(&self) -> String {
        let arches: &[&str] = match self.arch.as_deref() {
            None => &["*"],
            // `uname -m` says aarch64 on Linux; arm64 is what other systems call it.
            Some("aarch64") => &["aarch64", "arm64"],
            Some(a) => &[a][..],
        };
        let driver = self.driver.map(CgroupDriver::as_str).unwrap_or("*");
        arches
            .iter()
            .map(|a| format!("{a}/{driver}"))
            .collect::<Vec<_>>()
            .join("|")
    }

    /// The node facts in words, for comments and messages.
    pub(super) fn describe(&self) -> String {
        let arch = self
            .arch
            .as_deref()
            .unwrap_or("the architecture --arch names");
        match self.driver {
            Some(d) => format!("{arch}, cgroup driver {}", d.as_str()),
            None => arch.to_owned(),
        }
    }
}

/// The shell lines setting `node_arch` and `node_driver` as `run` would decide them on this
/// node: systemd when it is init or the cgroups are v2 (options::auto_cgroup_driver).
const PROBE: &str = r#"node_arch=$(uname -m)
if [ -d /run/systemd/system ] || [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  node_driver=systemd
else
  node_driver=cgroupfs
fi
"#;

/// The script for `variants` (at least one). One plan for every node: the plain script,
/// with the driver and architecture named in its head. Several: a function per distinct plan,
/// and a `case` on the node's facts choosing one.
pub fn sh_for_node(variants: &[Variant]) -> String {
    let plans: Vec<&Plan> = variants
        .iter()
        .filter_map(|v| v.plan.as_ref().ok())
        .collect();
    let first = plans
        .first()
        .expect("the caller returns the error when no variant has a plan");
    // Distinct bodies, in the order first met; each variant points at one.
    let mut bodies: Vec<String> = Vec::new();
    let mut chosen: Vec<Option<usize>> = Vec::new();
    for v in variants {
        chosen.push(v.plan.as_ref().ok().map(|plan| {
            let b = body(plan);
            match bodies.iter().position(|x| *x == b) {
                Some(i) => i,
                None => {
                    bodies.push(b);
                    bodies.len() - 1
                }
            }
        }));
    }
    if let [Variant { plan: Ok(plan), .. }] = variants {
        // Every fact fixed by the user: the plain script.
        return super::sh(plan);
    }
    let mut out = head(first);
    if bodies.len() == 1 && chosen.iter().all(Option::is_some) {
        let _ = writeln!(
            out,
            "# One plan for every node this was rendered for ({}).",
            variants
                .iter()
                .map(Variant::describe)
                .collect::<Vec<_>>()
                .join("; ")
        );
        out.push_str(&libraries(&plans));
        out.push_str(&bodies[0]);
        return out;
    }
    out.push_str(
        "# Decided on the node when this runs, as `installer run` decides it there: the machine\n\
         # architecture (uname -m) and the cgroup driver (systemd when /run/systemd/system exists or\n\
         # the cgroups are v2, else cgroupfs), unless fixed with --arch or --cgroup-driver when\n\
         # rendering. Below, one plan per kind of node, and the case that picks one.\n",
    );
    out.push_str(&libraries(&plans));
    out.push('\n');
    out.push_str(PROBE);
    for (i, b) in bodies.iter().enumerate() {
        let for_whom: Vec<String> = variants
            .iter()
            .zip(&chosen)
            .filter(|(_, c)| **c == Some(i))
            .map(|(v, _)| v.describe())
            .collect();
        let _ = writeln!(out, "\n# The plan for {}.", for_whom.join("; "));
        let _ = writeln!(out, "plan_{}() {{", i + 1);
        out.push_str(b.trim_start_matches('\n'));
        out.push_str("}\n");
    }
    out.push_str("\ncase \"$node_arch/$node_driver\" in\n");
    for (v, c) in variants.iter().zip(&chosen) {
        match (c, &v.plan) {
            (Some(i), _) => {
                let _ = writeln!(out, "{}) plan_{} ;;", v.pattern(), i + 1);
            }
            (None, Err(why)) => {
                let _ = writeln!(
                    out,
                    "{}) say {}; exit 2 ;;",
                    v.pattern(),
                    sh_quote(&format!("no plan for this node ({}): {why}", v.describe()))
                );
            }
            (None, Ok(_)) => unreachable!("a variant with a plan has a body"),
        }
    }
    out.push_str(
        "*) say \"no plan was rendered for architecture $node_arch; render the script with --arch $node_arch\"; exit 2 ;;\nesac\n",
    );
    out
}
