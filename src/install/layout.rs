//! Where an install puts things under a root, whether the directories on the way are safe, and
//! the directory handles every later step works through.
//!
//! The root (`--root DIR`, or `/`) is checked like `/`: DIR and each of its parents must be a
//! real directory (a parent may be a symlink only when root owns it inside a directory only
//! root can write, like macOS's `/tmp → private/tmp`; DIR itself never), owned by root or by
//! the caller, and not writable by group or others (a parent may be a sticky world-writable
//! directory such as `/tmp`, where nobody can rename what they do not own). A DIR that is `/`
//! (same device and inode, however it is spelled) is the running system. The check is made on
//! the directories as they are opened, one handle from the next, and the handles are kept to
//! the last rename, so nothing can be swapped in between.
//!
//! Paths inside the installed plist are always the system paths (`/Library/...`), because a
//! staged root is a packaging image of `/`, not a place the daemon runs from.

use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, FileType};
use serde::Serialize;

use super::dir::{self, Dir};
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

/// How many symlinks a root path may pass through (as the kernel's `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// A directory that an installer must not write through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsafeDir {
    /// The directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// Who may own the directories of an install.
#[derive(Debug, Clone, Copy)]
struct Owners {
    /// The running system: root only.
    system: bool,
    euid: u32,
}

impl Owners {
    fn problem(self, st: &rfs::Stat, allow_sticky: bool) -> Option<String> {
        if !dir::is_dir(st) {
            return Some(format!("is {}; expected a directory", dir::type_name(st)));
        }
        let mode = st.st_mode & 0o7777;
        let sticky = mode & 0o1000 != 0;
        if mode & 0o022 != 0 && !(allow_sticky && sticky && mode & 0o002 != 0) {
            return Some(format!(
                "has mode {mode:04o}, writable by group or others; expected 0755 (`chmod go-w`)"
            ));
        }
        let uid = st.st_uid;
        if self.system && uid != 0 {
            return Some(format!(
                "is owned by uid {uid}; expected root (`chown root:wheel`)"
            ));
        }
        if uid != 0 && uid != self.euid {
            return Some(format!(
                "is owned by uid {uid}; expected root or the current user (uid {})",
                self.euid
            ));
        }
        None
    }
}

/// The root an install works under, checked and opened.
#[derive(Debug)]
pub struct Layout {
    root: PathBuf,
    system: bool,
    dir: Dir,
}

/// The opened install directories under a root.
#[derive(Debug)]
pub struct Dirs {
    /// `ROOT/Library/PrivilegedHelperTools`.
    pub helper: Dir,
    /// `ROOT/Library/LaunchDaemons`.
    pub daemon: Dir,
    /// `ROOT/Library/PrivilegedHelperTools/.smbless`.
    pub state: Dir,
}

fn unsafe_dir(path: PathBuf, problem: impl Into<String>) -> UnsafeDir {
    UnsafeDir {
        path,
        problem: problem.into(),
    }
}

/// Walk `path` from `/`, one handle from the next, checking each directory on the way.
fn walk(path: &Path, euid: u32) -> Result<Result<Dir, UnsafeDir>, InstallError> {
    let owners = Owners {
        system: false,
        euid,
    };
    let mut pending: Vec<String> = components(path)?;
    pending.reverse();
    let mut cur = Dir::open_path(Path::new("/"))?;
    if let Some(p) = owners.problem(&cur.stat_self()?, false) {
        return Ok(Err(unsafe_dir("/".into(), p)));
    }
    let mut links = 0;
    while let Some(name) = pending.pop() {
        let last = pending.is_empty();
        let here = cur.child(&name);
        let Some(st) = cur.stat(&name)? else {
            return Err(dir::io_err(&here, "opening the root")(
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            let trusted_parent =
                owners.problem(&cur.stat_self()?, false).is_none() && cur.stat_self()?.st_uid == 0;
            if last || st.st_uid != 0 || !trusted_parent || links >= MAX_SYMLINKS {
                return Ok(Err(unsafe_dir(
                    here,
                    "is a symbolic link; expected a real directory (give the path it points to)",
                )));
            }
            links += 1;
            let target = rfs::readlinkat(cur.fd(), name.as_str(), Vec::new())
                .map_err(|e| dir::io_err(&here, "reading link")(e.into()))?;
            let target = PathBuf::from(target.to_string_lossy().into_owned());
            let mut more = components(&target)?;
            more.reverse();
            pending.extend(more);
            if target.is_absolute() {
                cur = Dir::open_path(Path::new("/"))?;
            }
            continue;
        }
        let next = if name == ".." {
            cur.open_dir("..")?
        } else {
            cur.open_dir(&name)?
        };
        let nst = next.stat_self()?;
        if let Some(p) = owners.problem(&nst, !last) {
            return Ok(Err(unsafe_dir(here, p)));
        }
        cur = next;
    }
    Ok(Ok(cur))
}

/// The normal components of `path` (`.` dropped, `..` kept for the kernel to resolve on the
/// handle, which is then checked like any other directory).
fn components(path: &Path) -> Result<Vec<String>, InstallError> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => out.push("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

fn same_file(a: &rfs::Stat, b: &rfs::Stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

impl Layout {
    /// Check and open `root`. `Ok(Err(_))` names the directory that makes it unsafe.
    pub fn open(root: &Path) -> Result<Result<Layout, UnsafeDir>, InstallError> {
        let absolute = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(dir::io_err(root, "resolving the root"))?
                .join(root)
        };
        let dir = match walk(&absolute, dir::euid())? {
            Ok(d) => d,
            Err(u) => return Ok(Err(u)),
        };
        let slash =
            rfs::stat("/").map_err(|e| dir::io_err(Path::new("/"), "examining")(e.into()))?;
        let system = same_file(&dir.stat_self()?, &slash);
        let root = if system { PathBuf::from("/") } else { absolute };
        Ok(Ok(Layout { root, system, dir }))
    }

    /// The root as given (absolute); `/` for the running system.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this is the running system (`/`), where root privileges, root ownership and the
    /// root policy are required.
    pub fn is_system(&self) -> bool {
        self.system
    }

    fn owners(&self) -> Owners {
        Owners {
            system: self.system,
            euid: dir::euid(),
        }
    }

    /// Check and open `root` for a command that cannot proceed on an unsafe root (no report
    /// to put a refusal in): an unsafe root is an error naming the directory.
    pub fn open_or_error(root: &Path) -> Result<Layout, InstallError> {
        Layout::open(root)?.map_err(|u| InstallError::Io {
            path: u.path,
            op: "checking the root",
            source: std::io::Error::other(u.problem),
        })
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
        self.daemon_dir().join(plist_name(label))
    }

    /// The helper's path as the installed system sees it (what `ProgramArguments` holds).
    pub fn system_helper(label: &str) -> PathBuf {
        Path::new("/").join(HELPER_DIR).join(label)
    }

    /// The plist's path as the installed system sees it.
    pub fn system_plist(label: &str) -> PathBuf {
        Path::new("/").join(DAEMON_DIR).join(plist_name(label))
    }

    /// The per-label lock file (never deleted: deleting a lock file lets two processes hold
    /// "the" lock on two different inodes).
    pub fn lock(&self, label: &str) -> PathBuf {
        self.state_dir().join(lock_name(label))
    }

    /// The per-label journal of an install in progress.
    pub fn journal(&self, label: &str) -> PathBuf {
        self.state_dir().join(journal_name(label))
    }

    /// The directories below the root an install writes through, outermost first: (parent
    /// index or `None` for the root, name, mode).
    fn chain() -> [(&'static str, &'static str, u32); 4] {
        [
            ("", "Library", DIR_MODE),
            ("Library", "PrivilegedHelperTools", DIR_MODE),
            ("Library", "LaunchDaemons", DIR_MODE),
            (HELPER_DIR, STATE_DIR, STATE_DIR_MODE),
        ]
    }

    /// Open and check every install directory that exists, without creating any. Returns
    /// the handles when all exist and are safe, else what is unsafe and what is missing.
    pub fn check(&self) -> Result<Checked, InstallError> {
        self.walk_chain(false)
    }

    /// Create the missing install directories (root:wheel as root), then open and check all.
    pub fn ensure(&self) -> Result<Checked, InstallError> {
        self.walk_chain(true)
    }

    fn walk_chain(&self, create: bool) -> Result<Checked, InstallError> {
        let owners = self.owners();
        let as_root = dir::euid() == 0;
        let mut opened: Vec<(String, Dir)> = Vec::new();
        let mut checked = Checked::default();
        for (parent, name, mode) in Self::chain() {
            let parent_dir = if parent.is_empty() {
                &self.dir
            } else {
                match opened.iter().find(|(n, _)| n == parent) {
                    Some((_, d)) => d,
                    None => {
                        checked
                            .missing
                            .push((self.root.join(parent).join(name), mode));
                        continue;
                    }
                }
            };
            let path = parent_dir.child(name);
            if create {
                parent_dir.ensure_dir(name, mode, as_root)?;
            }
            match parent_dir.stat(name)? {
                None => {
                    checked.missing.push((path, mode));
                    continue;
                }
                Some(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                    checked.unsafe_dirs.push(unsafe_dir(
                        path,
                        "is a symbolic link; expected a real directory",
                    ));
                    continue;
                }
                Some(_) => {}
            }
            let d = parent_dir.open_dir(name)?;
            if let Some(p) = owners.problem(&d.stat_self()?, false) {
                checked.unsafe_dirs.push(unsafe_dir(path, p));
                continue;
            }
            let key = if parent.is_empty() {
                name.to_owned()
            } else {
                format!("{parent}/{name}")
            };
            opened.push((key, d));
        }
        let mut take = |key: &str| {
            opened
                .iter()
                .position(|(n, _)| n == key)
                .map(|i| opened.swap_remove(i).1)
        };
        checked.helper = take(HELPER_DIR);
        checked.daemon = take(DAEMON_DIR);
        checked.state = take(&format!("{HELPER_DIR}/{STATE_DIR}"));
        Ok(checked)
    }
}

/// The outcome of checking the install directories.
#[derive(Debug, Default)]
pub struct Checked {
    /// `ROOT/Library/PrivilegedHelperTools`, when it exists and is safe.
    pub helper: Option<Dir>,
    /// `ROOT/Library/LaunchDaemons`, when it exists and is safe.
    pub daemon: Option<Dir>,
    /// The state directory, when it exists and is safe.
    pub state: Option<Dir>,
    /// Directories that must not be written through.
    pub unsafe_dirs: Vec<UnsafeDir>,
    /// Directories that do not exist yet, with the mode they get.
    pub missing: Vec<(PathBuf, u32)>,
}

impl Checked {
    /// All three handles, when every directory exists and is safe.
    pub fn into_dirs(self) -> Option<Dirs> {
        if !self.unsafe_dirs.is_empty() {
            return None;
        }
        Some(Dirs {
            helper: self.helper?,
            daemon: self.daemon?,
            state: self.state?,
        })
    }
}

/// `LABEL.plist`.
pub fn plist_name(label: &str) -> String {
    format!("{label}.plist")
}

/// The new helper while it is written and verified: hidden, so nothing mistakes it for an
/// installed helper.
pub fn new_helper_name(label: &str) -> String {
    format!(".{label}.smbless-new")
}

/// The previous helper, kept until the new one is loaded.
pub fn old_helper_name(label: &str) -> String {
    format!(".{label}.smbless-old")
}

/// The new plist while it is written: not ending in `.plist`, so launchd never loads it.
pub fn new_plist_name(label: &str) -> String {
    format!(".{label}.smbless-new")
}

/// The previous plist, kept until the new one is loaded.
pub fn old_plist_name(label: &str) -> String {
    format!(".{label}.smbless-old")
}

/// The per-label lock file name.
pub fn lock_name(label: &str) -> String {
    format!("{label}.lock")
}

/// The per-label journal name.
pub fn journal_name(label: &str) -> String {
    format!("{label}.journal")
}

/// Whether `root` is the running system (`/`, however spelled). Errors when it cannot be
/// examined; an unsafe root is not the system (the install refuses it anyway).
pub fn is_system_root(root: &Path) -> Result<bool, InstallError> {
    Ok(match Layout::open(root)? {
        Ok(l) => l.is_system(),
        Err(_) => false,
    })
}
