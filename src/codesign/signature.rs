//! Everything one slice's embedded signature holds, read but not yet judged.

use super::blob::{self, slot, BlobEntry, SuperBlob, MAGIC_REQUIREMENTS};
use super::cms::CmsSignature;
use super::directory::CodeDirectory;
use super::entitlements;
use super::error::SignatureError;
use crate::container::Slice;

/// The parsed signature of one Mach-O slice.
pub struct SliceSignature<'a> {
    /// The SuperBlob.
    pub superblob: SuperBlob<'a>,
    /// `dataoff` of `LC_CODE_SIGNATURE`, from the start of the slice.
    pub offset_in_slice: u64,
    /// The primary CodeDirectory (slot 0).
    pub primary: CodeDirectory<'a>,
    /// The alternate CodeDirectories (slots 0x1000…0x1004), in slot order.
    pub alternates: Vec<CodeDirectory<'a>>,
    /// The requirement set blob (`0xfade0c01`), if any.
    pub requirements: Option<BlobEntry<'a>>,
    /// The XML entitlements, if any (an unreadable blob is an error here, a problem later).
    pub entitlements: Option<Result<plist::Value, SignatureError>>,
    /// The DER entitlements, if any.
    pub der_entitlements: Option<Result<plist::Value, SignatureError>>,
    /// Launch and library constraint blobs (slots 8–11), shown raw.
    pub launch_constraints: Vec<BlobEntry<'a>>,
    /// Whether a CMS blob is present at all (ad-hoc signatures carry an empty one).
    pub cms_present: bool,
    /// The CMS signature: `None` when absent or empty, `Some(Err)` when unreadable.
    pub cms: Option<Result<CmsSignature, SignatureError>>,
}

impl<'a> SliceSignature<'a> {
    /// Read the signature of `slice`; `Ok(None)` when it has no `LC_CODE_SIGNATURE`.
    pub fn read(slice: &Slice<'a>) -> Result<Option<SliceSignature<'a>>, SignatureError> {
        let Some(loc) = slice.code_signature() else {
            return Ok(None);
        };
        let base = slice.file_offset().saturating_add(loc.offset);
        SliceSignature::from_bytes(loc.data, base, loc.offset).map(Some)
    }

    /// Read a signature from the bytes at `LC_CODE_SIGNATURE` (`base` = absolute file offset,
    /// `offset_in_slice` = `dataoff`).
    pub fn from_bytes(
        data: &'a [u8],
        base: u64,
        offset_in_slice: u64,
    ) -> Result<SliceSignature<'a>, SignatureError> {
        let superblob = SuperBlob::parse(data, base)?;
        let mut code_directories = Vec::new();
        let mut requirements = None;
        let mut ents = None;
        let mut der_ents = None;
        let mut launch_constraints = Vec::new();
        let mut cms_present = false;
        let mut cms = None;
        let mut cd_entries: Vec<&BlobEntry<'a>> = superblob
            .entries
            .iter()
            .filter(|e| {
                e.slot == slot::CODEDIRECTORY
                    || (slot::ALTERNATE_CODEDIRECTORIES
                        ..slot::ALTERNATE_CODEDIRECTORIES + slot::ALTERNATE_CODEDIRECTORY_MAX)
                        .contains(&e.slot)
            })
            .collect();
        cd_entries.sort_by_key(|e| e.slot);
        for e in cd_entries {
            code_directories.push(CodeDirectory::parse(e.data, e.slot, e.offset)?);
        }
        let mut code_directories = code_directories.into_iter();
        let primary = match code_directories.next() {
            Some(cd) if cd.slot == slot::CODEDIRECTORY => cd,
            _ => {
                return Err(SignatureError::invalid(
                    "SuperBlob",
                    base,
                    "no CodeDirectory in slot 0: the signature seals nothing",
                ))
            }
        };
        let alternates: Vec<CodeDirectory<'a>> = code_directories.collect();
        for e in &superblob.entries {
            match e.slot {
                slot::REQUIREMENTS => {
                    if e.magic != MAGIC_REQUIREMENTS {
                        return Err(SignatureError::BadMagic {
                            field: "requirement set",
                            offset: e.offset,
                            found: e.magic,
                            expected: MAGIC_REQUIREMENTS,
                        });
                    }
                    requirements = Some(*e);
                }
                slot::ENTITLEMENTS => ents = Some(entitlements::parse_xml(e)),
                slot::DER_ENTITLEMENTS => der_ents = Some(entitlements::parse_der(e)),
                slot::LAUNCH_CONSTRAINT_SELF..=slot::LIBRARY_CONSTRAINT => {
                    launch_constraints.push(*e)
                }
                slot::SIGNATURE => {
                    cms_present = true;
                    cms = CmsSignature::parse(e).transpose();
                }
                _ => {}
            }
        }
        Ok(SliceSignature {
            superblob,
            offset_in_slice,
            primary,
            alternates,
            requirements,
            entitlements: ents,
            der_entitlements: der_ents,
            launch_constraints,
            cms_present,
            cms,
        })
    }

    /// The CodeDirectory macOS judges the code by: the one of the strongest hash type
    /// ([`HashType::strength`](super::HashType::strength)), the primary on a tie. Its cdhash
    /// is *the* cdhash (`CDHash=`, the `cdhash` requirement, ad-hoc designated requirements).
    pub fn best(&self) -> &CodeDirectory<'a> {
        let mut best = &self.primary;
        for cd in &self.alternates {
            if cd.hash_type.strength() > best.hash_type.strength() {
                best = cd;
            }
        }
        best
    }

    /// Every CodeDirectory, the primary first.
    pub fn code_directories(&self) -> impl Iterator<Item = &CodeDirectory<'a>> {
        std::iter::once(&self.primary).chain(self.alternates.iter())
    }

    /// The blob in `slot`, raw.
    pub fn blob(&self, s: u32) -> Option<&BlobEntry<'a>> {
        self.superblob.find(s)
    }

    /// The readable CMS signature, if any.
    pub fn cms(&self) -> Option<&CmsSignature> {
        self.cms.as_ref().and_then(|r| r.as_ref().ok())
    }

    /// The name of a slot for reports.
    pub fn slot_name(s: u32) -> &'static str {
        blob::slot_name(s)
    }
}
