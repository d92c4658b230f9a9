//! The CodeDirectory: what a signature actually seals.

use super::blob::MAGIC_CODEDIRECTORY;
use super::error::SignatureError;
use super::hash::HashType;
use super::reader::Reader;

/// The oldest CodeDirectory version Apple still accepts.
pub const EARLIEST_VERSION: u32 = 0x20001;
/// Apple refuses versions at or beyond this (`compatibilityLimit`).
pub const COMPATIBILITY_LIMIT: u32 = 0x2f000;
/// Version adding `scatterOffset`.
pub const SUPPORTS_SCATTER: u32 = 0x20100;
/// Version adding `teamOffset`.
pub const SUPPORTS_TEAM_ID: u32 = 0x20200;
/// Version adding `codeLimit64`.
pub const SUPPORTS_CODE_LIMIT_64: u32 = 0x20300;
/// Version adding the executable-segment fields.
pub const SUPPORTS_EXEC_SEGMENT: u32 = 0x20400;
/// Version adding `runtime` and `preEncryptOffset`.
pub const SUPPORTS_RUNTIME: u32 = 0x20500;
/// Version adding the linkage fields.
pub const SUPPORTS_LINKAGE: u32 = 0x20600;

/// CodeDirectory flags (`CS_*` in `cs_blobs.h`).
pub mod flags {
    /// Ad-hoc signed: no identity.
    pub const ADHOC: u32 = 0x0002;
    /// Hard-kill on invalid pages.
    pub const HARD: u32 = 0x0100;
    /// Kill on invalid pages.
    pub const KILL: u32 = 0x0200;
    /// Check expiration.
    pub const CHECK_EXPIRATION: u32 = 0x0400;
    /// Restrict dyld loading.
    pub const RESTRICT: u32 = 0x0800;
    /// Enforce code signing.
    pub const ENFORCEMENT: u32 = 0x1000;
    /// Library validation.
    pub const REQUIRE_LV: u32 = 0x2000;
    /// The hardened runtime.
    pub const RUNTIME: u32 = 0x10000;
    /// Signed by the linker (ld64/lld), not by `codesign`.
    pub const LINKER_SIGNED: u32 = 0x20000;
}

/// The names of the flags set in `f`, in Apple's order, as `codesign -dv` spells them.
pub fn flag_names(f: u32) -> Vec<&'static str> {
    const NAMES: &[(u32, &str)] = &[
        (0x0001, "valid"),
        (flags::ADHOC, "adhoc"),
        (0x0004, "get-task-allow"),
        (0x0008, "installer"),
        (0x0010, "forced-lv"),
        (0x0020, "invalid-allowed"),
        (flags::HARD, "hard"),
        (flags::KILL, "kill"),
        (flags::CHECK_EXPIRATION, "expires"),
        (flags::RESTRICT, "restrict"),
        (flags::ENFORCEMENT, "enforcement"),
        (flags::REQUIRE_LV, "library-validation"),
        (0x4000, "entitlements-validated"),
        (0x8000, "nvram-unrestricted"),
        (flags::RUNTIME, "runtime"),
        (flags::LINKER_SIGNED, "linker-signed"),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// A parsed CodeDirectory blob of any version from 0x20001 up to (not including) 0x2f000.
/// Fields a version lacks are `None`.
#[derive(Debug, Clone)]
pub struct CodeDirectory<'a> {
    /// The SuperBlob slot it came from (0 or 0x1000…0x1004).
    pub slot: u32,
    /// Absolute offset of the blob.
    pub offset: u64,
    /// The whole blob: what the cdhash is computed over.
    pub raw: &'a [u8],
    /// `version`.
    pub version: u32,
    /// `flags`.
    pub flags: u32,
    /// `hashOffset`.
    pub hash_offset: u32,
    /// `nSpecialSlots`.
    pub n_special_slots: u32,
    /// `nCodeSlots`.
    pub n_code_slots: u32,
    /// `codeLimit` (32-bit field).
    pub code_limit_32: u32,
    /// `hashType`.
    pub hash_type: HashType,
    /// `platform` (non-zero for Apple platform binaries).
    pub platform: u8,
    /// `pageSize` as stored: log2 of the page size, 0 meaning one page covering everything.
    pub page_size_log2: u8,
    /// `scatterOffset` (≥ 0x20100; 0 means none).
    pub scatter_offset: Option<u32>,
    /// `codeLimit64` (≥ 0x20300).
    pub code_limit_64: Option<u64>,
    /// `execSegBase` (≥ 0x20400).
    pub exec_seg_base: Option<u64>,
    /// `execSegLimit` (≥ 0x20400).
    pub exec_seg_limit: Option<u64>,
    /// `execSegFlags` (≥ 0x20400).
    pub exec_seg_flags: Option<u64>,
    /// `runtime`: the hardened-runtime SDK version (≥ 0x20500).
    pub runtime: Option<u32>,
    /// `preEncryptOffset` (≥ 0x20500).
    pub pre_encrypt_offset: Option<u32>,
    /// The signing identifier.
    pub identifier: String,
    /// The team identifier (≥ 0x20200, if set).
    pub team_id: Option<String>,
}

fn c_string(cd: &[u8], off: u32, base: u64, field: &'static str) -> Result<String, SignatureError> {
    let rest = cd.get(off as usize..).ok_or_else(|| {
        SignatureError::invalid(
            field,
            base,
            format!(
                "offset {off:#x} is outside the {}-byte CodeDirectory",
                cd.len()
            ),
        )
    })?;
    let nul = rest.iter().position(|&b| b == 0).ok_or_else(|| {
        SignatureError::invalid(
            field,
            base,
            format!("string at {off:#x} is not NUL-terminated"),
        )
    })?;
    let bytes = rest.get(..nul).unwrap_or(&[]);
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        SignatureError::invalid(field, base, format!("string at {off:#x} is not UTF-8"))
    })
}

impl<'a> CodeDirectory<'a> {
    /// Parse a CodeDirectory blob (`raw` is exactly the blob, as cut by its length field).
    pub fn parse(
        raw: &'a [u8],
        slot: u32,
        offset: u64,
    ) -> Result<CodeDirectory<'a>, SignatureError> {
        let mut r = Reader::new(raw, offset);
        let magic = r.u32("CodeDirectory magic")?;
        if magic != MAGIC_CODEDIRECTORY {
            return Err(SignatureError::BadMagic {
                field: "CodeDirectory",
                offset,
                found: magic,
                expected: MAGIC_CODEDIRECTORY,
            });
        }
        let _length = r.u32("CodeDirectory length")?;
        let version = r.u32("CodeDirectory version")?;
        if !(EARLIEST_VERSION..COMPATIBILITY_LIMIT).contains(&version) {
            return Err(SignatureError::invalid(
                "CodeDirectory version",
                offset,
                format!("{version:#x} is outside the supported range {EARLIEST_VERSION:#x}..{COMPATIBILITY_LIMIT:#x}"),
            ));
        }
        let flags = r.u32("CodeDirectory flags")?;
        let hash_offset = r.u32("CodeDirectory hashOffset")?;
        let ident_offset = r.u32("CodeDirectory identOffset")?;
        let n_special_slots = r.u32("CodeDirectory nSpecialSlots")?;
        let n_code_slots = r.u32("CodeDirectory nCodeSlots")?;
        let code_limit_32 = r.u32("CodeDirectory codeLimit")?;
        let hash_size = r.u8("CodeDirectory hashSize")?;
        let hash_type_code = r.u8("CodeDirectory hashType")?;
        let platform = r.u8("CodeDirectory platform")?;
        let page_size_log2 = r.u8("CodeDirectory pageSize")?;
        let _spare2 = r.u32("CodeDirectory spare2")?;
        let hash_type = HashType::from_code(hash_type_code).ok_or_else(|| {
            SignatureError::invalid(
                "CodeDirectory hashType",
                offset,
                format!("{hash_type_code} is not a known hash type (1 SHA-1, 2 SHA-256, 3 SHA-256 truncated, 4 SHA-384)"),
            )
        })?;
        if usize::from(hash_size) != hash_type.size() {
            return Err(SignatureError::invalid(
                "CodeDirectory hashSize",
                offset,
                format!(
                    "{hash_size} does not match {} ({} bytes)",
                    hash_type,
                    hash_type.size()
                ),
            ));
        }
        if page_size_log2 >= 32 {
            return Err(SignatureError::invalid(
                "CodeDirectory pageSize",
                offset,
                format!("log2 page size {page_size_log2} is too large"),
            ));
        }
        let scatter_offset = if version >= SUPPORTS_SCATTER {
            Some(r.u32("CodeDirectory scatterOffset")?)
        } else {
            None
        };
        let team_offset = if version >= SUPPORTS_TEAM_ID {
            Some(r.u32("CodeDirectory teamOffset")?)
        } else {
            None
        };
        let code_limit_64 = if version >= SUPPORTS_CODE_LIMIT_64 {
            let _spare3 = r.u32("CodeDirectory spare3")?;
            Some(r.u64("CodeDirectory codeLimit64")?)
        } else {
            None
        };
        let (exec_seg_base, exec_seg_limit, exec_seg_flags) = if version >= SUPPORTS_EXEC_SEGMENT {
            (
                Some(r.u64("CodeDirectory execSegBase")?),
                Some(r.u64("CodeDirectory execSegLimit")?),
                Some(r.u64("CodeDirectory execSegFlags")?),
            )
        } else {
            (None, None, None)
        };
        let (runtime, pre_encrypt_offset) = if version >= SUPPORTS_RUNTIME {
            (
                Some(r.u32("CodeDirectory runtime")?),
                Some(r.u32("CodeDirectory preEncryptOffset")?),
            )
        } else {
            (None, None)
        };
        if version >= SUPPORTS_LINKAGE {
            // Linkage fields are read only to prove the header is complete.
            r.take(12, "CodeDirectory linkage fields")?;
        }

        // The hash array: special slots before hashOffset, code slots after.
        let hs = u64::from(hash_size);
        let specials = u64::from(n_special_slots).checked_mul(hs).ok_or_else(|| {
            SignatureError::invalid("CodeDirectory nSpecialSlots", offset, "overflow")
        })?;
        if specials > u64::from(hash_offset) {
            return Err(SignatureError::invalid(
                "CodeDirectory nSpecialSlots",
                offset,
                format!(
                    "{n_special_slots} special slots do not fit before hashOffset {hash_offset:#x}"
                ),
            ));
        }
        let code_end = u64::from(n_code_slots)
            .checked_mul(hs)
            .and_then(|n| n.checked_add(u64::from(hash_offset)))
            .ok_or_else(|| {
                SignatureError::invalid("CodeDirectory nCodeSlots", offset, "overflow")
            })?;
        if code_end > raw.len() as u64 {
            return Err(SignatureError::invalid(
                "CodeDirectory nCodeSlots",
                offset,
                format!(
                    "{n_code_slots} code slots at hashOffset {hash_offset:#x} end at {code_end:#x}, past the {}-byte blob",
                    raw.len()
                ),
            ));
        }
        let identifier = c_string(raw, ident_offset, offset, "CodeDirectory identOffset")?;
        let team_id = match team_offset {
            Some(0) | None => None,
            Some(t) => Some(c_string(raw, t, offset, "CodeDirectory teamOffset")?),
        };
        Ok(CodeDirectory {
            slot,
            offset,
            raw,
            version,
            flags,
            hash_offset,
            n_special_slots,
            n_code_slots,
            code_limit_32,
            hash_type,
            platform,
            page_size_log2,
            scatter_offset,
            code_limit_64,
            exec_seg_base,
            exec_seg_limit,
            exec_seg_flags,
            runtime,
            pre_encrypt_offset,
            identifier,
            team_id,
        })
    }

    /// The number of bytes of the file the code slots cover (`codeLimit64` when set).
    pub fn code_limit(&self) -> u64 {
        match self.code_limit_64 {
            Some(l) if l != 0 => l,
            _ => u64::from(self.code_limit_32),
        }
    }

    /// The page size in bytes, or `None` when the whole code is a single page.
    pub fn page_size(&self) -> Option<u64> {
        if self.page_size_log2 == 0 {
            None
        } else {
            Some(1u64 << self.page_size_log2)
        }
    }

    /// The number of code slots the code limit and page size call for.
    pub fn expected_code_slots(&self) -> u64 {
        let limit = self.code_limit();
        match self.page_size() {
            None => u64::from(limit != 0),
            Some(ps) => limit.div_ceil(ps),
        }
    }

    /// The stored hash of special slot `n` (1 = Info.plist, 2 = requirements, …), `None` when
    /// the CodeDirectory has fewer special slots.
    pub fn special_slot_hash(&self, n: u32) -> Option<&'a [u8]> {
        if n == 0 || n > self.n_special_slots {
            return None;
        }
        let hs = self.hash_type.size();
        let start = (self.hash_offset as usize).checked_sub((n as usize).checked_mul(hs)?)?;
        self.raw.get(start..start.checked_add(hs)?)
    }

    /// The stored hash of code page `i`.
    pub fn code_slot_hash(&self, i: u32) -> Option<&'a [u8]> {
        if i >= self.n_code_slots {
            return None;
        }
        let hs = self.hash_type.size();
        let start = (self.hash_offset as usize).checked_add((i as usize).checked_mul(hs)?)?;
        self.raw.get(start..start.checked_add(hs)?)
    }

    /// All code-slot hashes, concatenated (bounds proven at parse time).
    pub fn code_hashes(&self) -> &'a [u8] {
        let start = self.hash_offset as usize;
        let len = (self.n_code_slots as usize).saturating_mul(self.hash_type.size());
        start
            .checked_add(len)
            .and_then(|end| self.raw.get(start..end))
            .unwrap_or(&[])
    }

    /// The cdhash: this CodeDirectory's hash under its own hash type, truncated to 20 bytes.
    pub fn cdhash(&self) -> Vec<u8> {
        let mut d = self.hash_type.full_digest(self.raw);
        d.truncate(20);
        d
    }

    /// The full (untruncated) hash of the CodeDirectory under its own hash type, as the
    /// CDHashes2 CMS attribute carries it.
    pub fn full_hash(&self) -> Vec<u8> {
        self.hash_type.full_digest(self.raw)
    }

    /// Whether the ad-hoc flag is set.
    pub fn is_adhoc(&self) -> bool {
        self.flags & flags::ADHOC != 0
    }

    /// Whether the linker-signed flag is set.
    pub fn is_linker_signed(&self) -> bool {
        self.flags & flags::LINKER_SIGNED != 0
    }

    /// Whether the hardened runtime is on.
    pub fn hardened_runtime(&self) -> bool {
        self.flags & flags::RUNTIME != 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Build a CodeDirectory of `version` with the given identifier, hashing `code` in pages of
    /// `1 << page_log2`.
    pub(crate) fn build(
        version: u32,
        ht: HashType,
        ident: &str,
        team: Option<&str>,
        code: &[u8],
        page_log2: u8,
        specials: &[Vec<u8>],
    ) -> Vec<u8> {
        let header = match version {
            v if v >= SUPPORTS_LINKAGE => 108,
            v if v >= SUPPORTS_RUNTIME => 96,
            v if v >= SUPPORTS_EXEC_SEGMENT => 88,
            v if v >= SUPPORTS_CODE_LIMIT_64 => 64,
            v if v >= SUPPORTS_TEAM_ID => 52,
            v if v >= SUPPORTS_SCATTER => 48,
            _ => 44,
        };
        let ident_off = header;
        let team_off = ident_off + ident.len() + 1;
        let strings_end = team_off + team.map_or(0, |t| t.len() + 1);
        let hs = ht.size();
        let hash_off = strings_end + specials.len() * hs;
        let pages: Vec<&[u8]> = if page_log2 == 0 {
            vec![code]
        } else {
            code.chunks(1 << page_log2).collect()
        };
        let total = hash_off + pages.len() * hs;
        let mut cd = vec![0u8; total];
        let put =
            |cd: &mut Vec<u8>, at: usize, v: u32| cd[at..at + 4].copy_from_slice(&v.to_be_bytes());
        put(&mut cd, 0, MAGIC_CODEDIRECTORY);
        put(&mut cd, 4, total as u32);
        put(&mut cd, 8, version);
        put(&mut cd, 12, 0);
        put(&mut cd, 16, hash_off as u32);
        put(&mut cd, 20, ident_off as u32);
        put(&mut cd, 24, specials.len() as u32);
        put(&mut cd, 28, pages.len() as u32);
        put(&mut cd, 32, code.len() as u32);
        cd[36] = hs as u8;
        cd[37] = ht.code();
        cd[39] = page_log2;
        if version >= SUPPORTS_TEAM_ID && team.is_some() {
            put(&mut cd, 48, team_off as u32);
        }
        cd[ident_off..ident_off + ident.len()].copy_from_slice(ident.as_bytes());
        if let Some(t) = team {
            cd[team_off..team_off + t.len()].copy_from_slice(t.as_bytes());
        }
        for (i, s) in specials.iter().enumerate() {
            let at = hash_off - (i + 1) * hs;
            cd[at..at + hs].copy_from_slice(&s[..hs]);
        }
        for (i, p) in pages.iter().enumerate() {
            let at = hash_off + i * hs;
            cd[at..at + hs].copy_from_slice(&ht.digest(p));
        }
        cd
    }

    #[test]
    fn parses_every_version_and_hash_type() {
        let code = vec![7u8; 10000];
        for v in [
            0x20001, 0x20100, 0x20200, 0x20300, 0x20400, 0x20500, 0x20600,
        ] {
            for ht in [
                HashType::Sha1,
                HashType::Sha256,
                HashType::Sha256Truncated,
                HashType::Sha384,
            ] {
                let raw = build(v, ht, "com.example.x", Some("TEAMID1234"), &code, 12, &[]);
                let cd = CodeDirectory::parse(&raw, 0, 0).unwrap();
                assert_eq!(cd.identifier, "com.example.x");
                assert_eq!(
                    cd.team_id.as_deref(),
                    if v >= 0x20200 {
                        Some("TEAMID1234")
                    } else {
                        None
                    }
                );
                assert_eq!(cd.n_code_slots, 3);
                assert_eq!(cd.expected_code_slots(), 3);
                assert_eq!(cd.code_slot_hash(2).unwrap(), &ht.digest(&code[8192..])[..]);
                assert_eq!(cd.cdhash().len(), 20);
            }
        }
    }

    #[test]
    fn hostile_fields_are_errors() {
        let raw = build(0x20400, HashType::Sha256, "x", None, &[1; 100], 12, &[]);
        let mut bad = raw.clone();
        bad[20..24].copy_from_slice(&0xffff_0000u32.to_be_bytes()); // identOffset
        assert!(CodeDirectory::parse(&bad, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("identOffset"));
        let mut bad = raw.clone();
        bad[36] = 0; // hashSize
        assert!(CodeDirectory::parse(&bad, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("hashSize"));
        let mut bad = raw.clone();
        bad[28..32].copy_from_slice(&u32::MAX.to_be_bytes()); // nCodeSlots
        assert!(CodeDirectory::parse(&bad, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("nCodeSlots"));
        let mut bad = raw.clone();
        bad[24..28].copy_from_slice(&u32::MAX.to_be_bytes()); // nSpecialSlots
        assert!(CodeDirectory::parse(&bad, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("nSpecialSlots"));
        let mut bad = raw.clone();
        bad[39] = 200; // pageSize
        assert!(CodeDirectory::parse(&bad, 0, 0).is_err());
        let mut bad = raw.clone();
        bad[8..12].copy_from_slice(&0x30000u32.to_be_bytes());
        assert!(CodeDirectory::parse(&bad, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("version"));
        for n in 0..raw.len() {
            assert!(
                CodeDirectory::parse(&raw[..n], 0, 0).is_err(),
                "truncated to {n}"
            );
        }
    }
}
