//! Install, upgrade, remove and list privileged helpers as root launchd daemons: what
//! `SMJobBless` does, done verifiably and crash-safely, under any root directory — and as hard
//! to fool as Apple's `smd` (`../shared/references/attacker-model.md`).
//!
//! An install is **one decision over one snapshot**:
//!
//! 1. [`layout`]: the root and every directory on the install paths are checked as they are
//!    opened (no symlink, owned by root or the caller, not writable by others) and the handles
//!    are kept until the last rename ([`dir`]).
//! 2. [`snapshot`]: the app bundle is read once, through one directory handle, into a private
//!    copy. FIFOs, devices and links leaving the bundle are refused by path.
//! 3. [`trust`]: the snapshot is judged once — the contract in both directions, the requirement
//!    `SMPrivilegedExecutables[label]` of the *sealed* Info.plist, how both sides are signed,
//!    what their requirements pin — and that judgement answers every later question.
//! 4. [`installed`]: what is installed is read once, through the handles, under the label lock.
//! 5. [`plan`]: a pure planner decides install / upgrade from X to Y / no change / refuse, with
//!    the root [`policy`] (deny by default as root) and the job backend's key refusals.
//!    `bless --dry-run`, `status --app` and `verify --root` print its [`Decision`] word for word.
//! 6. [`execute`]: the snapshot's helper bytes are copied, read back from the copy's own
//!    descriptor and verified again, then swapped in under a [`journal`] through the
//!    [`backend`] (launchd), rolling back if loading fails.
//!
//! File modes: the helper is installed `root:wheel 0544` (`r-xr--r--`): nobody, root included,
//! can write it in place (a write would break its signature under a running daemon); only its
//! owner executes it (launchd runs it as root); everyone may read it, so clients and `status`
//! can verify its signature before trusting it. The job file is `root:wheel 0644`, the mode
//! launchd requires. On a staging root run without root privileges, files keep the current
//! user as owner; modes are the same.

use std::path::PathBuf;

use thiserror::Error;

use crate::bundle::{self, BundleError};

pub mod backend;
mod bless;
mod contract_trust;
pub mod daemon;
pub mod dir;
pub mod execute;
mod helper;
pub mod installed;
pub mod journal;
pub mod layout;
pub mod plan;
pub mod policy;
mod refusal;
mod remove;
pub mod snapshot;
mod status;
pub mod trust;

#[cfg(target_os = "macos")]
pub use backend::Launchctl;
pub use backend::{
    display_command, launchctl_command, JobBackend, LaunchctlOp, NoServiceManager, ServiceError,
    ServiceManagerKind, LAUNCHCTL,
};
pub use bless::{
    attach_predictions, bless, default_label, predict, BlessOptions, BlessOutcome, BlessReport,
    InstalledAt, Plan, PlannedFile, PredictOptions, Prediction,
};
pub use contract_trust::ContractTrust;
pub use helper::{FactError, HelperFacts, MAX_HELPER_SIZE};
pub use journal::{Journal, Phase};
pub use layout::{is_system_root, Layout, UnsafeDir, DAEMON_DIR, HELPER_DIR, STATE_DIR};
pub use plan::{Action, Decision, Installed};
pub use policy::Policy;
pub use refusal::{Refusal, RefusalId};
pub use remove::{remove, RemoveOptions, RemoveOutcome, RemoveReport};
pub use status::{status, HelperStatus, StatusOptions, StatusReport};
pub use trust::{AppJudgement, TrustCheck, TrustError, Verdict};

/// Mode of the installed helper: `r-xr--r--` (see the module documentation for why).
pub const HELPER_MODE: u32 = 0o544;
/// Mode of the installed daemon plist: `rw-r--r--`, as launchd requires.
pub const PLIST_MODE: u32 = 0o644;

/// The environment variable that, in debug builds only, makes the process abort at a named
/// step of an install (a crash-injection hook for tests). Release builds never read it.
pub const CRASH_AT_ENV: &str = "SMBLESS_CRASH_AT";

/// The environment variable that, in debug builds only, makes the process pause at a named
/// step: it creates the file named by [`PAUSE_FILE_ENV`] and waits (up to a minute) until that
/// file is removed. Tests swap files there, deterministically. Release builds never read it.
pub const PAUSE_AT_ENV: &str = "SMBLESS_PAUSE_AT";
/// See [`PAUSE_AT_ENV`].
pub const PAUSE_FILE_ENV: &str = "SMBLESS_PAUSE_FILE";

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

/// The steps at which [`PAUSE_AT_ENV`] can pause: after the capture, after the judgement, and
/// every crash point.
pub const PAUSE_POINTS: &[&str] = &["captured", "judged"];

/// Abort the process here if the crash-injection hook names `step` (debug builds only): a real
/// crash, with no destructor, unwinding or cleanup, which is what recovery must survive.
pub(crate) fn failpoint(step: &str) {
    pause_point(step);
    #[cfg(debug_assertions)]
    if std::env::var_os(CRASH_AT_ENV).is_some_and(|v| v == step) {
        std::process::abort();
    }
}

/// Pause here if [`PAUSE_AT_ENV`] names `step` (debug builds only).
pub(crate) fn pause_point(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os(PAUSE_AT_ENV).is_some_and(|v| v == step) {
        if let Some(file) = std::env::var_os(PAUSE_FILE_ENV) {
            let file = PathBuf::from(file);
            if std::fs::write(&file, step).is_ok() {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while file.exists() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
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
    /// An entry of the app bundle cannot be examined safely (FIFO, device, socket, a link
    /// leaving the bundle, a bundle beyond the caps). Nothing behind it was read.
    #[error("{path}: {problem}")]
    AppEntry {
        /// The entry, as a path in the app the user named.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
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

fn unsafe_refusal(dirs: Vec<UnsafeDir>) -> Refusal {
    Refusal::new(
        RefusalId::UnsafeDirectory,
        "a directory on the install paths is not safe to install through",
        "fix the ownership and modes (root:wheel, 0755, no symlinks) or choose another --root",
    )
    .with_details(
        dirs.into_iter()
            .map(|d| format!("{}: {}", d.path.display(), d.problem))
            .collect(),
    )
}

fn require_privileges(layout: &Layout, dry_run: bool) -> Result<(), InstallError> {
    let euid = dir::euid();
    if layout.is_system() && !dry_run && euid != 0 {
        return Err(InstallError::NotRoot {
            root: layout.root().to_path_buf(),
            euid,
        });
    }
    Ok(())
}

/// An exclusive per-label lock, released when dropped (or when the process dies).
struct LabelLock {
    _fd: std::os::fd::OwnedFd,
}

impl LabelLock {
    fn acquire(dirs: &layout::Dirs, label: &str) -> Result<LabelLock, InstallError> {
        let name = layout::lock_name(label);
        let fd = dirs.state.open_lock(&name)?;
        // Blocks until a concurrent bless/remove of the same label finishes: they serialise.
        rustix::fs::flock(&fd, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| dir::io_err(&dirs.state.child(&name), "locking")(e.into()))?;
        Ok(LabelLock { _fd: fd })
    }
}

/// Finish or undo an install of `label` that was interrupted (crash, power loss), under the
/// per-label lock the caller holds. Returns what was done, if anything.
fn recover(
    layout: &Layout,
    dirs: &layout::Dirs,
    label: &str,
    backend: &dyn JobBackend,
) -> Result<Option<String>, InstallError> {
    match journal::read(dirs, label)? {
        None => Ok(journal::remove_leftovers(dirs, label)?.then(|| {
            "removed temporary files of an install interrupted before it committed; the installed helper was untouched".to_owned()
        })),
        Some(j) if j.phase == Phase::Commit => {
            journal::roll_forward(dirs, label)?;
            // Whatever was loaded when the crash came, load the new job afresh.
            let _ = backend.bootout(label);
            match backend.bootstrap(&layout.plist(label)) {
                Ok(()) => {
                    journal::clear(dirs, label)?;
                    journal::remove_leftovers(dirs, label)?;
                    Ok(Some(format!(
                        "completed an interrupted install of {label} {}",
                        j.new_version
                    )))
                }
                Err(cause) => Err(roll_back(dirs, &j, backend, cause)),
            }
        }
        Some(j) => {
            journal::roll_back(dirs, &j)?;
            if j.had_old_helper && j.had_old_plist {
                let _ = backend.bootstrap(&layout.plist(label));
            }
            journal::clear(dirs, label)?;
            journal::remove_leftovers(dirs, label)?;
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
    dirs: &layout::Dirs,
    j: &Journal,
    backend: &dyn JobBackend,
    cause: ServiceError,
) -> InstallError {
    let label = j.label.as_str();
    let mut rb = j.clone();
    rb.phase = Phase::Rollback;
    if let Err(e) = journal::write(dirs, &rb) {
        return e;
    }
    failpoint("rollback-journaled");
    if let Err(e) = journal::roll_back(dirs, &rb) {
        return e;
    }
    let restored = if j.had_old_helper && j.had_old_plist {
        let _ = backend.bootout(label);
        let old = j.old_version.as_deref().unwrap_or("(unknown)");
        match backend.bootstrap(&dirs.daemon.child(&layout::plist_name(label))) {
            Ok(()) => format!("restored and reloaded the previous version {old}"),
            Err(e) => format!("restored the previous version {old} but loading it failed too: {e}"),
        }
    } else if j.had_old_helper {
        "restored the previous helper (it had no daemon plist)".to_owned()
    } else {
        "removed the new files; nothing was installed before".to_owned()
    };
    if let Err(e) =
        journal::clear(dirs, label).and_then(|_| journal::remove_leftovers(dirs, label).map(|_| ()))
    {
        return e;
    }
    InstallError::LoadFailed {
        label: label.to_owned(),
        cause,
        restored,
    }
}

/// Finish or undo an interrupted install of `label` under `root` (bless and remove do this
/// first on their own). Takes the per-label lock. Returns what was done, if anything.
pub fn recover_label(
    root: &std::path::Path,
    label: &str,
    backend: &dyn JobBackend,
) -> Result<Option<String>, InstallError> {
    validate_label(label)?;
    let layout = Layout::open_or_error(root)?;
    require_privileges(&layout, false)?;
    let Some(dirs) = layout.check()?.into_dirs() else {
        return Ok(None);
    };
    let _lock = LabelLock::acquire(&dirs, label)?;
    recover(&layout, &dirs, label, backend)
}

#[cfg(test)]
mod tests;
