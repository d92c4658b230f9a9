//! Directory handles: every file an install reads or writes is reached from a directory opened
//! once, by name within it, never following a symbolic link and never blocking on a FIFO.
//!
//! A [`Dir`] is an open directory plus the path it was opened as (for messages only: no
//! operation re-resolves that path). Between the check of a directory and the last rename
//! through it, nobody can redirect the install by swapping a path component.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};

use super::InstallError;

/// Flags of every open: no symlink as the last component, no blocking on FIFOs or devices,
/// nothing inherited by launchctl.
fn base_flags() -> OFlags {
    OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY
}

/// Wrap an I/O error with the path and what was being done.
pub(crate) fn io_err(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |source| InstallError::Io { path, op, source }
}

fn errno(path: &Path, op: &'static str) -> impl FnOnce(rustix::io::Errno) -> InstallError {
    let f = io_err(path, op);
    move |e| f(io::Error::from(e))
}

/// A permission mode from its bits (`mode_t` is 16 bits on macOS, 32 on Linux).
#[allow(clippy::unnecessary_cast)]
pub(crate) fn mode_bits(bits: u32) -> Mode {
    Mode::from_bits_truncate((bits & 0o7777) as rustix::fs::RawMode)
}

/// What kind of object a `stat` describes, for messages.
pub(crate) fn type_name(st: &Stat) -> &'static str {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Unknown => "an unknown kind of file",
    }
}

/// Whether `st` is a regular file.
pub(crate) fn is_regular(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
}

/// Whether `st` is a directory.
pub(crate) fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

/// An open directory and the path it was opened as.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Open `path` as a directory, refusing a symlink as its last component. For the first
    /// handle of a walk; everything below is reached with [`Dir::open_dir`].
    pub(crate) fn open_path(path: &Path) -> Result<Dir, InstallError> {
        let fd = rfs::open(
            path,
            base_flags() | OFlags::DIRECTORY | OFlags::RDONLY,
            Mode::empty(),
        )
        .map_err(errno(path, "opening directory"))?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Open the subdirectory `name` (no symlink).
    pub(crate) fn open_dir(&self, name: &str) -> Result<Dir, InstallError> {
        let path = self.path.join(name);
        let fd = rfs::openat(
            &self.fd,
            name,
            base_flags() | OFlags::DIRECTORY | OFlags::RDONLY,
            Mode::empty(),
        )
        .map_err(errno(&path, "opening directory"))?;
        Ok(Dir { fd, path })
    }

    /// The path this directory was opened as (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory (for messages).
    pub fn child(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `fstat` of the directory itself.
    pub(crate) fn stat_self(&self) -> Result<Stat, InstallError> {
        rfs::fstat(&self.fd).map_err(errno(&self.path, "examining"))
    }

    /// `lstat` of `name`; `None` when it does not exist.
    pub(crate) fn stat(&self, name: &str) -> Result<Option<Stat>, InstallError> {
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(errno(&self.child(name), "examining")(e)),
        }
    }

    /// Whether anything (a dangling symlink included) is at `name`.
    pub(crate) fn exists(&self, name: &str) -> Result<bool, InstallError> {
        Ok(self.stat(name)?.is_some())
    }

    /// Open `name` for reading: it must be a regular file (checked on the open descriptor, so
    /// a swap between look and open is caught) of at most `max` bytes.
    pub(crate) fn open_regular(&self, name: &str, max: u64) -> Result<(File, u64), InstallError> {
        let path = self.child(name);
        let fd = rfs::openat(&self.fd, name, base_flags() | OFlags::RDONLY, Mode::empty())
            .map_err(|e| match e {
                // O_NOFOLLOW on a symlink.
                rustix::io::Errno::LOOP => InstallError::NotAFile {
                    path: path.clone(),
                    found: "a symbolic link",
                },
                e => errno(&path, "opening")(e),
            })?;
        let st = rfs::fstat(&fd).map_err(errno(&path, "examining"))?;
        if !is_regular(&st) {
            return Err(InstallError::NotAFile {
                path,
                found: type_name(&st),
            });
        }
        let size = st.st_size as u64;
        if size > max {
            return Err(InstallError::TooLarge { path, size, max });
        }
        Ok((File::from(fd), size))
    }

    /// Read the regular file `name` of at most `max` bytes.
    pub(crate) fn read(&self, name: &str, max: u64) -> Result<Vec<u8>, InstallError> {
        let (file, size) = self.open_regular(name, max)?;
        read_all(file, &self.child(name), size, max)
    }

    /// Read `name` if it exists.
    pub(crate) fn read_if_present(
        &self,
        name: &str,
        max: u64,
    ) -> Result<Option<Vec<u8>>, InstallError> {
        if !self.exists(name)? {
            return Ok(None);
        }
        self.read(name, max).map(Some)
    }

    /// Create `name` exclusively with mode 0600, write `bytes`, fsync. The file stays open so
    /// its owner and mode are set through the same descriptor.
    pub(crate) fn create_synced(&self, name: &str, bytes: &[u8]) -> Result<File, InstallError> {
        let path = self.child(name);
        let fd = rfs::openat(
            &self.fd,
            name,
            base_flags() | OFlags::CREATE | OFlags::EXCL | OFlags::RDWR,
            Mode::from_raw_mode(0o600),
        )
        .map_err(errno(&path, "creating"))?;
        let mut file = File::from(fd);
        file.write_all(bytes).map_err(io_err(&path, "writing"))?;
        file.sync_all().map_err(io_err(&path, "syncing"))?;
        Ok(file)
    }

    /// Give an open file its final owner (root:wheel as root) and mode, then fsync.
    pub(crate) fn finalize(
        &self,
        file: &File,
        name: &str,
        mode: u32,
        as_root: bool,
    ) -> Result<(), InstallError> {
        let path = self.child(name);
        if as_root {
            rfs::fchown(
                file,
                Some(rustix::process::Uid::ROOT),
                Some(rustix::process::Gid::ROOT),
            )
            .map_err(errno(&path, "chown 0:0"))?;
        }
        rfs::fchmod(file, mode_bits(mode)).map_err(errno(&path, "chmod"))?;
        file.sync_all().map_err(io_err(&path, "syncing"))
    }

    /// Create the subdirectory `name` with `mode` (and root:wheel as root) unless it exists;
    /// `true` when it was created.
    pub(crate) fn ensure_dir(
        &self,
        name: &str,
        mode: u32,
        as_root: bool,
    ) -> Result<bool, InstallError> {
        let path = self.child(name);
        match rfs::mkdirat(&self.fd, name, mode_bits(mode)) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) => return Ok(false),
            Err(e) => return Err(errno(&path, "creating directory")(e)),
        }
        let sub = self.open_dir(name)?;
        // The umask may have narrowed the mode; set it exactly.
        rfs::fchmod(&sub.fd, mode_bits(mode)).map_err(errno(&path, "chmod"))?;
        if as_root {
            rfs::fchown(
                &sub.fd,
                Some(rustix::process::Uid::ROOT),
                Some(rustix::process::Gid::ROOT),
            )
            .map_err(errno(&path, "chown 0:0"))?;
        }
        self.sync()?;
        Ok(true)
    }

    /// Remove the file `name` if present; `true` when something was removed.
    pub(crate) fn remove(&self, name: &str) -> Result<bool, InstallError> {
        match rfs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(errno(&self.child(name), "removing")(e)),
        }
    }

    /// Rename `from` to `to` within this directory (atomic).
    pub(crate) fn rename(&self, from: &str, to: &str) -> Result<(), InstallError> {
        rfs::renameat(&self.fd, from, &self.fd, to).map_err(errno(&self.child(from), "renaming"))
    }

    /// A second name `to` for the regular file `from` (a backup that survives `from` being
    /// replaced); a synced copy with the same mode where hard links fail.
    pub(crate) fn link_or_copy(&self, from: &str, to: &str) -> Result<(), InstallError> {
        self.remove(to)?;
        if rfs::linkat(&self.fd, from, &self.fd, to, AtFlags::empty()).is_ok() {
            return Ok(());
        }
        self.copy_file(from, to)
    }

    /// Copy the regular file `from` to a new file `to` with the same mode, synced.
    pub(crate) fn copy_file(&self, from: &str, to: &str) -> Result<(), InstallError> {
        let (file, size) = self.open_regular(from, u64::MAX)?;
        let st = rfs::fstat(&file).map_err(errno(&self.child(from), "examining"))?;
        let bytes = read_all(file, &self.child(from), size, u64::MAX)?;
        let out = self.create_synced(to, &bytes)?;
        rfs::fchmod(&out, Mode::from_raw_mode(st.st_mode & 0o7777))
            .map_err(errno(&self.child(to), "chmod"))?;
        out.sync_all().map_err(io_err(&self.child(to), "syncing"))
    }

    /// fsync the directory, making renames and unlinks in it durable.
    pub(crate) fn sync(&self) -> Result<(), InstallError> {
        rfs::fsync(&self.fd).map_err(errno(&self.path, "syncing directory"))
    }

    /// Open (creating, mode 0600) `name` for locking: never through a symlink.
    pub(crate) fn open_lock(&self, name: &str) -> Result<OwnedFd, InstallError> {
        let path = self.child(name);
        let fd = rfs::openat(
            &self.fd,
            name,
            base_flags() | OFlags::CREATE | OFlags::RDWR,
            Mode::from_raw_mode(0o600),
        )
        .map_err(errno(&path, "opening lock"))?;
        let st = rfs::fstat(&fd).map_err(errno(&path, "examining"))?;
        if !is_regular(&st) {
            return Err(InstallError::NotAFile {
                path,
                found: type_name(&st),
            });
        }
        Ok(fd)
    }

    /// The names in this directory (not `.`/`..`), sorted.
    pub(crate) fn names(&self) -> Result<Vec<String>, InstallError> {
        let fd = rfs::openat(
            &self.fd,
            ".",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno(&self.path, "listing"))?;
        let mut dir = rfs::Dir::read_from(&fd).map_err(errno(&self.path, "listing"))?;
        let mut names = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(errno(&self.path, "listing"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The raw descriptor, for `flock` and `*at` calls elsewhere in the module.
    pub(crate) fn fd(&self) -> impl AsFd + '_ {
        self.fd.as_fd()
    }
}

/// Read an open regular file of `size` bytes (as `fstat` said), refusing more than `max`.
pub(crate) fn read_all(
    file: File,
    path: &Path,
    size: u64,
    max: u64,
) -> Result<Vec<u8>, InstallError> {
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(max)).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err(path, "reading"))?;
    if bytes.len() as u64 > max {
        return Err(InstallError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

/// Read back what an open file holds now, from its own descriptor (the copy that will run).
pub(crate) fn read_back(file: &File, path: &Path, max: u64) -> Result<Vec<u8>, InstallError> {
    use std::os::unix::fs::FileExt;
    let st = rfs::fstat(file).map_err(errno(path, "examining"))?;
    let size = st.st_size as u64;
    if size > max {
        return Err(InstallError::TooLarge {
            path: path.to_path_buf(),
            size,
            max,
        });
    }
    let mut bytes = vec![0u8; usize::try_from(size).unwrap_or(0)];
    file.read_exact_at(&mut bytes, 0)
        .map_err(io_err(path, "reading back"))?;
    Ok(bytes)
}

/// The effective user id of this process.
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}
