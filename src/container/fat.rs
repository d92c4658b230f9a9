//! Universal ("fat") files: a big-endian table of architectures, 32-bit (`FAT_MAGIC`) or 64-bit
//! (`FAT_MAGIC_64`) offsets, each entry a thin Mach-O image.

use super::{macho, magic, Arch, ContainerError, ContainerErrorKind, Slice};

/// Real universal files have a handful of slices; Java class files share the magic and put
/// their version (≥ 45) where the count would be, which is how Apple's tools tell them apart.
const MAX_FAT_ARCHES: u32 = 32;

struct FatEntry {
    index: usize,
    arch: Arch,
    offset: u64,
    size: u64,
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    let mut raw = [0u8; 4];
    raw.copy_from_slice(bytes);
    Some(u32::from_be_bytes(raw))
}

fn be64(data: &[u8], at: usize) -> Option<u64> {
    Some((u64::from(be32(data, at)?) << 32) | u64::from(be32(data, at.checked_add(4)?)?))
}

/// Parse every slice of a fat file.
pub(super) fn parse(data: &[u8]) -> Result<Vec<Slice<'_>>, ContainerError> {
    let file_size = data.len() as u64;
    let truncated = |what, needed: u64, at: u64| {
        ContainerError::new(
            at,
            ContainerErrorKind::Truncated {
                what,
                needed,
                available: file_size.saturating_sub(at),
            },
        )
    };
    let is_64 = be32(data, 0) == Some(magic::FAT_MAGIC_64);
    let count = be32(data, 4).ok_or_else(|| truncated("fat header", 8, 0))?;
    if count == 0 {
        return Err(ContainerError::new(4, ContainerErrorKind::FatEmpty));
    }
    if count > MAX_FAT_ARCHES {
        return Err(ContainerError::new(
            4,
            ContainerErrorKind::FatTooManyArches {
                count,
                max: MAX_FAT_ARCHES,
            },
        ));
    }
    let entry_size: usize = if is_64 { 32 } else { 20 };
    let table_end = 8 + entry_size * count as usize;
    if data.len() < table_end {
        return Err(truncated("fat architecture table", table_end as u64 - 8, 8));
    }

    let mut entries = Vec::with_capacity(count as usize);
    for index in 0..count as usize {
        let at = 8 + index * entry_size;
        let field =
            |n: usize| be32(data, at + 4 * n).ok_or_else(|| truncated("fat entry", 4, at as u64));
        let arch = Arch::from_macho(field(0)?, field(1)?);
        let (offset, size) = if is_64 {
            let offset = be64(data, at + 8).ok_or_else(|| truncated("fat entry", 8, at as u64))?;
            let size = be64(data, at + 16).ok_or_else(|| truncated("fat entry", 8, at as u64))?;
            (offset, size)
        } else {
            (u64::from(field(2)?), u64::from(field(3)?))
        };
        let end = offset.saturating_add(size);
        if offset < table_end as u64 || end > file_size || size == 0 {
            return Err(ContainerError::new(
                at as u64,
                ContainerErrorKind::FatSliceOutOfBounds {
                    index,
                    arch: arch.name.clone(),
                    offset,
                    end,
                    start: table_end as u64,
                    file_size,
                },
            ));
        }
        entries.push(FatEntry {
            index,
            arch,
            offset,
            size,
        });
    }

    let mut by_offset: Vec<&FatEntry> = entries.iter().collect();
    by_offset.sort_by_key(|e| e.offset);
    for pair in by_offset.windows(2) {
        if let [a, b] = pair {
            if a.offset + a.size > b.offset {
                let (first, second) = (a.index.min(b.index), a.index.max(b.index));
                return Err(ContainerError::new(
                    (8 + second * entry_size) as u64,
                    ContainerErrorKind::FatSlicesOverlap { first, second },
                ));
            }
        }
    }

    let mut slices = Vec::with_capacity(entries.len());
    for entry in &entries {
        let bytes = super::range(data, entry.offset, entry.size)
            .ok_or_else(|| truncated("fat slice", entry.size, entry.offset))?;
        let magic = be32(bytes, 0).unwrap_or(0);
        if !matches!(
            magic,
            magic::MH_MAGIC | magic::MH_CIGAM | magic::MH_MAGIC_64 | magic::MH_CIGAM_64
        ) {
            return Err(ContainerError::new(
                entry.offset,
                ContainerErrorKind::FatSliceNotMachO {
                    index: entry.index,
                    magic,
                },
            ));
        }
        let slice = macho::parse(bytes, entry.offset)?;
        // Only the CPU type must agree: subtypes legitimately differ in their capability bits
        // (masked) and some tools write CPU_SUBTYPE_ALL in the fat table.
        if slice.arch().cputype != entry.arch.cputype {
            return Err(ContainerError::new(
                entry.offset,
                ContainerErrorKind::FatArchMismatch {
                    index: entry.index,
                    listed: entry.arch.name.clone(),
                    actual: slice.arch().name.clone(),
                },
            ));
        }
        slices.push(slice);
    }
    Ok(slices)
}
