//! What the target's current state means for a plan, found before anything changes and
//! shown by `plan`: merges that cannot be made, owners the target lacks, files another tool
//! manages, and the diff of each file the plan would change.

use super::*;

/// What `plan` shows of the target, read once and handed to the renderer, which never reads
/// the target itself.
#[derive(Debug, Default)]
pub struct Preflight {
    /// What makes the plan impossible here (a file to merge that does not parse, an owner the target lacks); `run` refuses on any.
    pub problems: Vec<String>,
    /// For each file the plan would change on the target, by path: the unified diff.
    pub diffs: BTreeMap<String, String>,
    /// The node's readiness ([`super::readiness`]), when asked for: a failure makes `run`
    /// refuse unless `--force`.
    pub node: Vec<super::CheckReport>,
}

impl Preflight {
    /// The diff of the file `action` writes or merges, if it changes one that exists.
    pub fn diff(&self, action: &Action) -> Option<&str> {
        match action {
            Action::WriteFile { path, .. } | Action::MergeFile { path, .. } => {
                self.diffs.get(path).map(String::as_str)
            }
            _ => None,
        }
    }
}

/// Reads the target for what the plan would meet there: its problems, and the diff of each
/// file it would change. Changes nothing.
pub fn preflight(plan: &Plan, target: &Target) -> Preflight {
    let mut diffs = BTreeMap::new();
    for action in plan.steps.iter().flat_map(|s| &s.actions) {
        if let Some(diff) = preview(action, target, &plan.overrides) {
            if let Action::WriteFile { path, .. } | Action::MergeFile { path, .. } = action {
                diffs.insert(path.clone(), diff);
            }
        }
    }
    Preflight {
        problems: merge_problems(plan, target),
        diffs,
        node: Vec::new(),
    }
}

/// [`preflight`], and the node's readiness for the plan ([`super::readiness`]): what `run`
/// and `installer preflight` ask. (`plan` shows the plan, not the node.)
pub fn preflight_with_node(plan: &Plan, target: &Target) -> Preflight {
    let mut seen = preflight(plan, target);
    seen.node = super::readiness(plan, target, &seen);
    seen
}

impl Preflight {
    /// The node checks that make `run` refuse.
    pub fn refusals(&self) -> impl Iterator<Item = &super::CheckReport> {
        self.node
            .iter()
            .filter(|c| c.status == super::Verdict::Fail)
    }
}

/// What the target's current state makes impossible, found before anything changes: a file
/// we merge into that does not parse (a daemon.json that is not JSON, say), an owner the
/// target's /etc/passwd does not know. Each problem names the file and the reason.
/// `run` refuses to start on any (exit 2), before anything changes; `plan` shows them.
fn merge_problems(plan: &Plan, target: &Target) -> Vec<String> {
    let probe = Executor::asking(target);
    let owners = plan
        .steps
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|action| match action {
            Action::WriteFile {
                path, owner, group, ..
            }
            | Action::MergeFile {
                path, owner, group, ..
            } => probe
                .ids(path, owner.as_deref(), group.as_deref())
                .err()
                .map(|f| f.message),
            _ => None,
        });
    let merges = plan
        .steps
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|action| {
            let Action::MergeFile { path, merge, .. } = action else {
                return None;
            };
            let file = match target.read(path, FILE_LIMIT) {
                Ok(file) => file?,
                Err(e) => return Some(e.to_string()),
            };
            crate::merge::apply_to_bytes(
                path,
                Some(&file.bytes),
                merge,
                Overrides::Keys(&plan.overrides),
            )
            .err()
            .map(|e| e.to_string())
        })
        .collect::<Vec<_>>();
    owners.chain(merges).collect()
}

/// Markers by which a config file says another tool owns it, and what to tell the user.
/// Sources: k0s writes `# k0s_managed=true` as the first line of the containerd config it
/// manages and replaces the file unless that line is removed (k0sproject/k0s
/// `pkg/component/worker/containerd`, the placeholder config of its tests: "If you wish to
/// override the config, remove the first line"); Ansible's `ansible_managed` string defaults
/// to "Ansible managed" (Ansible's configuration settings, DEFAULT_MANAGED_STR).
/// The last field says whether only the first line counts (k0s checks its own marker there).
const MANAGED_MARKERS: &[(&str, &str, &str, bool)] = &[
    (
        "k0s_managed=true",
        "k0s",
        "k0s rewrites it; make the change in k0s's own configuration, or remove that first line to take the file over",
        true,
    ),
    (
        "Ansible managed",
        "Ansible",
        "the next Ansible run puts its template back; make the change in the template",
        false,
    ),
];

/// Files the plan edits that say another tool manages them (a comment in their first lines):
/// the edit would be overwritten by that tool. One warning per file, naming the tool.
pub fn managed_elsewhere(plan: &Plan, target: &Target) -> Vec<String> {
    let mut warnings = Vec::new();
    for action in plan.steps.iter().flat_map(|s| &s.actions) {
        let (Action::MergeFile { path, .. } | Action::WriteFile { path, .. }) = action else {
            continue;
        };
        let Ok(Some(file)) = target.read(path, FILE_LIMIT) else {
            continue;
        };
        // The comment lines among the first five, with whether each is the first line.
        let text = String::from_utf8_lossy(&file.bytes);
        let head: Vec<(usize, &str)> = text
            .lines()
            .take(5)
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with('#'))
            .collect();
        if let Some((marker, tool, fix, _)) =
            MANAGED_MARKERS.iter().find(|(marker, _, _, first_only)| {
                head.iter()
                    .any(|(n, l)| (*n == 0 || !*first_only) && l.contains(marker))
            })
        {
            let warning = format!("{path} says it is managed by {tool} (`{marker}`): {fix}");
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }
    warnings
}

/// A diff of what a merge or write would change in the file under `root`, for the plan.
fn preview(action: &Action, target: &Target, overrides: &[String]) -> Option<String> {
    let (path, new) = match action {
        Action::MergeFile { path, merge, .. } => {
            let existing = target.read(path, FILE_LIMIT).ok()??;
            (
                path,
                crate::merge::apply_to_bytes(
                    path,
                    Some(&existing.bytes),
                    merge,
                    Overrides::Keys(overrides),
                )
                .ok()?,
            )
        }
        Action::WriteFile { path, content, .. } => (path, content.clone()),
        _ => return None,
    };
    let old = target.read(path, FILE_LIMIT).ok()??;
    let d = files::diff(path, &String::from_utf8_lossy(&old.bytes), &new);
    (!d.is_empty()).then_some(d)
}
