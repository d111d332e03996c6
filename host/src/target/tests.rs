use super::*;
use std::os::unix::fs::symlink;

fn root() -> (tempfile::TempDir, Target) {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::open(dir.path()).unwrap();
    (dir, target)
}

#[test]
fn links_resolve_inside_the_root_as_on_the_target() {
    let (dir, target) = root();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("x"), "host").unwrap();
    let r = dir.path();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("opt")).unwrap();
    // An absolute link is that path inside the root.
    symlink(host.path().join("x"), r.join("etc/abs")).unwrap();
    assert_eq!(target.read("/etc/abs", 100).unwrap(), None);
    // A relative link to a file is followed to that file, inside the root; written
    // through, the file changes and the link stays.
    std::fs::write(r.join("opt/real.conf"), "old").unwrap();
    symlink("../opt/real.conf", r.join("etc/rel.conf")).unwrap();
    assert_eq!(
        target.read("/etc/rel.conf", 100).unwrap().unwrap().bytes,
        b"old"
    );
    target
        .write_atomic("/etc/rel.conf", b"new", 0o600, (None, None))
        .unwrap();
    assert_eq!(std::fs::read(r.join("opt/real.conf")).unwrap(), b"new");
    assert!(std::fs::symlink_metadata(r.join("etc/rel.conf"))
        .unwrap()
        .file_type()
        .is_symlink());
    // `..` stops at the root.
    target
        .write_atomic("/../../etc/up", b"x", 0o644, (None, None))
        .unwrap();
    assert!(r.join("etc/up").is_file());
    // A loop is an error, not a hang.
    symlink("loop", r.join("etc/loop")).unwrap();
    assert!(target
        .write_atomic("/etc/loop", b"x", 0o644, (None, None))
        .is_err());
    assert_eq!(std::fs::read(host.path().join("x")).unwrap(), b"host");
}

#[test]
fn only_regular_files_of_bounded_size_are_read() {
    let (dir, target) = root();
    let r = dir.path();
    nix::unistd::mkfifo(&r.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    assert!(matches!(
        target.read("/fifo", 100),
        Err(ReadError::NotRegular { kind: "a FIFO", .. })
    ));
    std::fs::create_dir(r.join("dir")).unwrap();
    assert!(matches!(
        target.read("/dir", 100),
        Err(ReadError::NotRegular {
            kind: "a directory",
            ..
        })
    ));
    std::fs::write(r.join("big"), vec![b'x'; 101]).unwrap();
    assert!(matches!(
        target.read("/big", 100),
        Err(ReadError::TooLarge { limit: 100, .. })
    ));
    std::fs::write(r.join("fits"), vec![b'x'; 100]).unwrap();
    assert_eq!(target.read("/fits", 100).unwrap().unwrap().bytes.len(), 100);
    // A FIFO where a file is to be replaced is left alone.
    assert!(target
        .write_atomic("/fifo", b"x", 0o644, (None, None))
        .is_err());
}

#[test]
#[ignore = "needs root (to make a device node): scripts/test-all runs it as root"]
fn a_device_node_is_never_opened() {
    let (dir, target) = root();
    // /dev/zero's numbers: reading it would never end.
    nix::sys::stat::mknod(
        &dir.path().join("zero"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 5),
    )
    .expect("run as root");
    assert!(matches!(
        target.read("/zero", FILE_LIMIT),
        Err(ReadError::NotRegular {
            kind: "a character device",
            ..
        })
    ));
}

#[test]
#[ignore = "needs root (to make a device node): scripts/test-all runs it as root"]
fn a_device_where_we_append_is_never_opened() {
    let (dir, target) = root();
    std::fs::create_dir_all(dir.path().join("var/lib/installer")).unwrap();
    // /dev/null's numbers: harmless if opened, which is what the test would catch.
    nix::sys::stat::mknod(
        &dir.path().join("var/lib/installer/lock"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .expect("run as root");
    let err = target
        .open_append("/var/lib/installer/lock", 0o600)
        .unwrap_err();
    assert!(
        err.to_string().contains("not a regular file of its own"),
        "{err}"
    );
    // A hard-linked file is not ours to append to either.
    std::fs::write(dir.path().join("a"), "x").unwrap();
    std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).unwrap();
    assert!(target.open_append("/b", 0o600).is_err());
}

#[test]
fn a_set_id_mode_is_never_written() {
    let (dir, target) = root();
    target
        .write_atomic("/f", b"x", 0o6755, (None, None))
        .unwrap();
    let meta = std::fs::metadata(dir.path().join("f")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
        0o755
    );
}

#[test]
fn created_directories_are_reported_and_removed_again() {
    let (dir, target) = root();
    let created = target
        .write_atomic("/a/b/c/f", b"x", 0o644, (None, None))
        .unwrap();
    assert_eq!(
        created,
        vec![
            PathBuf::from("/a"),
            PathBuf::from("/a/b"),
            PathBuf::from("/a/b/c")
        ]
    );
    assert!(target.remove_file("/a/b/c/f").unwrap());
    for d in created.iter().rev() {
        target.remove_empty_dir(d).unwrap();
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn temporary_files_are_made_exclusively_and_never_left() {
    let (dir, target) = root();
    target
        .write_atomic("/f", b"1", 0o644, (None, None))
        .unwrap();
    target
        .write_atomic("/f", b"2", 0o600, (None, None))
        .unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![OsString::from("f")]);
    let meta = std::fs::metadata(dir.path().join("f")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
}

#[test]
#[ignore = "needs root (to give a file away): scripts/test-all runs it as root"]
fn a_replaced_file_keeps_its_owner_and_gets_the_new_mode() {
    use std::os::unix::fs::MetadataExt;
    let (dir, target) = root();
    let file = dir.path().join("daemon.json");
    std::fs::write(&file, "{}").unwrap();
    let nobody = 65534;
    std::os::unix::fs::chown(&file, Some(nobody), Some(nobody)).expect("run as root");
    target
        .write_atomic("/daemon.json", b"{\"a\": 1}\n", 0o640, (None, None))
        .unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"a\": 1}\n");
    assert_eq!(meta.mode() & 0o777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (nobody, nobody));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Link targets an attacker would plant: the host's directory, climbs, loops.
    fn link_target(host: &str, kind: usize) -> String {
        match kind {
            0 => host.to_owned(),
            1 => format!("{host}/canary"),
            2 => format!("../../../../../..{host}"),
            3 => "/".to_owned(),
            4 => "..".to_owned(),
            5 => "../..".to_owned(),
            6 => "a".to_owned(),
            7 => "a/b".to_owned(),
            8 => "/etc".to_owned(),
            _ => format!("{host}/new"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn no_link_in_a_root_leads_a_write_outside_it(
            seed in proptest::collection::vec((0usize..4, 0usize..10), 1..12),
            writes in proptest::collection::vec("(/(etc|a|b|x|\\.\\.)){1,4}", 1..6),
        ) {
            let root = tempfile::tempdir().unwrap();
            let host = tempfile::tempdir().unwrap();
            std::fs::write(host.path().join("canary"), "host").unwrap();
            let host_text = host.path().display().to_string();
            let dirs = ["", "etc", "a", "a/b"];
            for d in dirs {
                std::fs::create_dir_all(root.path().join(d)).unwrap();
            }
            // Plant links named like the paths we write, pointing anywhere.
            for (n, (dir, kind)) in seed.iter().enumerate() {
                let target = link_target(&host_text, *kind);
                let name = ["x", "b", "etc", "a"][n % 4];
                let _ = std::os::unix::fs::symlink(&target, root.path().join(dirs[*dir]).join(name));
            }
            let target = Target::open(root.path()).unwrap();
            for path in &writes {
                let _ = target.write_atomic(path, b"from the plan", 0o644, (None, None));
                let _ = target.remove_file(path);
                let _ = target.read(path, 100);
            }
            let entries: Vec<_> = std::fs::read_dir(host.path()).unwrap().collect();
            prop_assert_eq!(entries.len(), 1, "something was created beside the canary");
            prop_assert_eq!(std::fs::read(host.path().join("canary")).unwrap(), b"host");
        }
    }
}

#[test]
fn a_regular_file_is_one_whatever_its_size_and_links_are_followed_inside_the_root() {
    let (dir, target) = root();
    let r = dir.path();
    std::fs::create_dir_all(r.join("etc/d")).unwrap();
    // Larger than anything installer reads whole: still a regular file, as `test -f` says.
    let big = std::fs::File::create(r.join("etc/big")).unwrap();
    big.set_len(FILE_LIMIT + 1).unwrap();
    assert!(target.is_file("/etc/big"));
    assert!(!target.is_file("/etc/d"));
    assert!(!target.is_file("/etc/none"));
    // A link to a host file is that path inside the root, where there is none.
    let host = tempfile::NamedTempFile::new().unwrap();
    symlink(host.path(), r.join("etc/abs")).unwrap();
    assert!(!target.is_file("/etc/abs"));
    symlink("big", r.join("etc/rel")).unwrap();
    assert!(target.is_file("/etc/rel"));
}
