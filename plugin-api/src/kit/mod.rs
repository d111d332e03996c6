//! Helpers for writing runtime plugins, which the built-in ones use too:
//!
//! * [`version`]: the user's `--version` and `--kubernetes-version`, parsed once, compared by
//!   number but spelled as the user wrote them (Docker's `19.03` keeps its zero). (Matching a
//!   pin against the versions a repository offers is [`crate::version`].)
//! * [`image`]: `--sandbox-image` checked against the image-reference grammar.
//! * [`settings`]: the `--set <plugin>.<key>` options, with unknown keys refused.
//! * [`keys`]: `--mirror`, `--set <plugin>.key-url` and `--set <plugin>.key-fingerprint`
//!   applied to a vendor repository and its signing key.
//! * [`facts`]: the facts every runtime's plan reports (CRI socket, cgroup driver).
//!
//! With the `fixtures` feature, [`crate::fixtures`] gives distro values mirroring the built-in
//! packs and checks for a plugin's unit tests.

pub mod facts;
pub mod image;
pub mod keys;
pub mod settings;
pub mod version;
