//! Code signatures: read and verify them as macOS does, offline, on any OS.
//!
//! Reading ([`SuperBlob`], [`CodeDirectory`], requirement set, entitlements, CMS) is bounded and
//! never panics; verification binds every part together: page and special-slot hashes of every
//! CodeDirectory, the CMS signer signature, the CMS `messageDigest` to the primary
//! CodeDirectory, the CDHashes attributes to every CodeDirectory present, and the certificate
//! chain to a trusted anchor.

mod ber;
pub mod blob;
pub mod cms;
mod der;
pub mod designated;
pub mod directory;
pub mod entitlements;
pub mod error;
pub mod examine;
pub mod hash;
pub mod identity;
pub mod notarization;
pub mod pages;
mod reader;
pub mod report;
pub mod resolve;
pub mod seal;
pub mod signature;
pub mod trust;
pub mod verify;

pub use blob::{BlobEntry, SuperBlob};
pub use directory::CodeDirectory;
pub use error::SignatureError;
pub use examine::{
    examine, examine_bytes, examine_file_only, Examination, ExamineError, ExamineOptions,
    SignedSlice,
};
pub use hash::HashType;
pub use reader::{hex, unhex};
pub use signature::SliceSignature;
pub use verify::{verify_slice, Kind, Problem, SealContext, SliceVerdict, VerifyOptions};

/// The implicit designated requirement of `slice` (Apple's synthesis from its certificates;
/// `cdhash` clauses of each slice's strongest CodeDirectory for ad-hoc and linker-signed code,
/// over every slice in `all`), ignoring any
/// explicit one.
pub fn implicit_designated_requirement(
    slice: &SignedSlice,
    all: &[SignedSlice],
) -> Option<designated::ImplicitRequirement> {
    match slice.kind {
        Kind::Unsigned => None,
        Kind::Adhoc | Kind::LinkerSigned => {
            let hashes: Vec<Vec<u8>> = std::iter::once(slice)
                .chain(all.iter().filter(|s| s.arch != slice.arch))
                .filter_map(|s| s.cdhash.clone())
                .collect();
            designated::adhoc(&hashes)
        }
        _ => {
            let chain = slice.certificates.get(..slice.chain_length).unwrap_or(&[]);
            designated::implicit(
                slice.identifier.as_deref().unwrap_or_default(),
                chain,
                slice.anchor.is_some_and(trust::AnchorKind::is_apple),
            )
        }
    }
}

/// Where a designated requirement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DesignatedSource {
    /// The signature's requirement set holds one.
    Explicit,
    /// None was given; this is Apple's synthesis from the certificates (or cdhashes).
    Implicit,
}

/// The designated requirement of `slice` (whose file's slices are `all`): the explicit one
/// from its requirement set, else the implicit one. `Err` when the requirement set is present
/// but unreadable.
pub fn designated_requirement(
    slice: &SignedSlice,
    all: &[SignedSlice],
) -> Result<
    Option<(crate::requirement::Requirement, DesignatedSource)>,
    crate::requirement::DecodeError,
> {
    if let Some(blob) = &slice.requirements {
        let set = crate::requirement::decode_set(blob)?;
        if let Some(dr) = set.designated() {
            return Ok(Some((dr.clone(), DesignatedSource::Explicit)));
        }
    }
    Ok(implicit_designated_requirement(slice, all)
        .and_then(|r| r.to_requirement())
        .map(|r| (r, DesignatedSource::Implicit)))
}

/// The designated requirement of a slice in Apple's text form (see [`designated_requirement`]);
/// `None` for unsigned code or an unreadable requirement set.
pub fn designated_requirement_text(slice: &SignedSlice, all: &[SignedSlice]) -> Option<String> {
    designated_requirement(slice, all)
        .ok()
        .flatten()
        .map(|(r, _)| crate::requirement::to_text(&r))
}
