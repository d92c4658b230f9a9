//! Small file-system primitives with the durability an installer needs: bounded reads that never
//! follow a symlink, new files created exclusively, and directory fsyncs after renames.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::InstallError;

/// Wrap an I/O error with the path and what was being done.
pub(crate) fn io_err<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> InstallError + 'a {
    move |source| InstallError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Read a regular file of at most `max` bytes. A symlink, directory or device is refused, so
/// a planted link cannot redirect what an installer reads as root.
pub(crate) fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, InstallError> {
    let meta = fs::symlink_metadata(path).map_err(io_err(path, "reading"))?;
    if !meta.file_type().is_file() {
        return Err(InstallError::NotAFile {
            path: path.to_path_buf(),
            found: file_type_name(&meta),
        });
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(io_err(path, "opening"))?;
    let len = file.metadata().map_err(io_err(path, "reading"))?.len();
    if len > max {
        return Err(InstallError::TooLarge {
            path: path.to_path_buf(),
            size: len,
            max,
        });
    }
    let mut bytes = Vec::new();
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

/// What kind of file system object `meta` describes, for messages.
pub(crate) fn file_type_name(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Create `path` exclusively (it must not exist) with mode 0600, write `bytes`, and fsync it.
/// The file is returned open so owner and mode can be set through the same descriptor.
pub(crate) fn create_synced(path: &Path, bytes: &[u8]) -> Result<File, InstallError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(io_err(path, "creating"))?;
    file.write_all(bytes).map_err(io_err(path, "writing"))?;
    file.sync_all().map_err(io_err(path, "syncing"))?;
    Ok(file)
}

/// Give an open file its final owner (root:wheel when we are root) and mode, then fsync, so
/// the metadata is durable before the file is renamed into place.
pub(crate) fn finalize(
    file: &File,
    path: &Path,
    mode: u32,
    as_root: bool,
) -> Result<(), InstallError> {
    if as_root {
        std::os::unix::fs::fchown(file, Some(0), Some(0)).map_err(io_err(path, "chown 0:0"))?;
    }
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err(path, "chmod"))?;
    file.sync_all().map_err(io_err(path, "syncing"))
}

/// fsync a directory, making renames and unlinks in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), InstallError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "syncing directory"))
}

/// Remove a file if present; `true` when something was removed.
pub(crate) fn remove_if_present(path: &Path) -> Result<bool, InstallError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path, "removing")(e)),
    }
}

/// Whether anything (including a dangling symlink) exists at `path`.
pub(crate) fn exists_no_follow(path: &Path) -> Result<bool, InstallError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path, "examining")(e)),
    }
}

/// Rename `from` to `to` (atomic within one directory).
pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), InstallError> {
    fs::rename(from, to).map_err(io_err(from, "renaming"))
}

/// A second name for `from` at `to` (a backup that survives `from` being replaced); falls back
/// to a synced copy on file systems without hard links.
pub(crate) fn link_or_copy(from: &Path, to: &Path) -> Result<(), InstallError> {
    remove_if_present(to)?;
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => {
            let meta = fs::symlink_metadata(from).map_err(io_err(from, "examining"))?;
            let bytes = read_regular(from, u64::MAX)?;
            let file = create_synced(to, &bytes)?;
            file.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(io_err(to, "chmod"))?;
            file.sync_all().map_err(io_err(to, "syncing"))
        }
    }
}

/// The effective user id of this process.
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}
