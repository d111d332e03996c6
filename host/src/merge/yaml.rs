//! Top-level scalar keys of an existing YAML document set in place (yaml-edit's lossless
//! tree), every other key, its order and the comments kept; the result is read back with
//! serde to prove it says what was asked.

use std::collections::BTreeMap;
use std::str::FromStr;

use super::MergeError;

pub(super) fn set(
    path: &str,
    existing: Option<&str>,
    values: &BTreeMap<String, String>,
) -> Result<String, MergeError> {
    let unparsable = |detail: String| MergeError::Unparsable {
        path: path.to_owned(),
        format: "YAML",
        detail,
    };
    let Some(text) = existing else {
        return Err(MergeError::Missing {
            path: path.to_owned(),
            why: "kubeadm writes the kubelet's configuration at `kubeadm init` or `join`"
                .to_owned(),
        });
    };
    if text.contains('\r') {
        return Err(unparsable(
            "it has CRLF line endings; edit it by hand (the script could not keep them)".to_owned(),
        ));
    }
    // The site's document must already be one a YAML reader accepts, as a mapping (one
    // document: a stream of several is refused by the reader).
    let before: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| unparsable(e.to_string()))?;
    if !before.is_mapping() {
        return Err(MergeError::NotATable {
            path: path.to_owned(),
            key: "(the document)".to_owned(),
            found: "YAML value other than a mapping".to_owned(),
        });
    }
    if values
        .iter()
        .all(|(k, v)| before.get(k).and_then(|x| x.as_str()) == Some(v.as_str()))
    {
        return Ok(text.to_owned());
    }
    let file = yaml_edit::YamlFile::from_str(text).map_err(|e| unparsable(e.to_string()))?;
    let doc = file
        .document()
        .ok_or_else(|| unparsable("no document".to_owned()))?;
    for (key, value) in values {
        if !doc.set(key.as_str(), value.as_str()) {
            return Err(unparsable(format!("cannot set `{key}`")));
        }
    }
    // The file, not the document: comments and a `---` before the document are the file's.
    let mut out = file.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    // Read back: every key asked for says its value, and nothing else moved.
    let after: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&out).map_err(|e| unparsable(format!("after the edit: {e}")))?;
    let mut expected = before;
    if let Some(map) = expected.as_mapping_mut() {
        for (key, value) in values {
            map.insert(key.as_str().into(), value.as_str().into());
        }
    }
    if after != expected {
        return Err(unparsable(
            "the edit would change more than the keys asked for; the file was left as it is"
                .to_owned(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBELET: &str = "apiVersion: kubelet.config.k8s.io/v1beta1\nauthentication:\n  anonymous:\n    enabled: false  # keep\n# the driver\ncgroupDriver: cgroupfs\nclusterDNS:\n- 10.96.0.10\nkind: KubeletConfiguration\n";

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn keys_are_set_in_place_and_everything_else_stays() {
        let out = set(
            "/var/lib/kubelet/config.yaml",
            Some(KUBELET),
            &values(&[
                ("cgroupDriver", "systemd"),
                (
                    "containerRuntimeEndpoint",
                    "unix:///run/containerd/containerd.sock",
                ),
            ]),
        )
        .unwrap();
        assert!(
            out.contains("# the driver\ncgroupDriver: systemd\n"),
            "{out}"
        );
        assert!(out.contains("    enabled: false  # keep\n"), "{out}");
        assert!(out.contains("containerRuntimeEndpoint: unix:///run/containerd/containerd.sock"));
        // A second pass changes nothing.
        let again = set(
            "/var/lib/kubelet/config.yaml",
            Some(&out),
            &values(&[("cgroupDriver", "systemd")]),
        )
        .unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn a_missing_or_broken_document_is_refused_naming_it() {
        let err = set("/k.yaml", None, &values(&[("a", "b")])).unwrap_err();
        assert!(err.to_string().contains("kubeadm"), "{err}");
        let err = set("/k.yaml", Some("a: [1,\n"), &values(&[("a", "b")])).unwrap_err();
        assert!(
            err.to_string().contains("/k.yaml is not valid YAML"),
            "{err}"
        );
        let err = set("/k.yaml", Some("- 1\n- 2\n"), &values(&[("a", "b")])).unwrap_err();
        assert!(err.to_string().contains("mapping"), "{err}");
    }
}
