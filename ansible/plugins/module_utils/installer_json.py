# Shared by the collection's modules: run installer with --output json and read its one JSON
# document, and the words of a failure from that document (installer's error document, or a
# failed run's report), never from stderr.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json


def run_json(module, argv):
    """Runs argv; (rc, the JSON document installer printed, stderr)."""
    rc, out, err = module.run_command(argv)
    try:
        doc = json.loads(out) if out.strip() else {}
    except ValueError:
        module.fail_json(msg="installer printed no JSON document: %s" % (err or out).strip(), rc=rc)
    return rc, doc, err


def fail(module, rc, doc, err, what, **extra):
    """Fails the task with installer's message and hint from `doc` (else stderr)."""
    error = doc.get("error") or {}
    message = error.get("message") if isinstance(error, dict) else None
    hint = error.get("hint") if isinstance(error, dict) else None
    if message and hint:
        message = "%s (hint: %s)" % (message, hint)
    module.fail_json(msg=(message or err or "%s failed" % what).strip(), rc=rc, report=doc, **extra)
