//! Judging one slice's signature: integrity of every CodeDirectory, the CMS binding, the chain.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::blob::slot;
use super::cms::{check_cdhashes, digest, digest_name, CmsSignature};
use super::directory::CodeDirectory;
use super::pages::check_pages_releasing;
use super::reader::hex;
use super::signature::SliceSignature;
use super::trust::{
    build_chain, has_extension, AnchorKind, Anchors, Chain, Purpose, CERTIFICATE_VALIDITY,
};
use crate::container::Slice;

/// One thing wrong with a signature: a stable code (for scripts and tests) and a message
/// naming the field, file or certificate concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A short stable code such as `page-hash`, `cms-message-digest`, `chain-untrusted`.
    pub code: &'static str,
    /// What is wrong, where, and what was expected.
    pub message: String,
}

impl Problem {
    /// A problem with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// How a slice is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Developer ID Application (Apple anchor, Developer ID CA marker on the intermediate,
    /// Developer ID Application marker on the leaf).
    DeveloperId,
    /// Apple Development / Apple Distribution (Apple anchor, WWDR intermediate).
    AppleDevelopment,
    /// Mac App Store (Apple anchor, Mac App Store marker on the leaf).
    MacAppStore,
    /// Apple's own code (Apple anchor, leaf "Software Signing").
    Apple,
    /// Chains to an Apple anchor but matches none of the shapes above.
    AppleOther,
    /// Chains to a root the user trusts (`--anchor`).
    CustomAnchor,
    /// Certificates that do not reach any trusted anchor.
    Untrusted,
    /// Ad-hoc: a CodeDirectory with no identity.
    Adhoc,
    /// Ad-hoc, written by the linker (ld64/lld).
    LinkerSigned,
    /// No `LC_CODE_SIGNATURE`.
    Unsigned,
}

impl Kind {
    /// The name used in reports (`developer-id`, `adhoc`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DeveloperId => "developer-id",
            Kind::AppleDevelopment => "apple-development",
            Kind::MacAppStore => "mac-app-store",
            Kind::Apple => "apple",
            Kind::AppleOther => "apple-other",
            Kind::CustomAnchor => "custom-anchor",
            Kind::Untrusted => "untrusted",
            Kind::Adhoc => "adhoc",
            Kind::LinkerSigned => "linker-signed",
            Kind::Unsigned => "unsigned",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Apple marker OIDs used to tell certificate shapes apart.
pub mod oids {
    /// Developer ID CA (intermediate).
    pub const DEVELOPER_ID_CA: &str = "1.2.840.113635.100.6.2.6";
    /// Developer ID Application (leaf).
    pub const DEVELOPER_ID_APPLICATION: &str = "1.2.840.113635.100.6.1.13";
    /// Mac App Store (leaf).
    pub const MAC_APP_STORE: &str = "1.2.840.113635.100.6.1.9";
    /// Apple Worldwide Developer Relations CA (intermediate).
    pub const WWDR_CA: &str = "1.2.840.113635.100.6.2.1";
    /// iPhone / Apple Development (leaf).
    pub const APPLE_DEVELOPMENT: &str = "1.2.840.113635.100.6.1.2";
    /// Mac Development (leaf).
    pub const MAC_DEVELOPMENT: &str = "1.2.840.113635.100.6.1.12";
}

/// What a slice's signature must be checked against besides its own bytes.
#[derive(Clone, Copy, Default)]
pub struct SealContext<'b> {
    /// The bytes special slot 1 seals: a bundle's `Contents/Info.plist`, or the raw
    /// `__TEXT,__info_plist` section of a single-file tool.
    pub info_plist: Option<&'b [u8]>,
    /// Where those bytes came from, for messages.
    pub info_plist_source: &'b str,
    /// The bytes special slot 3 seals: a bundle's `_CodeSignature/CodeResources`.
    pub code_resources: Option<&'b [u8]>,
    /// Called with each run of code pages once hashed, so that the caller can drop them from
    /// memory (a memory map's pages: [`crate::mapped::MappedFile::release`]).
    pub release: Option<super::pages::Release<'b>>,
}

/// How to verify.
#[derive(Clone)]
pub struct VerifyOptions {
    /// The roots trusted.
    pub anchors: Anchors,
    /// Judge certificate validity at this time instead of now. A verified RFC 3161 timestamp
    /// still wins: certificates are judged at the time the authority vouched for, as macOS does.
    pub at: Option<DateTime<Utc>>,
    /// Hashing threads; 0 = one per core.
    pub threads: usize,
}

impl VerifyOptions {
    /// Apple's roots, no time override, one thread per core.
    pub fn apple() -> Result<VerifyOptions, super::trust::TrustError> {
        Ok(VerifyOptions {
            anchors: Anchors::apple()?,
            at: None,
            threads: 0,
        })
    }
}

/// The judgement of one slice.
#[derive(Clone)]
pub struct SliceVerdict {
    /// Everything wrong, in the order checked. Empty means valid.
    pub problems: Vec<Problem>,
    /// The certificate chain, when there is a CMS signer.
    pub chain: Option<Chain>,
    /// The verified time-stamp time, if any.
    pub timestamp: Option<DateTime<Utc>>,
    /// The time certificates were judged at.
    pub judged_at: Option<DateTime<Utc>>,
    /// How it is signed.
    pub kind: Kind,
}

impl SliceVerdict {
    /// No problems.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

fn is_zero(h: &[u8]) -> bool {
    h.iter().all(|&b| b == 0)
}

fn check_code_directory(
    cd: &CodeDirectory<'_>,
    slice: &Slice<'_>,
    sig: &SliceSignature<'_>,
    ctx: &SealContext<'_>,
    threads: usize,
    problems: &mut Vec<Problem>,
) {
    let which = if cd.slot == slot::CODEDIRECTORY {
        format!("primary {} CodeDirectory", cd.hash_type)
    } else {
        format!(
            "alternate {} CodeDirectory (slot {:#x})",
            cd.hash_type, cd.slot
        )
    };
    let limit = cd.code_limit();
    let data = slice.data();
    if limit != sig.offset_in_slice {
        problems.push(Problem::new(
            "code-limit",
            format!(
                "{which}: codeLimit {limit:#x} does not end where the signature starts ({:#x})",
                sig.offset_in_slice
            ),
        ));
    }
    if cd.n_code_slots as u64 != cd.expected_code_slots() {
        problems.push(Problem::new(
            "code-slot-count",
            format!(
                "{which}: {} code slots, but codeLimit {limit:#x} in pages of {} needs {}",
                cd.n_code_slots,
                cd.page_size()
                    .map_or("one page".to_string(), |p| p.to_string()),
                cd.expected_code_slots()
            ),
        ));
    }
    if cd.scatter_offset.is_some_and(|s| s != 0) {
        problems.push(Problem::new(
            "scatter",
            format!("{which}: scatter vectors are not supported (legacy format)"),
        ));
    }
    match usize::try_from(limit).ok().and_then(|l| data.get(..l)) {
        None => problems.push(Problem::new(
            "code-limit",
            format!(
                "{which}: codeLimit {limit:#x} is past the end of the {:#x}-byte slice",
                data.len()
            ),
        )),
        Some(code) => {
            let m = check_pages_releasing(cd, code, threads, ctx.release);
            if m.count > 0 {
                let page = cd.page_size().unwrap_or(limit);
                let list = m
                    .pages
                    .iter()
                    .map(|p| format!("{p} (offset {:#x})", p.saturating_mul(page)))
                    .collect::<Vec<_>>()
                    .join(", ");
                problems.push(Problem::new(
                    "page-hash",
                    format!(
                        "{which}: {} code page(s) do not match their hash: {list}",
                        m.count
                    ),
                ));
            }
        }
    }
    // Special slots.
    for n in 1..=cd.n_special_slots.min(64) {
        let Some(stored) = cd.special_slot_hash(n) else {
            continue;
        };
        let zero = is_zero(stored);
        let name = SliceSignature::slot_name(n);
        let (content, code): (Option<&[u8]>, &'static str) = match n {
            slot::INFOSLOT => (ctx.info_plist, "info-plist"),
            slot::RESOURCEDIR => (ctx.code_resources, "resources"),
            _ => (sig.blob(n).map(|b| b.data), special_code(n)),
        };
        match content {
            Some(bytes) => {
                if zero {
                    let what = if n == slot::INFOSLOT {
                        ctx.info_plist_source
                    } else {
                        name
                    };
                    problems.push(Problem::new(code, format!("{which}: {what} is present but not sealed (special slot -{n} is empty)")));
                } else if cd.hash_type.digest(bytes) != stored {
                    let what = if n == slot::INFOSLOT {
                        ctx.info_plist_source
                    } else {
                        name
                    };
                    problems.push(Problem::new(
                        code,
                        format!(
                            "{which}: {what} does not match the hash sealed in special slot -{n}"
                        ),
                    ));
                }
            }
            None => {
                if !zero
                    && matches!(
                        n,
                        slot::INFOSLOT
                            | slot::RESOURCEDIR
                            | slot::REQUIREMENTS
                            | slot::ENTITLEMENTS
                            | slot::DER_ENTITLEMENTS
                            | 8..=11
                    )
                {
                    problems.push(Problem::new(
                        code,
                        format!("{which}: special slot -{n} seals {name}, but there is none"),
                    ));
                }
            }
        }
    }
    // Blobs present but beyond the CD's special slots are not sealed at all.
    for e in &sig.superblob.entries {
        let sealable = matches!(
            e.slot,
            slot::REQUIREMENTS | slot::ENTITLEMENTS | slot::DER_ENTITLEMENTS | 8..=11
        );
        if sealable && e.slot > cd.n_special_slots {
            problems.push(Problem::new(
                special_code(e.slot),
                format!(
                    "{which}: the {} blob is not sealed ({} special slots)",
                    SliceSignature::slot_name(e.slot),
                    cd.n_special_slots
                ),
            ));
        }
    }
}

fn special_code(n: u32) -> &'static str {
    match n {
        slot::REQUIREMENTS => "requirements-hash",
        slot::ENTITLEMENTS => "entitlements-hash",
        slot::DER_ENTITLEMENTS => "der-entitlements-hash",
        8..=11 => "launch-constraint-hash",
        _ => "special-slot-hash",
    }
}

fn check_cms(cms: &CmsSignature, sig: &SliceSignature<'_>, problems: &mut Vec<Problem>) {
    if cms.signer_count() != 1 {
        problems.push(Problem::new(
            "cms-signers",
            format!(
                "the CMS signature has {} signers; exactly one is expected",
                cms.signer_count()
            ),
        ));
    }
    let Some(signer) = cms.signer() else { return };
    // The detached content is the primary CodeDirectory. With signed attributes the signature
    // covers them (and their messageDigest binds the CodeDirectory); without any, as in older
    // Apple signatures, it covers the CodeDirectory itself.
    let signed = if signer.signed_attributes().is_some() {
        signer.verify_signature_with_signed_data(&cms.signed_data)
    } else {
        signer.verify_signature_with_signed_data_and_content(&cms.signed_data, sig.primary.raw)
    };
    if let Err(e) = signed {
        problems.push(Problem::new(
            "cms-signature",
            if signer.signed_attributes().is_some() {
                format!("the CMS signer's signature does not verify: {e}")
            } else {
                format!("the CMS signer's signature (no signed attributes) does not verify over the primary CodeDirectory: {e}")
            },
        ));
    }
    match &cms.message_digest {
        // Nothing to compare: the signature itself was checked over the CodeDirectory.
        None => {}
        Some(md) => {
            let alg = signer.digest_algorithm();
            let want = digest(alg, sig.primary.raw);
            if md != &want {
                problems.push(Problem::new(
                    "cms-message-digest",
                    format!(
                        "CMS messageDigest {} is not the {} of the primary CodeDirectory ({}): the CodeDirectory was changed after signing",
                        hex(md),
                        digest_name(alg),
                        hex(&want)
                    ),
                ));
            }
        }
    }
    let cds: Vec<_> = sig
        .code_directories()
        .map(|cd| (cd.hash_type, cd.cdhash(), cd.full_hash()))
        .collect();
    for m in check_cdhashes(cms, &cds) {
        problems.push(Problem::new("cdhashes", m));
    }
}

/// Classify a signed slice from its primary CodeDirectory, CMS and chain.
pub fn classify(sig: &SliceSignature<'_>, chain: Option<&Chain>) -> Kind {
    if sig.primary.is_linker_signed() {
        return Kind::LinkerSigned;
    }
    let Some(chain) = chain else {
        return if sig.cms().is_some() {
            Kind::Untrusted
        } else {
            Kind::Adhoc
        };
    };
    if sig.primary.is_adhoc() && sig.cms().is_none() {
        return Kind::Adhoc;
    }
    classify_chain(chain)
}

/// Classify a certificate chain (leaf first) by its anchor and Apple's marker extensions.
pub fn classify_chain(chain: &Chain) -> Kind {
    match chain.anchor {
        None => Kind::Untrusted,
        Some(AnchorKind::Custom) => Kind::CustomAnchor,
        Some(AnchorKind::Apple | AnchorKind::TestApple) => {
            let leaf = chain.certs.first();
            let int = chain.certs.get(1);
            let leaf_has = |o: &str| leaf.is_some_and(|c| has_extension(c, o));
            let int_has = |o: &str| int.is_some_and(|c| has_extension(c, o));
            if leaf_has(oids::MAC_APP_STORE) {
                Kind::MacAppStore
            } else if int_has(oids::DEVELOPER_ID_CA) && leaf_has(oids::DEVELOPER_ID_APPLICATION) {
                Kind::DeveloperId
            } else if int_has(oids::WWDR_CA) {
                Kind::AppleDevelopment
            } else if leaf.and_then(|c| c.subject_common_name()).as_deref()
                == Some("Software Signing")
            {
                Kind::Apple
            } else {
                Kind::AppleOther
            }
        }
    }
}

/// Verify one slice's signature: every CodeDirectory's pages and special slots, the CMS
/// signature and its binding to every CodeDirectory, the timestamp and the certificate chain.
pub fn verify_slice(
    slice: &Slice<'_>,
    sig: &SliceSignature<'_>,
    ctx: &SealContext<'_>,
    opts: &VerifyOptions,
) -> SliceVerdict {
    let mut problems = Vec::new();
    for cd in sig.code_directories() {
        check_code_directory(cd, slice, sig, ctx, opts.threads, &mut problems);
    }
    let mut verdict = verify_cms_and_chain(sig, opts);
    problems.append(&mut verdict.problems);
    verdict.kind = match (&sig.cms, &verdict.chain) {
        (Some(Err(_)), _) if !sig.primary.is_linker_signed() => Kind::Untrusted,
        _ => classify(sig, verdict.chain.as_ref()),
    };
    verdict.problems = problems;
    verdict
}

/// Judge only the CMS binding and the chain (no page, special-slot or resource hashing): what
/// `signature show` needs to classify a slice cheaply.
pub fn verify_signature_only(sig: &SliceSignature<'_>, opts: &VerifyOptions) -> SliceVerdict {
    let mut v = verify_cms_and_chain(sig, opts);
    v.kind = match (&sig.cms, &v.chain) {
        (Some(Err(_)), _) if !sig.primary.is_linker_signed() => Kind::Untrusted,
        _ => classify(sig, v.chain.as_ref()),
    };
    v
}

fn verify_cms_and_chain(sig: &SliceSignature<'_>, opts: &VerifyOptions) -> SliceVerdict {
    let mut problems = Vec::new();
    let mut verdict = SliceVerdict {
        problems: Vec::new(),
        chain: None,
        timestamp: None,
        judged_at: None,
        kind: Kind::Adhoc,
    };
    match &sig.cms {
        Some(Err(e)) => problems.push(Problem::new("cms-unreadable", e.to_string())),
        None if !sig.primary.is_adhoc() && !sig.primary.is_linker_signed() => {
            problems.push(Problem::new(
                "cms-missing",
                if sig.cms_present {
                    "the CodeDirectory is not ad-hoc but the CMS signature is empty"
                } else {
                    "the CodeDirectory is not ad-hoc but there is no CMS signature"
                },
            ))
        }
        None => {}
        Some(Ok(cms)) => {
            check_cms(cms, sig, &mut problems);
            // The timestamp, when it verifies, fixes the time the chain is judged at.
            let mut ts_time = None;
            if let Some(ts) = &cms.timestamp {
                match &ts.problem {
                    Some(p) => problems.push(Problem::new("timestamp", p.clone())),
                    None => {
                        if let (Some(t), Some(tsd)) = (ts.time, &ts.signed_data) {
                            let tsa_certs: Vec<_> = tsd.certificates().cloned().collect();
                            let tsa_leaf = tsd.signers().next().and_then(|s| {
                                let (issuer, serial) = s.certificate_issuer_and_serial()?;
                                tsa_certs
                                    .iter()
                                    .find(|c| {
                                        c.issuer_name() == issuer
                                            && c.serial_number_asn1() == serial
                                    })
                                    .cloned()
                            });
                            match tsa_leaf {
                                None => problems.push(Problem::new(
                                    "timestamp",
                                    "the time-stamp signer's certificate is not in the token",
                                )),
                                Some(leaf) => {
                                    let c = build_chain(
                                        &leaf,
                                        &tsa_certs,
                                        &opts.anchors,
                                        t,
                                        Purpose::TimeStamping,
                                    );
                                    // The token's time is adopted only from an authority
                                    // whose chain is clean and ends at a trusted anchor: a
                                    // time vouched for by anyone else would decide which
                                    // certificates count as expired. Implicit anchors are a
                                    // rule of code validity only; macOS evaluates the
                                    // authority with its time-stamping trust policy.
                                    if c.problems.is_empty() && c.anchor.is_some() {
                                        ts_time = Some(t);
                                    } else if c.implicit_anchor {
                                        let root = c.certs.last().map(super::trust::describe);
                                        problems.push(Problem::new(
                                            "timestamp-chain",
                                            format!(
                                                "time-stamp authority: chain ends at the self-signed \"{}\", which is not a trusted anchor; its time is not used",
                                                root.unwrap_or_default()
                                            ),
                                        ));
                                    }
                                    for (_, m) in c.problems {
                                        problems.push(Problem::new(
                                            "timestamp-chain",
                                            format!("time-stamp authority: {m}"),
                                        ));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            verdict.timestamp = ts_time;
            let at = ts_time.or(opts.at).unwrap_or_else(Utc::now);
            verdict.judged_at = Some(at);
            match cms.signer_certificate() {
                None => problems.push(Problem::new(
                    "cms-signer-certificate",
                    "the certificate named by the CMS signer is not in the signature",
                )),
                Some(leaf) => {
                    let chain = build_chain(
                        leaf,
                        &cms.certificates,
                        &opts.anchors,
                        at,
                        Purpose::CodeSigning,
                    );
                    for (code, m) in &chain.problems {
                        if ts_time.is_none() && *code == CERTIFICATE_VALIDITY {
                            // Without a timestamp macOS retries the evaluation allowing
                            // expired certificates (CSSM_TP_ACTION_ALLOW_EXPIRED): validity
                            // dates alone never make such a signature invalid.
                            continue;
                        }
                        problems.push(Problem::new(code, m.clone()));
                    }
                    verdict.chain = Some(chain);
                }
            }
        }
    }
    verdict.problems = problems;
    verdict
}
