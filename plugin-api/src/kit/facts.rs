//! The facts every runtime plan reports, for the kubelet's configuration and for `verify`.

use std::collections::BTreeMap;

use crate::{CgroupDriver, Options};

/// `systemd` or `cgroupfs`, as the kubelet's `cgroupDriver` spells it.
pub fn cgroup_driver_name(driver: CgroupDriver) -> &'static str {
    match driver {
        CgroupDriver::Systemd => "systemd",
        CgroupDriver::Cgroupfs => "cgroupfs",
    }
}

/// `runtime`, `cri_socket`, `cgroup_driver` and (when the host gave one) `cgroup_driver_reason`.
pub fn common(runtime: &str, cri_socket: &str, options: &Options) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    facts.insert("runtime".to_owned(), runtime.to_owned());
    facts.insert("cri_socket".to_owned(), cri_socket.to_owned());
    facts.insert(
        "cgroup_driver".to_owned(),
        cgroup_driver_name(options.cgroup_driver).to_owned(),
    );
    if !options.cgroup_driver_reason.is_empty() {
        facts.insert(
            "cgroup_driver_reason".to_owned(),
            options.cgroup_driver_reason.clone(),
        );
    }
    facts
}

/// The clause a configuration step's why uses for the driver: `systemd (systemd is init)`.
pub fn driver_clause(options: &Options) -> String {
    let name = cgroup_driver_name(options.cgroup_driver);
    let reason = options.cgroup_driver_reason.trim();
    if reason.is_empty() {
        name.to_owned()
    } else if reason.starts_with(name) {
        // The host's reason may already name the driver: `cgroupfs (auto: ...)`.
        reason.to_owned()
    } else {
        format!("{name} ({reason})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_is_named_once() {
        let mut options = Options {
            cgroup_driver: CgroupDriver::Cgroupfs,
            cgroup_driver_reason: "cgroupfs (auto: /run/systemd/system is absent)".into(),
            ..Options::default()
        };
        assert_eq!(
            driver_clause(&options),
            "cgroupfs (auto: /run/systemd/system is absent)"
        );
        options.cgroup_driver_reason = "no systemd".into();
        assert_eq!(driver_clause(&options), "cgroupfs (no systemd)");
        options.cgroup_driver_reason.clear();
        assert_eq!(driver_clause(&options), "cgroupfs");
    }
}
