//! Errors raised while reading a code signature.
//!
//! Reading is separate from judging: a [`SignatureError`] means the bytes could not be read as
//! Apple's format at all, whereas a verification finding (a hash that does not match, a chain
//! that does not reach an anchor) is a [`crate::codesign::Problem`].

/// A code signature (or one of its parts) could not be read.
///
/// Offsets are absolute file offsets when the signature was read from a file through
/// [`crate::codesign::SliceSignature::read`], otherwise offsets from the start of the bytes given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A structure or field extends past the end of its enclosing data.
    #[error(
        "{field} at offset {offset:#x}: truncated (needs {needed} bytes, {available} available)"
    )]
    Truncated {
        /// The field or structure being read.
        field: &'static str,
        /// Where it starts.
        offset: u64,
        /// How many bytes it needs.
        needed: u64,
        /// How many bytes there were.
        available: u64,
    },
    /// A blob does not start with the magic number its slot requires.
    #[error("{field} at offset {offset:#x}: magic {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// The blob being read.
        field: &'static str,
        /// Where it starts.
        offset: u64,
        /// The magic found.
        found: u32,
        /// The magic required.
        expected: u32,
    },
    /// A field holds a value the format does not allow.
    #[error("{field} at offset {offset:#x}: {message}")]
    Invalid {
        /// The field being read.
        field: &'static str,
        /// Where the enclosing structure starts.
        offset: u64,
        /// What was wrong and what was expected.
        message: String,
    },
}

impl SignatureError {
    pub(crate) fn invalid(field: &'static str, offset: u64, message: impl Into<String>) -> Self {
        SignatureError::Invalid {
            field,
            offset,
            message: message.into(),
        }
    }
}
