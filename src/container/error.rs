//! Errors of the container layer: every one carries the absolute file offset it is about.

use thiserror::Error;

/// A malformed or unsupported container, with the absolute file offset of the offending bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("at offset {offset:#x}: {kind}")]
pub struct ContainerError {
    /// Offset of the offending structure from the start of the file.
    pub offset: u64,
    /// What is wrong there.
    pub kind: ContainerErrorKind,
}

impl ContainerError {
    pub(crate) fn new(offset: u64, kind: ContainerErrorKind) -> Self {
        ContainerError { offset, kind }
    }
}

/// The ways a file can fail to be a readable Mach-O, fat or ELF container.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ContainerErrorKind {
    /// The first four bytes are no known magic number.
    #[error(
        "unknown magic {magic:#010x}; expected a Mach-O (0xfeedface, 0xfeedfacf, either byte order), \
         fat (0xcafebabe, 0xcafebabf) or ELF (0x7f 'E' 'L' 'F') file"
    )]
    UnknownMagic {
        /// The magic as read big-endian.
        magic: u32,
    },
    /// The file ends before a structure does.
    #[error("file is truncated: {what} needs {needed} bytes but only {available} remain")]
    Truncated {
        /// The structure that did not fit.
        what: &'static str,
        /// Bytes the structure needs.
        needed: u64,
        /// Bytes left in the file or slice.
        available: u64,
    },
    /// A fat header with no architectures.
    #[error("fat header lists no architectures; expected at least one slice")]
    FatEmpty,
    /// A fat header with more architectures than any real file has (0xcafebabe is also Java's magic).
    #[error("fat header lists {count} architectures; expected at most {max} (is this a Java class file?)")]
    FatTooManyArches {
        /// The count in the header.
        count: u32,
        /// The most smbless accepts.
        max: u32,
    },
    /// A fat slice that extends past the end of the file or into the fat header.
    #[error(
        "fat slice {index} ({arch}) spans {offset:#x}..{end:#x}, outside the file's slice area \
         {start:#x}..{file_size:#x}"
    )]
    FatSliceOutOfBounds {
        /// Index of the slice in the fat header.
        index: usize,
        /// Architecture named by the fat header entry.
        arch: String,
        /// Slice start.
        offset: u64,
        /// Slice end (offset + size), saturated.
        end: u64,
        /// First byte after the fat header.
        start: u64,
        /// Size of the file.
        file_size: u64,
    },
    /// Two fat slices share bytes.
    #[error("fat slices {first} and {second} overlap; expected disjoint slices")]
    FatSlicesOverlap {
        /// Index of the earlier slice.
        first: usize,
        /// Index of the slice that starts inside it.
        second: usize,
    },
    /// A fat slice that is itself a fat file or not a Mach-O.
    #[error("fat slice {index} is not a thin Mach-O (magic {magic:#010x})")]
    FatSliceNotMachO {
        /// Index of the slice.
        index: usize,
        /// Its magic, read big-endian.
        magic: u32,
    },
    /// The fat header and the slice's own header disagree on the CPU.
    #[error("fat slice {index} is listed as {listed} but its Mach-O header says {actual}")]
    FatArchMismatch {
        /// Index of the slice.
        index: usize,
        /// The architecture the fat header names.
        listed: String,
        /// The architecture the slice header names.
        actual: String,
    },
    /// The load commands do not fit in the file.
    #[error("load commands ({sizeofcmds} bytes after the header) extend past the end of the slice ({available} bytes)")]
    LoadCommandsPastEnd {
        /// `sizeofcmds` from the header.
        sizeofcmds: u64,
        /// Bytes available after the header.
        available: u64,
    },
    /// A load command smaller than its own 8-byte header (size 0 would loop forever).
    #[error("load command {index} (cmd {cmd:#x}) has size {cmdsize}; expected at least {minimum}")]
    LoadCommandTooSmall {
        /// Index of the command.
        index: u32,
        /// The command type.
        cmd: u32,
        /// `cmdsize` as found.
        cmdsize: u32,
        /// The least this command type can be.
        minimum: u64,
    },
    /// A load command that extends past `sizeofcmds`.
    #[error("load command {index} (cmd {cmd:#x}, size {cmdsize}) extends past sizeofcmds ({sizeofcmds})")]
    LoadCommandPastEnd {
        /// Index of the command.
        index: u32,
        /// The command type (0 when even its header did not fit).
        cmd: u32,
        /// `cmdsize` as found.
        cmdsize: u32,
        /// `sizeofcmds` from the header.
        sizeofcmds: u32,
    },
    /// A segment whose file range is outside the slice.
    #[error("segment {segment} file range {fileoff:#x}+{filesize:#x} extends past the end of the slice ({slice_size:#x} bytes)")]
    SegmentPastEof {
        /// Segment name.
        segment: String,
        /// `fileoff`.
        fileoff: u64,
        /// `filesize`.
        filesize: u64,
        /// Size of the slice.
        slice_size: u64,
    },
    /// A section whose file range is outside the slice.
    #[error("section {segment},{section} file range {offset:#x}+{size:#x} extends past the end of the slice ({slice_size:#x} bytes)")]
    SectionPastEof {
        /// Segment name.
        segment: String,
        /// Section name.
        section: String,
        /// Section file offset.
        offset: u64,
        /// Section size.
        size: u64,
        /// Size of the slice.
        slice_size: u64,
    },
    /// The code signature's range is outside the slice.
    #[error("LC_CODE_SIGNATURE data {offset:#x}+{size:#x} extends past the end of the slice ({slice_size:#x} bytes)")]
    CodeSignaturePastEof {
        /// `dataoff`.
        offset: u64,
        /// `datasize`.
        size: u64,
        /// Size of the slice.
        slice_size: u64,
    },
    /// More than one `LC_CODE_SIGNATURE` (Apple's loader refuses these).
    #[error("more than one LC_CODE_SIGNATURE load command; expected at most one")]
    DuplicateCodeSignature,
    /// The ELF reader refused the file.
    #[error("malformed ELF file: {0}")]
    Elf(String),
}
