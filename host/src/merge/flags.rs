//! The command-line flags an environment file's variable holds (kubeadm's
//! `KUBELET_KUBEADM_ARGS="--flag=value ..."`), edited flag by flag: every other flag keeps its
//! place and spelling, every other line is kept as written.

use std::collections::BTreeMap;

use super::MergeError;

pub(super) fn edit(
    path: &str,
    existing: Option<&str>,
    variable: &str,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> Result<String, MergeError> {
    let Some(text) = existing else {
        return Err(MergeError::Missing {
            path: path.to_owned(),
            why: "kubeadm writes the kubelet's flags at `kubeadm init` or `join`".to_owned(),
        });
    };
    if text.contains('\r') {
        return Err(MergeError::Unparsable {
            path: path.to_owned(),
            format: "environment file",
            detail: "it has CRLF line endings; edit it by hand (the script could not keep them)"
                .to_owned(),
        });
    }
    let prefix = format!("{variable}=");
    // systemd takes the last assignment of a variable (systemd.exec, EnvironmentFile=):
    // that is the one edited.
    let last = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(&prefix))
        .map(|(n, _)| n)
        .last();
    let mut found = false;
    let mut lines: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        match line.strip_prefix(&prefix) {
            Some(value) if Some(n) == last => {
                found = true;
                let (quote, inner) = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"'))
                {
                    Some(inner) => ("\"", inner),
                    None => ("", value),
                };
                let edited = edit_flags(inner, set, remove);
                if edited == inner.split_whitespace().collect::<Vec<_>>().join(" ") {
                    lines.push(line.to_owned());
                } else {
                    lines.push(format!("{prefix}{quote}{edited}{quote}"));
                }
            }
            _ => lines.push(line.to_owned()),
        }
    }
    if !found {
        lines.push(format!("{prefix}\"{}\"", edit_flags("", set, remove)));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    if out.trim_end() == text.trim_end() {
        return Ok(text.to_owned());
    }
    Ok(out)
}

/// The flags of `value` with `set` given their values and `remove` dropped.
fn edit_flags(value: &str, set: &BTreeMap<String, String>, remove: &[String]) -> String {
    let tokens: Vec<&str> = value.split_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let (name, inline) = match token.split_once('=') {
            Some((name, _)) => (name, true),
            None => (token, false),
        };
        let ours = set.contains_key(name) || remove.iter().any(|r| r == name);
        // `--flag value`: the value is the next word when it is not a flag.
        let width = if ours && !inline && tokens.get(i + 1).is_some_and(|n| !n.starts_with('-')) {
            2
        } else {
            1
        };
        if let Some(value) = set.get(name) {
            if !done.contains(&name) {
                out.push(format!("{name}={value}"));
                done.push(name);
            }
        } else if !ours {
            out.push(token.to_owned());
        }
        i += width;
    }
    for (name, value) in set {
        if !done.contains(&name.as_str()) {
            out.push(format!("{name}={value}"));
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 004's node, as kubeadm wrote it for a kubelet on Docker.
    const SEED: &str = "KUBELET_KUBEADM_ARGS=\"--network-plugin=cni --pod-infra-container-image=k8s.gcr.io/pause:3.2\"\n";

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn flags_are_set_in_place_or_appended_and_the_rest_kept() {
        let out = edit(
            "/var/lib/kubelet/kubeadm-flags.env",
            Some(SEED),
            "KUBELET_KUBEADM_ARGS",
            &set(&[
                ("--container-runtime", "remote"),
                (
                    "--container-runtime-endpoint",
                    "unix:///run/containerd/containerd.sock",
                ),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(
            out,
            "KUBELET_KUBEADM_ARGS=\"--network-plugin=cni --pod-infra-container-image=k8s.gcr.io/pause:3.2 --container-runtime=remote --container-runtime-endpoint=unix:///run/containerd/containerd.sock\"\n"
        );
        // Again: nothing changes.
        let again = edit(
            "/f",
            Some(&out),
            "KUBELET_KUBEADM_ARGS",
            &set(&[("--container-runtime", "remote")]),
            &[],
        )
        .unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn a_removed_flag_goes_in_either_spelling_and_a_set_one_replaces_the_old_value() {
        let text = "# kubeadm\nKUBELET_KUBEADM_ARGS=\"--container-runtime remote --cgroup-driver=cgroupfs --v=2\"\n";
        let out = edit(
            "/f",
            Some(text),
            "KUBELET_KUBEADM_ARGS",
            &set(&[("--cgroup-driver", "systemd")]),
            &["--container-runtime".to_owned()],
        )
        .unwrap();
        assert_eq!(
            out,
            "# kubeadm\nKUBELET_KUBEADM_ARGS=\"--cgroup-driver=systemd --v=2\"\n"
        );
    }

    #[test]
    fn a_missing_file_is_refused() {
        let err = edit("/f", None, "V", &set(&[("--a", "b")]), &[]).unwrap_err();
        assert!(err.to_string().contains("kubeadm"), "{err}");
    }
}
