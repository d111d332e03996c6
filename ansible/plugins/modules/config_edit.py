#!/usr/bin/python
# The config_edit module: one config edit of installer's plan (containerd's config.toml,
# daemon.json, a CRI-O drop-in, the kubelet's files) applied on the node by `installer
# edit-file`, which is run's own editor: in place, the site's keys and comments kept, the old
# file backed up, the new one written atomically. Playbooks rendered by `installer render
# --format ansible` use it for these edits and Ansible's own modules for everything else.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: config_edit
short_description: Edit a runtime's config file in place as installer run does
description:
  - Applies one C(merge_file) edit of an installer plan to one file with
    C(installer edit-file): TOML keys set in place (comments and the site's own keys kept),
    JSON merged, YAML or env-file settings set.
  - Reports C(changed) only when the file changed; check mode reports what would change
    and changes nothing; diff mode shows the diff.
  - The installer binary must be on the node (the role C(installer.runtime.node) puts it
    there).
options:
  path:
    description: The file (absolute).
    type: str
    required: true
  merge:
    description: The edit, the C(merge) object of the plan's C(merge_file) action.
    type: dict
    required: true
  mode:
    description: Permission bits of a new file, octal.
    type: str
    default: "0644"
  owner:
    description: Owner of a new file.
    type: str
  group:
    description: Group of a new file.
    type: str
  overrides:
    description: Keys whose value in the existing file the edit replaces (run's --override).
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
author:
  - installer developers
"""

EXAMPLES = r"""
- name: containerd's CRI plugin enabled, runc on the systemd cgroup driver
  installer.runtime.config_edit:
    path: /etc/containerd/config.toml
    merge:
      how: toml_edit
      initial: "version = 2\n"
      edits:
        - op: remove_from_array
          path: [disabled_plugins]
          values: [cri, io.containerd.grpc.v1.cri]
        - op: set
          path: [plugins, io.containerd.grpc.v1.cri, containerd, runtimes, runc, options, SystemdCgroup]
          value: true
"""

RETURN = r"""
report:
  description: installer's report of the edit (or, in check mode, whether it would change).
  returned: always
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.installer.runtime.plugins.module_utils.installer_json import fail, run_json


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="str", required=True),
            merge=dict(type="dict", required=True),
            mode=dict(type="str", default="0644"),
            owner=dict(type="str"),
            group=dict(type="str"),
            overrides=dict(type="list", elements="str", default=[]),
            root=dict(type="path", default="/"),
            binary=dict(type="path", default="installer"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    argv = [
        p["binary"],
        "edit-file",
        "--output",
        "json",
        "--root",
        p["root"],
        "--path",
        p["path"],
        "--merge",
        json.dumps(p["merge"]),
        "--mode",
        p["mode"],
    ]
    for name in ("owner", "group"):
        if p[name]:
            argv += ["--" + name, p[name]]
    for key in p["overrides"]:
        argv += ["--override", key]
    if module.check_mode:
        argv.append("--dry-run")
    rc, doc, err = run_json(module, argv)
    if rc != 0:
        fail(module, rc, doc, err, "installer edit-file")
    if module.check_mode:
        changed = bool(doc.get("changed"))
        diffs = [doc["diff"]] if doc.get("diff") else []
        skipped = [doc["skipped"]] if doc.get("skipped") else []
    else:
        steps = doc.get("steps", [])
        changed = any(s.get("status") == "changed" for s in steps)
        diffs = [d for s in steps for d in s.get("diffs", [])]
        skipped = [n for s in steps if s.get("status") == "skipped" for n in s.get("notes", [])]
    # A file another tool writes (kubeadm's kubelet configuration) that is not there yet is
    # left alone, with a warning, as installer run does.
    for why in skipped:
        module.warn(why)
    result = dict(changed=changed, report=doc)
    if module._diff and diffs:
        result["diff"] = [dict(before_header=p["path"], after_header=p["path"], prepared=d) for d in diffs]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
