//! `remove`: unload the job and delete its files (SMJobRemove only unloads). Idempotent.

use std::path::PathBuf;

use serde::Serialize;

use super::backend::{JobBackend, ServiceManagerKind};
use super::installed;
use super::layout::{plist_name, Layout};
use super::refusal::{Refusal, RefusalId};
use super::snapshot::{Limits, Snapshot};
use super::trust::{TrustCheck, Verdict};
use super::{recover, require_privileges, unsafe_refusal, validate_label, InstallError, LabelLock};

/// How to remove.
pub struct RemoveOptions<'a> {
    /// The root (`/` for the running system).
    pub root: PathBuf,
    /// When set, the app must satisfy the installed helper's `SMAuthorizedClients`.
    pub app: Option<PathBuf>,
    /// Unloads the job.
    pub service: &'a dyn JobBackend,
    /// Answers the `--app` question.
    pub trust: &'a dyn TrustCheck,
}

/// How a remove ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoveOutcome {
    /// Something was removed.
    Removed,
    /// Nothing was installed (remove is idempotent).
    NotInstalled,
    /// The app is not an authorized client of the installed helper.
    Refused,
}

/// The result of [`remove`].
#[derive(Debug, Clone, Serialize)]
pub struct RemoveReport {
    /// How it ended.
    pub outcome: RemoveOutcome,
    /// The label.
    pub label: String,
    /// The resolved root.
    pub root: PathBuf,
    /// The service manager used.
    pub service_manager: ServiceManagerKind,
    /// Files deleted.
    pub removed: Vec<PathBuf>,
    /// Why it was refused.
    pub refusals: Vec<Refusal>,
    /// What recovery of an interrupted install did, if anything.
    pub recovered: Option<String>,
    /// Other things worth saying.
    pub notes: Vec<String>,
}

/// Unload the job `label` and delete its plist and helper. Idempotent: removing what is not
/// installed reports `NotInstalled`.
pub fn remove(label: &str, opts: &RemoveOptions<'_>) -> Result<RemoveReport, InstallError> {
    validate_label(label)?;
    let mut report = RemoveReport {
        outcome: RemoveOutcome::Refused,
        label: label.to_owned(),
        root: opts.root.clone(),
        service_manager: opts.service.kind(),
        removed: Vec::new(),
        refusals: Vec::new(),
        recovered: None,
        notes: Vec::new(),
    };
    let layout = match Layout::open(&opts.root)? {
        Ok(l) => l,
        Err(u) => {
            report.refusals.push(unsafe_refusal(vec![u]));
            return Ok(report);
        }
    };
    report.root = layout.root().to_path_buf();
    require_privileges(&layout, false)?;
    let checked = layout.check()?;
    if !checked.unsafe_dirs.is_empty() {
        report.refusals.push(unsafe_refusal(checked.unsafe_dirs));
        return Ok(report);
    }
    report.outcome = RemoveOutcome::NotInstalled;
    if checked.helper.is_none() && checked.daemon.is_none() {
        opts.service.bootout(label)?;
        return Ok(report);
    }
    let checked = layout.ensure()?;
    if !checked.unsafe_dirs.is_empty() {
        report.outcome = RemoveOutcome::Refused;
        report.refusals.push(unsafe_refusal(checked.unsafe_dirs));
        return Ok(report);
    }
    let Some(dirs) = checked.into_dirs() else {
        return Ok(report);
    };
    let _lock = LabelLock::acquire(&dirs, label)?;
    report.recovered = recover(&layout, &dirs, label, opts.service)?;
    if let Some(app) = &opts.app {
        if let Some(refusal) = app_refusal(app, &dirs.helper, label, opts)? {
            report.outcome = RemoveOutcome::Refused;
            report.refusals.push(refusal);
            return Ok(report);
        }
    }
    opts.service.bootout(label)?;
    // The plist first: launchd must never find a plist whose program is gone.
    if dirs.daemon.remove(&plist_name(label))? {
        dirs.daemon.sync()?;
        report.removed.push(layout.plist(label));
    }
    if dirs.helper.remove(label)? {
        dirs.helper.sync()?;
        report.removed.push(layout.helper(label));
    }
    if !report.removed.is_empty() {
        report.outcome = RemoveOutcome::Removed;
    }
    Ok(report)
}

/// Whether `app` (judged once, from a snapshot) may remove the installed helper.
fn app_refusal(
    app: &std::path::Path,
    helper_dir: &super::dir::Dir,
    label: &str,
    opts: &RemoveOptions<'_>,
) -> Result<Option<Refusal>, InstallError> {
    let Some(read) = installed::read_helper(helper_dir, label)? else {
        return Ok(None);
    };
    let snapshot = Snapshot::capture(app, Limits::default())?;
    let judgement = opts
        .trust
        .judge_app(snapshot.bundle(), label)
        .map_err(|source| InstallError::Trust {
            what: format!("{}: SMAuthorizedClients", app.display()),
            source,
        })?;
    let verdict = match read.map(|h| h.facts.authorized_clients()) {
        Ok(Ok(clients)) => judgement.satisfies_any(&clients),
        Ok(Err(e)) => Verdict::Fail(vec![format!("{}: {e}", helper_dir.child(label).display())]),
        Err(reason) => Verdict::Fail(vec![reason]),
    };
    Ok((!verdict.passed()).then(|| {
        Refusal::new(
            RefusalId::InstalledClientRequirementUnsatisfied,
            format!(
                "{} does not satisfy the SMAuthorizedClients of the installed {label}",
                app.display()
            ),
            "remove it without --app (as root), or with the app that installed it",
        )
        .with_details(verdict.reasons().to_vec())
    }))
}
