//! One examination: the app bundle is read exactly once, into a private snapshot.
//!
//! [`Snapshot::capture`] opens the bundle directory once and reaches every entry from that
//! handle (`openat`, `O_NOFOLLOW` on every component, `O_NONBLOCK`, `fstat` of the open
//! descriptor before reading), copying it into a fresh directory only the caller can enter
//! (mode 0700 inside a temporary directory nobody else can rename entries of). Every question
//! of the install — the contract both ways, the sealed Info.plist, the helper's version and
//! clients — is then answered from the snapshot, and the helper installed is the snapshot's
//! bytes. Swapping files in the app after the capture changes nothing.
//!
//! What a signed bundle may hold is what the capture accepts: directories, regular files, and
//! symbolic links whose target stays inside the bundle (macOS refuses links leaving a signed
//! bundle). A FIFO, socket or device, an absolute or escaping link, or a bundle beyond the size
//! and entry caps is refused by path, without reading or echoing anything behind it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::dir::{self, io_err};
use super::InstallError;

/// Caps on what a capture reads.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total bytes of regular files.
    pub max_bytes: u64,
    /// Entries (files, directories, links).
    pub max_entries: u64,
    /// Directory depth below the bundle.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 4 << 30,
            max_entries: 200_000,
            max_depth: 64,
        }
    }
}

/// A private copy of an app bundle, removed when dropped.
#[derive(Debug)]
pub struct Snapshot {
    private: PathBuf,
    bundle: PathBuf,
    original: PathBuf,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.private);
    }
}

/// A temporary-directory base where a 0700 directory of ours cannot be renamed or replaced by
/// anyone else: owned by root or us, and not writable by others unless sticky.
fn safe_base() -> Result<PathBuf, InstallError> {
    let euid = dir::euid();
    let candidates = [
        std::env::temp_dir(),
        PathBuf::from("/tmp"),
        PathBuf::from("/var/tmp"),
    ];
    for base in candidates {
        let Ok(st) = rfs::statat(rfs::CWD, &base, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        let mode = st.st_mode & 0o7777;
        let owner_ok = st.st_uid == 0 || st.st_uid == euid;
        let write_ok = mode & 0o022 == 0 || mode & 0o1000 != 0;
        if dir::is_dir(&st) && owner_ok && write_ok {
            return Ok(base);
        }
    }
    Err(InstallError::Io {
        path: std::env::temp_dir(),
        op: "choosing a private directory for the app snapshot",
        source: io::Error::other(
            "no temporary directory is a real directory owned by root (or us) and protected from renames by others",
        ),
    })
}

fn private_dir() -> Result<PathBuf, InstallError> {
    let base = safe_base()?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    for attempt in 0..64u32 {
        let name = format!(
            "smbless-snapshot-{}-{:x}",
            std::process::id(),
            seed.wrapping_add(u128::from(attempt) * 0x9e37_79b9)
        );
        let path = base.join(name);
        match rfs::mkdir(&path, Mode::from_raw_mode(0o700)) {
            Ok(()) => return Ok(path),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(io_err(&path, "creating the snapshot directory")(e.into())),
        }
    }
    Err(InstallError::Io {
        path: base,
        op: "creating the snapshot directory",
        source: io::Error::from(io::ErrorKind::AlreadyExists),
    })
}

/// Whether the link at `rel` (bundle-relative, `/`-separated) with `target` stays inside the
/// bundle when resolved lexically.
fn link_stays_inside(rel: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: usize = rel.parent().map_or(0, |p| p.components().count());
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

struct Capture<'a> {
    original: &'a Path,
    limits: Limits,
    bytes: u64,
    entries: u64,
}

impl Capture<'_> {
    fn unsafe_entry(&self, rel: &Path, problem: impl Into<String>) -> InstallError {
        InstallError::AppEntry {
            path: self.original.join(rel),
            problem: problem.into(),
        }
    }

    fn copy_dir(
        &mut self,
        src: &OwnedFd,
        dst: &OwnedFd,
        rel: &Path,
        depth: usize,
    ) -> Result<(), InstallError> {
        if depth > self.limits.max_depth {
            return Err(self.unsafe_entry(
                rel,
                format!("nested deeper than {} directories", self.limits.max_depth),
            ));
        }
        let names = list(src, &self.original.join(rel))?;
        for name in names {
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                return Err(self.unsafe_entry(
                    rel,
                    format!(
                        "more than {} entries in the bundle",
                        self.limits.max_entries
                    ),
                ));
            }
            let child = rel.join(&name);
            self.copy_entry(src, dst, &name, &child, depth)?;
        }
        Ok(())
    }

    fn copy_entry(
        &mut self,
        src: &OwnedFd,
        dst: &OwnedFd,
        name: &str,
        rel: &Path,
        depth: usize,
    ) -> Result<(), InstallError> {
        let shown = self.original.join(rel);
        let st = rfs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err(&shown, "examining")(e.into()))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                let target = rfs::readlinkat(src, name, Vec::new())
                    .map_err(|e| io_err(&shown, "reading link")(e.into()))?;
                let target = PathBuf::from(target.to_string_lossy().into_owned());
                if !link_stays_inside(rel, &target) {
                    return Err(self.unsafe_entry(rel, "is a symbolic link leaving the bundle (absolute or through `..`); expected a link to a path inside the bundle"));
                }
                rfs::symlinkat(&target, dst, name)
                    .map_err(|e| io_err(&shown, "copying link")(e.into()))
            }
            FileType::Directory => {
                let sub = rfs::openat(src, name, open_flags() | OFlags::DIRECTORY, Mode::empty())
                    .map_err(|e| io_err(&shown, "opening directory")(e.into()))?;
                let sst = rfs::fstat(&sub).map_err(|e| io_err(&shown, "examining")(e.into()))?;
                if !dir::is_dir(&sst) {
                    return Err(self.unsafe_entry(rel, "changed while being read"));
                }
                rfs::mkdirat(dst, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| io_err(&shown, "copying directory")(e.into()))?;
                let dsub = rfs::openat(dst, name, open_flags() | OFlags::DIRECTORY, Mode::empty())
                    .map_err(|e| io_err(&shown, "copying directory")(e.into()))?;
                self.copy_dir(&sub, &dsub, rel, depth + 1)
            }
            FileType::RegularFile => self.copy_file(src, dst, name, rel),
            _ => Err(self.unsafe_entry(
                rel,
                format!(
                    "is {}; expected a regular file, directory or symbolic link",
                    dir::type_name(&st)
                ),
            )),
        }
    }

    fn copy_file(
        &mut self,
        src: &OwnedFd,
        dst: &OwnedFd,
        name: &str,
        rel: &Path,
    ) -> Result<(), InstallError> {
        let shown = self.original.join(rel);
        let fd = rfs::openat(src, name, open_flags(), Mode::empty()).map_err(|e| match e {
            rustix::io::Errno::LOOP => {
                self.unsafe_entry(rel, "changed into a symbolic link while being read")
            }
            e => io_err(&shown, "opening")(e.into()),
        })?;
        // The descriptor is the authority: a FIFO swapped in after the look is caught here,
        // and O_NONBLOCK made the open itself return at once.
        let st = rfs::fstat(&fd).map_err(|e| io_err(&shown, "examining")(e.into()))?;
        if !dir::is_regular(&st) {
            return Err(self.unsafe_entry(
                rel,
                format!("is {}; expected a regular file", dir::type_name(&st)),
            ));
        }
        let left = self.limits.max_bytes.saturating_sub(self.bytes);
        let out = rfs::openat(
            dst,
            name,
            open_flags() | OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| io_err(&shown, "copying")(e.into()))?;
        // Keep the permission bits a check may look at (executable or not), never set-id bits
        // or write access for others.
        rfs::fchmod(&out, Mode::from_raw_mode(st.st_mode & 0o755))
            .map_err(|e| io_err(&shown, "copying")(e.into()))?;
        let mut reader = File::from(fd).take(left.saturating_add(1));
        let mut writer = File::from(out);
        let copied = copy_stream(&mut reader, &mut writer, &shown)?;
        if copied > left {
            return Err(self.unsafe_entry(
                rel,
                format!("the bundle holds more than {} bytes", self.limits.max_bytes),
            ));
        }
        self.bytes += copied;
        Ok(())
    }
}

fn copy_stream(
    reader: &mut impl Read,
    writer: &mut impl Write,
    shown: &Path,
) -> Result<u64, InstallError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(shown, "reading")(e)),
        };
        writer
            .write_all(buf.get(..n).unwrap_or_default())
            .map_err(io_err(shown, "copying"))?;
        total += n as u64;
    }
}

fn open_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY
}

fn list(fd: &OwnedFd, shown: &Path) -> Result<Vec<String>, InstallError> {
    let dup = rfs::openat(
        fd,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(shown, "listing")(e.into()))?;
    let mut d = rfs::Dir::read_from(&dup).map_err(|e| io_err(shown, "listing")(e.into()))?;
    let mut names = Vec::new();
    while let Some(entry) = d.read() {
        let entry = entry.map_err(|e| io_err(shown, "listing")(e.into()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

impl Snapshot {
    /// Capture the bundle at `app` into a private directory.
    pub fn capture(app: &Path, limits: Limits) -> Result<Snapshot, InstallError> {
        // The app path itself may be a link (the user named it); it is resolved by this one
        // open, and everything after is reached from the descriptor, so flipping the link
        // later changes nothing.
        let top = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::DIRECTORY;
        let src = rfs::open(app, top, Mode::empty()).map_err(|e| match e {
            rustix::io::Errno::NOTDIR => InstallError::AppEntry {
                path: app.to_path_buf(),
                problem: "is not a directory; expected an app bundle (X.app)".into(),
            },
            e => io_err(app, "opening the app")(e.into()),
        })?;
        let private = private_dir()?;
        let name = app
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty() && n != "..")
            .unwrap_or_else(|| "App.app".into());
        let snapshot = Snapshot {
            bundle: private.join(&name),
            private,
            original: app.to_path_buf(),
        };
        rfs::mkdir(&snapshot.bundle, Mode::from_raw_mode(0o700))
            .map_err(|e| io_err(&snapshot.bundle, "creating the snapshot")(e.into()))?;
        let dst = rfs::open(
            &snapshot.bundle,
            open_flags() | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .map_err(|e| io_err(&snapshot.bundle, "opening the snapshot")(e.into()))?;
        let mut capture = Capture {
            original: app,
            limits,
            bytes: 0,
            entries: 0,
        };
        capture.copy_dir(&src, &dst, Path::new(""), 0)?;
        super::pause_point("captured");
        Ok(snapshot)
    }

    /// The private copy of the bundle (judge this, never the original).
    pub fn bundle(&self) -> &Path {
        &self.bundle
    }

    /// The app path the snapshot was taken from (for messages).
    pub fn original(&self) -> &Path {
        &self.original
    }

    /// The path in the original app that `path` (inside the snapshot) stands for.
    pub fn shown(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.bundle) {
            Ok(rel) => self.original.join(rel),
            Err(_) => path.to_path_buf(),
        }
    }

    /// Read a regular file of the snapshot (no symlink), at most `max` bytes.
    pub fn read(&self, rel: &Path, max: u64) -> Result<Vec<u8>, InstallError> {
        let mut d = dir::Dir::open_path(&self.bundle)?;
        let mut comps: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        let Some(last) = comps.pop() else {
            return Err(InstallError::NotAFile {
                path: self.original.clone(),
                found: "a directory",
            });
        };
        for c in comps {
            d = d.open_dir(&c).map_err(|e| self.renamed(e))?;
        }
        d.read(&last, max).map_err(|e| self.renamed(e))
    }

    /// An error about a snapshot path, renamed to the original path.
    fn renamed(&self, e: InstallError) -> InstallError {
        match e {
            InstallError::NotAFile { path, found } => InstallError::NotAFile {
                path: self.shown(&path),
                found,
            },
            InstallError::TooLarge { path, size, max } => InstallError::TooLarge {
                path: self.shown(&path),
                size,
                max,
            },
            InstallError::Io { path, op, source } => InstallError::Io {
                path: self.shown(&path),
                op,
                source,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_stay_inside_the_bundle() {
        let rel = Path::new("Contents/Frameworks/F.framework/F");
        assert!(link_stays_inside(rel, Path::new("Versions/Current/F")));
        assert!(link_stays_inside(
            Path::new("Contents/x"),
            Path::new("../Info.plist")
        ));
        assert!(!link_stays_inside(
            Path::new("Contents/x"),
            Path::new("../../x")
        ));
        assert!(!link_stays_inside(Path::new("a"), Path::new("/etc/shadow")));
        assert!(!link_stays_inside(Path::new("a"), Path::new("../a")));
    }

    #[test]
    fn capture_copies_files_dirs_and_inner_links_and_refuses_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let app = tmp.path().join("A.app");
        std::fs::create_dir_all(app.join("Contents/MacOS")).unwrap();
        std::fs::write(app.join("Contents/Info.plist"), b"plist").unwrap();
        std::fs::write(app.join("Contents/MacOS/A"), b"code").unwrap();
        std::os::unix::fs::symlink("MacOS/A", app.join("Contents/link")).unwrap();
        let snap = Snapshot::capture(&app, Limits::default()).unwrap();
        assert_eq!(
            std::fs::read(snap.bundle().join("Contents/MacOS/A")).unwrap(),
            b"code"
        );
        assert_eq!(
            std::fs::read_link(snap.bundle().join("Contents/link")).unwrap(),
            Path::new("MacOS/A")
        );
        assert_eq!(
            snap.read(Path::new("Contents/Info.plist"), 100).unwrap(),
            b"plist"
        );
        let private = snap.private.clone();
        drop(snap);
        assert!(!private.exists(), "the snapshot is removed when dropped");

        std::os::unix::fs::symlink("/etc/passwd", app.join("Contents/out")).unwrap();
        let err = Snapshot::capture(&app, Limits::default()).unwrap_err();
        assert!(
            matches!(err, InstallError::AppEntry { ref path, .. } if path.ends_with("Contents/out")),
            "{err}"
        );
        std::fs::remove_file(app.join("Contents/out")).unwrap();

        assert!(std::process::Command::new("mkfifo")
            .arg(app.join("Contents/MacOS/fifo"))
            .status()
            .unwrap()
            .success());
        let err = Snapshot::capture(&app, Limits::default()).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
        std::fs::remove_file(app.join("Contents/MacOS/fifo")).unwrap();

        let tiny = Limits {
            max_bytes: 5,
            ..Limits::default()
        };
        let err = Snapshot::capture(&app, tiny).unwrap_err();
        assert!(err.to_string().contains("more than 5 bytes"), "{err}");
    }
}
