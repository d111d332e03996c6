use super::*;

#[test]
fn a_resolved_version_in_an_affected_range_is_refused_unless_accepted() {
    let runc = Vulnerability {
        id: "CVE-2024-21626".into(),
        what: "a leaked descriptor".into(),
        affected: vec![("1.4.4".into(), "1.6.28".into())],
    };
    let mut gate = VulnerabilityGate {
        packages: BTreeMap::from([("containerd.io".to_owned(), vec![runc])]),
        allowed: Vec::new(),
    };
    let why = gate.refuse("containerd.io", "1.6.20-1", "1.6").unwrap();
    assert!(why.contains("--allow-vulnerable CVE-2024-21626"), "{why}");
    assert!(why.contains("containerd.io 1.6.20-1"), "{why}");
    // The end of the range is fixed; other packages are not judged.
    assert!(gate.refuse("containerd.io", "1.6.28-1", "1.6").is_none());
    assert!(gate.refuse("docker-ce", "1.6.20-1", "1.6").is_none());
    gate.allowed.push("cve-2024-21626".into());
    assert!(gate.refuse("containerd.io", "1.6.20-1", "1.6").is_none());
}
