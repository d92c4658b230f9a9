//! What is installed under a label, read once through the install directory handles.

use std::path::Path;

use super::backend::JobBackend;
use super::dir::Dir;
use super::helper::{HelperFacts, MAX_HELPER_SIZE};
use super::layout::{self, Layout};
use super::plan::Installed;
use super::trust::{AppJudgement, TrustCheck};
use super::InstallError;

/// Job files larger than this are not read.
pub const MAX_JOB_SIZE: u64 = 1024 * 1024;

/// The installed helper as read: its facts, its bytes, and where.
pub struct InstalledHelper {
    /// The embedded plists.
    pub facts: HelperFacts,
    /// The file's bytes, as read.
    pub bytes: Vec<u8>,
}

/// Read the helper installed as `label` in `helper_dir`: `Ok(None)` when nothing is there,
/// `Err(reason)` when something is there that cannot be read as a helper (a symlink, a FIFO, a
/// file too large, a malformed binary), naming the path but never echoing its contents.
pub fn read_helper(
    helper_dir: &Dir,
    label: &str,
) -> Result<Option<Result<InstalledHelper, String>>, InstallError> {
    if !helper_dir.exists(label)? {
        return Ok(None);
    }
    let path = helper_dir.child(label);
    let bytes = match helper_dir.read(label, MAX_HELPER_SIZE) {
        Ok(b) => b,
        Err(
            e @ (InstallError::NotAFile { .. }
            | InstallError::TooLarge { .. }
            | InstallError::Io { .. }),
        ) => return Ok(Some(Err(e.to_string()))),
        Err(e) => return Err(e),
    };
    Ok(Some(
        HelperFacts::parse(&path, &bytes)
            .map(|facts| InstalledHelper { facts, bytes })
            .map_err(|e| e.to_string()),
    ))
}

/// What the job file `LABEL.plist` in `daemon_dir` runs, when it exists: `Some(Ok(program))`,
/// or `Some(Err(()))` when it is not a readable job.
fn job_program(
    daemon_dir: &Dir,
    label: &str,
    backend: &dyn JobBackend,
) -> Result<Option<Result<Option<String>, ()>>, InstallError> {
    let name = layout::plist_name(label);
    if !daemon_dir.exists(&name)? {
        return Ok(None);
    }
    Ok(Some(match daemon_dir.read(&name, MAX_JOB_SIZE) {
        Ok(bytes) => backend.program_of(&bytes).map_err(|_| ()),
        Err(_) => Err(()),
    }))
}

/// Read what is installed under `label`, with whichever install directories exist.
pub fn read(
    helper_dir: Option<&Dir>,
    daemon_dir: Option<&Dir>,
    label: &str,
    backend: &dyn JobBackend,
    trust: &dyn TrustCheck,
    app: &AppJudgement,
) -> Result<Installed, InstallError> {
    let ours = Layout::system_helper(label).to_string_lossy().into_owned();
    if let Some(d) = daemon_dir {
        match job_program(d, label, backend)? {
            Some(Ok(Some(p))) if p == ours => {}
            // A job file of ours whose program is missing: nothing runs; an install repairs it.
            Some(Ok(program)) => {
                return Ok(Installed::Foreign {
                    job: d.child(&layout::plist_name(label)),
                    program,
                })
            }
            Some(Err(())) => {
                return Ok(Installed::Foreign {
                    job: d.child(&layout::plist_name(label)),
                    program: None,
                })
            }
            None => {}
        }
    }
    let Some(h) = helper_dir else {
        return Ok(Installed::Nothing);
    };
    let path = h.child(label);
    let helper = match read_helper(h, label)? {
        None => return Ok(Installed::Nothing),
        Some(Err(reason)) => return Ok(Installed::Unreadable { path, reason }),
        Some(Ok(helper)) => helper,
    };
    judge(helper, &path, trust, app)
}

fn judge(
    helper: InstalledHelper,
    path: &Path,
    trust: &dyn TrustCheck,
    app: &AppJudgement,
) -> Result<Installed, InstallError> {
    let version = match helper.facts.version() {
        Ok(v) => v,
        Err(e) => {
            return Ok(Installed::Unreadable {
                path: path.to_path_buf(),
                reason: format!("{}: {e}", path.display()),
            })
        }
    };
    let signature = trust
        .signature_valid(path, &helper.bytes)
        .map_err(|source| InstallError::Trust {
            what: format!("{}: signature", path.display()),
            source,
        })?;
    let clients = match helper.facts.authorized_clients() {
        Ok(c) => app.satisfies_any(&c),
        Err(e) => super::trust::Verdict::Fail(vec![format!("{}: {e}", path.display())]),
    };
    Ok(Installed::Helper {
        path: path.to_path_buf(),
        version,
        signature,
        clients,
    })
}
