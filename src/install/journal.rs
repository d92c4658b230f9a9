//! The per-label install journal, and recovery from an install that was interrupted.
//!
//! The protocol (all under the per-label lock):
//!
//! 1. The new helper and plist are written to hidden temporary names in their destination
//!    directories, verified, given their final owner and mode, and fsynced. A crash here leaves
//!    the old install untouched; recovery deletes the temporaries.
//! 2. Backups of the old helper and plist are made as hard links (hidden names). A crash here:
//!    same as 1.
//! 3. The journal is written (atomically: temporary file, fsync, rename, directory fsync) with
//!    phase `commit`. From this point on the install rolls **forward**: the new files are
//!    complete and verified, so recovery renames whichever of them is still under its
//!    temporary name into place and loads the job.
//! 4. bootout, rename helper, rename plist, directory fsyncs, bootstrap.
//! 5. If bootstrap fails, the journal is rewritten with phase `rollback` and the backups are
//!    renamed back (or, on a fresh install, the new files removed); recovery of a `rollback`
//!    journal finishes that restore.
//! 6. The journal is deleted, then the backups. A crash between the two leaves stray backups
//!    without a journal, which recovery deletes.
//!
//! At every point the two installed names hold either the old pair or the new pair, or are in
//! a state that a journal unambiguously completes to one of them.

use serde::{Deserialize, Serialize};

use super::dir::Dir;
use super::layout::{
    journal_name, new_helper_name, new_plist_name, old_helper_name, old_plist_name, plist_name,
    Dirs,
};
use super::InstallError;

/// Journals are tiny; anything larger is not ours.
const MAX_JOURNAL_SIZE: u64 = 64 * 1024;
/// The journal format version.
const JOURNAL_VERSION: u32 = 1;

/// Which way an interrupted install completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The new files are complete: move them into place.
    Commit,
    /// Loading failed: put the old files back.
    Rollback,
}

/// The durable record of an install in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// Format version, `JOURNAL_VERSION`.
    pub version: u32,
    /// The job label.
    pub label: String,
    /// Which way to complete.
    pub phase: Phase,
    /// Whether a helper was installed before (its backup is the old helper).
    pub had_old_helper: bool,
    /// Whether a plist was installed before.
    pub had_old_plist: bool,
    /// The version being installed, for messages.
    pub new_version: String,
    /// The version being replaced, for messages.
    pub old_version: Option<String>,
}

impl Journal {
    /// A `commit` journal for `label`.
    pub fn commit(
        label: &str,
        had_old_helper: bool,
        had_old_plist: bool,
        new_version: &str,
        old_version: Option<&str>,
    ) -> Journal {
        Journal {
            version: JOURNAL_VERSION,
            label: label.to_owned(),
            phase: Phase::Commit,
            had_old_helper,
            had_old_plist,
            new_version: new_version.to_owned(),
            old_version: old_version.map(str::to_owned),
        }
    }
}

/// Read the journal of `label`, if any. A journal that is a symlink, too large, malformed or
/// about another label is an error: recovery never guesses.
pub fn read(dirs: &Dirs, label: &str) -> Result<Option<Journal>, InstallError> {
    let name = journal_name(label);
    let path = dirs.state.child(&name);
    let Some(bytes) = dirs
        .state
        .read_if_present(&name, MAX_JOURNAL_SIZE)
        .map_err(|e| InstallError::Journal {
            path: path.clone(),
            reason: e.to_string(),
        })?
    else {
        return Ok(None);
    };
    let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| InstallError::Journal {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if journal.version != JOURNAL_VERSION || journal.label != label {
        return Err(InstallError::Journal {
            path,
            reason: format!(
                "journal version {} for label {:?}; expected version {JOURNAL_VERSION} for {label:?}",
                journal.version, journal.label
            ),
        });
    }
    Ok(Some(journal))
}

/// Write the journal atomically and durably.
pub fn write(dirs: &Dirs, journal: &Journal) -> Result<(), InstallError> {
    let name = journal_name(&journal.label);
    let tmp = format!(".{}.journal-new", journal.label);
    dirs.state.remove(&tmp)?;
    let bytes = serde_json::to_vec_pretty(journal).map_err(|e| InstallError::Journal {
        path: dirs.state.child(&name),
        reason: e.to_string(),
    })?;
    drop(dirs.state.create_synced(&tmp, &bytes)?);
    dirs.state.rename(&tmp, &name)?;
    dirs.state.sync()
}

/// Delete the journal durably.
pub fn clear(dirs: &Dirs, label: &str) -> Result<(), InstallError> {
    if dirs.state.remove(&journal_name(label))? {
        dirs.state.sync()?;
    }
    Ok(())
}

/// The temporary and backup names an install of `label` uses: (directory, name).
fn leftovers<'d>(dirs: &'d Dirs, label: &str) -> [(&'d Dir, String); 5] {
    [
        (&dirs.helper, new_helper_name(label)),
        (&dirs.helper, old_helper_name(label)),
        (&dirs.daemon, new_plist_name(label)),
        (&dirs.daemon, old_plist_name(label)),
        (&dirs.state, format!(".{label}.journal-new")),
    ]
}

/// Whether anything an interrupted install leaves behind exists for `label`.
pub fn pending(dirs: &Dirs, label: &str) -> Result<bool, InstallError> {
    if dirs.state.exists(&journal_name(label))? {
        return Ok(true);
    }
    for (dir, name) in leftovers(dirs, label) {
        if dir.exists(&name)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Delete temporaries and backups (no journal refers to them any more).
pub fn remove_leftovers(dirs: &Dirs, label: &str) -> Result<bool, InstallError> {
    let mut any = false;
    for (dir, name) in leftovers(dirs, label) {
        any |= dir.remove(&name)?;
    }
    if any {
        dirs.helper.sync()?;
        dirs.daemon.sync()?;
    }
    Ok(any)
}

/// Move whichever new file is still under its temporary name into place (roll forward).
pub fn roll_forward(dirs: &Dirs, label: &str) -> Result<(), InstallError> {
    if dirs.helper.exists(&new_helper_name(label))? {
        dirs.helper.rename(&new_helper_name(label), label)?;
        super::failpoint("helper-renamed");
    }
    if dirs.daemon.exists(&new_plist_name(label))? {
        dirs.daemon
            .rename(&new_plist_name(label), &plist_name(label))?;
    }
    dirs.helper.sync()?;
    dirs.daemon.sync()?;
    super::failpoint("plist-renamed");
    Ok(())
}

/// Put the old files back (or remove the new ones on a fresh install). Idempotent: a restore
/// interrupted half-way is finished by running it again.
pub fn roll_back(dirs: &Dirs, journal: &Journal) -> Result<(), InstallError> {
    let label = journal.label.as_str();
    restore_one(
        &dirs.helper,
        &old_helper_name(label),
        label,
        journal.had_old_helper,
    )?;
    super::failpoint("rollback-helper-restored");
    restore_one(
        &dirs.daemon,
        &old_plist_name(label),
        &plist_name(label),
        journal.had_old_plist,
    )?;
    dirs.helper.remove(&new_helper_name(label))?;
    dirs.daemon.remove(&new_plist_name(label))?;
    dirs.helper.sync()?;
    dirs.daemon.sync()
}

fn restore_one(
    dir: &Dir,
    backup: &str,
    installed: &str,
    had_old: bool,
) -> Result<(), InstallError> {
    if had_old {
        // No backup left means it was already renamed back.
        if dir.exists(backup)? {
            dir.rename(backup, installed)?;
        }
    } else {
        dir.remove(installed)?;
    }
    Ok(())
}
