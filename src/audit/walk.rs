//! Reading the audited root as root may read attacker-writable places: every file is reached
//! from the root's directory handle one component at a time ([`crate::install::dir::Dir`]),
//! never through a symbolic link, never blocking on a FIFO, and never more than a size cap.
//! Files are read (copied) rather than mapped: a user who can truncate a mapped file could
//! crash the audit with `SIGBUS`.

use std::path::Path;

use rustix::fs::{self as rfs, FileType, Mode, OFlags};

use crate::install::dir::{read_all, Dir};
use crate::install::InstallError;

/// Launchd plists and Info.plists larger than this are not read.
pub const MAX_PLIST_SIZE: u64 = crate::install::installed::MAX_JOB_SIZE;

/// Owner and permission bits of a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// Owning user id.
    pub uid: u32,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
}

impl Owner {
    fn of(st: &rfs::Stat) -> Owner {
        #[allow(clippy::unnecessary_cast)]
        Owner {
            uid: st.st_uid as u32,
            mode: (st.st_mode as u32) & 0o7777,
        }
    }

    /// What is unsafe about a file or directory with this owner and mode for a root job, as
    /// `(writable, not_root_owned)` explanations.
    pub fn problems(self) -> (Option<String>, Option<String>) {
        let writable = (self.mode & 0o022 != 0).then(|| {
            let who = match (self.mode & 0o020 != 0, self.mode & 0o002 != 0) {
                (true, true) => "its group and others",
                (true, false) => "its group",
                _ => "others",
            };
            format!("writable by {who} (mode {:04o})", self.mode)
        });
        let owner = (self.uid != 0).then(|| format!("owned by uid {}, not root", self.uid));
        (writable, owner)
    }
}

/// A file read through handles: its bytes and owner.
pub struct ReadFile {
    /// The bytes, as read once.
    pub bytes: Vec<u8>,
    /// Owner and mode, from the open descriptor.
    pub owner: Owner,
}

/// Why a file could not be read, in words that name no path (the caller names it).
pub fn why(err: &InstallError) -> String {
    match err {
        InstallError::NotAFile { found, .. } => {
            format!("is {found}; expected a regular file (symbolic links are not followed)")
        }
        InstallError::TooLarge { size, max, .. } => {
            format!("is {size} bytes, more than the {max} the audit reads")
        }
        InstallError::Io { op, source, .. } => format!("{op}: {source}"),
        other => other.to_string(),
    }
}

/// Read the regular file `name` in `dir`, at most `max` bytes.
pub fn read(dir: &Dir, name: &str, max: u64) -> Result<ReadFile, String> {
    let (file, size) = dir.open_regular(name, max).map_err(|e| why(&e))?;
    let st = rfs::fstat(&file).map_err(|e| format!("examining: {e}"))?;
    let bytes = read_all(file, &dir.child(name), size, max).map_err(|e| why(&e))?;
    Ok(ReadFile {
        bytes,
        owner: Owner::of(&st),
    })
}

/// The entry `name` of `dir` without following it: `None` when absent.
pub fn lstat(dir: &Dir, name: &str) -> Option<(FileType, Owner)> {
    let st = dir.stat(name).ok()??;
    Some((FileType::from_raw_mode(st.st_mode), Owner::of(&st)))
}

/// At most this many entries of one directory are read: a directory other users can fill
/// must not make the audit allocate without bound.
pub const MAX_ENTRIES: usize = 4096;

/// The names in `dir` (shown as `shown`), sorted. At most [`MAX_ENTRIES`] are read, in
/// directory order; when there are more, or the directory cannot be listed, a sentence saying
/// so is added to `notes` (the report's `incomplete`).
pub fn names(dir: &Dir, shown: &str, notes: &mut Vec<String>) -> Vec<String> {
    let listing = rfs::openat(
        dir.fd(),
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(|fd| rfs::Dir::read_from(&fd));
    let mut listing = match listing {
        Ok(l) => l,
        Err(e) => {
            notes.push(format!("{shown}: cannot be listed ({e})"));
            return Vec::new();
        }
    };
    let mut names = Vec::new();
    while let Some(entry) = listing.read() {
        let Ok(entry) = entry else {
            notes.push(format!("{shown}: listing stopped by an error"));
            break;
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        if names.len() == MAX_ENTRIES {
            notes.push(format!(
                "{shown}: more than {MAX_ENTRIES} entries; only the first {MAX_ENTRIES} were read"
            ));
            break;
        }
        names.push(name);
    }
    names.sort();
    names
}

/// Open the subdirectory `name` of `dir` (never a symlink); `None` when absent or unreadable.
pub fn subdir(dir: &Dir, name: &str) -> Option<Dir> {
    match lstat(dir, name)? {
        (FileType::Directory, _) => dir.open_dir(name).ok(),
        _ => None,
    }
}

/// Open the directory at the relative path `rel` (`a/b/c`) below `dir`.
pub fn subdirs(dir: &Dir, rel: &str) -> Option<Dir> {
    let mut parts = rel.split('/');
    let mut cur = subdir(dir, parts.next()?)?;
    for part in parts {
        cur = subdir(&cur, part)?;
    }
    Some(cur)
}

/// [`subdirs`] for a directory the audit must read (shown as `shown`): absent is fine, but
/// one that is there and cannot be opened (a symbolic link, a file, no permission) is noted in
/// `notes`, so that the report does not pass over it in silence.
pub fn job_dir(dir: &Dir, rel: &str, shown: &str, notes: &mut Vec<String>) -> Option<Dir> {
    let mut cur: Option<Dir> = None;
    for part in rel.split('/') {
        let here = cur.as_ref().unwrap_or(dir);
        let next = match lstat(here, part)? {
            (FileType::Directory, _) => here.open_dir(part).map_err(|e| why(&e)),
            (FileType::Symlink, _) => Err("is a symbolic link, not followed".to_string()),
            _ => Err("is not a directory".to_string()),
        };
        match next {
            Ok(d) => cur = Some(d),
            Err(reason) => {
                notes.push(format!("{shown}: {reason}; not audited"));
                return None;
            }
        }
    }
    cur
}

/// Where a system path leads inside the audited root.
pub struct Located {
    /// The directory holding the file, when every directory on the way is one (no link).
    pub parent: Option<Dir>,
    /// The file name.
    pub name: String,
    /// What makes a directory on the way unsafe for a root job: links, other owners, modes
    /// that let other users write. Each entry names the directory as the system sees it.
    pub unsafe_dirs: Vec<String>,
}

/// Split an absolute, normalised system path into its components; `None` otherwise.
pub fn components(system_path: &str) -> Option<Vec<&str>> {
    let rest = system_path.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return None;
    }
    Some(parts)
}

/// Follow the absolute system path `system_path` from the root handle, one directory at a
/// time, judging each directory below the root as a root job's path must be: a directory (not
/// a symbolic link), owned by root, writable by nobody else. The root itself is taken as given.
pub fn locate(root: &Dir, system_path: &str) -> Option<Located> {
    let parts = components(system_path)?;
    let (name, dirs) = parts.split_last()?;
    let mut unsafe_dirs = Vec::new();
    let mut shown = String::new();
    let mut cur: Option<Dir> = None;
    for part in dirs {
        shown.push('/');
        shown.push_str(part);
        let here = cur.as_ref().unwrap_or(root);
        let next = match lstat(here, part) {
            Some((FileType::Directory, owner)) => {
                let (writable, other_owner) = owner.problems();
                for problem in [writable, other_owner].into_iter().flatten() {
                    unsafe_dirs.push(format!("{shown} is {problem}"));
                }
                here.open_dir(part).ok()
            }
            Some((FileType::Symlink, _)) => {
                unsafe_dirs.push(format!(
                    "{shown} is a symbolic link (not followed by the audit)"
                ));
                None
            }
            _ => None,
        };
        match next {
            Some(d) => cur = Some(d),
            None => {
                return Some(Located {
                    parent: None,
                    name: name.to_string(),
                    unsafe_dirs,
                })
            }
        }
    }
    Some(Located {
        parent: Some(cur.unwrap_or(open_same(root)?)),
        name: name.to_string(),
        unsafe_dirs,
    })
}

/// A second handle on `dir` (for a file directly under the root).
fn open_same(dir: &Dir) -> Option<Dir> {
    dir.open_dir(".").ok()
}

/// Open the audited root. It must be a directory (a symbolic link is refused).
pub fn open_root(root: &Path) -> Result<Dir, InstallError> {
    Dir::open_path(root)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use super::*;

    fn root() -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = open_root(tmp.path()).unwrap();
        (tmp, dir)
    }

    #[test]
    fn components_are_absolute_and_normalised() {
        assert_eq!(components("/a/b"), Some(vec!["a", "b"]));
        assert_eq!(components("a/b"), None);
        assert_eq!(components("/a//b"), None);
        assert_eq!(components("/a/../b"), None);
        assert_eq!(components("/a/./b"), None);
    }

    #[test]
    fn owner_problems() {
        let ok = Owner {
            uid: 0,
            mode: 0o755,
        };
        assert_eq!(ok.problems(), (None, None));
        let (w, o) = Owner {
            uid: 501,
            mode: 0o1777,
        }
        .problems();
        assert_eq!(
            w.as_deref(),
            Some("writable by its group and others (mode 1777)")
        );
        assert_eq!(o.as_deref(), Some("owned by uid 501, not root"));
    }

    #[test]
    fn locate_reports_links_and_writable_directories_without_following() {
        let (tmp, dir) = root();
        let open = tmp.path().join("open");
        std::fs::create_dir_all(open.join("sub")).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(open.join("sub/file"), b"x").unwrap();
        symlink(&open, tmp.path().join("link")).unwrap();

        let through_open = locate(&dir, "/open/sub/file").unwrap();
        assert!(through_open.parent.is_some());
        assert_eq!(through_open.name, "file");
        assert!(
            through_open.unsafe_dirs[0].starts_with("/open is writable by its group and others"),
            "{:?}",
            through_open.unsafe_dirs
        );

        let through_link = locate(&dir, "/link/sub/file").unwrap();
        assert!(through_link.parent.is_none(), "a link is not followed");
        assert_eq!(
            through_link.unsafe_dirs,
            ["/link is a symbolic link (not followed by the audit)"]
        );
        assert!(locate(&dir, "relative").is_none());
    }

    #[test]
    fn read_refuses_fifos_and_links_without_blocking() {
        let (tmp, dir) = root();
        let fifo = tmp.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        symlink("/etc/passwd", tmp.path().join("link")).unwrap();
        std::fs::write(tmp.path().join("big"), vec![0u8; 100]).unwrap();
        assert!(read(&dir, "fifo", 10)
            .err()
            .unwrap()
            .starts_with("is a FIFO"));
        assert!(read(&dir, "link", 10)
            .err()
            .unwrap()
            .starts_with("is a symbolic link"));
        assert!(read(&dir, "big", 10)
            .err()
            .unwrap()
            .contains("more than the 10"));
        assert_eq!(read(&dir, "big", 100).unwrap().bytes.len(), 100);
    }

    #[test]
    fn listings_are_capped_and_say_so() {
        let (tmp, dir) = root();
        for i in 0..=MAX_ENTRIES {
            std::fs::write(tmp.path().join(format!("f{i:05}")), b"").unwrap();
        }
        let mut notes = Vec::new();
        let names = names(&dir, "/many", &mut notes);
        assert_eq!(names.len(), MAX_ENTRIES);
        assert_eq!(
            notes,
            ["/many: more than 4096 entries; only the first 4096 were read"]
        );
    }

    #[test]
    fn job_directories_that_cannot_be_read_are_noted() {
        let (tmp, dir) = root();
        std::fs::create_dir_all(tmp.path().join("real/LaunchDaemons")).unwrap();
        std::fs::create_dir(tmp.path().join("Library")).unwrap();
        symlink(
            tmp.path().join("real/LaunchDaemons"),
            tmp.path().join("Library/LaunchDaemons"),
        )
        .unwrap();
        let mut notes = Vec::new();
        let shown = "/Library/LaunchDaemons";
        assert!(job_dir(&dir, "Library/LaunchDaemons", shown, &mut notes).is_none());
        assert_eq!(
            notes,
            ["/Library/LaunchDaemons: is a symbolic link, not followed; not audited"]
        );
        notes.clear();
        assert!(job_dir(&dir, "Library/LaunchAgents", "/x", &mut notes).is_none());
        assert!(notes.is_empty(), "absent is not worth a note");
    }
}
