//! Code signatures: read and verify them as macOS does, offline, on any OS.
//!
//! Reading ([`SuperBlob`], [`CodeDirectory`], requirement set, entitlements, CMS) is bounded and
//! never panics; verification binds every part together: page and special-slot hashes of every
//! CodeDirectory, the CMS signer signature, the CMS `messageDigest` to the primary
//! CodeDirectory, the CDHashes attributes to every CodeDirectory present, and the certificate
//! chain to a trusted anchor.

pub mod blob;
pub mod cms;
mod der;
pub mod directory;
pub mod entitlements;
pub mod error;
pub mod hash;
pub mod pages;
pub mod trust;
mod reader;

pub use blob::{BlobEntry, SuperBlob};
pub use directory::CodeDirectory;
pub use error::SignatureError;
pub use hash::HashType;
pub use reader::{hex, unhex};
