//! Containers: thin Mach-O (32/64-bit, either byte order), fat (`FAT_MAGIC` and `FAT_MAGIC_64`)
//! and ELF files, split into slices with their sections, segments and code-signature location.
//!
//! Parsing is zero-copy over the caller's bytes (usually a [`crate::mapped::MappedFile`]) and
//! reads only the headers and load commands, never section contents, so it costs the same for a
//! 300 MB binary as for a small one. Every range is checked once, at parse time: afterwards
//! [`Slice::data`], [`Section::data`] and [`CodeSignatureLocation::data`] are always in bounds.

mod arch;
mod elf;
mod error;
mod fat;
mod macho;

use std::fmt;

pub use arch::{Arch, CPU_SUBTYPE_MASK};
pub use error::{ContainerError, ContainerErrorKind};

/// Magic numbers read big-endian from the first four bytes of a file.
pub(crate) mod magic {
    pub const MH_MAGIC: u32 = 0xfeed_face;
    pub const MH_CIGAM: u32 = 0xcefa_edfe;
    pub const MH_MAGIC_64: u32 = 0xfeed_facf;
    pub const MH_CIGAM_64: u32 = 0xcffa_edfe;
    pub const FAT_MAGIC: u32 = 0xcafe_babe;
    pub const FAT_MAGIC_64: u32 = 0xcafe_babf;
    pub const ELF_MAGIC: u32 = 0x7f45_4c46;
}

/// What kind of file a [`Container`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// A thin Mach-O file: one slice.
    MachO,
    /// A universal ("fat") Mach-O file, 32- or 64-bit fat header: one slice per architecture.
    MachOFat,
    /// An ELF file: one slice.
    Elf,
}

impl ContainerKind {
    /// The stable name used in JSON output: `macho`, `macho-fat`, `elf`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerKind::MachO => "macho",
            ContainerKind::MachOFat => "macho-fat",
            ContainerKind::Elf => "elf",
        }
    }
}

/// The object-file type of a slice (`MH_EXECUTE`, `ET_DYN`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// A Mach-O `filetype` value.
    MachO(u32),
    /// An ELF `e_type` value.
    Elf(u16),
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            FileType::MachO(1) => "object",
            FileType::MachO(2) => "execute",
            FileType::MachO(3) => "fvmlib",
            FileType::MachO(4) => "core",
            FileType::MachO(5) => "preload",
            FileType::MachO(6) => "dylib",
            FileType::MachO(7) => "dylinker",
            FileType::MachO(8) => "bundle",
            FileType::MachO(9) => "dylib_stub",
            FileType::MachO(10) => "dsym",
            FileType::MachO(11) => "kext_bundle",
            FileType::MachO(12) => "fileset",
            FileType::Elf(1) => "rel",
            FileType::Elf(2) => "exec",
            FileType::Elf(3) => "dyn",
            FileType::Elf(4) => "core",
            FileType::MachO(other) => return write!(f, "filetype {other:#x}"),
            FileType::Elf(other) => return write!(f, "e_type {other:#x}"),
        };
        f.write_str(name)
    }
}

/// The binary format of one slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceFormat {
    /// A Mach-O image.
    MachO {
        /// 64-bit header and load commands.
        is_64: bool,
        /// Little-endian fields.
        little_endian: bool,
    },
    /// An ELF image.
    Elf {
        /// ELFCLASS64.
        is_64: bool,
        /// ELFDATA2LSB.
        little_endian: bool,
    },
}

/// A segment's file and memory ranges (Mach-O `LC_SEGMENT`/`LC_SEGMENT_64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Segment name, such as `__TEXT` or `__LINKEDIT`.
    pub name: String,
    /// File offset within the slice.
    pub fileoff: u64,
    /// Bytes in the file.
    pub filesize: u64,
    /// Virtual address.
    pub vmaddr: u64,
    /// Bytes in memory.
    pub vmsize: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct SectionEntry {
    segment: String,
    name: String,
    /// `None` for sections with no bytes in the file (zero-fill, ELF `NOBITS`).
    range: Option<(u64, u64)>,
}

/// One section's bytes in the file.
#[derive(Debug, Clone)]
pub struct Section<'data> {
    /// Segment name (Mach-O) or the empty string (ELF).
    pub segment: String,
    /// Section name.
    pub name: String,
    /// Offset from the start of the slice.
    pub offset: u64,
    /// The section's bytes.
    pub data: &'data [u8],
}

/// Where a slice's `LC_CODE_SIGNATURE` data lies.
#[derive(Debug, Clone, Copy)]
pub struct CodeSignatureLocation<'data> {
    /// `dataoff`: offset from the start of the slice.
    pub offset: u64,
    /// `datasize`: often larger than the SuperBlob inside it (zero padding).
    pub size: u64,
    /// The `datasize` bytes at `dataoff`.
    pub data: &'data [u8],
}

/// One architecture's image: the whole file for thin Mach-O and ELF, one fat entry otherwise.
#[derive(Debug, Clone)]
pub struct Slice<'data> {
    arch: Arch,
    file_offset: u64,
    data: &'data [u8],
    format: SliceFormat,
    filetype: FileType,
    sections: Vec<SectionEntry>,
    segments: Vec<Segment>,
    code_signature: Option<(u64, u64)>,
}

impl<'data> Slice<'data> {
    /// The slice's architecture.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// Where the slice starts in the file (0 for thin files).
    pub fn file_offset(&self) -> u64 {
        self.file_offset
    }

    /// Exactly this slice's bytes.
    pub fn data(&self) -> &'data [u8] {
        self.data
    }

    /// Binary format details.
    pub fn format(&self) -> SliceFormat {
        self.format
    }

    /// Whether the image is 64-bit.
    pub fn is_64(&self) -> bool {
        match self.format {
            SliceFormat::MachO { is_64, .. } | SliceFormat::Elf { is_64, .. } => is_64,
        }
    }

    /// Whether the image's fields are little-endian.
    pub fn is_little_endian(&self) -> bool {
        match self.format {
            SliceFormat::MachO { little_endian, .. } | SliceFormat::Elf { little_endian, .. } => {
                little_endian
            }
        }
    }

    /// Whether this is a Mach-O image.
    pub fn is_macho(&self) -> bool {
        matches!(self.format, SliceFormat::MachO { .. })
    }

    /// The object-file type.
    pub fn filetype(&self) -> FileType {
        self.filetype
    }

    /// The first section with this segment and section name. For ELF files the segment is
    /// ignored: ELF sections belong to no named segment. Sections without file bytes
    /// (zero-fill) are reported with empty data.
    pub fn section(&self, segment: &str, name: &str) -> Option<Section<'data>> {
        let is_elf = matches!(self.format, SliceFormat::Elf { .. });
        let entry = self
            .sections
            .iter()
            .find(|s| s.name == name && (is_elf || s.segment == segment))?;
        let (offset, data) = match entry.range {
            Some((offset, size)) => (offset, range(self.data, offset, size)?),
            None => (0, &[][..]),
        };
        Some(Section {
            segment: entry.segment.clone(),
            name: entry.name.clone(),
            offset,
            data,
        })
    }

    /// The segment with this name (Mach-O only).
    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name == name)
    }

    /// All segments, in load-command order (Mach-O only; empty for ELF).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The `LC_CODE_SIGNATURE` data, if the slice has one.
    pub fn code_signature(&self) -> Option<CodeSignatureLocation<'data>> {
        let (offset, size) = self.code_signature?;
        Some(CodeSignatureLocation {
            offset,
            size,
            data: range(self.data, offset, size)?,
        })
    }
}

/// `data[offset..offset + size]`, or `None` when that is out of bounds or overflows.
pub(crate) fn range(data: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let len = usize::try_from(size).ok()?;
    data.get(start..start.checked_add(len)?)
}

/// A parsed container: its kind and its slices.
#[derive(Debug, Clone)]
pub struct Container<'data> {
    kind: ContainerKind,
    data: &'data [u8],
    slices: Vec<Slice<'data>>,
}

impl<'data> Container<'data> {
    /// Parse a Mach-O, fat or ELF file. Reads headers and load commands only.
    pub fn parse(data: &'data [u8]) -> Result<Container<'data>, ContainerError> {
        let magic = read_magic(data)?;
        let (kind, slices) = match magic {
            magic::FAT_MAGIC | magic::FAT_MAGIC_64 => (ContainerKind::MachOFat, fat::parse(data)?),
            magic::MH_MAGIC | magic::MH_CIGAM | magic::MH_MAGIC_64 | magic::MH_CIGAM_64 => {
                (ContainerKind::MachO, vec![macho::parse(data, 0)?])
            }
            magic::ELF_MAGIC => (ContainerKind::Elf, vec![elf::parse(data)?]),
            magic => {
                return Err(ContainerError::new(
                    0,
                    ContainerErrorKind::UnknownMagic { magic },
                ))
            }
        };
        Ok(Container { kind, data, slices })
    }

    /// What kind of file this is.
    pub fn kind(&self) -> ContainerKind {
        self.kind
    }

    /// The whole file.
    pub fn data(&self) -> &'data [u8] {
        self.data
    }

    /// The slices, in file-header order.
    pub fn slices(&self) -> &[Slice<'data>] {
        &self.slices
    }
}

/// Whether `data` starts like a file [`Container::parse`] can read.
pub fn looks_like_container(data: &[u8]) -> bool {
    matches!(
        read_magic(data),
        Ok(magic::FAT_MAGIC
            | magic::FAT_MAGIC_64
            | magic::MH_MAGIC
            | magic::MH_CIGAM
            | magic::MH_MAGIC_64
            | magic::MH_CIGAM_64
            | magic::ELF_MAGIC)
    )
}

fn read_magic(data: &[u8]) -> Result<u32, ContainerError> {
    match data.get(..4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(ContainerError::new(
            0,
            ContainerErrorKind::Truncated {
                what: "magic number",
                needed: 4,
                available: data.len() as u64,
            },
        )),
    }
}

#[cfg(test)]
mod tests;
