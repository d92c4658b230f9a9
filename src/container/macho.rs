//! Thin Mach-O images: header, load commands, segments, sections, `LC_CODE_SIGNATURE`.
//!
//! The load-command walk is our own (rather than `object`'s iterator) so that each failure can
//! name the command index, its size and the absolute file offset, and so that the checks Apple's
//! loader makes (sizes of 0, commands past `sizeofcmds`, ranges past the end) are all explicit.

use object::macho::SECTION_TYPE;

use super::{
    magic, Arch, ContainerError, ContainerErrorKind, FileType, SectionEntry, Segment, Slice,
    SliceFormat,
};

const LC_SEGMENT: u32 = object::macho::LC_SEGMENT.0;
const LC_SEGMENT_64: u32 = object::macho::LC_SEGMENT_64.0;
const LC_CODE_SIGNATURE: u32 = object::macho::LC_CODE_SIGNATURE.0;
const S_ZEROFILL: u32 = object::macho::S_ZEROFILL.0 as u32;
const S_GB_ZEROFILL: u32 = object::macho::S_GB_ZEROFILL.0 as u32;
const S_THREAD_LOCAL_ZEROFILL: u32 = object::macho::S_THREAD_LOCAL_ZEROFILL.0 as u32;

/// A bounds-checked, endian-aware view of one image; offsets are relative to the image, errors
/// are reported relative to the file (`base` added).
struct Image<'data> {
    data: &'data [u8],
    base: u64,
    little_endian: bool,
}

impl<'data> Image<'data> {
    fn bytes(
        &self,
        offset: u64,
        len: u64,
        what: &'static str,
    ) -> Result<&'data [u8], ContainerError> {
        super::range(self.data, offset, len).ok_or_else(|| {
            self.error(
                offset,
                ContainerErrorKind::Truncated {
                    what,
                    needed: len,
                    available: (self.data.len() as u64).saturating_sub(offset),
                },
            )
        })
    }

    fn u32(&self, offset: u64, what: &'static str) -> Result<u32, ContainerError> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.bytes(offset, 4, what)?);
        Ok(if self.little_endian {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        })
    }

    fn u64(&self, offset: u64, what: &'static str) -> Result<u64, ContainerError> {
        let lo = u64::from(self.u32(offset, what)?);
        let hi = u64::from(self.u32(offset + 4, what)?);
        Ok(if self.little_endian {
            (hi << 32) | lo
        } else {
            (lo << 32) | hi
        })
    }

    /// A pointer-sized field: `u64` in 64-bit images, `u32` in 32-bit ones.
    fn word(&self, offset: u64, is_64: bool, what: &'static str) -> Result<u64, ContainerError> {
        if is_64 {
            self.u64(offset, what)
        } else {
            self.u32(offset, what).map(u64::from)
        }
    }

    fn name(&self, offset: u64, what: &'static str) -> Result<String, ContainerError> {
        let raw = self.bytes(offset, 16, what)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
    }

    fn error(&self, offset: u64, kind: ContainerErrorKind) -> ContainerError {
        ContainerError::new(self.base.saturating_add(offset), kind)
    }

    fn len(&self) -> u64 {
        self.data.len() as u64
    }
}

/// Parse the thin Mach-O image `data`, which starts at `base` in the file.
pub(super) fn parse(data: &[u8], base: u64) -> Result<Slice<'_>, ContainerError> {
    let magic_be = match data.get(..4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => {
            return Err(ContainerError::new(
                base,
                ContainerErrorKind::Truncated {
                    what: "Mach-O magic",
                    needed: 4,
                    available: data.len() as u64,
                },
            ))
        }
    };
    let (is_64, little_endian) = match magic_be {
        magic::MH_MAGIC => (false, false),
        magic::MH_CIGAM => (false, true),
        magic::MH_MAGIC_64 => (true, false),
        magic::MH_CIGAM_64 => (true, true),
        magic => {
            return Err(ContainerError::new(
                base,
                ContainerErrorKind::UnknownMagic { magic },
            ))
        }
    };
    let image = Image {
        data,
        base,
        little_endian,
    };
    let header_size: u64 = if is_64 { 32 } else { 28 };
    image.bytes(0, header_size, "Mach-O header")?;
    let cputype = image.u32(4, "Mach-O header")?;
    let cpusubtype = image.u32(8, "Mach-O header")?;
    let filetype = image.u32(12, "Mach-O header")?;
    let ncmds = image.u32(16, "Mach-O header")?;
    let sizeofcmds = image.u32(20, "Mach-O header")?;

    let available = image.len() - header_size;
    if u64::from(sizeofcmds) > available {
        return Err(image.error(
            20,
            ContainerErrorKind::LoadCommandsPastEnd {
                sizeofcmds: u64::from(sizeofcmds),
                available,
            },
        ));
    }
    let commands_end = header_size + u64::from(sizeofcmds);

    let mut slice = Slice {
        arch: Arch::from_macho(cputype, cpusubtype),
        file_offset: base,
        data,
        format: SliceFormat::MachO {
            is_64,
            little_endian,
        },
        filetype: FileType::MachO(filetype),
        sections: Vec::new(),
        segments: Vec::new(),
        code_signature: None,
    };

    let mut offset = header_size;
    // `ncmds` is untrusted, but every iteration consumes at least 8 bytes of `sizeofcmds`, which
    // was checked against the file size above, so the loop is bounded by the file.
    for index in 0..ncmds {
        if offset + 8 > commands_end {
            return Err(image.error(
                offset,
                ContainerErrorKind::LoadCommandPastEnd {
                    index,
                    cmd: 0,
                    cmdsize: 0,
                    sizeofcmds,
                },
            ));
        }
        let cmd = image.u32(offset, "load command")?;
        let cmdsize = image.u32(offset + 4, "load command")?;
        let minimum = minimum_size(cmd);
        if u64::from(cmdsize) < minimum {
            return Err(image.error(
                offset,
                ContainerErrorKind::LoadCommandTooSmall {
                    index,
                    cmd,
                    cmdsize,
                    minimum,
                },
            ));
        }
        if offset + u64::from(cmdsize) > commands_end {
            return Err(image.error(
                offset,
                ContainerErrorKind::LoadCommandPastEnd {
                    index,
                    cmd,
                    cmdsize,
                    sizeofcmds,
                },
            ));
        }
        match cmd {
            LC_SEGMENT | LC_SEGMENT_64 => read_segment(
                &image,
                &mut slice,
                index,
                offset,
                cmdsize,
                cmd == LC_SEGMENT_64,
            )?,
            LC_CODE_SIGNATURE => {
                if slice.code_signature.is_some() {
                    return Err(image.error(offset, ContainerErrorKind::DuplicateCodeSignature));
                }
                let dataoff = u64::from(image.u32(offset + 8, "LC_CODE_SIGNATURE")?);
                let datasize = u64::from(image.u32(offset + 12, "LC_CODE_SIGNATURE")?);
                if dataoff + datasize > image.len() {
                    return Err(image.error(
                        offset + 8,
                        ContainerErrorKind::CodeSignaturePastEof {
                            offset: dataoff,
                            size: datasize,
                            slice_size: image.len(),
                        },
                    ));
                }
                slice.code_signature = Some((dataoff, datasize));
            }
            _ => {}
        }
        offset += u64::from(cmdsize);
    }
    Ok(slice)
}

/// The smallest `cmdsize` a command of type `cmd` can have.
fn minimum_size(cmd: u32) -> u64 {
    match cmd {
        LC_SEGMENT_64 => 72,
        LC_SEGMENT => 56,
        LC_CODE_SIGNATURE => 16,
        _ => 8,
    }
}

fn read_segment(
    image: &Image<'_>,
    slice: &mut Slice<'_>,
    index: u32,
    offset: u64,
    cmdsize: u32,
    is_64: bool,
) -> Result<(), ContainerError> {
    let (header_size, section_size) = if is_64 {
        (72u64, 80u64)
    } else {
        (56u64, 68u64)
    };
    let name = image.name(offset + 8, "segment command")?;
    let field = |index: u64| {
        let at = offset + 24 + index * if is_64 { 8 } else { 4 };
        image.word(at, is_64, "segment command")
    };
    let vmaddr = field(0)?;
    let vmsize = field(1)?;
    let fileoff = field(2)?;
    let filesize = field(3)?;
    let nsects_at = offset + if is_64 { 64 } else { 48 };
    let nsects = u64::from(image.u32(nsects_at, "segment command")?);

    let needed = header_size + nsects * section_size;
    if needed > u64::from(cmdsize) {
        return Err(image.error(
            offset,
            ContainerErrorKind::LoadCommandTooSmall {
                index,
                cmd: if is_64 { LC_SEGMENT_64 } else { LC_SEGMENT },
                cmdsize,
                minimum: needed,
            },
        ));
    }
    if fileoff
        .checked_add(filesize)
        .is_none_or(|end| end > image.len())
    {
        return Err(image.error(
            offset,
            ContainerErrorKind::SegmentPastEof {
                segment: name,
                fileoff,
                filesize,
                slice_size: image.len(),
            },
        ));
    }

    for i in 0..nsects {
        let at = offset + header_size + i * section_size;
        let section = image.name(at, "section header")?;
        let segment = image.name(at + 16, "section header")?;
        let size = image.word(at + if is_64 { 40 } else { 36 }, is_64, "section header")?;
        let fields_at = at + if is_64 { 48 } else { 40 };
        let file_offset = u64::from(image.u32(fields_at, "section header")?);
        let flags = image.u32(fields_at + 16, "section header")?;
        let zero_fill = matches!(
            flags & SECTION_TYPE,
            S_ZEROFILL | S_GB_ZEROFILL | S_THREAD_LOCAL_ZEROFILL
        );
        let range = if zero_fill || size == 0 {
            None
        } else {
            if file_offset
                .checked_add(size)
                .is_none_or(|end| end > image.len())
            {
                return Err(image.error(
                    at,
                    ContainerErrorKind::SectionPastEof {
                        segment,
                        section,
                        offset: file_offset,
                        size,
                        slice_size: image.len(),
                    },
                ));
            }
            Some((file_offset, size))
        };
        slice.sections.push(SectionEntry {
            segment,
            name: section,
            range,
        });
    }
    slice.segments.push(Segment {
        name,
        fileoff,
        filesize,
        vmaddr,
        vmsize,
    });
    Ok(())
}
