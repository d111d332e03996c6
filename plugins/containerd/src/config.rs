//! `/etc/containerd/config.toml`: the keys we own, for the schema the installed containerd
//! reads, edited in place so that every other setting and comment survives.

use plugin_api::{
    Check, Expect, FileContent, FileStep, Options, Phase, Probe, RuntimeHandler, Step, StepKind,
    TomlEdit,
};
use runtime_kit::facts;
use runtime_kit::version::Version;
use serde_json::{json, Value};

/// The configuration file.
pub const PATH: &str = "/etc/containerd/config.toml";

/// The unit restarted when the configuration changes.
pub const SERVICE: &str = "containerd.service";

/// The runtime types of the runc shim, whose runtimes take the cgroup driver as
/// `options.SystemdCgroup`: v2, and v1 where an old config still names it.
pub const RUNC_SHIMS: [&str; 2] = ["io.containerd.runc.v2", "io.containerd.runc.v1"];

/// The configuration schemas containerd has had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Version 1, containerd 1.2 and older: short plugin names (`plugins.cri`).
    V1,
    /// Version 2, containerd 1.3 to 1.7: `plugins."io.containerd.grpc.v1.cri"`. containerd
    /// 2.x reads it too, migrating it in memory.
    V2,
    /// Version 3, containerd 2.0 to 2.2: the CRI split into `io.containerd.cri.v1.runtime`
    /// and `io.containerd.cri.v1.images`.
    V3,
    /// Version 4, containerd 2.3 and later (containerd RELEASES.md at v2.3.0, "| 4 | v2.3.0
    /// |"; `version.ConfigVersion = 4`). Only the server settings moved (`[grpc]`, `[ttrpc]`,
    /// `[debug]`, `[metrics]` into `io.containerd.server.v1.*` plugins: `serviceMigrate` in
    /// cmd/containerd/server/config/config.go); the CRI tables are version 3's. containerd
    /// 2.3 reads a version 3 file by migrating it in memory, but a file's version is not ours
    /// to raise: in version 4 an unset ttrpc address is no longer derived from the grpc one
    /// (same file), so an existing file keeps its version, and containerd 2.2 refuses
    /// version 4 (`ValidateVersion`).
    V4,
}

impl Schema {
    /// The schema the containerd release `version` resolves to reads natively.
    pub fn for_version(version: &Version) -> Schema {
        match version.series() {
            (0, _) | (1, 0..=2) => Schema::V1,
            (1, _) => Schema::V2,
            (2, 0..=2) => Schema::V3,
            _ => Schema::V4,
        }
    }

    /// The value of the file's `version` key.
    pub fn number(self) -> u8 {
        match self {
            Schema::V1 => 1,
            Schema::V2 => 2,
            Schema::V3 => 3,
            Schema::V4 => 4,
        }
    }

    /// From `--set containerd.config-version`.
    pub fn from_number(n: &str) -> Option<Schema> {
        match n {
            "1" => Some(Schema::V1),
            "2" => Some(Schema::V2),
            "3" => Some(Schema::V3),
            "4" => Some(Schema::V4),
            _ => None,
        }
    }

    /// The table holding the runc runtime.
    fn runc_table(self) -> Vec<&'static str> {
        match self {
            Schema::V1 => vec!["plugins", "cri", "containerd", "runtimes", "runc"],
            Schema::V2 => vec![
                "plugins",
                "io.containerd.grpc.v1.cri",
                "containerd",
                "runtimes",
                "runc",
            ],
            Schema::V3 | Schema::V4 => vec![
                "plugins",
                "io.containerd.cri.v1.runtime",
                "containerd",
                "runtimes",
                "runc",
            ],
        }
    }

    /// The key holding the sandbox (pause) image.
    fn sandbox_key(self) -> Vec<&'static str> {
        match self {
            Schema::V1 => vec!["plugins", "cri", "sandbox_image"],
            Schema::V2 => vec!["plugins", "io.containerd.grpc.v1.cri", "sandbox_image"],
            Schema::V3 | Schema::V4 => vec![
                "plugins",
                "io.containerd.cri.v1.images",
                "pinned_images",
                "sandbox",
            ],
        }
    }

    /// Names under which packaged configs disable the CRI plugin(s).
    fn cri_plugin_names(self) -> Vec<&'static str> {
        match self {
            Schema::V1 => vec!["cri"],
            Schema::V2 => vec!["cri", "io.containerd.grpc.v1.cri"],
            Schema::V3 | Schema::V4 => vec![
                "cri",
                "io.containerd.grpc.v1.cri",
                "io.containerd.cri.v1.runtime",
                "io.containerd.cri.v1.images",
            ],
        }
    }
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

fn quoted_table(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            if p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                (*p).to_owned()
            } else {
                format!("\"{p}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The edits, in order: schema version, CRI enabled, runc with the cgroup driver, the runtime
/// handlers other plugins declared, sandbox image when given.
pub fn edits(schema: Schema, options: &Options, handlers: &[RuntimeHandler]) -> Vec<TomlEdit> {
    let systemd = options.cgroup_driver == plugin_api::CgroupDriver::Systemd;
    let mut edits = Vec::new();
    // Packaged files often hold only `disabled_plugins = ["cri"]` and no version, which
    // containerd reads as schema 1, ignoring every table below.
    match schema {
        Schema::V1 => {}
        Schema::V2 | Schema::V3 => edits.push(TomlEdit::Set {
            path: path(&["version"]),
            value: json!(schema.number()),
        }),
        // A version 3 file stays version 3 (see [`Schema::V4`]); the check before the run
        // refused every other version.
        Schema::V4 => edits.push(TomlEdit::SetDefault {
            path: path(&["version"]),
            value: json!(4),
        }),
    }
    edits.push(TomlEdit::RemoveFromArray {
        path: path(&["disabled_plugins"]),
        values: schema
            .cri_plugin_names()
            .into_iter()
            .map(Value::from)
            .collect(),
    });
    let runc = schema.runc_table();
    match schema {
        Schema::V1 => edits.push(TomlEdit::Set {
            path: path(&["plugins", "cri", "systemd_cgroup"]),
            value: json!(systemd),
        }),
        Schema::V2 | Schema::V3 | Schema::V4 => {
            edits.push(TomlEdit::Set {
                path: path(&[runc.as_slice(), &["runtime_type"]].concat()),
                value: json!("io.containerd.runc.v2"),
            });
            edits.push(TomlEdit::Set {
                path: path(&[runc.as_slice(), &["options", "SystemdCgroup"]].concat()),
                value: json!(systemd),
            });
            // Other plugins' handlers, beside runc in this schema's table of runtimes
            // (containerd docs/cri/config.md, at v1.7.29 for version 2 and v2.0.0 for version
            // 3: `runtimes.<name>` with `runtime_type` and an `options` table); before the
            // cgroup driver below, which then reaches a handler of runc's shim too.
            let runtimes = &runc[..runc.len() - 1];
            for h in handlers {
                let at = |key: &[&str]| path(&[runtimes, &[h.name.as_str()], key].concat());
                edits.push(TomlEdit::Set {
                    path: at(&["runtime_type"]),
                    value: json!(h.shim),
                });
                // runc's shim runs another runc-compatible program by its `BinaryName`
                // (the docs' crun example); other shims are their runtime.
                if let (Some(binary), true) = (&h.binary, RUNC_SHIMS.contains(&h.shim.as_str())) {
                    edits.push(TomlEdit::Set {
                        path: at(&["options", "BinaryName"]),
                        value: json!(binary),
                    });
                }
                if let Some(config) = &h.config_path {
                    edits.push(TomlEdit::Set {
                        path: at(&["options", "ConfigPath"]),
                        value: json!(config),
                    });
                }
                for (key, value) in &h.options {
                    edits.push(TomlEdit::Set {
                        path: at(&["options", key.as_str()]),
                        value: json!(value),
                    });
                }
            }
            // Every other runtime of the runc shim, whatever its name: NVIDIA's toolkit
            // makes `nvidia` (runc.v2 with its own binary) the default runtime, and a runtime
            // left on the other driver breaks pods (kubernetes#43805). Other shims (kata,
            // runsc) have no such option and are left alone.
            edits.push(TomlEdit::SetWhere {
                tables: path(&runc[..runc.len() - 1]),
                when_key: "runtime_type".to_owned(),
                when_values: RUNC_SHIMS.iter().map(|s| json!(s)).collect(),
                path: path(&["options", "SystemdCgroup"]),
                aliases: vec!["systemdCgroup".to_owned()],
                value: json!(systemd),
            });
        }
    }
    if let Some(image) = &options.sandbox_image {
        edits.push(TomlEdit::Set {
            path: path(&schema.sandbox_key()),
            value: json!(image),
        });
    }
    edits
}

/// The file to start from when there is none: the smallest valid configuration of `schema`,
/// holding the same values the edits set, so that it reads well before and after them.
pub fn initial(schema: Schema, options: &Options) -> String {
    let systemd = options.cgroup_driver == plugin_api::CgroupDriver::Systemd;
    let mut text = format!(
        "# containerd configuration, schema version {}; written by installer, which only\n\
         # sets the CRI keys it owns (cgroup driver, sandbox image, disabled_plugins) and\n\
         # keeps everything else you add.\n",
        schema.number()
    );
    match schema {
        Schema::V1 => {
            text.push_str(&format!("\n[plugins.cri]\n  systemd_cgroup = {systemd}\n"));
            if let Some(image) = &options.sandbox_image {
                text.push_str(&format!("  sandbox_image = \"{image}\"\n"));
            }
        }
        Schema::V2 | Schema::V3 | Schema::V4 => {
            text.push_str(&format!("version = {}\n", schema.number()));
            if let Some(image) = &options.sandbox_image {
                let key = schema.sandbox_key();
                let (name, table) = key.split_last().expect("sandbox key has a table");
                text.push_str(&format!(
                    "\n[{}]\n  {name} = \"{image}\"\n",
                    quoted_table(table)
                ));
            }
            let runc = quoted_table(&schema.runc_table());
            text.push_str(&format!(
                "\n[{runc}]\n  runtime_type = \"io.containerd.runc.v2\"\n\n  \
                 [{runc}.options]\n    SystemdCgroup = {systemd}\n"
            ));
        }
    }
    text
}

/// The configuration step.
pub fn step(
    schema: Schema,
    options: &Options,
    handlers: &[RuntimeHandler],
    decided_by: &str,
) -> Step {
    let mut why = format!(
        "kubeadm needs the CRI plugin, which packaged configs often disable \
         (disabled_plugins = [\"cri\"]); runc must use the {} cgroup driver, the one the \
         kubelet is given, or pods become unstable under pressure; edited in place, so your \
         own settings and comments stay. Schema {}: {decided_by}",
        facts::driver_clause(options),
        schema.number(),
    );
    if let Some(image) = &options.sandbox_image {
        why.push_str(&format!("; sandbox image {image} from --sandbox-image"));
    }
    let added: Vec<String> = handlers
        .iter()
        .map(|h| format!("{} (from {})", h.name, h.plugin))
        .collect();
    if !added.is_empty() {
        why.push_str(&format!(
            "; runtime handlers {} added beside runc, for RuntimeClasses to name",
            added.join(", ")
        ));
    }
    Step::new(
        Phase::Configuration,
        format!(
            "enable CRI and set SystemdCgroup = {} in {PATH}{}{}",
            options.cgroup_driver == plugin_api::CgroupDriver::Systemd,
            options
                .sandbox_image
                .as_deref()
                .map(|i| format!(", sandbox image {i}"))
                .unwrap_or_default(),
            if handlers.is_empty() {
                String::new()
            } else {
                format!(
                    ", runtime handler{} {}",
                    if handlers.len() == 1 { "" } else { "s" },
                    handlers
                        .iter()
                        .map(|h| h.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
        why,
        StepKind::File(FileStep {
            path: PATH.to_owned(),
            mode: 0o644,
            owner: None,
            group: None,
            content: FileContent::TomlEdit {
                initial: Some(initial(schema, options)),
                edits: edits(schema, options, handlers),
            },
            restarts: vec![SERVICE.to_owned()],
            skip_when: None,
        }),
    )
}

/// A check, before anything changes, that an existing config is not of another schema: our
/// keys would land in tables the installed containerd ignores, and with them the user's.
pub fn schema_check(schema: Schema) -> Step {
    // containerd 2.3 reads version 3 files as they are (see [`Schema::V4`]).
    let accepted = |n: u8| n == schema.number() || (schema == Schema::V4 && n == 3);
    let others: String = [1u8, 2, 3, 4]
        .iter()
        .filter(|n| !accepted(**n))
        .map(u8::to_string)
        .collect();
    let pattern =
        format!("^[[:space:]]*version[[:space:]]*=[[:space:]]*[{others}]([[:space:]#]|$)");
    Step::new(
        Phase::Prerequisites,
        format!(
            "an existing {PATH} is absent or of schema version {}",
            if schema == Schema::V4 {
                "4 or 3".to_owned()
            } else {
                schema.number().to_string()
            }
        ),
        "edits in place assume the schema the installed containerd reads; a config of another \
         schema would keep your settings in tables containerd then ignores",
        StepKind::Check(Check {
            description: format!(
                "{PATH} does not declare a schema other than version {n}; if it does, migrate \
                 it (`containerd config migrate` on 2.x) or pass --set \
                 containerd.config-version=<its version>",
                n = if schema == Schema::V4 {
                    "4 (or 3)".to_owned()
                } else {
                    schema.number().to_string()
                }
            ),
            // find prints the file only when grep finds another version; /etc always exists,
            // so find succeeds whether or not containerd is installed yet.
            probe: Probe {
                argv: vec![
                    "find".to_owned(),
                    "/etc".to_owned(),
                    "-maxdepth".to_owned(),
                    "2".to_owned(),
                    "-path".to_owned(),
                    PATH.to_owned(),
                    "-type".to_owned(),
                    "f".to_owned(),
                    "-exec".to_owned(),
                    "grep".to_owned(),
                    "-qE".to_owned(),
                    pattern,
                    "{}".to_owned(),
                    ";".to_owned(),
                    "-print".to_owned(),
                ],
                expect: Expect::StdoutEquals(String::new()),
            },
        }),
    )
}

/// A check, before anything changes, that no file config.toml imports defines the CRI
/// plugin's table: containerd 1.x merges an imported file over config.toml a plugin table at
/// a time, so that file's `[plugins."io.containerd.grpc.v1.cri"...]` replaces the whole
/// table we edit (seen with Debian's containerd 1.6: the runc runtime and its driver vanish
/// from `containerd config dump`). Where containerd 1.x keeps such drop-ins (EKS's
/// `config.d/*.toml`, NVIDIA's toolkit's `conf.d/`) is a directory below /etc/containerd;
/// only a config.toml that has `imports` is looked past.
pub fn imports_check() -> Step {
    Step::new(
        Phase::Prerequisites,
        format!("no file {PATH} imports replaces its CRI table"),
        "containerd 1.x lets an imported file replace config.toml's whole CRI table, so an \
         edit there would not take effect; the run stops here, before anything changes, naming \
         the file",
        StepKind::Check(Check {
            description: format!(
                "no drop-in under /etc/containerd/ defines [plugins.\"io.containerd.grpc.v1.cri\"...] \
                 while {PATH} has `imports` (the files named below do): containerd 1.x would \
                 read that file's CRI table instead of the one this plan edits. Move its \
                 settings into {PATH}, or set the cgroup driver (SystemdCgroup) and the sandbox \
                 image there yourself and leave it out of `imports`, then run again"
            ),
            // Only when config.toml imports something (`imports = []`, as `containerd config
            // default` writes, imports nothing): each regular drop-in defining the CRI table.
            // The pattern reaches the script as $0, never as program text.
            probe: Probe {
                argv: [
                    "sh",
                    "-c",
                    "f=/etc/containerd/config.toml; \
                     grep -qE '^[[:space:]]*imports[[:space:]]*=' \"$f\" 2>/dev/null || exit 0; \
                     grep -qE '^[[:space:]]*imports[[:space:]]*=[[:space:]]*\\[[[:space:]]*\\][[:space:]]*(#.*)?$' \"$f\" && exit 0; \
                     find /etc/containerd -mindepth 2 -maxdepth 2 -name '*.toml' -type f -exec grep -qE \"$0\" {} ';' -print",
                    "^[[:space:]]*\\[+[[:space:]]*plugins\\.([\"']io\\.containerd\\.grpc\\.v1\\.cri[\"']|cri)([].]|$)",
                ]
                .map(str::to_owned)
                .to_vec(),
                expect: Expect::StdoutEquals(String::new()),
            },
        }),
    )
}

/// A check, before anything changes, that an existing config without a `version` key holds
/// no schema 1 tables (`[plugins.cri]`, `[plugins.linux]`): containerd reads such a file as
/// schema 1, and the `version` our edit adds would move every one of its settings into
/// tables nobody reads. Docker's packaged file (only `disabled_plugins`) passes.
pub fn versionless_check(schema: Schema) -> Step {
    Step::new(
        Phase::Prerequisites,
        format!("an existing {PATH} without a version holds no schema 1 plugin tables"),
        "containerd reads a file without `version` as schema 1; giving it a version would \
         silently drop the settings it holds in schema 1's short-named tables",
        StepKind::Check(Check {
            description: format!(
                "{PATH} has no `version` and holds schema 1 tables ([plugins.cri], ...); \
                 migrate it (`containerd config migrate` on 2.x), or add `version = 1` and \
                 pass --set containerd.config-version=1, then run again (the plan wants \
                 schema {})",
                schema.number()
            ),
            // find prints the file when it has no version line but a short-named plugin
            // table; /etc always exists, so find succeeds either way.
            probe: Probe {
                argv: [
                    "find",
                    "/etc",
                    "-maxdepth",
                    "2",
                    "-path",
                    PATH,
                    "-type",
                    "f",
                    "!",
                    "-exec",
                    "grep",
                    "-qE",
                    "^[[:space:]]*version[[:space:]]*=",
                    "{}",
                    ";",
                    "-exec",
                    "grep",
                    "-qE",
                    "^[[:space:]]*\\[+[[:space:]]*plugins\\.[a-z]",
                    "{}",
                    ";",
                    "-print",
                ]
                .map(str::to_owned)
                .to_vec(),
                expect: Expect::StdoutEquals(String::new()),
            },
        }),
    )
}

/// Checks, after the restart, that containerd itself reads the driver we wrote, and that no
/// runtime in its merged view (imports included) is left on the other one.
pub fn dump_checks(schema: Schema, options: &Options, handlers: &[RuntimeHandler]) -> Vec<Step> {
    let systemd = options.cgroup_driver == plugin_api::CgroupDriver::Systemd;
    let key = match schema {
        Schema::V1 => "systemd_cgroup",
        Schema::V2 | Schema::V3 | Schema::V4 => "SystemdCgroup",
    };
    let expected = format!("{key} = {systemd}");
    let other = format!("{key} = {}", !systemd);
    let dump = || Probe {
        argv: vec![
            "containerd".to_owned(),
            "config".to_owned(),
            "dump".to_owned(),
        ],
        expect: Expect::Success,
    };
    let mut checks: Vec<Step> = handlers
        .iter()
        .map(|h| {
            // `config dump` writes each runtime as its own table, named to the handler.
            let table = format!(".containerd.runtimes.{}]", h.name);
            Step::new(
                Phase::Verification,
                format!("containerd reads runtime handler {} from its configuration", h.name),
                format!(
                    "plugin `{}` declared it; pods of a RuntimeClass naming `{}` run only where containerd has it",
                    h.plugin, h.name
                ),
                StepKind::Check(Check {
                    description: format!(
                        "`containerd config dump` shows a runtime `{}` (if not, a file config.toml's `imports` names replaces the table of runtimes)",
                        h.name
                    ),
                    probe: Probe {
                        expect: Expect::StdoutContains(table),
                        ..dump()
                    },
                }),
            )
        })
        .collect();
    checks.extend([
        Step::new(
            Phase::Verification,
            format!("no runtime in containerd's merged configuration has {other}"),
            "containerd merges the files its `imports` name over config.toml (containerd 1.x a \
             plugin's table at a time): a runtime an imported file leaves on the other driver, \
             the default one above all, breaks pods as surely as runc would",
            StepKind::Check(Check {
                description: format!(
                    "`containerd config dump` has no {other}: if it does, a file that \
                     config.toml's `imports` names sets it (or replaces the CRI table we \
                     edited); make that file agree, then run again"
                ),
                probe: Probe {
                    expect: Expect::StdoutLacks(other),
                    ..dump()
                },
            }),
        ),
        Step::new(
            Phase::Verification,
            format!("containerd reads {expected} from its configuration"),
            "the runtime's own parse of the file is the proof that the edit took effect",
            StepKind::Check(Check {
                description: format!(
                    "`containerd config dump` shows {expected} (if not, check the files \
                     config.toml's `imports` names: containerd 1.x lets one replace a whole \
                     plugin table)"
                ),
                probe: Probe {
                    expect: Expect::StdoutContains(expected.clone()),
                    ..dump()
                },
            }),
        ),
    ]);
    checks
}
