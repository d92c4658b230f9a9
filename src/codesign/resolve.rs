//! Which code a path names, as macOS decides it (`DiskRep::bestGuess`): a file that is the
//! main executable of a bundle stands for that bundle (CoreFoundation's
//! `_CFBundleCreateWithExecutableURLIfMightBeBundle`), so its Info.plist and resources are
//! judged with it. One place, used by every command that judges code.

use std::path::{Path, PathBuf};

use crate::bundle::Bundle;

/// The bundle whose main executable `path` is, if any: `X.app/Contents/MacOS/X` (and every
/// bundle of that layout: `.xpc`, `.appex`, `.systemextension`, `.bundle`, `.plugin`, …) or a
/// versioned framework's `X.framework/Versions/<current>/X` (also reached through the
/// `X.framework/X` symlink). The bundle's Info.plist must name this very file as its
/// executable; paths are compared after resolving symlinks. `None` for a directory, a file that
/// is not such an executable, or a bundle that cannot be read (judge the file alone then).
pub fn enclosing_bundle(path: &Path) -> Option<PathBuf> {
    if !path.is_file() {
        return None;
    }
    let file = std::fs::canonicalize(path).ok()?;
    let parent = file.parent()?;
    let grand = parent.parent()?;
    let candidate = if parent.file_name()? == "MacOS" && grand.file_name()? == "Contents" {
        grand.parent()?.to_path_buf()
    } else if grand.file_name()? == "Versions" {
        let root = grand.parent()?;
        if root.extension()? != "framework" {
            return None;
        }
        root.to_path_buf()
    } else {
        return None;
    };
    let executable = main_executable(&candidate)?;
    (std::fs::canonicalize(executable).ok()? == file).then_some(candidate)
}

/// The main executable a bundle names (app layout or versioned framework), unresolved.
fn main_executable(root: &Path) -> Option<PathBuf> {
    if Bundle::is_bundle(root) {
        return Bundle::open(root)
            .ok()
            .map(|b| b.executable().to_path_buf());
    }
    super::examine::framework_executable(root)
}
