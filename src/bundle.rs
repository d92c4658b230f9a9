//! App bundle layout: `Contents/Info.plist`, the main executable named by `CFBundleExecutable`,
//! and the privileged helpers in `Contents/Library/LaunchServices/`.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

use crate::plists::{Plist, PlistError, PlistSource};

/// Where SMJobBless looks for helpers, relative to the bundle root.
pub const LAUNCH_SERVICES_DIR: &str = "Contents/Library/LaunchServices";

/// Where SMAppService looks for daemon plists, relative to the bundle root.
pub const LAUNCH_DAEMONS_DIR: &str = "Contents/Library/LaunchDaemons";

/// The largest Info.plist smbless reads. Real ones are a few KiB; the cap keeps a hostile
/// bundle from making us allocate without bound.
pub const MAX_INFO_PLIST_SIZE: u64 = 16 * 1024 * 1024;

/// A bundle that cannot be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The path is not a directory with a `Contents` folder.
    #[error("{path}: not an app bundle; expected a directory containing Contents/Info.plist")]
    NotABundle {
        /// The path given.
        path: PathBuf,
    },
    /// `Contents/Info.plist` is missing.
    #[error("{path}: missing; an app bundle needs Contents/Info.plist")]
    InfoPlistMissing {
        /// The expected Info.plist path.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Info.plist is larger than [`MAX_INFO_PLIST_SIZE`].
    #[error("{path}: {size} bytes; expected an Info.plist of at most {max} bytes")]
    InfoPlistTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// Info.plist is not a readable dictionary.
    #[error(transparent)]
    InfoPlist(#[from] PlistError),
    /// `CFBundleExecutable` is missing from Info.plist.
    #[error("{path}: key `CFBundleExecutable` is missing; expected the name of the main executable in Contents/MacOS")]
    ExecutableKeyMissing {
        /// The Info.plist path.
        path: PathBuf,
    },
    /// `CFBundleExecutable` is not a plain file name.
    #[error("{path}: key `CFBundleExecutable` is {name:?}; expected a plain file name without `/` or `..`")]
    ExecutableNameInvalid {
        /// The Info.plist path.
        path: PathBuf,
        /// The value found.
        name: String,
    },
    /// The executable named by `CFBundleExecutable` does not exist.
    #[error("{path}: missing; Info.plist names it as CFBundleExecutable")]
    ExecutableMissing {
        /// The expected executable path.
        path: PathBuf,
    },
}

/// An app bundle's Info.plist, main executable and helpers.
#[derive(Debug)]
pub struct Bundle {
    root: PathBuf,
    info_plist: Plist<'static>,
    executable: PathBuf,
    helpers: Option<Vec<PathBuf>>,
}

impl Bundle {
    /// Whether `path` looks like a bundle (a directory with a `Contents` folder).
    pub fn is_bundle(path: &Path) -> bool {
        path.join("Contents").is_dir()
    }

    /// Read a bundle's Info.plist and locate its executable and helpers.
    pub fn open(root: &Path) -> Result<Bundle, BundleError> {
        if !Bundle::is_bundle(root) {
            return Err(BundleError::NotABundle {
                path: root.to_path_buf(),
            });
        }
        let plist_path = root.join("Contents/Info.plist");
        let info_plist = read_plist_file(&plist_path)?;
        let name = info_plist.string("CFBundleExecutable")?.ok_or_else(|| {
            BundleError::ExecutableKeyMissing {
                path: plist_path.clone(),
            }
        })?;
        if !is_plain_file_name(name) {
            return Err(BundleError::ExecutableNameInvalid {
                path: plist_path,
                name: name.to_string(),
            });
        }
        let executable = root.join("Contents/MacOS").join(name);
        if !executable.exists() {
            return Err(BundleError::ExecutableMissing { path: executable });
        }
        let helpers = list_helpers(&root.join(LAUNCH_SERVICES_DIR))?;
        Ok(Bundle {
            root: root.to_path_buf(),
            info_plist,
            executable,
            helpers,
        })
    }

    /// The bundle's root directory (`X.app`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `Contents/Info.plist`.
    pub fn info_plist(&self) -> &Plist<'static> {
        &self.info_plist
    }

    /// `Contents/MacOS/<CFBundleExecutable>`.
    pub fn executable(&self) -> &Path {
        &self.executable
    }

    /// Entries of `Contents/Library/LaunchServices`, sorted by name, `.DS_Store` left out;
    /// `None` when that directory does not exist. Entries are not filtered by type: a contract
    /// check must see (and reject) a directory or symlink placed there.
    pub fn helpers(&self) -> Option<&[PathBuf]> {
        self.helpers.as_deref()
    }
}

/// Whether `name` is a single normal path component (no separators, not `.` or `..`).
pub fn is_plain_file_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    ) && !name.contains('/')
}

fn list_helpers(dir: &Path) -> Result<Option<Vec<PathBuf>>, BundleError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(BundleError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut helpers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| BundleError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if entry.file_name() != ".DS_Store" {
            helpers.push(entry.path());
        }
    }
    helpers.sort();
    Ok(Some(helpers))
}

/// Read a plist file of at most [`MAX_INFO_PLIST_SIZE`] bytes.
pub fn read_plist_file(path: &Path) -> Result<Plist<'static>, BundleError> {
    let io_error = |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match crate::mapped::open_regular(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(BundleError::InfoPlistMissing {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(io_error(e)),
    };
    let mut raw = Vec::new();
    file.take(MAX_INFO_PLIST_SIZE + 1)
        .read_to_end(&mut raw)
        .map_err(io_error)?;
    if raw.len() as u64 > MAX_INFO_PLIST_SIZE {
        return Err(BundleError::InfoPlistTooLarge {
            path: path.to_path_buf(),
            size: fs::metadata(path).map_or(raw.len() as u64, |m| m.len()),
            max: MAX_INFO_PLIST_SIZE,
        });
    }
    Ok(Plist::parse(raw, PlistSource(path.display().to_string()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_names_must_be_plain() {
        assert!(is_plain_file_name("Example"));
        assert!(is_plain_file_name("My App"));
        assert!(!is_plain_file_name("../../bin/sh"));
        assert!(!is_plain_file_name("a/b"));
        assert!(!is_plain_file_name(".."));
        assert!(!is_plain_file_name("/etc/passwd"));
        assert!(!is_plain_file_name(""));
    }
}
