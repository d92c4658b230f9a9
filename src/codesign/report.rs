//! The serialisable report of an [`Examination`]: the JSON shape `signature show` and
//! `signature verify` print (keys as documented in the README).

use serde::Serialize;

use super::directory::flag_names;
use super::examine::{Examination, SignedSlice};
use super::reader::hex;
use super::trust::{issuer_string, subject_string};
use super::verify::Problem;

/// One certificate in a report.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateReport {
    /// Subject, `K=V, …` in encoded order.
    pub subject: String,
    /// Issuer, same form.
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
}

/// One cdhash in a report.
#[derive(Debug, Clone, Serialize)]
pub struct CdhashReport {
    /// `sha1`, `sha256`, `sha256-truncated`, `sha384`.
    #[serde(rename = "type")]
    pub hash_type: String,
    /// 40 hex digits.
    pub cdhash: String,
}

/// One slice in a report.
#[derive(Debug, Clone, Serialize)]
pub struct SliceReport {
    /// Architecture.
    pub arch: String,
    /// Signing identifier.
    pub identifier: Option<String>,
    /// Team identifier.
    pub team_id: Option<String>,
    /// `developer-id`, `adhoc`, ….
    pub kind: String,
    /// What the chain ends at: `apple`, `anchor` (a root the user trusts), `self-signed` (an
    /// implicit anchor: valid, trusted by nothing) or `none`.
    pub trust: String,
    /// The cdhash of the strongest CodeDirectory (macOS's `CDHash=`), 40 hex.
    pub cdhash: Option<String>,
    /// Every CodeDirectory's cdhash, primary first.
    pub cdhashes: Vec<CdhashReport>,
    /// Names of the CodeDirectory flags set (unknown bits as hex).
    pub flags: Vec<String>,
    /// Whether the hardened runtime flag is set.
    pub hardened_runtime: bool,
    /// CodeDirectory version, hex (`0x20500`).
    pub code_directory_version: Option<String>,
    /// Page size in bytes; `null` when the code is one page (or unsigned).
    pub page_size: Option<u64>,
    /// CMS signing time, RFC 3339.
    pub signing_time: Option<String>,
    /// Verified time-stamp time, RFC 3339.
    pub timestamp: Option<String>,
    /// Certificates, leaf first.
    pub certificates: Vec<CertificateReport>,
    /// Entitlements as JSON.
    pub entitlements: Option<serde_json::Value>,
    /// `true`, `false` or `"unknown"` (offline: a stapled ticket's signature cannot be checked).
    pub notarized: crate::requirement::Notarization,
    /// Why, unless notarized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notarization: Option<String>,
    /// The designated requirement, in Apple's text form.
    pub designated_requirement: Option<String>,
    /// Launch-constraint blobs present (slot and hex), shown raw.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub launch_constraints: Vec<serde_json::Value>,
    /// `verify` only: no problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// `verify` only: every problem found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<Problem>>,
}

/// A whole file or bundle.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The path given.
    pub path: String,
    /// The bundle judged: the path itself, or the bundle whose main executable it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The main executable, for a bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// `verify` only: every slice valid and no bundle problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// `verify` only: bundle-level problems (resources, nested code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<Problem>>,
    /// The slices.
    pub slices: Vec<SliceReport>,
}

fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Build the report of one slice; `dr` is its designated requirement text, if known.
pub fn slice_report(s: &SignedSlice, dr: Option<String>, verified: bool) -> SliceReport {
    let mut flags: Vec<String> = flag_names(s.flags).into_iter().map(str::to_owned).collect();
    let known: u32 = [
        0x1u32, 0x2, 0x4, 0x8, 0x10, 0x20, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000, 0x4000,
        0x8000, 0x10000, 0x20000,
    ]
    .iter()
    .fold(0, |a, b| a | b);
    if s.flags & !known != 0 {
        flags.push(format!("{:#x}", s.flags & !known));
    }
    SliceReport {
        arch: s.arch.clone(),
        identifier: s.identifier.clone(),
        team_id: s.team_id.clone(),
        kind: s.kind.as_str().to_owned(),
        trust: s.trust.as_str().to_owned(),
        cdhash: s.cdhash.as_ref().map(|h| hex(h)),
        cdhashes: s
            .cdhashes
            .iter()
            .map(|(t, h)| CdhashReport {
                hash_type: t.name().to_owned(),
                cdhash: hex(h),
            })
            .collect(),
        flags,
        hardened_runtime: s.flags & super::directory::flags::RUNTIME != 0,
        code_directory_version: s.code_directory_version.map(|v| format!("{v:#x}")),
        page_size: s.page_size,
        signing_time: s.signing_time.as_ref().map(rfc3339),
        timestamp: s.timestamp.as_ref().map(rfc3339),
        certificates: s
            .certificates
            .iter()
            .map(|c| CertificateReport {
                subject: subject_string(c),
                issuer: issuer_string(c),
                not_before: rfc3339(&c.validity_not_before()),
                not_after: rfc3339(&c.validity_not_after()),
                sha256: hex(&super::hash::sha256(c.constructed_data())),
            })
            .collect(),
        entitlements: s.entitlements.as_ref().map(crate::plists::to_json),
        notarized: s.notarization.clone(),
        notarization: s.notarization.reason().map(str::to_owned),
        designated_requirement: dr,
        launch_constraints: s
            .launch_constraints
            .iter()
            .map(|(slot, raw)| serde_json::json!({"slot": slot, "name": super::blob::slot_name(*slot), "hex": hex(raw)}))
            .collect(),
        valid: verified.then(|| s.is_valid()),
        problems: verified.then(|| s.problems.clone()),
    }
}

/// Build the report of an examination; `dr` gives each slice's designated requirement text.
pub fn file_report(ex: &Examination, dr: impl Fn(&SignedSlice) -> Option<String>) -> FileReport {
    FileReport {
        path: ex.path.display().to_string(),
        bundle: ex.bundle.as_ref().map(|p| p.display().to_string()),
        executable: ex.executable.as_ref().map(|p| p.display().to_string()),
        valid: ex.verified.then(|| ex.is_valid()),
        problems: ex.verified.then(|| ex.problems.clone()),
        slices: ex
            .slices
            .iter()
            .map(|s| slice_report(s, dr(s), ex.verified))
            .collect(),
    }
}
