//! End-to-end tests of the `installer` binary: real plugin `.so` files, real distro packs.

mod plugins;
mod util;
