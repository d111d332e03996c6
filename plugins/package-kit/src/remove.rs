//! Removing packages where they are installed (protocol 1.4's `remove` in a render request):
//! one step per package, its lock or hold released first, both skipped where it is not
//! installed, so that a name no repository knows (Docker's package on a node that ran
//! Debian's) is no error. The steps come last (the verification phase): the plan's checks
//! pass before anything is removed.

use std::collections::BTreeMap;

use plugin_api::validate;
use plugin_api::{Action, Expect, Phase, PluginError, Probe, Step, StepKind};

use crate::action::strings;

/// How a package manager removes one package.
pub struct Remover<'a> {
    /// A shell test that succeeds when the package `$1` is installed.
    pub installed: &'a str,
    /// The command releasing a hold or lock on it, if holds stop a removal.
    pub unlock: Option<Vec<String>>,
    /// The command removing it.
    pub remove: Vec<String>,
    /// Environment for the removal.
    pub env: BTreeMap<String, String>,
}

/// The steps removing each of `names`, with `remover(name)`.
pub fn removal_steps(
    names: &[String],
    remover: impl Fn(&str) -> Remover<'static>,
) -> Result<Vec<Step>, PluginError> {
    names
        .iter()
        .map(|name| {
            validate::check(name, &validate::PACKAGE, "the packages to remove")?;
            let r = remover(name);
            let absent = Probe {
                argv: strings(&["sh", "-c", &format!("! {{ {}; }}", r.installed), "sh", name]),
                expect: Expect::Success,
            };
            let run = |argv: Vec<String>, env: BTreeMap<String, String>| Action::Run {
                argv,
                env,
                unless: Some(absent.clone()),
                transaction: false,
                resolve: Vec::new(),
                audit: None,
            };
            let mut actions = Vec::new();
            if let Some(unlock) = r.unlock {
                actions.push(run(unlock, BTreeMap::new()));
            }
            actions.push(run(r.remove, r.env));
            // Last of all, after the plan's checks passed: a failed run then never leaves a
            // node without the runtime it had.
            Ok(Step::new(
                Phase::Verification,
                format!("Remove {name} where it is installed"),
                "the selection asks for it to go (a migration's old runtime); a hold or lock on it is released first, since it would stop the removal",
                StepKind::Actions { actions },
            ))
        })
        .collect()
}
