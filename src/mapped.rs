//! Read-only memory maps of input files.
//!
//! Mapping lets `inspect` touch only the pages it parses (headers, load commands, two plist
//! sections) and lets signature checks hash pages straight from the page cache without a copy.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

/// A file mapped read-only into memory.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    map: Option<Mmap>,
}

impl MappedFile {
    /// Map `path` read-only. Refuses anything but a regular file: a FIFO or device would block
    /// or never end, and a directory has no bytes.
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file; expected a Mach-O, ELF or plist file",
            ));
        }
        // An empty file cannot be mapped on every platform; it has no bytes to map anyway.
        let map = if metadata.len() == 0 {
            None
        } else {
            Some(map_read_only(&file)?)
        };
        Ok(MappedFile {
            path: path.to_path_buf(),
            map,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The one `unsafe` operation of the library outside platform FFI. Mapping is unsafe because
/// another process could truncate or rewrite the file while it is mapped (a truncation turns
/// later reads into SIGBUS). smbless maps input files read-only and, where the answer matters
/// for security (installing as root), re-verifies a private copy in a root-owned directory that
/// no other user can modify.
#[allow(unsafe_code)]
fn map_read_only(file: &File) -> io::Result<Mmap> {
    // SAFETY: see above; the map is read-only and never outlives `MappedFile`.
    unsafe { Mmap::map(file) }
}
