//! The `--set <plugin>.<key>=<value>` options a plugin reads.

use std::collections::BTreeMap;

use crate::{OptionDoc, Options, PluginError};

/// The `--set` keys of one plugin. Keys of other plugins are theirs to judge; an unknown key
/// of this plugin is refused, since a typo silently ignored (`cri-o.key-fingerprnt`) would
/// leave the user believing a setting took effect.
#[derive(Debug)]
pub struct Settings<'a> {
    plugin: &'a str,
    set: &'a BTreeMap<String, String>,
}

impl<'a> Settings<'a> {
    /// The settings of `plugin` in `options`, checked against the keys `known` documents.
    pub fn new(
        plugin: &'a str,
        options: &'a Options,
        known: &[OptionDoc],
    ) -> Result<Self, PluginError> {
        let prefix = format!("{plugin}.");
        if let Some(unknown) = options
            .set
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .find(|k| !known.iter().any(|doc| &doc.key == *k))
        {
            return Err(PluginError::invalid_input(format!(
                "--set {unknown}: plugin `{plugin}` has no option `{}`",
                &unknown[prefix.len()..]
            ))
            .with_hint(format!(
                "its options are {}",
                known
                    .iter()
                    .map(|doc| doc.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Settings {
            plugin,
            set: &options.set,
        })
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        self.plugin
    }

    /// The value of `--set <plugin>.<name>`, if given.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.set
            .get(&format!("{}.{name}", self.plugin))
            .map(String::as_str)
    }

    /// A `true`/`false` option; absent is `false`.
    pub fn flag(&self, name: &str) -> Result<bool, PluginError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(PluginError::invalid_input(format!(
                "--set {}.{name}={} is neither true nor false",
                self.plugin,
                other.escape_debug()
            ))
            .with_hint(format!("write --set {}.{name}=true", self.plugin))),
        }
    }
}

/// Documents the option `<plugin>.<name>`.
pub fn doc(plugin: &str, name: &str, help: &str, default: Option<&str>) -> OptionDoc {
    OptionDoc {
        key: format!("{plugin}.{name}"),
        help: help.to_owned(),
        default: default.map(str::to_owned),
    }
}

/// The options every plugin with a vendor repository reads (see [`crate::keys`]).
pub fn key_options(plugin: &str, vendor_key: &str) -> Vec<OptionDoc> {
    vec![
        doc(
            plugin,
            "key-url",
            "URL of the repository signing key; by default the vendor's key, fetched from \
             --mirror when one is given",
            None,
        ),
        doc(
            plugin,
            "key-fingerprint",
            "fingerprint(s) the signing key must have: 40 hex digits, several separated by \
             commas; use it with a mirror signed by your own key",
            Some(vendor_key),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Options {
        Options {
            set: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Options::default()
        }
    }

    #[test]
    fn reads_own_keys_and_ignores_other_plugins() {
        let o = options(&[("cri-o.allow-version-skew", "true"), ("apt.whatever", "1")]);
        let known = [doc("cri-o", "allow-version-skew", "", None)];
        let s = Settings::new("cri-o", &o, &known).unwrap();
        assert!(s.flag("allow-version-skew").unwrap());
        assert_eq!(s.get("key-url"), None);
    }

    #[test]
    fn refuses_a_typo_naming_the_known_keys() {
        let o = options(&[("cri-o.allow-version-skw", "true")]);
        let known = [doc("cri-o", "allow-version-skew", "", None)];
        let e = Settings::new("cri-o", &o, &known).unwrap_err();
        assert!(e.message.contains("allow-version-skw"), "{}", e.message);
        assert!(e.hint.unwrap().contains("cri-o.allow-version-skew"));
    }

    #[test]
    fn a_flag_is_true_or_false() {
        let o = options(&[("cri-o.allow-version-skew", "yes")]);
        let known = [doc("cri-o", "allow-version-skew", "", None)];
        let s = Settings::new("cri-o", &o, &known).unwrap();
        assert!(s.flag("allow-version-skew").is_err());
    }
}
