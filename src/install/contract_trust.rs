//! The real [`TrustCheck`]: signatures verified by [`crate::codesign`], requirements compiled and
//! evaluated by [`crate::requirement`], the contract checked by [`crate::contract`].
//!
//! Every call examines the file afresh (integrity included: every page, special slot, the CMS
//! binding and the chain), so an answer is about the bytes on disk at that moment — which is
//! why bless asks it about the copy in the destination directory rather than the source.

use std::path::Path;

use crate::codesign::{self, examine, Examination, ExamineOptions};
use crate::contract::{self, Installed, Severity};
use crate::requirement::{evaluate, parse_requirement, Requirement};

use super::trust::{TrustCheck, TrustError, Verdict};

/// Trust decisions by smbless's own signature verification and requirement evaluation.
#[derive(Clone)]
pub struct ContractTrust {
    signature: codesign::VerifyOptions,
}

impl ContractTrust {
    /// Judge signatures with these anchors and time (Apple's roots plus any `--anchor`).
    pub fn new(signature: codesign::VerifyOptions) -> ContractTrust {
        ContractTrust { signature }
    }

    fn examine(&self, path: &Path) -> Result<Examination, TrustError> {
        let opts = ExamineOptions {
            verify: self.signature.clone(),
            integrity: true,
            arch: None,
        };
        Ok(examine(path, &opts)?)
    }
}

/// Whether every slice of `ex` satisfies `req`; the reasons of the slices that do not.
fn unsatisfied(req: &Requirement, ex: &Examination) -> Vec<String> {
    if ex.slices.is_empty() {
        return vec![format!("{}: no signed slice", ex.path.display())];
    }
    let mut reasons = Vec::new();
    for slice in &ex.slices {
        let evaluation = evaluate(req, slice);
        if evaluation.satisfied {
            continue;
        }
        let why = evaluation.reason();
        reasons.push(format!("{} [{}]: {why}", ex.path.display(), slice.arch));
    }
    reasons
}

fn signature_problems(ex: &Examination) -> Vec<String> {
    ex.all_problems()
        .into_iter()
        .map(|p| format!("{}: {p}", ex.path.display()))
        .collect()
}

impl TrustCheck for ContractTrust {
    fn check_contract(&self, app: &Path, label: &str) -> Result<Verdict, TrustError> {
        let report = contract::verify(
            app,
            &contract::VerifyOptions {
                label: Some(label.to_owned()),
                signature: self.signature.clone(),
                strict: false,
                installed: Installed::NotChecked,
            },
        )?;
        let errors: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("[{}] {}: {}", f.id.as_str(), f.path, f.message))
            .collect();
        Ok(if errors.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail(errors)
        })
    }

    fn code_satisfies(&self, path: &Path, requirement: &str) -> Result<Verdict, TrustError> {
        let ex = self.examine(path)?;
        if !ex.is_valid() {
            return Ok(Verdict::Fail(signature_problems(&ex)));
        }
        let req = match parse_requirement(requirement) {
            Ok(r) => r,
            Err(e) => {
                return Ok(Verdict::Fail(vec![format!(
                    "requirement {requirement:?} does not compile: {e}"
                )]))
            }
        };
        let reasons = unsatisfied(&req, &ex);
        Ok(if reasons.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail(reasons)
        })
    }

    fn app_satisfies_any(
        &self,
        app: &Path,
        requirements: &[String],
        sealed: Option<(&str, &str)>,
    ) -> Result<Verdict, TrustError> {
        let ex = self.examine(app)?;
        if !ex.is_valid() {
            return Ok(Verdict::Fail(signature_problems(&ex)));
        }
        if let Some((label, requirement)) = sealed {
            let mismatched: Vec<String> = ex
                .slices
                .iter()
                .filter(|s| {
                    let entry = s
                        .info_plist
                        .as_ref()
                        .and_then(|d| d.get("SMPrivilegedExecutables"))
                        .and_then(|v| v.as_dictionary())
                        .and_then(|d| d.get(label))
                        .and_then(|v| v.as_string());
                    entry != Some(requirement)
                })
                .map(|s| {
                    format!(
                        "{} [{}]: the signed Info.plist's SMPrivilegedExecutables[{label}] is not the requirement the helper was checked against ({requirement:?})",
                        ex.path.display(),
                        s.arch
                    )
                })
                .collect();
            if !mismatched.is_empty() || ex.slices.is_empty() {
                return Ok(Verdict::Fail(if mismatched.is_empty() {
                    vec![format!("{}: no signed slice", ex.path.display())]
                } else {
                    mismatched
                }));
            }
        }
        if requirements.is_empty() {
            return Ok(Verdict::Fail(vec![
                "SMAuthorizedClients is empty: it authorizes no app".into(),
            ]));
        }
        let mut reasons = Vec::new();
        for text in requirements {
            match parse_requirement(text) {
                Ok(req) => {
                    let r = unsatisfied(&req, &ex);
                    if r.is_empty() {
                        return Ok(Verdict::Pass);
                    }
                    reasons.extend(r);
                }
                Err(e) => reasons.push(format!("requirement {text:?} does not compile: {e}")),
            }
        }
        Ok(Verdict::Fail(reasons))
    }

    fn signature_valid(&self, path: &Path) -> Result<Verdict, TrustError> {
        let ex = self.examine(path)?;
        Ok(if ex.is_valid() && !ex.slices.is_empty() {
            Verdict::Pass
        } else if ex.slices.is_empty() {
            Verdict::Fail(vec![format!("{}: not signed", path.display())])
        } else {
            Verdict::Fail(signature_problems(&ex))
        })
    }
}
