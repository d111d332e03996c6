//! End-to-end tests of the `installer` binary: real plugin `.so` files, real distro packs.

mod ansible;
mod corpus;
mod detect;
mod distros;
mod docs;
mod download;
mod errors;
mod handlers;
mod hostile;
mod kubelet;
mod migrate;
mod node_facts;
mod plan;
mod playbook;
mod plugins;
mod preflight;
mod render;
mod run;
mod runtimes;
mod shape;
mod template;
mod util;
mod verify;
