//! End-to-end tests with real parts: `installer run` into a debootstrapped Debian 12 root
//! against a signed apt repository on loopback (or Debian's own archive), then the runtime
//! itself checks the result; a second run changes nothing; failures leave the root as it
//! was. The rpm side drives the real dnf and zypper against a signed rpm repository.
//!
//! Every test here needs root, network access to Debian's archive (for the cached root) and
//! the Debian packages `scripts/test-all` installs, so each is `#[ignore]`d with the reason:
//! a plain `cargo test` lists them as ignored, never as passed. Run them with
//! `cargo nextest run -p installer --test e2e --run-ignored all` or
//! `cargo test -p installer --test e2e -- --ignored`. `E2E_KEEP=1` keeps each test's root
//! and repository under `target/e2e-work` for inspection.

#[path = "../cli/util.rs"]
mod util;

mod support;

mod ansible;
mod bench;
mod containerd;
mod corpus;
mod docker;
mod faults;
mod idempotence;
mod migrate;
mod package;
mod packs;
mod render;
mod rpm;
mod rpm_roots;
mod verify;
