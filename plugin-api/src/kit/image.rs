//! `--sandbox-image`: checked against the container image-reference grammar before it is
//! written into a runtime's configuration, where a bad value only shows up as pods that never
//! start.

use crate::PluginError;

/// Checks that `reference` is a valid image reference:
/// `[host[:port]/]path[:tag][@algorithm:hex]`, with a lowercase path
/// (`registry.k8s.io/pause:3.10`, `localhost:5000/pause@sha256:...`).
pub fn check(reference: &str) -> Result<(), PluginError> {
    problem(reference).map_or(Ok(()), |why| {
        Err(PluginError::invalid_input(format!(
            "--sandbox-image `{}` is not a valid image reference: {why}",
            reference.escape_debug()
        ))
        .with_hint(
            "write [REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST] with a lowercase name, \
             e.g. --sandbox-image registry.k8s.io/pause:3.10",
        ))
    })
}

fn problem(reference: &str) -> Option<String> {
    if reference.is_empty() {
        return Some("it is empty".to_owned());
    }
    if let Some(c) = reference
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return Some(format!("it contains {:?}", c));
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        if let Some(why) = digest_problem(digest) {
            return Some(why);
        }
    }
    // A tag follows the last `:` that comes after the last `/` (a `:` before it is a port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Some(format!(
                "the tag `{tag}` must be 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
            ));
        }
    }
    if name.len() > 255 {
        return Some("the name is longer than 255 characters".to_owned());
    }
    let mut components: Vec<&str> = name.split('/').collect();
    // The first component is a registry when it looks like a host: it has a `.` or a port,
    // or it is `localhost`.
    if components.len() > 1 && (components[0].contains(['.', ':']) || components[0] == "localhost")
    {
        let host = components.remove(0);
        if let Some(why) = host_problem(host) {
            return Some(why);
        }
    }
    for component in components {
        if !path_component_ok(component) {
            return Some(format!(
                "the path component `{component}` must be lowercase letters and digits, \
                 separated by single `.`, `_`, `__` or runs of `-`"
            ));
        }
    }
    None
}

fn digest_problem(digest: &str) -> Option<String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Some(format!("the digest `{digest}` has no `algorithm:` prefix"));
    };
    let hex_ok = |len: usize| hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let ok = match algorithm {
        "sha256" => hex_ok(64),
        "sha512" => hex_ok(128),
        _ => false,
    };
    (!ok).then(|| {
        format!("the digest `{digest}` is not sha256:<64 hex digits> or sha512:<128 hex digits>")
    })
}

fn host_problem(host: &str) -> Option<String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!("the registry port in `{host}` is not a number"));
        }
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.split('.').all(label_ok) {
        None
    } else {
        Some(format!("the registry `{host}` is not a host name"))
    }
}

fn path_component_ok(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__` or one or more `-`, always between alphanumerics.
        let start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= bytes.len() || !alnum(bytes[i]) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_references() {
        for good in [
            "registry.k8s.io/pause:3.10",
            "k8s.gcr.io/pause:3.2",
            "pause",
            "library/pause:latest",
            "localhost:5000/pause:3.9",
            "localhost/pause",
            "127.0.0.1:5000/team/pause:3.9",
            "my-registry.example.com/mirror/k8s/pause_x:v3.9-rc.1",
            "registry.k8s.io/pause@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a",
            "registry.k8s.io/pause:3.10@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a",
        ] {
            assert!(check(good).is_ok(), "{good}: {:?}", check(good));
        }
    }

    #[test]
    fn refuses_what_a_runtime_would_not_pull() {
        for bad in [
            "",
            "Registry.k8s.io/Pause:3.10",
            "registry.k8s.io/pause:",
            "registry.k8s.io/pause:3.10 --debug",
            "registry.k8s.io/pause@sha256:abc",
            "registry.k8s.io//pause",
            "registry.k8s.io/pause:.hidden",
            "registry.k8s.io:port/pause",
            "-bad.example/pause",
            "pause;reboot",
            "registry.k8s.io/pa..use",
        ] {
            let e = check(bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidInput, "{bad}");
            assert!(e.message.contains("--sandbox-image"), "{}", e.message);
            assert!(e.hint.as_deref().unwrap().contains("registry.k8s.io/pause"));
        }
    }
}
