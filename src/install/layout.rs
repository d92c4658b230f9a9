//! Where an install puts things under a root, and whether the directories on the way are safe.
//!
//! Paths inside the installed plist are always the system paths (`/Library/...`), because a
//! staged root (`--root DIR`) is a packaging image of `/`, not a place the daemon runs from.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fsutil::{self, io_err};
use super::InstallError;

/// Helpers are copied here (relative to the root), as SMJobBless does.
pub const HELPER_DIR: &str = "Library/PrivilegedHelperTools";
/// Daemon plists go here (relative to the root).
pub const DAEMON_DIR: &str = "Library/LaunchDaemons";
/// smbless's own per-label lock files and journals, inside [`HELPER_DIR`]: on the same file
/// system as the files they protect, and as well guarded as they are.
pub const STATE_DIR: &str = ".smbless";

/// Mode of created `Library`, `PrivilegedHelperTools` and `LaunchDaemons` directories
/// (macOS ships them root:wheel, not group/other-writable).
pub const DIR_MODE: u32 = 0o755;
/// Mode of smbless's state directory: only root (or the staging user) reads journals.
pub const STATE_DIR_MODE: u32 = 0o700;

/// A directory that an installer must not write through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsafeDir {
    /// The directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// The install locations under one root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    system: bool,
}

impl Layout {
    /// The layout under `root`, which must exist. `root` is resolved once (so `/tmp` →
    /// `/private/tmp` on macOS is fine); nothing below it is allowed to be a symlink.
    pub fn open(root: &Path) -> Result<Layout, InstallError> {
        let root = fs::canonicalize(root).map_err(io_err(root, "resolving the root"))?;
        let system = root == Path::new("/");
        Ok(Layout { root, system })
    }

    /// The resolved root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this is the running system (`/`), where root privileges and root ownership are
    /// required.
    pub fn is_system(&self) -> bool {
        self.system
    }

    /// `ROOT/Library/PrivilegedHelperTools`.
    pub fn helper_dir(&self) -> PathBuf {
        self.root.join(HELPER_DIR)
    }

    /// `ROOT/Library/LaunchDaemons`.
    pub fn daemon_dir(&self) -> PathBuf {
        self.root.join(DAEMON_DIR)
    }

    /// `ROOT/Library/PrivilegedHelperTools/.smbless`.
    pub fn state_dir(&self) -> PathBuf {
        self.helper_dir().join(STATE_DIR)
    }

    /// Where the helper is installed under this root.
    pub fn helper(&self, label: &str) -> PathBuf {
        self.helper_dir().join(label)
    }

    /// Where the daemon plist is installed under this root.
    pub fn plist(&self, label: &str) -> PathBuf {
        self.daemon_dir().join(format!("{label}.plist"))
    }

    /// The helper's path as the installed system sees it (what `ProgramArguments` holds).
    pub fn system_helper(label: &str) -> PathBuf {
        Path::new("/").join(HELPER_DIR).join(label)
    }

    /// The plist's path as the installed system sees it.
    pub fn system_plist(label: &str) -> PathBuf {
        Path::new("/")
            .join(DAEMON_DIR)
            .join(format!("{label}.plist"))
    }

    /// The new helper while it is written and verified. Hidden and without the label as its
    /// whole name, so nothing mistakes it for an installed helper.
    pub fn new_helper(&self, label: &str) -> PathBuf {
        self.helper_dir().join(format!(".{label}.smbless-new"))
    }

    /// The previous helper, kept until the new one is loaded.
    pub fn old_helper(&self, label: &str) -> PathBuf {
        self.helper_dir().join(format!(".{label}.smbless-old"))
    }

    /// The new plist while it is written. Not ending in `.plist`, so launchd never loads it.
    pub fn new_plist(&self, label: &str) -> PathBuf {
        self.daemon_dir().join(format!(".{label}.smbless-new"))
    }

    /// The previous plist, kept until the new one is loaded.
    pub fn old_plist(&self, label: &str) -> PathBuf {
        self.daemon_dir().join(format!(".{label}.smbless-old"))
    }

    /// The per-label lock file. Never deleted: deleting a lock file lets two processes hold
    /// "the" lock on two different inodes.
    pub fn lock(&self, label: &str) -> PathBuf {
        self.state_dir().join(format!("{label}.lock"))
    }

    /// The per-label journal of an install in progress.
    pub fn journal(&self, label: &str) -> PathBuf {
        self.state_dir().join(format!("{label}.journal"))
    }

    /// The directories an install writes through, outermost first, with the mode each gets
    /// when created. On the system root `/` itself is included.
    fn chain(&self) -> Vec<(PathBuf, u32)> {
        let mut dirs = Vec::new();
        if self.system {
            dirs.push((self.root.clone(), DIR_MODE));
        }
        dirs.push((self.root.join("Library"), DIR_MODE));
        dirs.push((self.helper_dir(), DIR_MODE));
        dirs.push((self.daemon_dir(), DIR_MODE));
        dirs.push((self.state_dir(), STATE_DIR_MODE));
        dirs
    }

    /// Check every directory on the install paths: none may be a symlink or not a directory,
    /// group- or world-writable, or owned by anyone but root (on the system root) or root or
    /// the current user (on a staging root). Missing directories are listed, not errors.
    pub fn check_dirs(&self) -> Result<(Vec<UnsafeDir>, Vec<PathBuf>), InstallError> {
        let euid = fsutil::euid();
        let mut unsafe_dirs = Vec::new();
        let mut missing = Vec::new();
        for (dir, _) in self.chain() {
            let meta = match fs::symlink_metadata(&dir) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    missing.push(dir);
                    continue;
                }
                Err(e) => return Err(io_err(&dir, "examining")(e)),
            };
            if let Some(problem) = dir_problem(&meta, self.system, euid) {
                unsafe_dirs.push(UnsafeDir { path: dir, problem });
            }
        }
        Ok((unsafe_dirs, missing))
    }

    /// Create the missing directories with their modes (and root:wheel when running as root),
    /// then check the whole chain again, since a directory can appear between check and create.
    pub fn ensure_dirs(&self) -> Result<Vec<UnsafeDir>, InstallError> {
        let as_root = fsutil::euid() == 0;
        for (dir, mode) in self.chain() {
            match DirBuilder::new().mode(mode).create(&dir) {
                Ok(()) => {
                    // The umask may have narrowed the mode; set it exactly.
                    fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                        .map_err(io_err(&dir, "chmod"))?;
                    if as_root {
                        std::os::unix::fs::lchown(&dir, Some(0), Some(0))
                            .map_err(io_err(&dir, "chown 0:0"))?;
                    }
                    if let Some(parent) = dir.parent() {
                        fsutil::sync_dir(parent)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(&dir, "creating directory")(e)),
            }
        }
        Ok(self.check_dirs()?.0)
    }

    /// The directories that would be created, with their modes, for plans.
    pub fn missing_with_modes(&self) -> Result<Vec<(PathBuf, u32)>, InstallError> {
        let (_, missing) = self.check_dirs()?;
        Ok(self
            .chain()
            .into_iter()
            .filter(|(d, _)| missing.contains(d))
            .collect())
    }
}

fn dir_problem(meta: &fs::Metadata, system: bool, euid: u32) -> Option<String> {
    if meta.file_type().is_symlink() {
        return Some("is a symbolic link; expected a real directory".into());
    }
    if !meta.is_dir() {
        return Some(format!(
            "is {}; expected a directory",
            fsutil::file_type_name(meta)
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(format!(
            "has mode {mode:04o}, writable by group or others; expected 0755 (`chmod go-w`)"
        ));
    }
    let uid = meta.uid();
    if system && uid != 0 {
        return Some(format!(
            "is owned by uid {uid}; expected root (`chown root:wheel`)"
        ));
    }
    if !system && uid != 0 && uid != euid {
        return Some(format!(
            "is owned by uid {uid}; expected root or the current user (uid {euid})"
        ));
    }
    None
}
