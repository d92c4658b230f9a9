//! `status`: every installed helper, its version, signature and load state, and — with an app —
//! the planner's prediction for it, in the words `bless --dry-run` uses.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::backend::{JobBackend, ServiceManagerKind};
use super::bless::{predict, InstalledAt, PredictOptions};
use super::installed::{self, MAX_JOB_SIZE};
use super::layout::Checked;
use super::layout::{Layout, HELPER_DIR};
use super::policy::Policy;
use super::trust::TrustCheck;
use super::{validate_label, Action, InstallError};

/// How to report status.
pub struct StatusOptions<'a> {
    /// The root (`/` for the running system).
    pub root: PathBuf,
    /// When set, say what a bless of this app would do for each of its helpers.
    pub app: Option<PathBuf>,
    /// Asks whether jobs are loaded; reads job files.
    pub service: &'a dyn JobBackend,
    /// Checks signatures and requirements.
    pub trust: &'a dyn TrustCheck,
    /// The installer policy a bless would apply.
    pub policy: Policy,
}

/// One installed helper.
#[derive(Debug, Clone, Serialize)]
pub struct HelperStatus {
    /// The job label.
    pub label: String,
    /// The daemon plist (under the root).
    pub plist: PathBuf,
    /// The helper as the plist names it (system path).
    pub program: Option<PathBuf>,
    /// The helper under the root.
    pub path: Option<PathBuf>,
    /// Whether the helper file exists.
    pub installed: bool,
    /// `CFBundleVersion` of the installed helper.
    pub version: Option<String>,
    /// Whether its signature is valid (`None`: not checked or not installed).
    pub signature_valid: Option<bool>,
    /// Why the signature is not valid.
    pub signature_problems: Vec<String>,
    /// Whether launchd has the job loaded (`None`: unknown, e.g. off macOS).
    pub loaded: Option<bool>,
    /// With `--app`: the prediction, word for word what `bless --dry-run` says.
    pub prediction: Option<String>,
    /// With `--app`: the action, when the bless would go ahead.
    pub bless_action: Option<Action>,
    /// Problems reading this entry.
    pub problems: Vec<String>,
}

/// The result of [`status`].
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The resolved root.
    pub root: PathBuf,
    /// The service manager asked about load state.
    pub service_manager: ServiceManagerKind,
    /// Every installed helper (or the one asked about).
    pub helpers: Vec<HelperStatus>,
}

/// Whether `program` is a plain path below `/Library/PrivilegedHelperTools` (a `..` could
/// point a read anywhere); the relative name when it is.
fn helper_name(program: &str) -> Option<String> {
    let prefix = Path::new("/").join(HELPER_DIR);
    let rest = Path::new(program).strip_prefix(prefix).ok()?;
    let comps: Vec<_> = rest.components().collect();
    match comps.as_slice() {
        [Component::Normal(n)] => Some(n.to_string_lossy().into_owned()),
        _ => None,
    }
}

/// List installed helpers: job files whose program is in `Library/PrivilegedHelperTools`.
/// With `label`, only that one (reported as not installed when absent). With an app, each
/// helper gets the planner's prediction.
pub fn status(label: Option<&str>, opts: &StatusOptions<'_>) -> Result<StatusReport, InstallError> {
    if let Some(l) = label {
        validate_label(l)?;
    }
    let layout = Layout::open_or_error(&opts.root)?;
    let checked = layout.check()?;
    let mut helpers = listed(&layout, &checked, label, opts)?;
    if let Some(l) = label.filter(|_| helpers.is_empty()) {
        helpers.push(not_installed(&layout, l, opts));
    }
    if let Some(app) = &opts.app {
        attach(app, &layout, &mut helpers, opts)?;
    }
    Ok(StatusReport {
        root: layout.root().to_path_buf(),
        service_manager: opts.service.kind(),
        helpers,
    })
}

/// Every job file whose program is an installed helper (only `label`'s when given).
fn listed(
    layout: &Layout,
    checked: &Checked,
    label: Option<&str>,
    opts: &StatusOptions<'_>,
) -> Result<Vec<HelperStatus>, InstallError> {
    let mut helpers = Vec::new();
    let Some(daemon) = &checked.daemon else {
        return Ok(helpers);
    };
    for name in daemon.names()? {
        if name.starts_with('.') || !name.ends_with(".plist") {
            continue;
        }
        let Ok(bytes) = daemon.read(&name, MAX_JOB_SIZE) else {
            continue;
        };
        let Some(program) = opts.service.program_of(&bytes).ok().flatten() else {
            continue;
        };
        let Some(file) = helper_name(&program) else {
            continue;
        };
        let job_label = plist::from_bytes::<plist::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.as_dictionary()?
                    .get("Label")?
                    .as_string()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| name.trim_end_matches(".plist").to_owned());
        if label.is_none_or(|l| l == job_label) {
            helpers.push(entry(
                layout, checked, &job_label, &name, &program, &file, opts,
            )?);
        }
    }
    Ok(helpers)
}

fn not_installed(layout: &Layout, label: &str, opts: &StatusOptions<'_>) -> HelperStatus {
    HelperStatus {
        label: label.to_owned(),
        plist: layout.plist(label),
        program: None,
        path: None,
        installed: false,
        version: None,
        signature_valid: None,
        signature_problems: Vec::new(),
        loaded: opts.service.is_loaded(label),
        prediction: None,
        bless_action: None,
        problems: Vec::new(),
    }
}

/// The planner's prediction for each helper (or, with none listed, for the app's own).
fn attach(
    app: &Path,
    layout: &Layout,
    helpers: &mut Vec<HelperStatus>,
    opts: &StatusOptions<'_>,
) -> Result<(), InstallError> {
    let labels: Vec<String> = helpers.iter().map(|h| h.label.clone()).collect();
    let popts = PredictOptions {
        service: opts.service,
        trust: opts.trust,
        policy: opts.policy.clone(),
    };
    for p in predict(app, &labels, &InstalledAt::Root(opts.root.clone()), &popts)? {
        if !helpers.iter().any(|h| h.label == p.label) {
            helpers.push(not_installed(layout, &p.label, opts));
        }
        if let Some(entry) = helpers.iter_mut().find(|h| h.label == p.label) {
            entry.bless_action = p.decision.action().cloned();
            entry.prediction = Some(p.text);
        }
    }
    Ok(())
}

fn entry(
    layout: &Layout,
    checked: &Checked,
    label: &str,
    plist_file: &str,
    program: &str,
    file: &str,
    opts: &StatusOptions<'_>,
) -> Result<HelperStatus, InstallError> {
    let path = layout.helper_dir().join(file);
    let mut entry = HelperStatus {
        plist: layout.daemon_dir().join(plist_file),
        program: Some(PathBuf::from(program)),
        path: Some(path.clone()),
        ..not_installed(layout, label, opts)
    };
    let read = match &checked.helper {
        Some(h) => installed::read_helper(h, file)?,
        None => None,
    };
    match read {
        None => entry
            .problems
            .push(format!("{} is missing", path.display())),
        Some(Err(reason)) => {
            entry.installed = true;
            entry.problems.push(reason);
        }
        Some(Ok(h)) => {
            entry.installed = true;
            match h.facts.version() {
                Ok(v) => entry.version = Some(v.to_string()),
                Err(e) => entry.problems.push(e.to_string()),
            }
            match opts.trust.signature_valid(&path, &h.bytes) {
                Ok(v) => {
                    entry.signature_valid = Some(v.passed());
                    entry.signature_problems = v.reasons().to_vec();
                }
                Err(e) => entry.problems.push(format!("signature not checked: {e}")),
            }
        }
    }
    Ok(entry)
}
