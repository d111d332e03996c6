//! Helpers that build render requests and take render responses apart, for the plugins'
//! tests (feature `fixtures`).

use plugin_api::{Action, Package, Probe, RenderResponse, Step, StepKind, VersionMatch};

/// A package requested by the runtime plugin `requested_by`.
pub fn package(
    name: &str,
    version: Option<&str>,
    version_match: VersionMatch,
    hold: bool,
    requested_by: &str,
) -> Package {
    Package {
        name: name.to_owned(),
        version: version.map(str::to_owned),
        version_match,
        hold,
        requested_by: vec![requested_by.to_owned()],
        vulnerabilities: Vec::new(),
    }
}

/// The actions of an actions step; panics on any other step.
pub fn actions(step: &Step) -> &[Action] {
    match &step.kind {
        StepKind::Actions { actions } => actions,
        other => panic!("not an actions step: {other:?}"),
    }
}

/// Every action of every step, in order.
pub fn all_actions(response: &RenderResponse) -> Vec<&Action> {
    response.steps.iter().flat_map(actions).collect()
}

/// A run action's argv, probe and whether it is the transaction; panics on any other action.
pub fn run_action(action: &Action) -> (&Vec<String>, &Option<Probe>, bool) {
    match action {
        Action::Run {
            argv,
            unless,
            transaction,
            ..
        } => (argv, unless, *transaction),
        other => panic!("not a run: {other:?}"),
    }
}
