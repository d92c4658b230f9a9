//! ELF files, for helpers built for Linux: their `.info_plist` / `.launchd_plist` sections are
//! read through the same [`Slice`] API as Mach-O sections.

use object::elf::{FileHeader32, FileHeader64, EM_386, EM_AARCH64, EM_ARM, EM_RISCV, EM_X86_64};
use object::read::elf::{FileHeader, SectionHeader};
use object::Endianness;

use super::{Arch, ContainerError, ContainerErrorKind, FileType, SectionEntry, Slice, SliceFormat};

fn elf_error(message: impl Into<String>) -> ContainerError {
    ContainerError::new(0, ContainerErrorKind::Elf(message.into()))
}

/// Parse an ELF file into its single slice.
pub(super) fn parse(data: &[u8]) -> Result<Slice<'_>, ContainerError> {
    match data.get(4) {
        Some(1) => parse_class::<FileHeader32<Endianness>>(data, false),
        Some(2) => parse_class::<FileHeader64<Endianness>>(data, true),
        Some(class) => Err(elf_error(format!(
            "EI_CLASS is {class}; expected 1 (32-bit) or 2 (64-bit)"
        ))),
        None => Err(ContainerError::new(
            0,
            ContainerErrorKind::Truncated {
                what: "ELF identification",
                needed: 16,
                available: data.len() as u64,
            },
        )),
    }
}

fn parse_class<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    is_64: bool,
) -> Result<Slice<'_>, ContainerError> {
    let header = Elf::parse(data).map_err(|e| elf_error(format!("file header: {e}")))?;
    let endian = header
        .endian()
        .map_err(|e| elf_error(format!("EI_DATA: {e}")))?;
    let table = header
        .sections(endian, data)
        .map_err(|e| elf_error(format!("section table: {e}")))?;

    let machine = header.e_machine(endian);
    let machine_raw = machine.0;
    let arch_name = match machine {
        EM_X86_64 => "x86_64",
        EM_AARCH64 => "aarch64",
        EM_386 => "i386",
        EM_ARM => "arm",
        EM_RISCV if is_64 => "riscv64",
        EM_RISCV => "riscv32",
        _ => "",
    };
    let arch = if arch_name.is_empty() {
        Arch::from_elf(machine_raw, &format!("e_machine {machine_raw:#x}"))
    } else {
        Arch::from_elf(machine_raw, arch_name)
    };

    let mut sections = Vec::new();
    for (index, section) in table.enumerate() {
        let name = table
            .section_name(endian, section)
            .map_err(|e| elf_error(format!("name of section {}: {e}", index.0)))?;
        let range = section.file_range(endian);
        if let Some((offset, size)) = range {
            if offset
                .checked_add(size)
                .is_none_or(|end| end > data.len() as u64)
            {
                return Err(ContainerError::new(
                    offset,
                    ContainerErrorKind::SectionPastEof {
                        segment: String::new(),
                        section: String::from_utf8_lossy(name).into_owned(),
                        offset,
                        size,
                        slice_size: data.len() as u64,
                    },
                ));
            }
        }
        sections.push(SectionEntry {
            segment: String::new(),
            name: String::from_utf8_lossy(name).into_owned(),
            range: range.filter(|&(_, size)| size > 0),
        });
    }

    Ok(Slice {
        arch,
        file_offset: 0,
        data,
        format: SliceFormat::Elf {
            is_64,
            little_endian: endian == Endianness::Little,
        },
        filetype: FileType::Elf(header.e_type(endian).0),
        sections,
        segments: Vec::new(),
        code_signature: None,
    })
}
