use super::*;

fn args(c: &Command) -> Vec<String> {
    c.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_host_is_read_only_and_only_the_root_and_scratch_are_bound_writable() {
    let c = on_root(
        Path::new("/tmp/r"),
        Path::new("/tmp/s"),
        &[],
        &["rpm".to_owned(), "-q".to_owned()],
        Net::Host,
    );
    let a = args(&c).join(" ");
    // Of the host, its programs and what the tools read of /etc, read-only; not `/`,
    // and not /etc whole.
    assert!(
        a.starts_with("--ro-bind-try /usr /usr --ro-bind-try /bin /bin"),
        "{a}"
    );
    assert!(
        a.contains("--tmpfs /etc --ro-bind-try /etc/ld.so.cache /etc/ld.so.cache"),
        "{a}"
    );
    assert!(a.contains("--remount-ro /etc"), "{a}");
    assert!(!a.contains("--ro-bind-try /etc /etc"), "{a}");
    assert!(!a.contains("--ro-bind / /"), "{a}");
    assert!(
        a.contains("--dev /dev --proc /proc --ro-bind /proc/sys /proc/sys"),
        "{a}"
    );
    assert!(a.contains("--new-session"), "{a}");
    assert!(a.contains("--cap-drop ALL"), "{a}");
    assert!(!a.contains("CAP_SYS_ADMIN"), "{a}");
    assert!(!a.contains("CAP_DAC_READ_SEARCH"), "{a}");
    assert!(!a.contains("CAP_AUDIT_WRITE"), "{a}");
    // Bound after the tmpfs over /tmp, else they would be hidden by it.
    assert!(
        a.ends_with(
            "--perms 01777 --tmpfs /var/tmp --ro-bind /tmp/s /tmp/s --bind /tmp/r /tmp/r --remount-ro / --chdir / -- rpm -q"
        ),
        "{a}"
    );
    assert_eq!(a.matches("--bind ").count(), 1, "{a}");
    // Nothing of the caller's environment but what is set here.
    let envs: Vec<String> = c
        .get_envs()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    assert!(
        envs.iter()
            .all(|k| ["HOME", "TMPDIR"].contains(&k.as_str()) || PROXY_VARS.contains(&k.as_str())),
        "{envs:?}"
    );
}

#[test]
#[ignore = "needs root and bubblewrap (scripts/test-all installs it): run with --run-ignored / --ignored"]
fn inside_nothing_of_the_host_can_be_written_not_even_procs_sysctls_nor_read_but_its_programs() {
    let dir = tempfile::tempdir().unwrap();
    let (root, scratch) = (dir.path().join("root"), dir.path().join("scratch"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&scratch).unwrap();
    // A host file outside /tmp (the sandbox's /tmp is a fresh one).
    let host_file = tempfile::NamedTempFile::new_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let outside = host_file.path().to_path_buf();
    std::fs::write(&outside, "host").unwrap();
    // kernel/msgmax belongs to the sandbox's own IPC namespace: trying it harms nothing.
    let script = format!(
        "echo 1 > /proc/sys/kernel/msgmax && echo proc-sys-written; \
         echo x > {o} && echo host-written; \
         test -e {o} && echo host-file-seen; \
         test -e /etc/shadow && echo shadow-there; \
         test -e /etc/ssh && echo ssh-there; \
         test -r /etc/os-release && test -r /etc/ld.so.cache && echo etc-readable; \
         touch /etc/x 2>/dev/null && echo etc-writable; \
         mkdir /elsewhere 2>/dev/null && echo tree-writable; \
         touch /tmp/t && echo tmp-writable; \
         touch {s}/planted && echo scratch-written; \
         touch {r}/made && echo root-written; \
         test -t 0 || test -e /dev/tty && (: > /dev/tty) 2>/dev/null && echo tty-open; \
         echo ${{CARGO_MANIFEST_DIR:-clean}}",
        o = outside.display(),
        s = scratch.display(),
        r = root.display()
    );
    // The caller's environment must not reach inside: cargo sets this one for tests.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let mut c = on_root(
        &root,
        &scratch,
        &[],
        &["sh".into(), "-c".into(), script],
        Net::Host,
    );
    let out = c.output().expect("run bwrap");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec!["etc-readable", "tmp-writable", "root-written", "clean"],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "host");
    assert!(!scratch.join("planted").exists());
}

#[test]
fn the_roots_own_programs_get_the_root_as_their_whole_tree_and_rpms_capabilities() {
    let c = in_root(
        Path::new("/img"),
        &["apt-get".to_owned(), "update".to_owned()],
        Net::Host,
    );
    let a = args(&c).join(" ");
    assert!(
        a.starts_with("--bind /img / --dev /dev --proc /proc"),
        "{a}"
    );
    assert!(!a.contains("--dev-bind"), "{a}");
    assert!(a.contains("--cap-drop ALL"), "{a}");
    assert!(
        !a.contains("CAP_SYS_ADMIN") && !a.contains("CAP_SYS_MODULE"),
        "{a}"
    );
    assert!(
        a.ends_with("--tmpfs /sys --chdir / -- apt-get update"),
        "{a}"
    );
    let home = c
        .get_envs()
        .find(|(k, _)| *k == "HOME")
        .and_then(|(_, v)| v);
    assert_eq!(home, Some(std::ffi::OsStr::new("/root")));
}

/// A root holding `programs` (this host's, with the libraries `ldd` names for them).
fn root_with(dir: &Path, programs: &[&str]) {
    for program in programs {
        let ldd = Command::new("ldd").arg(program).output().unwrap();
        let libs = String::from_utf8_lossy(&ldd.stdout).into_owned();
        let files = libs
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
            .map(str::to_owned)
            .chain([program.to_string()]);
        for file in files {
            let to = dir.join(file.trim_start_matches('/'));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&file, &to).unwrap();
        }
    }
}

#[test]
#[ignore = "needs root and bubblewrap (scripts/test-all installs it): run with --run-ignored / --ignored"]
fn the_roots_own_programs_reach_nothing_of_this_host() {
    let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let root = dir.path().join("root");
    root_with(
        &root,
        &[
            "/bin/sh",
            "/usr/bin/mknod",
            "/usr/bin/cat",
            "/usr/bin/unshare",
        ],
    );
    let script = format!(
        "test -e {host} && echo host-seen; \
         test -e /proc/1/root/{host} && echo host-through-proc; \
         echo made > /made && echo root-written; \
         mknod /null-node c 1 3 && echo node-made; \
         echo x > /null-node 2>/dev/null && echo node-usable; \
         echo 1 > /proc/sys/kernel/msgmax 2>/dev/null && echo proc-sys-written; \
         unshare --user true 2>/dev/null && echo user-namespace-made; \
         cat /proc/self/status | while read k v; do [ \"$k\" = CapEff: ] && echo \"$v\"; done; \
         echo $HOME; \
         cat /proc/self/status | while read k v; do [ \"$k\" = Seccomp: ] && echo \"seccomp $v\"; done",
        host = env!("CARGO_MANIFEST_DIR")
    );
    let out = in_root(&root, &["/bin/sh".into(), "-c".into(), script], Net::Host)
        .output()
        .expect("run bwrap");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.get(..2),
        Some(&["root-written", "node-made"][..]),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains("host-")
            && !stdout.contains("node-usable")
            && !stdout.contains("proc-sys")
            && !stdout.contains("user-namespace"),
        "{stdout}"
    );
    // The seccomp filter is in force (mode 2: a filter).
    assert_eq!(lines.get(4), Some(&"seccomp 2"), "{stdout}");
    // The effective capabilities are rpm's set: CAP_SYS_ADMIN (bit 21) and CAP_SYS_MODULE
    // (bit 16) not among them.
    let caps = u64::from_str_radix(lines[2], 16).expect("CapEff in hex");
    assert_eq!(caps & (1 << 21), 0, "CAP_SYS_ADMIN kept: {caps:x}");
    assert_eq!(caps & (1 << 16), 0, "CAP_SYS_MODULE kept: {caps:x}");
    assert_ne!(
        caps & 1,
        0,
        "CAP_CHOWN, which dpkg needs, dropped: {caps:x}"
    );
    assert_eq!(lines[3], "/root");
    assert_eq!(
        std::fs::read_to_string(root.join("made")).unwrap(),
        "made\n"
    );
}

#[test]
fn only_what_changes_the_root_keeps_this_hosts_network() {
    let argv = ["true".to_owned()];
    let unshared = |c: Command| args(&c).iter().any(|a| a == "--unshare-net");
    let (img, scratch) = (Path::new("/img"), Path::new("/s"));
    assert!(unshared(in_root(img, &argv, Net::None)));
    assert!(!unshared(in_root(img, &argv, Net::Host)));
    assert!(unshared(on_root(img, scratch, &[], &argv, Net::None)));
    assert!(!unshared(on_root(img, scratch, &[], &argv, Net::Host)));
    assert!(unshared(on_copy(&[], &argv)));
}

#[test]
#[ignore = "needs root and bubblewrap (scripts/test-all installs it): run with --run-ignored / --ignored"]
fn what_only_asks_reaches_nothing_listening_on_this_host() {
    use std::os::linux::net::SocketAddrExt as _;
    let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    let root = dir.path().join("root");
    root_with(&root, &["/bin/bash"]);
    // A service of this host on loopback, and an abstract unix socket (containerd's shims
    // listened on such sockets once: CVE-2020-15257).
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let name = format!("installer-sandbox-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _unix = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let script = format!(
        "(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo tcp-reached; \
         while read -r line; do case \"$line\" in *@{name}) echo unix-seen;; esac; done < /proc/net/unix"
    );
    let run = |net| {
        let out = in_root(
            &root,
            &["/bin/bash".into(), "-c".into(), script.clone()],
            net,
        )
        .output()
        .expect("run bwrap");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // What changes the root reaches the repositories, so this host's network is there...
    assert_eq!(run(Net::Host), "tcp-reached\nunix-seen\n");
    // ...and what only asks has none of it.
    assert_eq!(run(Net::None), "");
}

#[test]
fn the_seccomp_program_is_whole_bpf_instructions_for_this_host() {
    let program = seccomp_program().expect("a program for this architecture");
    assert!(!program.is_empty());
    assert_eq!(program.len() % 8, 0, "BPF instructions are 8 bytes each");
    let c = in_root(Path::new("/img"), &["true".to_owned()], Net::Host);
    assert!(args(&c).join(" ").contains("--seccomp 3"));
}

#[test]
fn mountinfo_paths_are_unescaped() {
    assert_eq!(unescape(b"/mnt/a\\040b"), b"/mnt/a b");
    assert_eq!(unescape(b"/plain"), b"/plain");
    assert_eq!(unescape(b"/x\\134y"), b"/x\\y");
    // Not UTF-8, as a mount point may be: kept as bytes.
    assert_eq!(unescape(b"/w\xff\\040"), b"/w\xff ");
    assert_eq!(unescape(b"/end\\04"), b"/end\\04");
}

#[test]
#[ignore = "needs root (mounts a tmpfs in a private mount namespace): run with --run-ignored / --ignored"]
fn a_mount_inside_the_root_is_found() {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let point = root.join("my proc");
    // A name that is not UTF-8 is a mount point all the same, and must not make the
    // table unreadable (it once did, and then nothing counted as mounted).
    let odd = root.join(std::ffi::OsStr::from_bytes(b"w\xff"));
    std::fs::create_dir_all(&point).unwrap();
    std::fs::create_dir_all(&odd).unwrap();
    assert!(mounts_below(&root).unwrap().is_empty());
    // Mounted in a mount namespace of its own, whose table is read there: this host's
    // table never changes (bubblewrap, started by other tests, trips over one that does).
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            r#"mount -t tmpfs tmpfs "$1" && mount -t tmpfs tmpfs "$2" && cat /proc/self/mountinfo"#,
        )
        .arg("sh")
        .arg(&point)
        .arg(&odd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = out.stdout;
    assert_eq!(
        mounts_below_in(&table, &root),
        vec![point.clone(), odd.clone()]
    );
    let own = mounted_refusal(&root, true, &Ok(vec![root.join("proc/sys")]));
    assert_eq!(
        own, None,
        "below /proc is covered for the root's own programs"
    );
    let host = mounted_refusal(&root, false, &Ok(vec![root.join("proc/sys")]));
    assert!(host.is_some_and(|w| w.contains("proc/sys is mounted inside the root")));
    let unread = mounted_refusal(&root, true, &Err("cannot be read".into()));
    assert!(unread.is_some_and(|w| w.contains("cannot be told")));
    assert!(
        mounts_below_in(&table, &point).is_empty(),
        "the root itself is not below it"
    );
}
