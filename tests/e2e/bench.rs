//! Not a test: the figures for README's performance section, run by `scripts/bench-run`
//! (and skipped by `scripts/test-all`). `installer run` into a fresh copy of the cached root
//! against the loopback mirror, beside a bare `apt-get update && apt-get install -y` of the
//! same package from the same mirror on an identical root (the repository and key already in
//! place, untimed), and the no-op second run; each timed by hyperfine, which re-extracts the
//! root before every timed run.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::apt_repo::{AptRepo, Variant, CONTAINERD_IO_VERSION};
use crate::support::http::HttpServer;
use crate::support::root::Bookworm;
use crate::support::run::{mirror_selection, plugins_built};
use crate::support::{check, fresh_dir, require};
use crate::util;

/// Single-quotes `s` for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn mean(export: &Path) -> f64 {
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(export).unwrap()).unwrap();
    v["results"][0]["mean"].as_f64().expect("hyperfine's mean")
}

#[test]
#[ignore = "a benchmark, not a test: run by scripts/bench-run as root"]
fn bench_install_against_bare_apt() {
    require(&["hyperfine", "apt-ftparchive", "gpg", "python3"]);
    plugins_built();
    let runs = std::env::var("BENCH_RUNS").unwrap_or_else(|_| "3".into());
    let tarball = Bookworm::get().tarball;
    let repo = AptRepo::build(Variant::Working);
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    let dir = fresh_dir("bench-");
    let root = dir.join("root");
    let key = dir.join("docker.asc");
    fs::write(&key, repo.public_key()).unwrap();
    let list = format!(
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] {}/linux/debian bookworm stable\n",
        server.url()
    );
    let r = quote(root.to_str().unwrap());
    // A fresh, air-gapped copy of the cached root.
    let fresh = format!(
        "rm -rf {r} && mkdir -p {r} && tar --numeric-owner -xpf {t} -C {r} && rm -f {r}/etc/apt/sources.list",
        t = quote(tarball.to_str().unwrap())
    );
    // The same, with the repository and its key in place for the bare apt run.
    let fresh_with_repo = format!(
        "{fresh} && mkdir -p {r}/etc/apt/keyrings && cp {k} {r}/etc/apt/keyrings/docker.asc && printf %s {l} > {r}/etc/apt/sources.list.d/docker.list",
        k = quote(key.to_str().unwrap()),
        l = quote(&list)
    );
    let installer = {
        let mut words = vec![
            quote(util::bin().to_str().unwrap()),
            "run".into(),
            "--yes".into(),
            "--root".into(),
            r.clone(),
        ];
        words.extend(mirror_selection(&server, &repo).iter().map(|a| quote(a)));
        words.join(" ")
    };
    let bare = format!(
        "chroot {r} sh -c 'apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends containerd.io={CONTAINERD_IO_VERSION}'"
    );
    let hyperfine = |name: &str, prepare: Option<&str>, command: &str| {
        let export = dir.join(format!("{name}.json"));
        let mut c = Command::new("hyperfine");
        c.args(["--runs", &runs, "--export-json"])
            .arg(&export)
            .args(["--command-name", name]);
        match prepare {
            Some(p) => {
                c.args(["--prepare", p]);
            }
            None => {
                c.args(["--warmup", "1"]);
            }
        }
        c.arg(command);
        let out = check(&mut c);
        eprintln!("{out}");
        mean(&export)
    };
    let installer_s = hyperfine("installer run", Some(&fresh), &installer);
    let bare_s = hyperfine("bare apt-get", Some(&fresh_with_repo), &bare);
    // The same bare commands with the options and environment installer gives apt (the lock
    // wait, dpkg's conffile answers, LC_ALL=C, output to a pipe): how much of the difference
    // is apt working under them rather than installer's own work.
    let bare_as_installer = format!(
        "chroot {r} env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive sh -c 'apt-get -o DPkg::Lock::Timeout=120 update && apt-get -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y --no-install-recommends containerd.io={CONTAINERD_IO_VERSION}' | cat"
    );
    let bare_opts_s = hyperfine(
        "bare apt-get, installer's options",
        Some(&fresh_with_repo),
        &bare_as_installer,
    );
    // After `bare`'s last run the root holds the bare install: install once more with the
    // installer, timed alone, and say where its time goes (each command it ran, from the
    // run's journal, and the rest: planning, key check, writes); then time the no-op run.
    check(Command::new("sh").arg("-c").arg(&fresh));
    let timed = std::time::Instant::now();
    check(Command::new("sh").arg("-c").arg(&installer));
    let total = timed.elapsed().as_secs_f64();
    let journal = root.join("var/lib/installer/journal");
    let mut commands = Vec::new();
    for entry in fs::read_dir(&journal).unwrap().flatten() {
        let log = fs::read_to_string(entry.path().join("run.log")).unwrap_or_default();
        let mut current = None;
        for line in log.lines() {
            if let Some(c) = line.strip_prefix("$ ") {
                let chrooted = format!("chroot {} ", root.display());
                let c = c.strip_prefix(&chrooted).unwrap_or(c);
                current = Some(c.chars().take(70).collect::<String>());
            } else if let (Some(c), Some(rest)) = (&current, line.strip_prefix("[exit ")) {
                let secs: f64 = rest
                    .split(", ")
                    .nth(1)
                    .and_then(|t| t.trim_end_matches(" s]").parse().ok())
                    .unwrap_or(0.0);
                commands.push((c.clone(), secs));
                current = None;
            }
        }
    }
    let in_commands: f64 = commands.iter().map(|(_, s)| s).sum();
    eprintln!("one installer run: {total:.2} s");
    for (c, secs) in &commands {
        eprintln!("  {secs:5.2} s  {c}");
    }
    eprintln!("  {in_commands:5.2} s  in the commands above");
    eprintln!(
        "  {:5.2} s  installer itself (plugins, key check, writes, journal)",
        total - in_commands
    );
    let noop_s = hyperfine("installer run (no-op)", None, &installer);
    println!(
        "installer run: {installer_s:.2} s · bare apt-get update && install: {bare_s:.2} s · \
         ratio {:.2} · bare with installer's apt options: {bare_opts_s:.2} s (ratio {:.2}) · \
         no-op second run: {noop_s:.2} s",
        installer_s / bare_s,
        installer_s / bare_opts_s
    );
    let _ = fs::remove_dir_all(&dir);
}
