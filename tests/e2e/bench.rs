//! Not a test: the figures for README's performance section, run by `scripts/bench-run`
//! (and skipped by `scripts/test-all`). `installer run` into a fresh copy of the cached root
//! against the loopback mirror, beside a bare `apt-get update && apt-get install -y` of the
//! same package from the same mirror on an identical root (the repository and key already in
//! place, untimed), and the bare commands with installer's apt options, timed in interleaved
//! rounds on roots extracted afresh before every timed run; then the no-op second run, timed
//! by hyperfine.

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

/// The middle value (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The sample standard deviation.
fn spread(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt()
}

/// The commands the one run in `root` ran and how long each took, from its journal's log
/// (`$ command` … `[exit N, S s]`), the confinement's prefix (`bwrap --bind ROOT / … --`)
/// left out.
fn commands_run(root: &Path) -> Vec<(String, f64)> {
    let mut commands = Vec::new();
    let journal = root.join("var/lib/installer/journal");
    for entry in fs::read_dir(&journal).unwrap().flatten() {
        let log = fs::read_to_string(entry.path().join("run.log")).unwrap_or_default();
        let mut current = None;
        for line in log.lines() {
            if let Some(c) = line.strip_prefix("$ ") {
                let c = match c.strip_prefix("bwrap ") {
                    Some(confined) => confined.split_once(" -- ").map_or(c, |(_, argv)| argv),
                    None => c,
                };
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
    commands
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
    // The three are timed in rounds, one of each per round in a rotating order, each after its
    // root was extracted afresh and `sync`ed (untimed): the page cache's writeback of the
    // extraction would otherwise land in whichever run follows it, and a machine whose speed
    // drifts over minutes would favour whichever command ran first. The ratio is the median of
    // the per-round ratios: both sides of it ran within seconds of each other.
    // The same bare commands with the options and environment installer gives apt (the lock
    // wait, dpkg's conffile answers, LC_ALL=C, output to a pipe): how much of the difference
    // is apt working under them rather than installer's own work.
    let bare_as_installer = format!(
        "chroot {r} env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive sh -c 'apt-get -o DPkg::Lock::Timeout=120 update && apt-get -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y --no-install-recommends containerd.io={CONTAINERD_IO_VERSION}' | cat"
    );
    let rounds: usize = runs.parse().expect("BENCH_RUNS is a number");
    let contenders: [(&str, &str, &str); 3] = [
        ("installer run", &fresh, &installer),
        ("bare apt-get", &fresh_with_repo, &bare),
        (
            "bare apt-get, installer's options",
            &fresh_with_repo,
            &bare_as_installer,
        ),
    ];
    let mut times = vec![Vec::new(); contenders.len()];
    for round in 0..rounds {
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            let (_, prepare, command) = contenders[i];
            check(
                Command::new("sh")
                    .arg("-c")
                    .arg(format!("{prepare} && sync")),
            );
            let started = std::time::Instant::now();
            check(Command::new("sh").arg("-c").arg(command));
            times[i].push(started.elapsed().as_secs_f64());
        }
    }
    for ((name, _, _), t) in contenders.iter().zip(&times) {
        eprintln!(
            "{name:>34}: median {:.3} s, mean {:.3} s ± {:.3} s, range {:.3} … {:.3} s, {rounds} runs",
            median(t),
            t.iter().sum::<f64>() / t.len() as f64,
            spread(t),
            t.iter().copied().fold(f64::INFINITY, f64::min),
            t.iter().copied().fold(0.0, f64::max),
        );
    }
    let paired = |other: usize| {
        median(
            &times[0]
                .iter()
                .zip(&times[other])
                .map(|(a, b)| a / b)
                .collect::<Vec<_>>(),
        )
    };
    let (installer_s, bare_s, bare_opts_s) =
        (median(&times[0]), median(&times[1]), median(&times[2]));
    let (ratio, ratio_opts) = (paired(1), paired(2));
    // Where the installer's time goes: each command it ran (from the run's journal) and the
    // rest (planning, plugins, key fetch and check, writes, journal), as medians over three
    // more installer runs on fresh roots.
    let mut profiles = Vec::new();
    for _ in 0..3 {
        check(Command::new("sh").arg("-c").arg(format!("{fresh} && sync")));
        let timed = std::time::Instant::now();
        check(Command::new("sh").arg("-c").arg(&installer));
        let total = timed.elapsed().as_secs_f64();
        profiles.push((total, commands_run(&root)));
    }
    let totals: Vec<f64> = profiles.iter().map(|(t, _)| *t).collect();
    let own: Vec<f64> = profiles
        .iter()
        .map(|(t, c)| t - c.iter().map(|(_, s)| s).sum::<f64>())
        .collect();
    eprintln!("an installer run, medians of {}:", profiles.len());
    eprintln!("  {:6.3} s  in all", median(&totals));
    for (k, (command, _)) in profiles[0].1.iter().enumerate() {
        let secs: Vec<f64> = profiles
            .iter()
            .filter_map(|(_, c)| c.get(k).map(|(_, s)| *s))
            .collect();
        eprintln!("  {:6.3} s  {command}", median(&secs));
    }
    eprintln!(
        "  {:6.3} s  installer itself (plan, plugins, key fetch and check, writes, journal)",
        median(&own)
    );
    // The no-op run needs no fresh root: hyperfine, after a warmup run.
    let export = dir.join("no-op.json");
    eprintln!(
        "{}",
        check(
            Command::new("hyperfine")
                .args(["--runs", &runs, "--warmup", "1", "--export-json"])
                .arg(&export)
                .args(["--command-name", "installer run (no-op)", &installer])
        )
    );
    let noop_s = mean(&export);
    println!(
        "medians of {rounds} interleaved rounds: installer run {installer_s:.2} s · bare apt-get \
         update && install {bare_s:.2} s · ratio {ratio:.3} · bare with installer's apt options \
         {bare_opts_s:.2} s (ratio {ratio_opts:.3}) · no-op second run (mean): {noop_s:.2} s"
    );
    let _ = fs::remove_dir_all(&dir);
}
