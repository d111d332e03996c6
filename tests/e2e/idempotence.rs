//! A second `run` with the same selection: every step unchanged, no package-manager
//! transaction, no file touched.

use crate::containerd::MirrorSetup;
use crate::support::apt_repo::Variant;
use crate::support::mtimes;

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_second_run_changes_nothing_and_starts_no_transaction() {
    let setup = MirrorSetup::new("second-run", Variant::Working);
    let root = &setup.root;
    setup.run().expect_code(0);

    let etc = mtimes(&root.join("/etc"));
    let dpkg = mtimes(&root.join("/var/lib/dpkg"));
    let started = std::time::Instant::now();
    let second = setup.run();
    let took = started.elapsed();
    second.expect_code(0);

    let changed: Vec<String> = second
        .steps()
        .iter()
        .filter(|s| s["status"] != "unchanged" && s["status"] != "skipped")
        .map(|s| s.to_string())
        .collect();
    assert!(
        changed.is_empty(),
        "steps changed on a second run: {changed:#?}"
    );
    assert_eq!(second.transactions(), 0, "{}", second.stdout);
    assert!(
        second.files_changed().is_empty(),
        "{:?}",
        second.files_changed()
    );
    let etc_after = mtimes(&root.join("/etc"));
    let touched: Vec<_> = etc_after
        .iter()
        .filter(|(p, t)| etc.get(*p) != Some(*t))
        .map(|(p, _)| p)
        .collect();
    assert!(
        touched.is_empty(),
        "/etc changed on a second run: {touched:?}"
    );
    assert_eq!(etc.len(), etc_after.len(), "files appeared or went in /etc");
    assert_eq!(
        dpkg,
        mtimes(&root.join("/var/lib/dpkg")),
        "dpkg's database changed"
    );
    eprintln!("second run: {:.2} s", took.as_secs_f64());
}
