# Filters for playbooks rendered by `installer render --format ansible`: the version a pin
# resolves to among those a package manager lists, and the known vulnerabilities a resolved
# version falls in. They read versions exactly as installer run does (plugin-api's version.rs:
# whole leading components, epoch-aware; dpkg's ordering), which a test holds them to.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError


def _split_epoch(version):
    epoch, sep, rest = version.partition(":")
    if sep and epoch and epoch.isdigit() and epoch.isascii():
        return epoch, rest
    return None, version


def _split_revision(version):
    upstream, sep, revision = version.rpartition("-")
    return (upstream, revision) if sep else (version, "")


def _compare_numbers(a, b):
    a = a.lstrip("0")
    b = b.lstrip("0")
    return (len(a) > len(b)) - (len(a) < len(b)) or (a > b) - (a < b)


def _weight(c):
    if c is None or c.isdigit():
        return 0
    if c == "~":
        return -1
    if c.isascii() and c.isalpha():
        return ord(c)
    return ord(c) + 256


def _is_digit(c):
    return "0" <= c <= "9"


def _compare_part(a, b):
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            wa = _weight(a[i] if i < len(a) else None)
            wb = _weight(b[j] if j < len(b) else None)
            if wa != wb:
                return (wa > wb) - (wa < wb)
            i += 1
            j += 1
        start_a = i
        while i < len(a) and _is_digit(a[i]):
            i += 1
        start_b = j
        while j < len(b) and _is_digit(b[j]):
            j += 1
        order = _compare_numbers(a[start_a:i] or "0", b[start_b:j] or "0")
        if order:
            return order
    return 0


def compare(a, b):
    """dpkg's order of two versions: -1, 0 or 1."""
    a_epoch, a_rest = _split_epoch(a)
    b_epoch, b_rest = _split_epoch(b)
    a_up, a_rev = _split_revision(a_rest)
    b_up, b_rev = _split_revision(b_rest)
    return (
        _compare_numbers(a_epoch or "0", b_epoch or "0")
        or _compare_part(a_up, b_up)
        or _compare_part(a_rev, b_rev)
    )


def _alnum(c):
    return c.isascii() and c.isalnum()


def matches(pin, candidate):
    """Whether `candidate` starts with the whole leading components of `pin`."""
    pin_epoch, pin_rest = _split_epoch(pin)
    cand_epoch, cand_rest = _split_epoch(candidate)
    if not pin_rest:
        return False
    if pin_epoch is not None and _compare_numbers(pin_epoch, cand_epoch or "0") != 0:
        return False
    if not cand_rest.startswith(pin_rest):
        return False
    after = cand_rest[len(pin_rest):]
    pin_ends_component = not _alnum(pin_rest[-1])
    next_starts_component = bool(after) and _alnum(after[0])
    return pin_ends_component or not next_starts_component


def listed_versions(text, names, name_field, version_field, separator=None):
    """The versions a query's output lists for the package."""
    out = []
    for line in text.splitlines():
        if separator:
            fields = [f.strip() for f in line.split(separator)]
        else:
            fields = line.split()
        if len(fields) <= max(name_field, version_field):
            continue
        if fields[name_field] in names and fields[version_field]:
            out.append(fields[version_field])
    return out


def pick(pin, candidates):
    """The highest candidate the pin matches (ties by text), or None."""
    best = None
    for c in candidates:
        if not matches(pin, c):
            continue
        if best is None or compare(c, best) > 0 or (compare(c, best) == 0 and c > best):
            best = c
    return best


def pick_version(text, pin, names, name_field, version_field, separator=None, package=None, missing_ok=False):
    """Filter: the version `pin` resolves to in a version query's output; an error naming the
    package, the pin and what the repositories offer when none matches (or, `missing_ok`, an
    empty string: check mode before the repository is in place, or a version only a probe
    needs)."""
    offered = listed_versions(text, names, name_field, version_field, separator)
    version = pick(pin, offered)
    if version is None and missing_ok:
        return ""
    if version is None:
        raise AnsibleFilterError(
            "no version of %s matches the pin %s (whole components); the repositories offer: %s"
            % (package or names[0], pin, ", ".join(offered) or "none")
        )
    return version


def release(version):
    """(major, minor, patch) of the upstream release a version names, or None."""
    _, rest = _split_epoch(version)
    numeric = re.match(r"[0-9.]*", rest).group(0)
    parts = numeric.split(".")
    try:
        major = int(parts[0])
    except ValueError:
        return None

    def part(i):
        try:
            return int(parts[i])
        except (IndexError, ValueError):
            return 0

    return (major, part(1), part(2))


def vulnerable_to(version, vulnerabilities):
    """Filter: the ids of the vulnerabilities (`{id, affected: [[from, to], ...]}`) whose
    half-open release ranges hold `version`."""
    v = release(version)
    if v is None:
        return []
    hit = []
    for vuln in vulnerabilities:
        for low, high in vuln["affected"]:
            lo, hi = release(low), release(high)
            if lo is not None and hi is not None and lo <= v < hi:
                hit.append(vuln["id"])
                break
    return hit


class FilterModule(object):
    def filters(self):
        return {"pick_version": pick_version, "vulnerable_to": vulnerable_to}
