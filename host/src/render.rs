//! Stage 5 of the flow: the plan as text for people and as a POSIX shell script.
//! (JSON is the plan's own serde form.)

use std::fmt::Write as _;

use plugin_api::Phase;

use crate::compose::{Plan, PlannedStep};

/// Which file each plugin of a plan was loaded from, and the files it shadowed: one line each.
pub fn plugin_files(plugins: &[crate::compose::PluginRef]) -> String {
    let mut out = String::new();
    for p in plugins {
        let _ = write!(out, "  {} from {}", p.name, p.path.display());
        if !p.shadowed.is_empty() {
            let shadowed: Vec<String> =
                p.shadowed.iter().map(|s| s.display().to_string()).collect();
            let _ = write!(out, " (shadowing {})", shadowed.join(", "));
        }
        out.push('\n');
    }
    out
}

/// `text` made safe for a terminal: control characters (but newline and tab) and the Unicode
/// controls that reorder text are shown escaped (`\u{1b}`), so a value from an image root
/// (os-release, a config file in a diff, a command's output) cannot move the cursor, recolour
/// or rewrite what the operator reads.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The plan's steps grouped by phase, in the order phases run, empty phases left out.
fn by_phase(plan: &Plan) -> Vec<(Phase, Vec<&PlannedStep>)> {
    Phase::ALL
        .iter()
        .map(|phase| {
            (
                *phase,
                plan.steps
                    .iter()
                    .filter(|s| s.phase == *phase)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, steps)| !steps.is_empty())
        .collect()
}

/// Quotes a value for a POSIX shell: single quotes, with each `'` written as `'\''`. Nothing
/// inside single quotes is expanded, so no value can inject a command.
pub fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

mod ansible;
mod cloud_init;
mod node;
mod sh;
mod text;
mod yaml;

pub use ansible::ansible;
pub use cloud_init::cloud_init;
pub use node::{sh_for_node, Variant};
pub use sh::sh;
pub use text::text;
