//! Hash types of a CodeDirectory and the digests they name.

use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha384};

/// A CodeDirectory `hashType` (Apple's `CS_HASHTYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashType {
    /// 1: SHA-1, 20 bytes.
    Sha1,
    /// 2: SHA-256, 32 bytes.
    Sha256,
    /// 3: SHA-256 truncated to 20 bytes.
    Sha256Truncated,
    /// 4: SHA-384, 48 bytes.
    Sha384,
}

impl HashType {
    /// The type for a `hashType` byte, if Apple defines it.
    pub fn from_code(code: u8) -> Option<HashType> {
        match code {
            1 => Some(HashType::Sha1),
            2 => Some(HashType::Sha256),
            3 => Some(HashType::Sha256Truncated),
            4 => Some(HashType::Sha384),
            _ => None,
        }
    }

    /// How macOS ranks the type when it picks a code's CodeDirectory
    /// (`CodeDirectory::bestHashOf`): SHA-384 > SHA-256 > SHA-256 truncated > SHA-1.
    pub fn strength(self) -> u8 {
        match self {
            HashType::Sha1 => 0,
            HashType::Sha256Truncated => 1,
            HashType::Sha256 => 2,
            HashType::Sha384 => 3,
        }
    }

    /// The `hashType` byte.
    pub fn code(self) -> u8 {
        match self {
            HashType::Sha1 => 1,
            HashType::Sha256 => 2,
            HashType::Sha256Truncated => 3,
            HashType::Sha384 => 4,
        }
    }

    /// The `hashSize` a CodeDirectory of this type must declare.
    pub fn size(self) -> usize {
        match self {
            HashType::Sha1 | HashType::Sha256Truncated => 20,
            HashType::Sha256 => 32,
            HashType::Sha384 => 48,
        }
    }

    /// The name used in reports (`sha1`, `sha256`, `sha256-truncated`, `sha384`).
    pub fn name(self) -> &'static str {
        match self {
            HashType::Sha1 => "sha1",
            HashType::Sha256 => "sha256",
            HashType::Sha256Truncated => "sha256-truncated",
            HashType::Sha384 => "sha384",
        }
    }

    /// The dotted OID of the underlying digest algorithm, as the CDHashes2 CMS attribute
    /// names it (the truncated type is SHA-256 there).
    pub fn oid(self) -> &'static str {
        match self {
            HashType::Sha1 => "1.3.14.3.2.26",
            HashType::Sha256 | HashType::Sha256Truncated => "2.16.840.1.101.3.4.2.1",
            HashType::Sha384 => "2.16.840.1.101.3.4.2.2",
        }
    }

    /// The full (untruncated) digest of `data` under the underlying algorithm.
    pub fn full_digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = Hasher::new(self);
        h.update(data);
        h.finish_full()
    }

    /// The digest of `data` as it is stored in a CodeDirectory slot (`hashSize` bytes).
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut d = self.full_digest(data);
        d.truncate(self.size());
        d
    }
}

impl std::fmt::Display for HashType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A streaming hasher for one [`HashType`].
pub(crate) enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
    Sha384(Sha384),
}

impl Hasher {
    pub(crate) fn new(t: HashType) -> Hasher {
        match t {
            HashType::Sha1 => Hasher::Sha1(Sha1::new()),
            HashType::Sha256 | HashType::Sha256Truncated => Hasher::Sha256(Sha256::new()),
            HashType::Sha384 => Hasher::Sha384(Sha384::new()),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
        }
    }

    pub(crate) fn finish_full(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
        }
    }
}

/// SHA-256 of `data` (certificate fingerprints, anchors).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-1 of `data` (the requirement language's certificate hashes).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}
