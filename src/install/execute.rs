//! The executor: lay the planned files under the journal and swap them in through the job
//! backend. Everything it installs is what the one examination judged: the helper bytes of the
//! snapshot, the job file rendered from them. The copy in the destination is read back from
//! its own descriptor and verified again before anything is swapped.

use super::backend::JobBackend;
use super::dir::{self, Dir};
use super::helper::MAX_HELPER_SIZE;
use super::journal::{self, Journal};
use super::layout::{
    new_helper_name, new_plist_name, old_helper_name, old_plist_name, plist_name, Dirs, Layout,
};
use super::refusal::{Refusal, RefusalId};
use super::trust::TrustCheck;
use super::{failpoint, roll_back, InstallError, HELPER_MODE, PLIST_MODE};

/// What to install: decided by the planner, bytes from the snapshot.
pub struct Commit<'a> {
    /// The label.
    pub label: &'a str,
    /// The helper's bytes, as examined.
    pub helper: &'a [u8],
    /// The rendered job file.
    pub job: &'a [u8],
    /// The requirement the copy must satisfy (`SMPrivilegedExecutables[label]`, sealed).
    pub requirement: &'a str,
    /// The installer's own requirement, if any.
    pub installer_requirement: Option<&'a str>,
    /// The version being installed.
    pub new_version: &'a str,
    /// The version being replaced.
    pub old_version: Option<&'a str>,
    /// Whether files get root:wheel.
    pub as_root: bool,
}

/// Where and with what.
pub struct Target<'a> {
    /// The checked layout (for system paths and messages).
    pub layout: &'a Layout,
    /// The directory handles held since the check.
    pub dirs: &'a Dirs,
    /// The job backend.
    pub backend: &'a dyn JobBackend,
    /// The trust check, for the copy.
    pub trust: &'a dyn TrustCheck,
}

fn write_file(
    d: &Dir,
    name: &str,
    bytes: &[u8],
    mode: u32,
    as_root: bool,
) -> Result<std::fs::File, InstallError> {
    let file = d.create_synced(name, bytes)?;
    d.finalize(&file, name, mode, as_root)?;
    d.sync()?;
    Ok(file)
}

/// Verify the copy as it is on disk, read back through its own descriptor.
fn verify_copy(
    t: &Target<'_>,
    c: &Commit<'_>,
    file: &std::fs::File,
) -> Result<Option<Refusal>, InstallError> {
    let path = t.dirs.helper.child(&new_helper_name(c.label));
    let back = dir::read_back(file, &path, MAX_HELPER_SIZE)?;
    let refuse = |details: Vec<String>| {
        Some(
            Refusal::new(
                RefusalId::CopyVerificationFailed,
                format!("the copy of {} in {} is not the helper that was examined, or fails verification; nothing was installed", c.label, t.dirs.helper.path().display()),
                "bless again; if it persists, check the disk",
            )
            .with_details(details),
        )
    };
    if back != c.helper {
        return Ok(refuse(vec![
            "the bytes read back differ from the bytes examined".into(),
        ]));
    }
    let mut requirements = vec![c.requirement];
    requirements.extend(c.installer_requirement);
    for req in requirements {
        let v = t
            .trust
            .code_satisfies(&path, &back, req)
            .map_err(|source| InstallError::Trust {
                what: format!("{}: verification", path.display()),
                source,
            })?;
        if !v.passed() {
            return Ok(refuse(v.reasons().to_vec()));
        }
    }
    Ok(None)
}

/// Copy, verify, write, and swap into place. `Ok(Some(refusal))` when the copy failed a check
/// (nothing was installed).
pub fn commit(t: &Target<'_>, c: &Commit<'_>) -> Result<Option<Refusal>, InstallError> {
    let (h, d) = (&t.dirs.helper, &t.dirs.daemon);
    let label = c.label;
    // Recovery removed leftovers already; an unexpected file here is someone else's.
    h.remove(&new_helper_name(label))?;
    d.remove(&new_plist_name(label))?;

    let file = h.create_synced(&new_helper_name(label), c.helper)?;
    h.sync()?;
    failpoint("helper-copied");
    if let Some(refusal) = verify_copy(t, c, &file)? {
        h.remove(&new_helper_name(label))?;
        return Ok(Some(refusal));
    }
    failpoint("helper-verified");
    h.finalize(&file, &new_helper_name(label), HELPER_MODE, c.as_root)?;
    drop(file);
    drop(write_file(
        d,
        &new_plist_name(label),
        c.job,
        PLIST_MODE,
        c.as_root,
    )?);
    failpoint("plist-written");

    let had_old_helper = h.exists(label)?;
    let had_old_plist = d.exists(&plist_name(label))?;
    if had_old_helper {
        h.link_or_copy(label, &old_helper_name(label))?;
    }
    if had_old_plist {
        d.link_or_copy(&plist_name(label), &old_plist_name(label))?;
    }
    h.sync()?;
    d.sync()?;
    failpoint("backup-made");

    let j = Journal::commit(
        label,
        had_old_helper,
        had_old_plist,
        c.new_version,
        c.old_version,
    );
    journal::write(t.dirs, &j)?;
    failpoint("journal-committed");
    swap(t, &j)
}

fn swap(t: &Target<'_>, j: &Journal) -> Result<Option<Refusal>, InstallError> {
    let label = j.label.as_str();
    if let Err(e) = t.backend.bootout(label) {
        // Nothing has moved yet: the old files are in place and still loaded. Drop the journal
        // first (so recovery cannot roll forward), then the new files.
        journal::clear(t.dirs, label)?;
        journal::remove_leftovers(t.dirs, label)?;
        return Err(e.into());
    }
    failpoint("booted-out");
    journal::roll_forward(t.dirs, label)?;
    if let Err(cause) = t.backend.bootstrap(&t.layout.plist(label)) {
        return Err(roll_back(t.dirs, j, t.backend, cause));
    }
    failpoint("bootstrapped");
    journal::clear(t.dirs, label)?;
    failpoint("journal-cleared");
    journal::remove_leftovers(t.dirs, label)?;
    Ok(None)
}
