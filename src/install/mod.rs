//! Install, upgrade, remove and list privileged helpers as root launchd daemons: what
//! `SMJobBless` does, done verifiably and crash-safely, under any root directory.
//!
//! - [`bless`]: take the per-label lock, finish any interrupted install, check the app↔helper
//!   contract, compare versions (upgrade only to a strictly greater `CFBundleVersion`, and only if
//!   the app satisfies the *installed* helper's `SMAuthorizedClients`), copy the helper into the
//!   destination directory and **re-verify the copy**, write the daemon plist, swap both into
//!   place under a journal, and load the job (rolling back if loading fails).
//! - [`remove`]: unload and delete both files; idempotent.
//! - [`status`]: every installed helper, its version, signature and load state, and what a bless
//!   of a given app would do.
//!
//! Trust decisions are injected through [`TrustCheck`] ([`ContractTrust`] is the real one);
//! loading through [`ServiceManager`] (`launchctl` on macOS, [`NoServiceManager`] elsewhere).
//!
//! File modes: the helper is installed `root:wheel 0544` (`r-xr--r--`): nobody, root included,
//! can write it in place (a write would break its signature under a running daemon); only its
//! owner executes it (launchd runs it as root); everyone may read it, so clients and `status`
//! can verify its signature before trusting it. The plist is `root:wheel 0644`, the mode launchd
//! requires (not writable by group or others). On a staging root (`--root DIR`) run without
//! root privileges, files keep the current user as owner; modes are the same.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::bundle::{self, BundleError, LAUNCH_SERVICES_DIR};
use crate::version::BundleVersion;

mod contract_trust;
mod daemon;
mod fsutil;
mod helper;
mod journal;
mod layout;
mod service;
mod trust;

pub use contract_trust::ContractTrust;
pub use daemon::daemon_plist;
pub use helper::{FactError, HelperFacts, MAX_HELPER_SIZE};
pub use journal::{Journal, Phase};
pub use layout::{Layout, UnsafeDir, DAEMON_DIR, HELPER_DIR, STATE_DIR};
#[cfg(target_os = "macos")]
pub use service::Launchctl;
pub use service::{
    display_command, launchctl_command, LaunchctlOp, NoServiceManager, ServiceError,
    ServiceManager, ServiceManagerKind, LAUNCHCTL,
};
pub use trust::{TrustCheck, TrustError, Verdict};

/// Mode of the installed helper: `r-xr--r--` (see the module documentation for why).
pub const HELPER_MODE: u32 = 0o544;
/// Mode of the installed daemon plist: `rw-r--r--`, as launchd requires.
pub const PLIST_MODE: u32 = 0o644;

/// The environment variable that, in debug builds only, makes the process abort at a named
/// step of an install (a crash-injection hook for tests). Release builds never read it.
pub const CRASH_AT_ENV: &str = "SMBLESS_CRASH_AT";

/// The steps at which [`CRASH_AT_ENV`] can abort, in the order an upgrade passes them.
pub const CRASH_POINTS: &[&str] = &[
    "locked",
    "helper-copied",
    "helper-verified",
    "plist-written",
    "backup-made",
    "journal-committed",
    "booted-out",
    "helper-renamed",
    "plist-renamed",
    "bootstrapped",
    "journal-cleared",
    "rollback-journaled",
    "rollback-helper-restored",
];

/// Abort the process here if the crash-injection hook names `step` (debug builds only): a real
/// crash, with no destructor, unwinding or cleanup, which is what recovery must survive.
pub(crate) fn failpoint(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os(CRASH_AT_ENV).is_some_and(|v| v == step) {
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

/// An install that could not run (as opposed to one a check refused, see [`Refusal`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InstallError {
    /// An I/O operation failed.
    #[error("{path}: {op}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// Installing into the running system needs root.
    #[error("installing into {root} needs root privileges (effective uid is {euid}); run it with `sudo smbless …`, use `smbless::macos::install` from an app (SMAppService or SMJobBless), or stage into a directory with `--root DIR`")]
    NotRoot {
        /// The root directory.
        root: PathBuf,
        /// The effective uid.
        euid: u32,
    },
    /// The label is not usable as a file name.
    #[error("label {label:?} is not usable; expected a plain file name (no `/`, not starting with `.`, at most 200 bytes)")]
    LabelInvalid {
        /// The label.
        label: String,
    },
    /// No label was given and the app does not name exactly one helper.
    #[error("{app}: SMPrivilegedExecutables names {found}; give the label to bless explicitly")]
    LabelAmbiguous {
        /// The app.
        app: PathBuf,
        /// What it names.
        found: String,
    },
    /// The app bundle could not be read.
    #[error(transparent)]
    App(#[from] BundleError),
    /// A path that should be a regular file is not.
    #[error("{path}: is {found}; expected a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        found: &'static str,
    },
    /// A file is larger than smbless reads.
    #[error("{path}: {size} bytes; expected at most {max}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// A helper binary could not be parsed.
    #[error("{path}: {reason}")]
    HelperUnreadable {
        /// The helper.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A trust question could not be answered.
    #[error("{what}: {source}")]
    Trust {
        /// Which question.
        what: String,
        /// Why it could not be answered.
        source: TrustError,
    },
    /// The journal is unreadable.
    #[error("{path}: install journal unreadable: {reason}; inspect the files next to it, then delete it to proceed")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A plist could not be written.
    #[error("{path}: cannot serialise the daemon plist: {reason}")]
    PlistWrite {
        /// The plist.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A service-manager command failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The new job could not be loaded; the previous state was restored.
    #[error("loading {label} failed ({cause}); {restored}")]
    LoadFailed {
        /// The label.
        label: String,
        /// The bootstrap failure.
        cause: ServiceError,
        /// What was restored, in words.
        restored: String,
    },
}

/// Why an install was refused: a check ran and found something wanting (exit 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Details (e.g. contract findings), one per line.
    pub details: Vec<String>,
}

impl Refusal {
    fn new(id: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Refusal {
        Refusal {
            id,
            message: message.into(),
            hint: hint.into(),
            details: Vec::new(),
        }
    }

    fn with_details(mut self, details: Vec<String>) -> Refusal {
        self.details = details;
        self
    }
}

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
    /// Decide as SMJobBless does: install when nothing is installed, upgrade only to a strictly
    /// greater version, otherwise leave the installed helper.
    pub fn decide(bundled: &BundleVersion, installed: Option<&BundleVersion>) -> Action {
        match installed {
            None => Action::Install {
                version: bundled.to_string(),
            },
            Some(old) if bundled.is_upgrade_from(old) => Action::Upgrade {
                from: old.to_string(),
                to: bundled.to_string(),
            },
            Some(old) => Action::None {
                installed: old.to_string(),
                bundled: bundled.to_string(),
            },
        }
    }

    /// One line for humans: "install 1.1", "upgrade 1.0 → 1.1", "no change: installed 1.2 ≥
    /// bundled 1.1".
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

/// One file a bless writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedFile {
    /// Where it is written (under the root).
    pub path: PathBuf,
    /// Its path on the installed system.
    pub system_path: PathBuf,
    /// Owner, e.g. `root:wheel (0:0)`.
    pub owner: String,
    /// Octal mode, e.g. `0544`.
    pub mode: String,
    /// What it is.
    pub content: String,
}

/// What a bless will do (printed by `--dry-run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The decision.
    pub action: Action,
    /// Directories to create, with modes.
    pub create_directories: Vec<PlannedFile>,
    /// Files to write.
    pub files: Vec<PlannedFile>,
    /// Service-manager command lines, in order.
    pub commands: Vec<String>,
    /// The steps, in order, in words.
    pub steps: Vec<String>,
}

/// How a bless ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlessOutcome {
    /// The helper was installed (fresh or upgrade) and, with a service manager, loaded.
    Installed,
    /// Nothing needed doing (the installed version is the same or greater).
    NoChange,
    /// `--dry-run`: the plan was made and nothing changed.
    Planned,
    /// A check refused the install; see `refusals`.
    Refused,
}

/// The result of [`bless`].
#[derive(Debug, Clone, Serialize)]
pub struct BlessReport {
    /// How it ended.
    pub outcome: BlessOutcome,
    /// The label.
    pub label: String,
    /// The app.
    pub app: PathBuf,
    /// The app's `CFBundleIdentifier`.
    pub app_id: Option<String>,
    /// The resolved root.
    pub root: PathBuf,
    /// The service manager used.
    pub service_manager: ServiceManagerKind,
    /// The decision, once versions were compared.
    pub action: Option<Action>,
    /// The plan, when the install got that far.
    pub plan: Option<Plan>,
    /// Why it was refused.
    pub refusals: Vec<Refusal>,
    /// What recovery of an interrupted earlier install did, if anything.
    pub recovered: Option<String>,
    /// Other things worth saying.
    pub notes: Vec<String>,
    /// The installed helper path (under the root) after success.
    pub installed_helper: Option<PathBuf>,
    /// The installed plist path (under the root) after success.
    pub installed_plist: Option<PathBuf>,
}

/// How to bless.
pub struct BlessOptions<'a> {
    /// The root to install under (`/` for the running system).
    pub root: PathBuf,
    /// Print the plan; change nothing.
    pub dry_run: bool,
    /// Loads and unloads the job.
    pub service: &'a dyn ServiceManager,
    /// Answers the trust questions.
    pub trust: &'a dyn TrustCheck,
}

/// Check that `label` can be used as a file name in the install directories.
pub fn validate_label(label: &str) -> Result<(), InstallError> {
    if bundle::is_plain_file_name(label)
        && !label.starts_with('.')
        && label.len() <= 200
        && !label.contains('\0')
    {
        Ok(())
    } else {
        Err(InstallError::LabelInvalid {
            label: label.to_owned(),
        })
    }
}

/// The app facts a bless needs: bundle id and `SMPrivilegedExecutables`.
struct AppFacts {
    id: Option<String>,
    privileged: Option<plist::Dictionary>,
}

fn read_app(app: &Path) -> Result<AppFacts, InstallError> {
    if !bundle::Bundle::is_bundle(app) {
        return Err(BundleError::NotABundle {
            path: app.to_path_buf(),
        }
        .into());
    }
    let info = bundle::read_plist_file(&app.join("Contents/Info.plist"))?;
    let id = info
        .string("CFBundleIdentifier")
        .map_err(BundleError::from)?
        .map(str::to_owned);
    let privileged = info
        .dict("SMPrivilegedExecutables")
        .map_err(BundleError::from)?
        .cloned();
    Ok(AppFacts { id, privileged })
}

/// The label an app blesses when none is given: the only key of `SMPrivilegedExecutables`.
pub fn default_label(app: &Path) -> Result<String, InstallError> {
    let facts = read_app(app)?;
    let keys: Vec<&String> = facts
        .privileged
        .as_ref()
        .map(|d| d.keys().collect())
        .unwrap_or_default();
    match keys.as_slice() {
        [only] => Ok((*only).clone()),
        [] => Err(InstallError::LabelAmbiguous {
            app: app.to_path_buf(),
            found: "no helper".into(),
        }),
        many => Err(InstallError::LabelAmbiguous {
            app: app.to_path_buf(),
            found: format!(
                "{} helpers ({})",
                many.len(),
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

fn trust_err(what: impl Into<String>) -> impl FnOnce(TrustError) -> InstallError {
    let what = what.into();
    move |source| InstallError::Trust { what, source }
}

fn owner_text(as_root: bool) -> String {
    if as_root {
        "root:wheel (0:0)".into()
    } else {
        format!(
            "uid {} (not root: staging, owner unchanged)",
            fsutil::euid()
        )
    }
}

/// An exclusive per-label lock, released when dropped (or when the process dies).
struct LabelLock {
    _file: File,
}

impl LabelLock {
    fn acquire(layout: &Layout, label: &str) -> Result<LabelLock, InstallError> {
        let path = layout.lock(label);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(fsutil::io_err(&path, "opening lock"))?;
        // Blocks until a concurrent bless/remove of the same label finishes: they serialise.
        fs4::FileExt::lock(&file).map_err(fsutil::io_err(&path, "locking"))?;
        Ok(LabelLock { _file: file })
    }
}

fn require_privileges(layout: &Layout, dry_run: bool) -> Result<(), InstallError> {
    let euid = fsutil::euid();
    if layout.is_system() && !dry_run && euid != 0 {
        return Err(InstallError::NotRoot {
            root: layout.root().to_path_buf(),
            euid,
        });
    }
    Ok(())
}

fn unsafe_refusal(dirs: Vec<UnsafeDir>) -> Refusal {
    Refusal::new(
        "unsafe-directory",
        "a directory on the install paths is not safe to install through",
        "fix the ownership and modes (root:wheel, 0755, no symlinks) or choose another --root",
    )
    .with_details(
        dirs.into_iter()
            .map(|d| format!("{}: {}", d.path.display(), d.problem))
            .collect(),
    )
}

/// Finish or undo an install of `label` that was interrupted (crash, power loss), under the
/// per-label lock the caller holds. Returns what was done, if anything.
fn recover(
    layout: &Layout,
    label: &str,
    service: &dyn ServiceManager,
) -> Result<Option<String>, InstallError> {
    match journal::read(layout, label)? {
        None => Ok(journal::remove_leftovers(layout, label)?.then(|| {
            "removed temporary files of an install interrupted before it committed; the installed helper was untouched".to_owned()
        })),
        Some(j) if j.phase == Phase::Commit => {
            journal::roll_forward(layout, label)?;
            // Whatever was loaded when the crash came, load the new job afresh.
            let _ = service.bootout(label);
            match service.bootstrap(&layout.plist(label)) {
                Ok(()) => {
                    journal::clear(layout, label)?;
                    journal::remove_leftovers(layout, label)?;
                    Ok(Some(format!(
                        "completed an interrupted install of {label} {}",
                        j.new_version
                    )))
                }
                Err(cause) => Err(roll_back(layout, &j, service, cause)),
            }
        }
        Some(j) => {
            journal::roll_back(layout, &j)?;
            if j.had_old_helper && j.had_old_plist {
                let _ = service.bootstrap(&layout.plist(label));
            }
            journal::clear(layout, label)?;
            journal::remove_leftovers(layout, label)?;
            Ok(Some(format!(
                "finished rolling back an install of {label} {} that failed to load",
                j.new_version
            )))
        }
    }
}

/// Loading the new job failed: restore the old files and load them again. Returns the error
/// to report (the restore's own failure, if it failed).
fn roll_back(
    layout: &Layout,
    j: &Journal,
    service: &dyn ServiceManager,
    cause: ServiceError,
) -> InstallError {
    let label = j.label.as_str();
    let mut rb = j.clone();
    rb.phase = Phase::Rollback;
    if let Err(e) = journal::write(layout, &rb) {
        return e;
    }
    failpoint("rollback-journaled");
    if let Err(e) = journal::roll_back(layout, &rb) {
        return e;
    }
    let restored = if j.had_old_helper && j.had_old_plist {
        let _ = service.bootout(label);
        match service.bootstrap(&layout.plist(label)) {
            Ok(()) => format!(
                "restored and reloaded the previous version {}",
                j.old_version.as_deref().unwrap_or("(unknown)")
            ),
            Err(e) => format!(
                "restored the previous version {} but loading it failed too: {e}",
                j.old_version.as_deref().unwrap_or("(unknown)")
            ),
        }
    } else if j.had_old_helper {
        "restored the previous helper (it had no daemon plist)".to_owned()
    } else {
        "removed the new files; nothing was installed before".to_owned()
    };
    if let Err(e) = journal::clear(layout, label)
        .and_then(|_| journal::remove_leftovers(layout, label).map(|_| ()))
    {
        return e;
    }
    InstallError::LoadFailed {
        label: label.to_owned(),
        cause,
        restored,
    }
}

/// Install or upgrade the helper `label` of `app` (the only one when `label` is `None`).
///
/// Returns a report for every outcome a check decided (installed, no change, refused,
/// planned); `Err` only when the bless could not run.
pub fn bless(
    app: &Path,
    label: Option<&str>,
    opts: &BlessOptions<'_>,
) -> Result<BlessReport, InstallError> {
    let label = match label {
        Some(l) => l.to_owned(),
        None => default_label(app)?,
    };
    validate_label(&label)?;
    let layout = Layout::open(&opts.root)?;
    require_privileges(&layout, opts.dry_run)?;
    let as_root = fsutil::euid() == 0;

    let mut report = BlessReport {
        outcome: BlessOutcome::Refused,
        label: label.clone(),
        app: app.to_path_buf(),
        app_id: None,
        root: layout.root().to_path_buf(),
        service_manager: opts.service.kind(),
        action: None,
        plan: None,
        refusals: Vec::new(),
        recovered: None,
        notes: Vec::new(),
        installed_helper: None,
        installed_plist: None,
    };
    if opts.service.kind() == ServiceManagerKind::None {
        report
            .notes
            .push("service manager: none (files only; nothing is loaded or unloaded)".into());
    }

    let (unsafe_dirs, _) = layout.check_dirs()?;
    if !unsafe_dirs.is_empty() {
        report.refusals.push(unsafe_refusal(unsafe_dirs));
        return Ok(report);
    }

    let _lock = if opts.dry_run {
        match journal::pending(&layout, &label) {
            Ok(false) => {}
            Ok(true) => report.notes.push(
                "an interrupted earlier install is pending; a real run recovers it first".into(),
            ),
            // Unprivileged dry runs cannot look into root's state directory; say so.
            Err(e) => report.notes.push(format!(
                "could not check for an interrupted earlier install ({e})"
            )),
        }
        None
    } else {
        let unsafe_dirs = layout.ensure_dirs()?;
        if !unsafe_dirs.is_empty() {
            report.refusals.push(unsafe_refusal(unsafe_dirs));
            return Ok(report);
        }
        let lock = LabelLock::acquire(&layout, &label)?;
        failpoint("locked");
        report.recovered = recover(&layout, &label, opts.service)?;
        Some(lock)
    };

    // The contract: both signatures, both requirements, the plists.
    let verdict = opts
        .trust
        .check_contract(app, &label)
        .map_err(trust_err(format!("{}: contract check", app.display())))?;
    if !verdict.passed() {
        report.refusals.push(
            Refusal::new(
                "contract-check-failed",
                format!(
                    "{} and its helper {label} do not satisfy the SMJobBless contract",
                    app.display()
                ),
                format!(
                    "run `smbless verify {}` for every finding with a fix",
                    app.display()
                ),
            )
            .with_details(verdict.reasons().to_vec()),
        );
        return Ok(report);
    }

    let app_facts = read_app(app)?;
    report.app_id = app_facts.id.clone();
    let Some(app_id) = app_facts.id.clone() else {
        report.refusals.push(Refusal::new(
            "app-identifier-missing",
            format!("{}: Info.plist has no CFBundleIdentifier", app.display()),
            "set CFBundleIdentifier in the app's Info.plist",
        ));
        return Ok(report);
    };
    let requirement = match app_facts
        .privileged
        .as_ref()
        .and_then(|d| d.get(&label))
        .and_then(|v| v.as_string())
    {
        Some(r) => r.to_owned(),
        None => {
            report.refusals.push(Refusal::new(
                "privileged-executables-missing",
                format!(
                    "{}: SMPrivilegedExecutables has no string entry for {label}",
                    app.display()
                ),
                "add the helper's designated requirement under its label (`smbless setreq`)",
            ));
            return Ok(report);
        }
    };

    // The bundled helper, read once; the copy is made from these bytes and verified on disk.
    let source = app.join(LAUNCH_SERVICES_DIR).join(&label);
    let (source_facts, source_bytes) = HelperFacts::read(&source)?;
    let bundled = match source_facts.version() {
        Ok(v) => v,
        Err(e) => {
            report.refusals.push(Refusal::new(
                "bundle-version-invalid",
                format!("{}: {e}", source.display()),
                "set CFBundleVersion to 1-3 dot-separated integers in the helper's Info.plist",
            ));
            return Ok(report);
        }
    };

    // The installed helper, if any.
    let installed_path = layout.helper(&label);
    let installed = if fsutil::exists_no_follow(&installed_path)? {
        let facts = match HelperFacts::read(&installed_path) {
            Ok((facts, _)) => facts,
            Err(e) => {
                report.refusals.push(Refusal::new(
                    "installed-helper-unreadable",
                    e.to_string(),
                    format!("inspect it, then `smbless remove {label}` and bless again"),
                ));
                return Ok(report);
            }
        };
        match facts.version() {
            Ok(v) => Some((facts, v)),
            Err(e) => {
                report.refusals.push(Refusal::new(
                    "installed-helper-unreadable",
                    format!("{}: {e}", installed_path.display()),
                    format!("inspect it, then `smbless remove {label}` and bless again"),
                ));
                return Ok(report);
            }
        }
    } else {
        None
    };
    let action = Action::decide(&bundled, installed.as_ref().map(|(_, v)| v));
    report.action = Some(action.clone());

    if let Action::None { .. } = action {
        report.outcome = BlessOutcome::NoChange;
        report.notes.push(format!(
            "{}; bump CFBundleVersion of the helper to replace it",
            action.describe()
        ));
        if !fsutil::exists_no_follow(&layout.plist(&label))? {
            report.notes.push(format!(
                "{} is missing: the installed helper is not registered with launchd; `smbless remove {label}` then bless again",
                layout.plist(&label).display()
            ));
        }
        return Ok(report);
    }

    // An update must be allowed by the helper it replaces.
    if let Some((old, _)) = &installed {
        match old.authorized_clients() {
            Ok(clients) => {
                let v = opts
                    .trust
                    .app_satisfies_any(app, &clients, None)
                    .map_err(trust_err(format!(
                        "{}: installed SMAuthorizedClients",
                        installed_path.display()
                    )))?;
                if !v.passed() {
                    report.refusals.push(
                        Refusal::new(
                            "installed-client-requirement-unsatisfied",
                            format!(
                                "{} does not satisfy the SMAuthorizedClients of the installed {label}, so it may not replace it",
                                app.display()
                            ),
                            "the installed helper decides who may update it: sign the app as its SMAuthorizedClients require, or remove the helper first",
                        )
                        .with_details(v.reasons().to_vec()),
                    );
                    return Ok(report);
                }
            }
            Err(e) => {
                report.refusals.push(Refusal::new(
                    "installed-client-requirement-unsatisfied",
                    format!("{}: {e}", installed_path.display()),
                    format!(
                        "the installed helper authorizes no client; `smbless remove {label}` first"
                    ),
                ));
                return Ok(report);
            }
        }
    }

    // The running system is only ever written as root, so that is whom a plan shows.
    let plan = make_plan(
        &layout,
        &label,
        &action,
        opts.service,
        as_root || layout.is_system(),
    )?;
    report.plan = Some(plan);
    if opts.dry_run {
        report.outcome = BlessOutcome::Planned;
        return Ok(report);
    }

    let old_version = installed.as_ref().map(|(_, v)| v.to_string());
    match commit(
        &layout,
        &label,
        app,
        &app_id,
        &requirement,
        &bundled,
        old_version.as_deref(),
        &source_bytes,
        opts,
        as_root,
    )? {
        Some(refusal) => {
            report.refusals.push(refusal);
        }
        None => {
            report.outcome = BlessOutcome::Installed;
            report.installed_helper = Some(layout.helper(&label));
            report.installed_plist = Some(layout.plist(&label));
        }
    }
    Ok(report)
}

fn make_plan(
    layout: &Layout,
    label: &str,
    action: &Action,
    service: &dyn ServiceManager,
    as_root: bool,
) -> Result<Plan, InstallError> {
    let create_directories = layout
        .missing_with_modes()?
        .into_iter()
        .map(|(path, mode)| PlannedFile {
            system_path: Path::new("/").join(path.strip_prefix(layout.root()).unwrap_or(&path)),
            path,
            owner: owner_text(as_root),
            mode: format!("{mode:04o}"),
            content: "directory".into(),
        })
        .collect();
    let version = match action {
        Action::Install { version } | Action::Upgrade { to: version, .. } => version.clone(),
        Action::None { bundled, .. } => bundled.clone(),
    };
    let files = vec![
        PlannedFile {
            path: layout.helper(label),
            system_path: Layout::system_helper(label),
            owner: owner_text(as_root),
            mode: format!("{HELPER_MODE:04o}"),
            content: format!("helper {label} {version}, copied from the app and re-verified"),
        },
        PlannedFile {
            path: layout.plist(label),
            system_path: Layout::system_plist(label),
            owner: owner_text(as_root),
            mode: format!("{PLIST_MODE:04o}"),
            content: format!(
                "embedded launchd plist + ProgramArguments = [{}] − Program + AssociatedBundleIdentifiers",
                Layout::system_helper(label).display()
            ),
        },
    ];
    let mut commands = Vec::new();
    for op in [
        LaunchctlOp::Bootout {
            label: label.to_owned(),
        },
        LaunchctlOp::Bootstrap {
            plist: Layout::system_plist(label),
        },
    ] {
        for argv in service.commands(&op) {
            commands.push(display_command(&argv));
        }
    }
    let steps = vec![
        format!("lock {}", layout.lock(label).display()),
        format!(
            "copy the helper to {} and fsync",
            layout.new_helper(label).display()
        ),
        "re-verify the copy: signature and the app's SMPrivilegedExecutables requirement".into(),
        format!(
            "set owner and mode {HELPER_MODE:04o}; write the daemon plist to {} (mode {PLIST_MODE:04o})",
            layout.new_plist(label).display()
        ),
        format!("journal the commit in {}", layout.journal(label).display()),
        format!("unload the old job ({})", service.kind()),
        "rename the helper, then the plist, into place; fsync both directories".into(),
        format!(
            "load the job ({}); on failure restore the previous files",
            service.kind()
        ),
    ];
    Ok(Plan {
        action: action.clone(),
        create_directories,
        files,
        commands,
        steps,
    })
}

/// Copy, verify, write, and swap into place. `Ok(Some(refusal))` when the copy failed a check.
#[allow(clippy::too_many_arguments)]
fn commit(
    layout: &Layout,
    label: &str,
    app: &Path,
    app_id: &str,
    requirement: &str,
    bundled: &BundleVersion,
    old_version: Option<&str>,
    source_bytes: &[u8],
    opts: &BlessOptions<'_>,
    as_root: bool,
) -> Result<Option<Refusal>, InstallError> {
    let new_helper = layout.new_helper(label);
    let new_plist = layout.new_plist(label);
    // Recovery removed leftovers already; an unexpected file here is someone else's.
    fsutil::remove_if_present(&new_helper)?;
    fsutil::remove_if_present(&new_plist)?;

    let helper_file = fsutil::create_synced(&new_helper, source_bytes)?;
    fsutil::sync_dir(&layout.helper_dir())?;
    failpoint("helper-copied");

    // Everything below is decided from the copy: it is what will run.
    let refuse = |refusal: Refusal| -> Result<Option<Refusal>, InstallError> {
        fsutil::remove_if_present(&new_helper)?;
        fsutil::remove_if_present(&new_plist)?;
        Ok(Some(refusal))
    };
    let verdict = opts
        .trust
        .code_satisfies(&new_helper, requirement)
        .map_err(trust_err(format!("{}: verification", new_helper.display())))?;
    if !verdict.passed() {
        return refuse(
            Refusal::new(
                "copy-verification-failed",
                format!(
                    "the copy of {label} does not have a valid signature satisfying the app's SMPrivilegedExecutables requirement; nothing was installed"
                ),
                "the helper in the app changed or is damaged: rebuild and re-sign the app, then bless again",
            )
            .with_details(verdict.reasons().to_vec()),
        );
    }
    let (copy, _) = HelperFacts::read(&new_helper)?;
    let copy_version = copy.version().ok();
    if copy.identifier() != Some(label)
        || copy.launchd_label() != Some(label)
        || copy_version.as_ref() != Some(bundled)
    {
        return refuse(Refusal::new(
            "source-changed",
            format!(
                "the copy of {label} is not the helper that was checked (identifier {:?}, launchd Label {:?}, version {:?}; expected {label}, {label}, {bundled}); nothing was installed",
                copy.identifier(),
                copy.launchd_label(),
                copy_version.as_ref().map(|v| v.to_string()),
            ),
            "something modified the app while it was being installed; bless again",
        ));
    }
    let clients = match copy.authorized_clients() {
        Ok(c) => c,
        Err(e) => {
            return refuse(Refusal::new(
                "authorized-clients-missing",
                format!("{}: {e}", new_helper.display()),
                "add SMAuthorizedClients with the app's requirement to the helper's Info.plist",
            ))
        }
    };
    let v = opts
        .trust
        .app_satisfies_any(app, &clients, Some((label, requirement)))
        .map_err(trust_err(format!("{}: SMAuthorizedClients", app.display())))?;
    if !v.passed() {
        return refuse(
            Refusal::new(
                "client-requirement-unsatisfied",
                format!(
                    "{} does not satisfy the SMAuthorizedClients of the helper it installs",
                    app.display()
                ),
                "run `smbless setreq` and rebuild",
            )
            .with_details(v.reasons().to_vec()),
        );
    }
    failpoint("helper-verified");
    fsutil::finalize(&helper_file, &new_helper, HELPER_MODE, as_root)?;
    drop(helper_file);

    let Some(embedded) = copy.launchd.as_ref() else {
        return refuse(Refusal::new(
            "launchd-plist-missing",
            format!("{}: no embedded launchd plist", new_helper.display()),
            "embed a launchd plist in __TEXT,__launchd_plist",
        ));
    };
    let dict = daemon::daemon_plist(embedded, &Layout::system_helper(label), app_id);
    let xml = daemon::to_xml(&dict).map_err(|e| InstallError::PlistWrite {
        path: new_plist.clone(),
        reason: e.to_string(),
    })?;
    let plist_file = fsutil::create_synced(&new_plist, &xml)?;
    fsutil::finalize(&plist_file, &new_plist, PLIST_MODE, as_root)?;
    drop(plist_file);
    fsutil::sync_dir(&layout.daemon_dir())?;
    failpoint("plist-written");

    let helper_path = layout.helper(label);
    let plist_path = layout.plist(label);
    let had_old_helper = fsutil::exists_no_follow(&helper_path)?;
    let had_old_plist = fsutil::exists_no_follow(&plist_path)?;
    if had_old_helper {
        fsutil::link_or_copy(&helper_path, &layout.old_helper(label))?;
    }
    if had_old_plist {
        fsutil::link_or_copy(&plist_path, &layout.old_plist(label))?;
    }
    fsutil::sync_dir(&layout.helper_dir())?;
    fsutil::sync_dir(&layout.daemon_dir())?;
    failpoint("backup-made");

    let j = Journal::commit(
        label,
        had_old_helper,
        had_old_plist,
        bundled.as_str(),
        old_version,
    );
    journal::write(layout, &j)?;
    failpoint("journal-committed");

    if let Err(e) = opts.service.bootout(label) {
        // Nothing has moved yet: the old files are in place and still loaded. Drop the journal
        // first (so recovery cannot roll forward), then the new files.
        journal::clear(layout, label)?;
        journal::remove_leftovers(layout, label)?;
        return Err(e.into());
    }
    failpoint("booted-out");
    journal::roll_forward(layout, label)?;
    if let Err(cause) = opts.service.bootstrap(&plist_path) {
        return Err(roll_back(layout, &j, opts.service, cause));
    }
    failpoint("bootstrapped");
    journal::clear(layout, label)?;
    failpoint("journal-cleared");
    journal::remove_leftovers(layout, label)?;
    Ok(None)
}

/// How to remove.
pub struct RemoveOptions<'a> {
    /// The root (`/` for the running system).
    pub root: PathBuf,
    /// When set, the app must satisfy the installed helper's `SMAuthorizedClients`.
    pub app: Option<PathBuf>,
    /// Unloads the job.
    pub service: &'a dyn ServiceManager,
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

/// Unload the job `label` and delete its plist and helper (SMJobRemove only unloads).
/// Idempotent: removing what is not installed reports `NotInstalled`.
pub fn remove(label: &str, opts: &RemoveOptions<'_>) -> Result<RemoveReport, InstallError> {
    validate_label(label)?;
    let layout = Layout::open(&opts.root)?;
    require_privileges(&layout, false)?;
    let mut report = RemoveReport {
        outcome: RemoveOutcome::NotInstalled,
        label: label.to_owned(),
        root: layout.root().to_path_buf(),
        service_manager: opts.service.kind(),
        removed: Vec::new(),
        refusals: Vec::new(),
        recovered: None,
        notes: Vec::new(),
    };
    let (unsafe_dirs, missing) = layout.check_dirs()?;
    if !unsafe_dirs.is_empty() {
        report.outcome = RemoveOutcome::Refused;
        report.refusals.push(unsafe_refusal(unsafe_dirs));
        return Ok(report);
    }
    let helper_path = layout.helper(label);
    let plist_path = layout.plist(label);
    if missing.contains(&layout.helper_dir()) && missing.contains(&layout.daemon_dir()) {
        opts.service.bootout(label)?;
        return Ok(report);
    }
    let unsafe_dirs = layout.ensure_dirs()?;
    if !unsafe_dirs.is_empty() {
        report.outcome = RemoveOutcome::Refused;
        report.refusals.push(unsafe_refusal(unsafe_dirs));
        return Ok(report);
    }
    let _lock = LabelLock::acquire(&layout, label)?;
    report.recovered = recover(&layout, label, opts.service)?;

    if let Some(app) = &opts.app {
        if fsutil::exists_no_follow(&helper_path)? {
            let (facts, _) = HelperFacts::read(&helper_path)?;
            let verdict = match facts.authorized_clients() {
                Ok(clients) => opts
                    .trust
                    .app_satisfies_any(app, &clients, None)
                    .map_err(trust_err(format!("{}: SMAuthorizedClients", app.display())))?,
                Err(e) => Verdict::Fail(vec![format!("{}: {e}", helper_path.display())]),
            };
            if !verdict.passed() {
                report.outcome = RemoveOutcome::Refused;
                report.refusals.push(
                    Refusal::new(
                        "installed-client-requirement-unsatisfied",
                        format!(
                            "{} does not satisfy the SMAuthorizedClients of the installed {label}",
                            app.display()
                        ),
                        "remove it without --app (as root), or with the app that installed it",
                    )
                    .with_details(verdict.reasons().to_vec()),
                );
                return Ok(report);
            }
        }
    }

    opts.service.bootout(label)?;
    // The plist first: launchd must never find a plist whose program is gone.
    if fsutil::remove_if_present(&plist_path)? {
        fsutil::sync_dir(&layout.daemon_dir())?;
        report.removed.push(plist_path);
    }
    if fsutil::remove_if_present(&helper_path)? {
        fsutil::sync_dir(&layout.helper_dir())?;
        report.removed.push(helper_path);
    }
    if !report.removed.is_empty() {
        report.outcome = RemoveOutcome::Removed;
    }
    Ok(report)
}

/// How to report status.
pub struct StatusOptions<'a> {
    /// The root (`/` for the running system).
    pub root: PathBuf,
    /// When set, say what a bless of this app would do for each of its helpers.
    pub app: Option<PathBuf>,
    /// Asks whether jobs are loaded.
    pub service: &'a dyn ServiceManager,
    /// Checks signatures and requirements.
    pub trust: &'a dyn TrustCheck,
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
    /// With `--app`: what a bless would do.
    pub bless_action: Option<Action>,
    /// With `--app`: why a bless would be refused even though the versions allow it.
    pub bless_refusal: Option<String>,
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

/// Plists larger than this in `Library/LaunchDaemons` are not read.
const MAX_DAEMON_PLIST_SIZE: u64 = 1024 * 1024;

/// List installed helpers: plists in `Library/LaunchDaemons` whose `ProgramArguments` (or
/// `Program`) point into `Library/PrivilegedHelperTools`. With `label`, only that one (reported
/// as not installed when absent).
pub fn status(label: Option<&str>, opts: &StatusOptions<'_>) -> Result<StatusReport, InstallError> {
    if let Some(l) = label {
        validate_label(l)?;
    }
    let layout = Layout::open(&opts.root)?;
    let mut helpers = Vec::new();
    let daemon_dir = layout.daemon_dir();
    let mut plists = Vec::new();
    match std::fs::read_dir(&daemon_dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(fsutil::io_err(&daemon_dir, "listing"))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".plist") && !name.starts_with('.') {
                    plists.push(entry.path());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fsutil::io_err(&daemon_dir, "listing")(e)),
    }
    plists.sort();
    let prefix = Path::new("/").join(HELPER_DIR);
    for plist_path in plists {
        let Some(entry) = status_entry(&layout, &plist_path, &prefix, opts)? else {
            continue;
        };
        if label.is_none_or(|l| l == entry.label) {
            helpers.push(entry);
        }
    }
    if let Some(l) = label {
        if helpers.is_empty() {
            let mut entry = HelperStatus {
                label: l.to_owned(),
                plist: layout.plist(l),
                program: None,
                path: None,
                installed: false,
                version: None,
                signature_valid: None,
                signature_problems: Vec::new(),
                loaded: opts.service.is_loaded(l),
                bless_action: None,
                bless_refusal: None,
                problems: Vec::new(),
            };
            if let Some(app) = &opts.app {
                predict(app, &mut entry, None, opts)?;
            }
            helpers.push(entry);
        }
    }
    Ok(StatusReport {
        root: layout.root().to_path_buf(),
        service_manager: opts.service.kind(),
        helpers,
    })
}

fn status_entry(
    layout: &Layout,
    plist_path: &Path,
    prefix: &Path,
    opts: &StatusOptions<'_>,
) -> Result<Option<HelperStatus>, InstallError> {
    let Ok(bytes) = fsutil::read_regular(plist_path, MAX_DAEMON_PLIST_SIZE) else {
        return Ok(None);
    };
    let Ok(plist::Value::Dictionary(dict)) = plist::from_bytes::<plist::Value>(&bytes) else {
        return Ok(None);
    };
    let program = dict
        .get("ProgramArguments")
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|v| v.as_string())
        .or_else(|| dict.get("Program").and_then(|v| v.as_string()))
        .map(PathBuf::from);
    // Only plain paths below the prefix: a `..` could point the read anywhere.
    let Some(program) = program.filter(|p| {
        p.strip_prefix(prefix).is_ok_and(|rest| {
            rest.components().count() > 0
                && rest
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
        })
    }) else {
        return Ok(None);
    };
    let file_label = plist_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = dict
        .get("Label")
        .and_then(|v| v.as_string())
        .map(str::to_owned)
        .unwrap_or(file_label);
    let mut problems = Vec::new();
    let rel = program.strip_prefix("/").unwrap_or(&program);
    let path = layout.root().join(rel);
    let installed = fsutil::exists_no_follow(&path)?;
    let mut entry = HelperStatus {
        label: label.clone(),
        plist: plist_path.to_path_buf(),
        program: Some(program.clone()),
        path: Some(path.clone()),
        installed,
        version: None,
        signature_valid: None,
        signature_problems: Vec::new(),
        loaded: opts.service.is_loaded(&label),
        bless_action: None,
        bless_refusal: None,
        problems: Vec::new(),
    };
    let mut installed_version = None;
    if installed {
        match HelperFacts::read(&path) {
            Ok((facts, _)) => match facts.version() {
                Ok(v) => {
                    entry.version = Some(v.to_string());
                    installed_version = Some((facts, v));
                }
                Err(e) => problems.push(e.to_string()),
            },
            Err(e) => problems.push(e.to_string()),
        }
        match opts.trust.signature_valid(&path) {
            Ok(v) => {
                entry.signature_valid = Some(v.passed());
                entry.signature_problems = v.reasons().to_vec();
            }
            Err(e) => problems.push(format!("signature not checked: {e}")),
        }
    } else {
        problems.push(format!("{} is missing", path.display()));
    }
    entry.problems = problems;
    if let Some(app) = &opts.app {
        predict(app, &mut entry, installed_version.as_ref(), opts)?;
    }
    Ok(Some(entry))
}

/// What a bless of `app` would do about `entry`.
fn predict(
    app: &Path,
    entry: &mut HelperStatus,
    installed: Option<&(HelperFacts, BundleVersion)>,
    opts: &StatusOptions<'_>,
) -> Result<(), InstallError> {
    let source = app.join(LAUNCH_SERVICES_DIR).join(&entry.label);
    if !fsutil::exists_no_follow(&source)? {
        entry.bless_refusal = Some(format!("{} has no helper {}", app.display(), entry.label));
        return Ok(());
    }
    let bundled = match HelperFacts::read(&source).map(|(f, _)| f.version()) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            entry.bless_refusal = Some(format!("{}: {e}", source.display()));
            return Ok(());
        }
        Err(e) => {
            entry.bless_refusal = Some(e.to_string());
            return Ok(());
        }
    };
    let action = Action::decide(&bundled, installed.map(|(_, v)| v));
    if let (Action::Upgrade { .. }, Some((facts, _))) = (&action, installed) {
        let verdict = match facts.authorized_clients() {
            Ok(clients) => opts
                .trust
                .app_satisfies_any(app, &clients, None)
                .map_err(trust_err(format!("{}: SMAuthorizedClients", app.display())))?,
            Err(e) => Verdict::Fail(vec![e.to_string()]),
        };
        if !verdict.passed() {
            entry.bless_refusal = Some(format!(
                "the app does not satisfy the installed helper's SMAuthorizedClients: {}",
                verdict.reasons().join("; ")
            ));
        }
    }
    entry.bless_action = Some(action);
    Ok(())
}

/// Finish or undo an interrupted install of `label` under `root` (bless and remove do this
/// first on their own). Takes the per-label lock. Returns what was done, if anything.
pub fn recover_label(
    root: &Path,
    label: &str,
    service: &dyn ServiceManager,
) -> Result<Option<String>, InstallError> {
    validate_label(label)?;
    let layout = Layout::open(root)?;
    require_privileges(&layout, false)?;
    if !layout.state_dir().is_dir() {
        return Ok(None);
    }
    let _lock = LabelLock::acquire(&layout, label)?;
    recover(&layout, label, service)
}

#[cfg(test)]
mod tests;
