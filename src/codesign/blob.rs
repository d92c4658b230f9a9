//! The embedded-signature SuperBlob and the blobs it indexes.

use super::error::SignatureError;
use super::reader::Reader;

/// `CSMAGIC_EMBEDDED_SIGNATURE`: the SuperBlob at `LC_CODE_SIGNATURE`.
pub const MAGIC_EMBEDDED_SIGNATURE: u32 = 0xfade_0cc0;
/// `CSMAGIC_CODEDIRECTORY`.
pub const MAGIC_CODEDIRECTORY: u32 = 0xfade_0c02;
/// `CSMAGIC_REQUIREMENTS`: a requirement set.
pub const MAGIC_REQUIREMENTS: u32 = 0xfade_0c01;
/// `CSMAGIC_REQUIREMENT`: one requirement.
pub const MAGIC_REQUIREMENT: u32 = 0xfade_0c00;
/// `CSMAGIC_EMBEDDED_ENTITLEMENTS`: XML entitlements.
pub const MAGIC_ENTITLEMENTS: u32 = 0xfade_7171;
/// `CSMAGIC_EMBEDDED_DER_ENTITLEMENTS`.
pub const MAGIC_DER_ENTITLEMENTS: u32 = 0xfade_7172;
/// `CSMAGIC_EMBEDDED_LAUNCH_CONSTRAINT`.
pub const MAGIC_LAUNCH_CONSTRAINT: u32 = 0xfade_8181;
/// `CSMAGIC_BLOBWRAPPER`: the CMS signature.
pub const MAGIC_BLOBWRAPPER: u32 = 0xfade_0b01;

/// Slot numbers of the SuperBlob index (`CSSLOT_*`).
pub mod slot {
    /// The primary CodeDirectory.
    pub const CODEDIRECTORY: u32 = 0;
    /// Info.plist (hash only, never a blob).
    pub const INFOSLOT: u32 = 1;
    /// The requirement set.
    pub const REQUIREMENTS: u32 = 2;
    /// `_CodeSignature/CodeResources` (hash only).
    pub const RESOURCEDIR: u32 = 3;
    /// Application-specific data.
    pub const APPLICATION: u32 = 4;
    /// XML entitlements.
    pub const ENTITLEMENTS: u32 = 5;
    /// Representation-specific data.
    pub const REP_SPECIFIC: u32 = 6;
    /// DER entitlements.
    pub const DER_ENTITLEMENTS: u32 = 7;
    /// Launch constraint on the process itself.
    pub const LAUNCH_CONSTRAINT_SELF: u32 = 8;
    /// Launch constraint on the parent.
    pub const LAUNCH_CONSTRAINT_PARENT: u32 = 9;
    /// Launch constraint on the responsible process.
    pub const LAUNCH_CONSTRAINT_RESPONSIBLE: u32 = 10;
    /// Library-load constraint.
    pub const LIBRARY_CONSTRAINT: u32 = 11;
    /// First alternate CodeDirectory.
    pub const ALTERNATE_CODEDIRECTORIES: u32 = 0x1000;
    /// Apple allows five alternate CodeDirectories.
    pub const ALTERNATE_CODEDIRECTORY_MAX: u32 = 5;
    /// The CMS signature.
    pub const SIGNATURE: u32 = 0x10000;
}

/// The human name of a SuperBlob slot.
pub fn slot_name(s: u32) -> &'static str {
    match s {
        slot::CODEDIRECTORY => "CodeDirectory",
        slot::INFOSLOT => "Info.plist",
        slot::REQUIREMENTS => "Requirements",
        slot::RESOURCEDIR => "CodeResources",
        slot::APPLICATION => "Application",
        slot::ENTITLEMENTS => "Entitlements",
        slot::REP_SPECIFIC => "RepSpecific",
        slot::DER_ENTITLEMENTS => "EntitlementsDER",
        slot::LAUNCH_CONSTRAINT_SELF => "LaunchConstraintSelf",
        slot::LAUNCH_CONSTRAINT_PARENT => "LaunchConstraintParent",
        slot::LAUNCH_CONSTRAINT_RESPONSIBLE => "LaunchConstraintResponsible",
        slot::LIBRARY_CONSTRAINT => "LibraryConstraint",
        0x1000..=0x1004 => "AlternateCodeDirectory",
        slot::SIGNATURE => "CMSSignature",
        _ => "Unknown",
    }
}

/// One blob listed in the SuperBlob index.
#[derive(Debug, Clone, Copy)]
pub struct BlobEntry<'a> {
    /// Its slot (`CSSLOT_*`).
    pub slot: u32,
    /// Its magic number.
    pub magic: u32,
    /// Absolute offset of its first byte.
    pub offset: u64,
    /// The whole blob, header included, exactly as long as its own length field says.
    pub data: &'a [u8],
}

impl<'a> BlobEntry<'a> {
    /// The blob's payload after the 8-byte magic/length header.
    pub fn payload(&self) -> &'a [u8] {
        self.data.get(8..).unwrap_or(&[])
    }
}

/// A parsed `CSMAGIC_EMBEDDED_SIGNATURE` SuperBlob.
#[derive(Debug, Clone)]
pub struct SuperBlob<'a> {
    /// The SuperBlob bytes, cut to its own length field (padding after it dropped).
    pub data: &'a [u8],
    /// Absolute offset of the SuperBlob.
    pub offset: u64,
    /// The indexed blobs, in index order.
    pub entries: Vec<BlobEntry<'a>>,
}

/// Read a generic blob header (`magic`, `length`) at `offset` of `data` and return the blob cut
/// to its length.
pub(crate) fn blob_at<'a>(
    data: &'a [u8],
    offset: usize,
    base: u64,
    field: &'static str,
) -> Result<(u32, &'a [u8]), SignatureError> {
    let abs = base.saturating_add(offset as u64);
    let rest = data.get(offset..).ok_or(SignatureError::Truncated {
        field,
        offset: abs,
        needed: 8,
        available: 0,
    })?;
    let mut r = Reader::new(rest, abs);
    let magic = r.u32(field)?;
    let length = r.u32(field)?;
    if length < 8 {
        return Err(SignatureError::invalid(
            field,
            abs,
            format!("blob length {length} is smaller than its 8-byte header"),
        ));
    }
    let blob = rest
        .get(..length as usize)
        .ok_or(SignatureError::Truncated {
            field,
            offset: abs,
            needed: u64::from(length),
            available: rest.len() as u64,
        })?;
    Ok((magic, blob))
}

impl<'a> SuperBlob<'a> {
    /// Parse the SuperBlob at the start of `data` (the `LC_CODE_SIGNATURE` range, whose size is
    /// often larger than the SuperBlob: the SuperBlob's own length is what counts). `base` is
    /// the absolute offset of `data` in the file, used in errors.
    pub fn parse(data: &'a [u8], base: u64) -> Result<SuperBlob<'a>, SignatureError> {
        let (magic, sb) = blob_at(data, 0, base, "SuperBlob")?;
        if magic != MAGIC_EMBEDDED_SIGNATURE {
            return Err(SignatureError::BadMagic {
                field: "SuperBlob",
                offset: base,
                found: magic,
                expected: MAGIC_EMBEDDED_SIGNATURE,
            });
        }
        let mut r = Reader::new(sb, base);
        r.take(8, "SuperBlob header")?;
        let count = r.u32("SuperBlob count")?;
        // The index must fit inside the SuperBlob, which also bounds the allocation below.
        let room = (sb.len().saturating_sub(12) / 8) as u64;
        if u64::from(count) > room {
            return Err(SignatureError::invalid(
                "SuperBlob count",
                base.saturating_add(8),
                format!(
                    "{count} index entries do not fit in a {}-byte SuperBlob",
                    sb.len()
                ),
            ));
        }
        let mut entries = Vec::with_capacity(count as usize);
        let index_end = 12 + 8 * count as usize;
        for _ in 0..count {
            let slot = r.u32("SuperBlob index slot")?;
            let off = r.u32("SuperBlob index offset")?;
            if (off as usize) < index_end {
                return Err(SignatureError::invalid(
                    "SuperBlob index offset",
                    r.offset().saturating_sub(4),
                    format!("blob for slot {slot:#x} at {off:#x} overlaps the index (ends at {index_end:#x})"),
                ));
            }
            if entries.iter().any(|e: &BlobEntry<'_>| e.slot == slot) {
                return Err(SignatureError::invalid(
                    "SuperBlob index slot",
                    r.offset().saturating_sub(8),
                    format!("slot {slot:#x} ({}) appears twice", slot_name(slot)),
                ));
            }
            let (bmagic, blob) = blob_at(sb, off as usize, base, slot_name(slot))?;
            entries.push(BlobEntry {
                slot,
                magic: bmagic,
                offset: base.saturating_add(u64::from(off)),
                data: blob,
            });
        }
        Ok(SuperBlob {
            data: sb,
            offset: base,
            entries,
        })
    }

    /// The blob in `slot`, if present.
    pub fn find(&self, slot: u32) -> Option<&BlobEntry<'a>> {
        self.entries.iter().find(|e| e.slot == slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(entries: &[(u32, Vec<u8>)], count_override: Option<u32>) -> Vec<u8> {
        let header = 12 + 8 * entries.len();
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC_EMBEDDED_SIGNATURE.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&count_override.unwrap_or(entries.len() as u32).to_be_bytes());
        let mut off = header;
        for (s, b) in entries {
            out.extend_from_slice(&s.to_be_bytes());
            out.extend_from_slice(&(off as u32).to_be_bytes());
            off += b.len();
        }
        for (_, b) in entries {
            out.extend_from_slice(b);
        }
        let len = out.len() as u32;
        out[4..8].copy_from_slice(&len.to_be_bytes());
        out
    }

    fn blob(magic: u32, payload: &[u8]) -> Vec<u8> {
        let mut b = magic.to_be_bytes().to_vec();
        b.extend_from_slice(&((payload.len() + 8) as u32).to_be_bytes());
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn reads_entries_and_ignores_trailing_padding() {
        let mut data = sb(&[(2, blob(MAGIC_REQUIREMENTS, &[0, 0, 0, 0]))], None);
        data.extend_from_slice(&[0; 100]);
        let s = SuperBlob::parse(&data, 0x4000).unwrap();
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.entries[0].magic, MAGIC_REQUIREMENTS);
        assert_eq!(s.entries[0].offset, 0x4000 + 20);
        assert_eq!(s.data.len(), data.len() - 100);
    }

    #[test]
    fn huge_count_is_an_error_not_an_allocation() {
        let data = sb(&[], Some(u32::MAX));
        let e = SuperBlob::parse(&data, 0).unwrap_err();
        assert!(e.to_string().contains("SuperBlob count"), "{e}");
    }

    #[test]
    fn blob_past_end_and_duplicate_slots_are_errors() {
        let mut data = sb(&[(2, blob(MAGIC_REQUIREMENTS, &[0; 4]))], None);
        let n = data.len();
        data[n - 8] = 0xff; // blob length now reaches past the SuperBlob
        assert!(SuperBlob::parse(&data, 0).is_err());
        let data = sb(
            &[
                (2, blob(MAGIC_REQUIREMENTS, &[])),
                (2, blob(MAGIC_REQUIREMENTS, &[])),
            ],
            None,
        );
        let e = SuperBlob::parse(&data, 0).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let data = sb(&[(2, blob(MAGIC_REQUIREMENTS, &[0; 4]))], None);
        for n in 0..data.len() {
            assert!(SuperBlob::parse(&data[..n], 0).is_err(), "length {n}");
        }
    }
}
