//! Read-only memory maps of input files.
//!
//! Mapping lets `inspect` touch only the pages it parses (headers, load commands, two plist
//! sections) and lets signature checks hash pages straight from the page cache without a copy.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

/// Open `path` for reading only if it is a regular file, without ever blocking: the open is
/// non-blocking (a FIFO or device returns at once) and the type is checked on the open
/// descriptor, so a swap between a look and the open is caught. Every input file smbless reads
/// by path goes through here.
pub fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        let what = if metadata.is_dir() {
            "a directory"
        } else {
            "a FIFO, socket or device"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {what}; expected a regular file"),
        ));
    }
    Ok(file)
}

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
        let file = open_regular(path)?;
        let metadata = file.metadata()?;
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

    /// Drop the pages wholly inside `part` (a sub-slice of [`MappedFile::bytes`]) from the
    /// process's resident memory: they are read again from the page cache if touched later.
    /// Page hashing calls this behind itself so that peak memory stays bounded whatever the
    /// file size. A `part` outside the map is ignored, and so is an OS without the advice.
    pub fn release(&self, part: &[u8]) {
        let Some(map) = &self.map else { return };
        let base = map.as_ptr() as usize;
        let start = part.as_ptr() as usize;
        let Some(end) = start.checked_add(part.len()) else {
            return;
        };
        if start < base || end > base.saturating_add(map.len()) {
            return;
        }
        // Whole pages only, for any page size in use (4 KiB, 16 KiB).
        let first = start.div_ceil(RELEASE_ALIGN).saturating_mul(RELEASE_ALIGN);
        let last = end / RELEASE_ALIGN * RELEASE_ALIGN;
        if last > first {
            release_pages(map, first - base, last - first);
        }
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

/// Releases are made in whole units of this many bytes, a multiple of every page size in use.
const RELEASE_ALIGN: usize = 16 * 1024;

/// The second `unsafe` operation, of the same map: `madvise(MADV_DONTNEED)` on a range of it.
/// The map is a read-only mapping of a file and is never written through, so discarding its
/// resident pages loses nothing: the address range stays mapped, and a later read faults the
/// file's bytes in again from the page cache (the same bytes, with the same caveat as the
/// mapping itself about a file rewritten behind our back).
#[cfg(unix)]
#[allow(unsafe_code)]
fn release_pages(map: &Mmap, offset: usize, len: usize) {
    // SAFETY: see above; `offset..offset + len` lies inside the map (checked by the caller),
    // and no reference into the map is invalidated by dropping its resident pages.
    // A failure only means the pages stay resident.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len) };
}

#[cfg(not(unix))]
fn release_pages(_map: &Mmap, _offset: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_pages_read_back_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let map = MappedFile::open(&path).unwrap();
        let bytes = map.bytes();
        assert_eq!(bytes, data.as_slice());
        // Whole map, an unaligned middle part, an empty part, and a slice from elsewhere.
        map.release(bytes);
        map.release(&bytes[12345..700_001]);
        map.release(&bytes[5..5]);
        map.release(&data);
        assert_eq!(map.bytes(), data.as_slice());
    }
}
