//! The plan as cloud-init user-data: the reviewed script (`render --format sh`) written by
//! `write_files` and run once by `runcmd` on the node's first boot, so that facts left `auto`
//! (the architecture, the cgroup driver, the versions a pin resolves to) are decided on the
//! node itself.
//!
//! Keys from cloud-init's own schema (`cloud-init schema`; cc_write_files, cc_runcmd):
//! `write_files` entries take `path`, `owner`, `permissions` and `content`; `runcmd` takes
//! each command as a list (argv, no shell). The script is a YAML block scalar, so that the
//! user-data reads as the script it carries; the tests read it back with a YAML parser.

use std::fmt::Write as _;

use crate::compose::Plan;

/// Where the script is written on the node.
pub const SCRIPT_PATH: &str = "/var/lib/installer/cloud-init/install.sh";

/// `#cloud-config` user-data running `script`, rendered from `plan`, on first boot.
pub fn cloud_init(plan: &Plan, script: &str) -> String {
    let mut out = format!(
        "#cloud-config\n# installer's plan for runtime {} on {}: the script is what `installer render --format sh` prints.\nwrite_files:\n- path: {SCRIPT_PATH}\n  owner: root:root\n  permissions: '0700'\n  content: |\n",
        plan.runtime, plan.distro.id
    );
    for line in script.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "    {line}");
        }
    }
    let _ = write!(out, "runcmd:\n- [sh, {SCRIPT_PATH}]\n");
    out
}
