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

    // Every way the second run could have changed something, reported together.
    let mut problems = Vec::new();
    for step in second.steps() {
        if step["status"] != "unchanged" && step["status"] != "skipped" {
            problems.push(format!("step changed: {step}"));
        }
    }
    if second.transactions() != 0 {
        problems.push(format!("{} transactions started", second.transactions()));
    }
    if !second.files_changed().is_empty() {
        problems.push(format!("files changed: {:?}", second.files_changed()));
    }
    let etc_after = mtimes(&root.join("/etc"));
    for (path, t) in &etc_after {
        if etc.get(path) != Some(t) {
            problems.push(format!("/etc/{} touched or new", path.display()));
        }
    }
    for path in etc.keys().filter(|p| !etc_after.contains_key(*p)) {
        problems.push(format!("/etc/{} removed", path.display()));
    }
    if dpkg != mtimes(&root.join("/var/lib/dpkg")) {
        problems.push("dpkg's database changed".to_owned());
    }
    assert!(
        problems.is_empty(),
        "the second run was not a no-op:\n{}",
        problems.join("\n")
    );
    eprintln!("second run: {:.2} s", took.as_secs_f64());
}
