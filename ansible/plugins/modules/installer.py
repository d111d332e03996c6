#!/usr/bin/python
# The installer module: runs `installer run` on the node for one selection and reports as
# Ansible modules do. Check mode asks `installer verify` (what would change), diff mode shows
# the config files' diffs, and a failure carries installer's own message and exit code.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: installer
short_description: Install and configure a container runtime with installer
description:
  - Runs C(installer run --yes --output json) on the node for the selection given, which
    installs the runtime (containerd, Docker Engine, CRI-O, Mirantis Container Runtime),
    pins and holds its packages and edits its configuration in place.
  - A second run changes nothing and reports C(changed=false).
  - In check mode it runs C(installer verify) instead and reports C(changed) when the node
    differs from the plan; with C(--diff) the config files' diffs are shown.
options:
  runtime:
    description: The runtime plugin.
    type: str
    required: true
  distro:
    description: Distro pack id; detected from the node's os-release when not given.
    type: str
  version:
    description: Runtime version to pin.
    type: str
  kubernetes_version:
    description: Target Kubernetes version, X.Y.
    type: str
  cgroup_driver:
    description: cgroup driver for the runtime and the kubelet.
    type: str
    choices: [systemd, cgroupfs, auto]
  sandbox_image:
    description: Pause image for the runtime.
    type: str
  source:
    description: Vendor repository or the distro's own archive.
    type: str
    choices: [upstream, distro]
  mirror:
    description: Base URL replacing the vendor repository.
    type: str
  set:
    description: Plugin options, KEY to VALUE.
    type: dict
    default: {}
  configure_kubelet:
    description: Also align the kubelet's cgroup driver and runtime endpoint.
    type: bool
    default: false
  allow_vulnerable:
    description:
      - CVE ids to accept in the version a pin resolves to (run's --allow-vulnerable); by
        default a version with a known container escape is refused.
    type: list
    elements: str
    default: []
  root:
    description: The system to act on (an image root); the node itself by default.
    type: path
    default: /
  binary:
    description: The installer binary.
    type: path
    default: installer
  plugin_dirs:
    description: Extra plugin directories, searched first.
    type: list
    elements: path
    default: []
author:
  - installer developers
"""

EXAMPLES = r"""
- name: containerd on every node, kubelet aligned
  installer.runtime.installer:
    runtime: containerd
    kubernetes_version: "1.30"
    cgroup_driver: systemd
    configure_kubelet: true
"""

RETURN = r"""
report:
  description: The JSON document installer printed (run's report, or verify's in check mode).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.installer.runtime.plugins.module_utils.installer_json import fail, run_json

SELECTION = {
    "distro": "--distro",
    "version": "--version",
    "kubernetes_version": "--kubernetes-version",
    "cgroup_driver": "--cgroup-driver",
    "sandbox_image": "--sandbox-image",
    "source": "--source",
    "mirror": "--mirror",
}


def selection_args(params):
    args = ["--runtime", params["runtime"], "--root", params["root"]]
    for key, flag in SELECTION.items():
        if params[key] is not None:
            args += [flag, params[key]]
    for key, value in sorted(params["set"].items()):
        args += ["--set", "%s=%s" % (key, value)]
    if params["configure_kubelet"]:
        args.append("--configure-kubelet")
    for cve in params["allow_vulnerable"]:
        args += ["--allow-vulnerable", cve]
    for directory in params["plugin_dirs"]:
        args += ["--plugin-dir", directory]
    return args


def main():
    module = AnsibleModule(
        argument_spec=dict(
            runtime=dict(type="str", required=True),
            distro=dict(type="str"),
            version=dict(type="str"),
            kubernetes_version=dict(type="str"),
            cgroup_driver=dict(type="str", choices=["systemd", "cgroupfs", "auto"]),
            sandbox_image=dict(type="str"),
            source=dict(type="str", choices=["upstream", "distro"]),
            mirror=dict(type="str"),
            set=dict(type="dict", default={}),
            configure_kubelet=dict(type="bool", default=False),
            allow_vulnerable=dict(type="list", elements="str", default=[]),
            root=dict(type="path", default="/"),
            binary=dict(type="path", default="installer"),
            plugin_dirs=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    selection = selection_args(params)

    if module.check_mode:
        # What would change: every check of verify that does not pass. Verify exits 1 when
        # one fails, which here means "changed", not an error.
        rc, doc, err = run_json(module, [params["binary"], "verify", "--output", "json"] + selection)
        if rc not in (0, 1):
            fail(module, rc, doc, err, "installer verify")
        # Only what running the plan would put right: not the node's own checks (CRI
        # answering, the kubelet, runc), which a run does not change.
        failing = [
            c for c in doc.get("checks", []) if c.get("status") == "fail" and not c.get("node")
        ]
        result = dict(changed=bool(failing), report=doc)
        if module._diff:
            result["diff"] = [
                dict(before_header=c["check"], after_header=c["check"], prepared=c["diff"])
                for c in failing
                if c.get("diff")
            ]
        module.exit_json(**result)

    rc, doc, err = run_json(module, [params["binary"], "run", "--yes", "--output", "json"] + selection)
    steps = doc.get("steps", [])
    changed = any(step.get("status") == "changed" for step in steps)
    if rc != 0:
        # A failed run's report, or installer's error document: {"error": {"message", "hint",
        # "kind", ...}}. Either way the words come from the JSON, not from stderr.
        fail(module, rc, doc, err, "installer run", changed=changed)
    result = dict(changed=changed, report=doc)
    if module._diff:
        result["diff"] = [
            dict(before_header=step.get("summary", ""), after_header=step.get("summary", ""), prepared=d)
            for step in steps
            for d in step.get("diffs", [])
        ]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
