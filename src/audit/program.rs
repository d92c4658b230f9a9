//! A job's program, read once through the root's handles and judged: signature (bounded work
//! unless `deep`), architectures, embedded plists, the client-check heuristic.

use std::path::Path;

use plist::Dictionary;
use serde::Serialize;

use super::client_check::{self, ClientCheck};
use super::walk::{self, Owner};
use crate::codesign::{self, Examination, ExamineOptions, Kind, VerifyOptions};
use crate::container::Container;
use crate::install::dir::Dir;
use crate::install::MAX_HELPER_SIZE;
use crate::plists;

/// How a program is signed, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureSummary {
    /// The first slice's kind (`developer-id`, `adhoc`, `unsigned`, …).
    pub kind: Kind,
    /// What its chain ends at (`apple`, `anchor`, `self-signed`, `none`).
    pub trust: codesign::trust::Trust,
    /// Whether every slice's signature is valid (CMS and chain; page hashes with `--deep`).
    pub valid: bool,
    /// The signing identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// The team, when a certificate names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The architectures, in file order.
    pub architectures: Vec<String>,
}

/// What was learnt from a program file.
pub struct Program {
    /// Owner and mode of the file.
    pub owner: Owner,
    /// The examination (`None` when the file is not a container).
    pub exam: Examination,
    /// The embedded Info.plist of the first slice.
    pub info: Option<Dictionary>,
    /// The embedded launchd plist of the first slice.
    pub launchd: Option<Dictionary>,
    /// The client-check heuristic over its imports and selectors.
    pub client_check: ClientCheck,
}

impl Program {
    /// The report's signature summary.
    pub fn summary(&self) -> SignatureSummary {
        let first = self.exam.slices.first();
        SignatureSummary {
            kind: first.map_or(Kind::Unsigned, |s| s.kind),
            trust: first.map_or(codesign::trust::Trust::None, |s| s.trust),
            valid: self.exam.is_valid(),
            identifier: first.and_then(|s| s.identifier.clone()),
            team: self.team(),
            architectures: self.exam.slices.iter().map(|s| s.arch.clone()).collect(),
        }
    }

    /// The first team any slice names.
    pub fn team(&self) -> Option<String> {
        self.exam.slices.iter().find_map(|s| s.team_id.clone())
    }

    /// The designated requirement in Apple's text form.
    pub fn designated_requirement(&self) -> Option<String> {
        let first = self.exam.slices.first()?;
        codesign::designated_requirement_text(first, &self.exam.slices)
    }

    /// `CFBundleVersion` of the embedded Info.plist.
    pub fn version(&self) -> Option<String> {
        self.info
            .as_ref()?
            .get("CFBundleVersion")?
            .as_string()
            .map(str::to_string)
    }

    /// Whether every slice is x86_64 (nothing runs natively on Apple silicon).
    pub fn x86_64_only(&self) -> bool {
        !self.exam.slices.is_empty()
            && self
                .exam
                .slices
                .iter()
                .all(|s| s.arch.starts_with("x86_64") || s.arch == "i386")
    }
}

/// How the signature is judged.
pub struct Judging<'a> {
    /// Trust anchors and time.
    pub verify: &'a VerifyOptions,
    /// Hash every page too (`--deep`); otherwise only the CMS binding and chain.
    pub deep: bool,
}

/// Read and examine the file `name` in `dir`, shown as `shown`.
pub fn read(dir: &Dir, name: &str, shown: &str, judging: &Judging<'_>) -> Result<Program, String> {
    let file = walk::read(dir, name, MAX_HELPER_SIZE)?;
    examine(shown, &file.bytes, file.owner, judging)
}

/// Examine program bytes read once.
pub fn examine(
    shown: &str,
    bytes: &[u8],
    owner: Owner,
    judging: &Judging<'_>,
) -> Result<Program, String> {
    let container = Container::parse(bytes).map_err(|e| format!("not a Mach-O file: {e}"))?;
    let opts = ExamineOptions {
        verify: judging.verify.clone(),
        integrity: judging.deep,
        arch: None,
    };
    let exam = codesign::examine_bytes(Path::new(shown), bytes, &opts)
        .map_err(|e| format!("cannot examine: {e}"))?;
    let embedded = plists::embedded_all(&container).map_err(|e| e.to_string());
    let first = embedded.as_ref().ok().and_then(|e| e.first());
    let info = first
        .and_then(|p| p.info.as_ref())
        .map(|p| p.dictionary().clone());
    let launchd = first
        .and_then(|p| p.launchd.as_ref())
        .map(|p| p.dictionary().clone());
    Ok(Program {
        owner,
        exam,
        info,
        launchd,
        client_check: client_check::judge(&container),
    })
}
