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

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fsutil::{self, io_err};
use super::layout::Layout;
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
    /// Format version, [`JOURNAL_VERSION`].
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

/// Read the journal of `label`, if any.
pub fn read(layout: &Layout, label: &str) -> Result<Option<Journal>, InstallError> {
    let path = layout.journal(label);
    if !fsutil::exists_no_follow(&path)? {
        return Ok(None);
    }
    let bytes = fsutil::read_regular(&path, MAX_JOURNAL_SIZE)?;
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
pub fn write(layout: &Layout, journal: &Journal) -> Result<(), InstallError> {
    let path = layout.journal(&journal.label);
    let tmp = layout
        .state_dir()
        .join(format!(".{}.journal-new", journal.label));
    fsutil::remove_if_present(&tmp)?;
    let bytes = serde_json::to_vec_pretty(journal).map_err(|e| InstallError::Journal {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    drop(fsutil::create_synced(&tmp, &bytes)?);
    fs::rename(&tmp, &path).map_err(io_err(&tmp, "renaming"))?;
    fsutil::sync_dir(&layout.state_dir())
}

/// Delete the journal durably.
pub fn clear(layout: &Layout, label: &str) -> Result<(), InstallError> {
    if fsutil::remove_if_present(&layout.journal(label))? {
        fsutil::sync_dir(&layout.state_dir())?;
    }
    Ok(())
}

/// Whether anything an interrupted install leaves behind exists for `label`.
pub fn pending(layout: &Layout, label: &str) -> Result<bool, InstallError> {
    for path in [
        layout.journal(label),
        layout.new_helper(label),
        layout.old_helper(label),
        layout.new_plist(label),
        layout.old_plist(label),
    ] {
        if fsutil::exists_no_follow(&path)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Delete temporaries and backups (no journal refers to them any more).
pub fn remove_leftovers(layout: &Layout, label: &str) -> Result<bool, InstallError> {
    let mut any = false;
    for path in [layout.new_helper(label), layout.old_helper(label)] {
        any |= fsutil::remove_if_present(&path)?;
    }
    for path in [layout.new_plist(label), layout.old_plist(label)] {
        any |= fsutil::remove_if_present(&path)?;
    }
    let tmp = layout.state_dir().join(format!(".{label}.journal-new"));
    any |= fsutil::remove_if_present(&tmp)?;
    if any {
        fsutil::sync_dir(&layout.helper_dir())?;
        fsutil::sync_dir(&layout.daemon_dir())?;
    }
    Ok(any)
}

/// Move whichever new file is still under its temporary name into place (roll forward).
pub fn roll_forward(layout: &Layout, label: &str) -> Result<(), InstallError> {
    if fsutil::exists_no_follow(&layout.new_helper(label))? {
        fsutil::rename(&layout.new_helper(label), &layout.helper(label))?;
        super::failpoint("helper-renamed");
    }
    if fsutil::exists_no_follow(&layout.new_plist(label))? {
        fsutil::rename(&layout.new_plist(label), &layout.plist(label))?;
    }
    fsutil::sync_dir(&layout.helper_dir())?;
    fsutil::sync_dir(&layout.daemon_dir())?;
    super::failpoint("plist-renamed");
    Ok(())
}

/// Put the old files back (or remove the new ones on a fresh install). Idempotent: a restore
/// interrupted half-way is finished by running it again.
pub fn roll_back(layout: &Layout, journal: &Journal) -> Result<(), InstallError> {
    let label = journal.label.as_str();
    restore_one(
        &layout.old_helper(label),
        &layout.helper(label),
        journal.had_old_helper,
    )?;
    super::failpoint("rollback-helper-restored");
    restore_one(
        &layout.old_plist(label),
        &layout.plist(label),
        journal.had_old_plist,
    )?;
    fsutil::remove_if_present(&layout.new_helper(label))?;
    fsutil::remove_if_present(&layout.new_plist(label))?;
    fsutil::sync_dir(&layout.helper_dir())?;
    fsutil::sync_dir(&layout.daemon_dir())
}

fn restore_one(backup: &Path, installed: &Path, had_old: bool) -> Result<(), InstallError> {
    if had_old {
        // No backup left means it was already renamed back.
        if fsutil::exists_no_follow(backup)? {
            fsutil::rename(backup, installed)?;
        }
    } else {
        fsutil::remove_if_present(installed)?;
    }
    Ok(())
}
