//! The pure planner: from what one examination found and what is installed, decide install,
//! upgrade from X to Y, no change, or refuse. `bless` (and `--dry-run`), `status --app` and
//! `verify --root|--installed` all call [`plan`], so the three commands print the same
//! prediction, word for word ([`Decision::describe`]).

use std::path::PathBuf;

use serde::Serialize;

use crate::version::BundleVersion;

use super::refusal::{Refusal, RefusalId};
use super::trust::Verdict;

/// What a bless does about the installed helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Nothing installed: install.
    Install {
        /// The bundled version.
        version: String,
    },
    /// The bundled version is strictly greater: replace.
    Upgrade {
        /// The installed version.
        from: String,
        /// The bundled version.
        to: String,
    },
    /// The installed version is the same or greater: leave it.
    None {
        /// The installed version.
        installed: String,
        /// The bundled version.
        bundled: String,
    },
}

impl Action {
    /// One line for humans: "install 1.1", "upgrade from 1.0 to 1.1", "no change: installed
    /// 1.2 ≥ bundled 1.1".
    pub fn describe(&self) -> String {
        match self {
            Action::Install { version } => format!("install {version}"),
            Action::Upgrade { from, to } => format!("upgrade from {from} to {to}"),
            Action::None { installed, bundled } => {
                format!("no change: installed {installed} ≥ bundled {bundled}")
            }
        }
    }
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// Go ahead with this action.
    Proceed {
        /// What happens.
        #[serde(flatten)]
        action: Action,
    },
    /// A check refused the install.
    Refuse {
        /// Why, every reason found.
        refusals: Vec<Refusal>,
    },
}

impl Decision {
    /// The prediction in one line, identical in every command that prints it.
    pub fn describe(&self) -> String {
        match self {
            Decision::Proceed { action } => action.describe(),
            Decision::Refuse { refusals } => {
                let parts: Vec<String> = refusals
                    .iter()
                    .map(|r| format!("[{}] {}", r.id, r.message))
                    .collect();
                format!("refuse: {}", parts.join("; "))
            }
        }
    }

    /// The action, when the install goes ahead.
    pub fn action(&self) -> Option<&Action> {
        match self {
            Decision::Proceed { action } => Some(action),
            Decision::Refuse { .. } => None,
        }
    }
}

/// What is installed under the label, as read once through the install directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// No helper is installed (and no job file is in the way).
    Nothing,
    /// A helper is installed.
    Helper {
        /// Where (under the root).
        path: PathBuf,
        /// Its `CFBundleVersion`.
        version: BundleVersion,
        /// Whether its signature is valid.
        signature: Verdict,
        /// Whether the app satisfies its `SMAuthorizedClients` (answered from the app's one
        /// examination).
        clients: Verdict,
    },
    /// Something is installed that cannot be judged.
    Unreadable {
        /// Where.
        path: PathBuf,
        /// Why, naming the file and what was expected (never its contents).
        reason: String,
    },
    /// The job file under the label runs another program: another vendor's job.
    Foreign {
        /// The job file.
        job: PathBuf,
        /// What it runs, when readable.
        program: Option<String>,
    },
}

/// Everything the planner weighs, each fact from the one examination or the one read of the
/// installed state.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The label.
    pub label: String,
    /// The app, as the user named it (for messages).
    pub app: PathBuf,
    /// The contract verdict (error findings).
    pub contract: Verdict,
    /// The app's `CFBundleIdentifier`.
    pub app_id: Option<String>,
    /// `SMPrivilegedExecutables[label]` from the sealed Info.plist.
    pub requirement: Option<String>,
    /// The bundled helper's version, or why it has none.
    pub bundled: Result<BundleVersion, String>,
    /// Refusals of the root policy.
    pub policy: Vec<Refusal>,
    /// The helper against the installer's own `--team-id`/`--requirement`, when given.
    pub installer: Option<Verdict>,
    /// Refusals of the job file (keys of the embedded launchd plist).
    pub job: Vec<Refusal>,
    /// What is installed.
    pub installed: Installed,
}

/// Decide. Pure: the same facts give the same decision.
pub fn plan(f: &Facts) -> Decision {
    let mut refusals = before_versions(f);
    let bundled = match &f.bundled {
        Ok(v) => Some(v),
        Err(e) => {
            refusals.push(Refusal::new(
                RefusalId::BundleVersionInvalid,
                e.clone(),
                "set CFBundleVersion to 1-3 dot-separated integers in the helper's Info.plist",
            ));
            None
        }
    };
    refusals.extend(installed_refusals(f));
    let Some(bundled) = bundled.filter(|_| refusals.is_empty()) else {
        return Decision::Refuse { refusals };
    };
    let action = match &f.installed {
        Installed::Helper { version, .. } if bundled.is_upgrade_from(version) => Action::Upgrade {
            from: version.to_string(),
            to: bundled.to_string(),
        },
        Installed::Helper { version, .. } => Action::None {
            installed: version.to_string(),
            bundled: bundled.to_string(),
        },
        _ => Action::Install {
            version: bundled.to_string(),
        },
    };
    if let (
        Action::Upgrade { .. },
        Installed::Helper {
            signature,
            clients,
            path,
            ..
        },
    ) = (&action, &f.installed)
    {
        let refusals = upgrade_refusals(f, path, signature, clients);
        if !refusals.is_empty() {
            return Decision::Refuse { refusals };
        }
    }
    Decision::Proceed { action }
}

fn before_versions(f: &Facts) -> Vec<Refusal> {
    let app = f.app.display();
    let label = &f.label;
    let mut out = Vec::new();
    if !f.contract.passed() {
        out.push(
            Refusal::new(
                RefusalId::ContractCheckFailed,
                format!("{app} and its helper {label} do not satisfy the SMJobBless contract"),
                format!("run `smbless verify {app}` for every finding with a fix"),
            )
            .with_details(f.contract.reasons().to_vec()),
        );
    }
    if f.app_id.is_none() {
        out.push(Refusal::new(
            RefusalId::AppIdentifierMissing,
            format!("{app}: Info.plist has no CFBundleIdentifier"),
            "set CFBundleIdentifier in the app's Info.plist",
        ));
    }
    if f.requirement.is_none() {
        out.push(Refusal::new(
            RefusalId::PrivilegedExecutablesMissing,
            format!("{app}: the signed Info.plist's SMPrivilegedExecutables has no string entry for {label}"),
            "add the helper's designated requirement under its label (`smbless setreq`) and re-sign the app",
        ));
    }
    out.extend(f.policy.iter().cloned());
    if let Some(v) = f.installer.as_ref().filter(|v| !v.passed()) {
        out.push(
            Refusal::new(
                RefusalId::InstallerRequirementUnsatisfied,
                format!("{label} does not meet what this installer requires of it (--team-id/--requirement)"),
                "check that the app bundles the helper your team signed, or fix the installer's --team-id/--requirement",
            )
            .with_details(v.reasons().to_vec()),
        );
    }
    out.extend(f.job.iter().cloned());
    out
}

fn installed_refusals(f: &Facts) -> Vec<Refusal> {
    let label = &f.label;
    match &f.installed {
        Installed::Foreign { job, program } => vec![Refusal::new(
            RefusalId::ForeignJob,
            format!(
                "{} is another job: it runs {}, not /Library/PrivilegedHelperTools/{label}; smbless never overwrites it",
                job.display(),
                program.as_deref().map_or("something unreadable".to_string(), |p| format!("{p:?}"))
            ),
            "choose a label no other vendor uses (reverse-DNS of your own domain), or remove that job yourself if it is really yours",
        )],
        Installed::Unreadable { reason, .. } => vec![Refusal::new(
            RefusalId::InstalledHelperUnreadable,
            reason.clone(),
            format!("inspect it, then `smbless remove {label}` and bless again"),
        )],
        _ => Vec::new(),
    }
}

fn upgrade_refusals(
    f: &Facts,
    path: &std::path::Path,
    signature: &Verdict,
    clients: &Verdict,
) -> Vec<Refusal> {
    let label = &f.label;
    if !signature.passed() {
        return vec![Refusal::new(
            RefusalId::InstalledHelperInvalid,
            format!("{}: the installed helper's signature is not valid, so its SMAuthorizedClients cannot decide who may replace it", path.display()),
            format!("inspect it (it may have been tampered with), then `smbless remove {label}` and bless again"),
        )
        .with_details(signature.reasons().to_vec())];
    }
    if !clients.passed() {
        return vec![Refusal::new(
            RefusalId::InstalledClientRequirementUnsatisfied,
            format!(
                "{} does not satisfy the SMAuthorizedClients of the installed {label}, so it may not replace it",
                f.app.display()
            ),
            "the installed helper decides who may update it: sign the app as its SMAuthorizedClients require, or remove the helper first",
        )
        .with_details(clients.reasons().to_vec())];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> BundleVersion {
        BundleVersion::parse(s).unwrap()
    }

    fn facts(installed: Installed) -> Facts {
        Facts {
            label: "com.example.helper".into(),
            app: "/A.app".into(),
            contract: Verdict::Pass,
            app_id: Some("com.example.app".into()),
            requirement: Some("anchor apple generic".into()),
            bundled: Ok(v("1.1")),
            policy: Vec::new(),
            installer: None,
            job: Vec::new(),
            installed,
        }
    }

    fn helper(version: &str, signature: Verdict, clients: Verdict) -> Installed {
        Installed::Helper {
            path: "/r/Library/PrivilegedHelperTools/com.example.helper".into(),
            version: v(version),
            signature,
            clients,
        }
    }

    fn refused(d: &Decision) -> Vec<RefusalId> {
        match d {
            Decision::Refuse { refusals } => refusals.iter().map(|r| r.id).collect(),
            Decision::Proceed { .. } => Vec::new(),
        }
    }

    #[test]
    fn the_matrix_of_installed_states() {
        let fail = || Verdict::Fail(vec!["no".into()]);
        let cases: Vec<(Installed, &str)> = vec![
            (Installed::Nothing, "install 1.1"),
            (
                helper("1.0", Verdict::Pass, Verdict::Pass),
                "upgrade from 1.0 to 1.1",
            ),
            (
                helper("1.1", Verdict::Pass, Verdict::Pass),
                "no change: installed 1.1 ≥ bundled 1.1",
            ),
            (
                helper("2.0", Verdict::Pass, Verdict::Pass),
                "no change: installed 2.0 ≥ bundled 1.1",
            ),
            (
                helper("1.0", fail(), Verdict::Pass),
                "refuse: [installed-helper-invalid]",
            ),
            (
                helper("1.0", Verdict::Pass, fail()),
                "refuse: [installed-client-requirement-unsatisfied]",
            ),
            (
                Installed::Unreadable {
                    path: "/x".into(),
                    reason: "/x: is a FIFO".into(),
                },
                "refuse: [installed-helper-unreadable] /x: is a FIFO",
            ),
            (
                Installed::Foreign {
                    job: "/r/Library/LaunchDaemons/com.example.helper.plist".into(),
                    program: Some("/usr/local/bin/other".into()),
                },
                "refuse: [foreign-job]",
            ),
        ];
        for (installed, expected) in cases {
            let d = plan(&facts(installed.clone()));
            assert!(
                d.describe().starts_with(expected),
                "{installed:?}: {} (expected {expected})",
                d.describe()
            );
        }
    }

    #[test]
    fn a_no_change_is_not_refused_by_the_installed_helpers_clients() {
        // Nothing is replaced, so the installed helper's opinion is not asked.
        let d = plan(&facts(helper("2.0", Verdict::Pass, Verdict::Fail(vec![]))));
        assert!(matches!(d.action(), Some(Action::None { .. })));
    }

    #[test]
    fn every_reason_before_versions_is_reported_together() {
        let mut f = facts(Installed::Foreign {
            job: "/j".into(),
            program: None,
        });
        f.contract = Verdict::Fail(vec!["[x] y".into()]);
        f.app_id = None;
        f.requirement = None;
        f.bundled = Err("bad version".into());
        f.installer = Some(Verdict::Fail(vec![]));
        assert_eq!(
            refused(&plan(&f)),
            [
                RefusalId::ContractCheckFailed,
                RefusalId::AppIdentifierMissing,
                RefusalId::PrivilegedExecutablesMissing,
                RefusalId::InstallerRequirementUnsatisfied,
                RefusalId::BundleVersionInvalid,
                RefusalId::ForeignJob,
            ]
        );
    }
}
