//! What the built-in package-manager plugins (apt, yum, zypper) share.
//!
//! * [`pin`]: a package's pin spelled for a package manager, the holds, and how a prefix pin
//!   is resolved at run time.
//! * [`action`]: the commands a render emits, the signing-key fetch among them.
//! * [`why`]: the words a step's why shares across package managers.
//! * [`rpm`]: verified keys imported into rpm, and `rpm -q` as the installed check (yum,
//!   zypper).
//!
//! This is a plain library linked into each plugin; it exports no plugin root module.

pub mod action;
pub mod pin;
pub mod remove;
pub mod rpm;
pub mod why;

#[cfg(feature = "fixtures")]
pub mod fixtures;
