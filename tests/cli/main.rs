//! End-to-end tests of the `installer` binary: real plugin `.so` files, real distro packs.

mod detect;
mod distros;
mod plugins;
mod util;
