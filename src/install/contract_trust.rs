//! The real [`TrustCheck`]: signatures verified by [`crate::codesign`], requirements compiled and
//! evaluated by [`crate::requirement`], the contract checked by [`crate::contract`].
//!
//! [`ContractTrust::judge_app`] examines the app once (integrity included: every page, special
//! slot, the CMS binding, the chain, the resource seal) and keeps that examination for every
//! later question about the app.

use std::path::Path;

use crate::bundle::LAUNCH_SERVICES_DIR;
use crate::codesign::{self, examine, examine_bytes, Examination, ExamineOptions, Kind};
use crate::contract::{self, lint, Severity};
use crate::requirement::{evaluate, parse_requirement, Requirement};

use super::helper::HelperFacts;
use super::trust::{
    AppIdentity, AppJudgement, RequirementFacts, Signing, TrustCheck, TrustError, Verdict,
};

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

    fn options(&self) -> ExamineOptions {
        ExamineOptions {
            verify: self.signature.clone(),
            integrity: true,
            arch: None,
        }
    }
}

/// The reasons the slices of `ex` that do not satisfy `req` give (empty: all satisfy).
fn unsatisfied(req: &Requirement, ex: &Examination) -> Vec<String> {
    if ex.slices.is_empty() {
        return vec![format!("{}: no signed slice", ex.path.display())];
    }
    ex.slices
        .iter()
        .filter_map(|slice| {
            let evaluation = evaluate(req, slice);
            (!evaluation.satisfied).then(|| {
                format!(
                    "{} [{}]: {}",
                    ex.path.display(),
                    slice.arch,
                    evaluation.reason()
                )
            })
        })
        .collect()
}

fn signature_problems(ex: &Examination) -> Vec<String> {
    ex.all_problems()
        .into_iter()
        .map(|p| format!("{}: {p}", ex.path.display()))
        .collect()
}

/// The weakest signing of any slice (unsigned < linker-signed < ad-hoc < certificate).
fn signing(ex: &Examination) -> Signing {
    let of = |k: Kind| match k {
        Kind::Unsigned => Signing::Unsigned,
        Kind::LinkerSigned => Signing::LinkerSigned,
        Kind::Adhoc => Signing::AdHoc,
        _ => Signing::Certificate,
    };
    let rank = |s: Signing| match s {
        Signing::Unsigned => 0,
        Signing::LinkerSigned => 1,
        Signing::AdHoc => 2,
        Signing::Certificate => 3,
    };
    ex.slices
        .iter()
        .map(|s| of(s.kind))
        .min_by_key(|s| rank(*s))
        .unwrap_or(Signing::Unsigned)
}

fn requirement_facts(text: &str) -> RequirementFacts {
    let (anchored, team_pinned) = match parse_requirement(text) {
        Ok(req) => (lint::pins_anchor(&req.expr), lint::pins_team(&req.expr)),
        Err(_) => (false, false),
    };
    RequirementFacts {
        text: text.to_owned(),
        anchored,
        team_pinned,
    }
}

/// The app as examined once: answers requirement questions from memory.
struct ExaminedApp(Examination);

impl AppIdentity for ExaminedApp {
    fn satisfies_any(&self, requirements: &[String]) -> Verdict {
        let ex = &self.0;
        if !ex.is_valid() {
            return Verdict::Fail(signature_problems(ex));
        }
        let mut reasons = Vec::new();
        for text in requirements {
            match parse_requirement(text) {
                Ok(req) => {
                    let r = unsatisfied(&req, ex);
                    if r.is_empty() {
                        return Verdict::Pass;
                    }
                    reasons.extend(r);
                }
                Err(e) => reasons.push(format!("requirement {text:?} does not compile: {e}")),
            }
        }
        Verdict::Fail(reasons)
    }
}

/// `SMPrivilegedExecutables[label]` of the Info.plist the app's signature seals: the same in
/// every slice, or `None`.
fn sealed_requirement(ex: &Examination, label: &str) -> Option<String> {
    let mut found: Option<&str> = None;
    for s in &ex.slices {
        let entry = s
            .info_plist
            .as_ref()?
            .get("SMPrivilegedExecutables")?
            .as_dictionary()?
            .get(label)?
            .as_string()?;
        if found.is_some_and(|f| f != entry) {
            return None;
        }
        found = Some(entry);
    }
    found.map(str::to_owned)
}

fn contract_verdict(
    app: &Path,
    label: &str,
    opts: &codesign::VerifyOptions,
) -> Result<Verdict, TrustError> {
    let report = contract::verify(
        app,
        &contract::VerifyOptions {
            label: Some(label.to_owned()),
            signature: opts.clone(),
            strict: false,
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

impl TrustCheck for ContractTrust {
    fn judge_app(&self, app: &Path, label: &str) -> Result<AppJudgement, TrustError> {
        let contract = contract_verdict(app, label, &self.signature)?;
        let app_ex = examine(app, &self.options())?;
        let helper_path = app.join(LAUNCH_SERVICES_DIR).join(label);
        let (helper_signing, clients) = match examine(&helper_path, &self.options()) {
            Ok(ex) => {
                let clients = std::fs::read(&helper_path)
                    .ok()
                    .and_then(|b| HelperFacts::parse(&helper_path, &b).ok())
                    .and_then(|f| f.authorized_clients().ok())
                    .unwrap_or_default();
                (signing(&ex), clients)
            }
            // The contract names the problem; the policy sees unsigned code.
            Err(_) => (Signing::Unsigned, Vec::new()),
        };
        let requirement = sealed_requirement(&app_ex, label);
        let app_id = app_ex
            .slices
            .first()
            .and_then(|s| s.info_plist.as_ref())
            .and_then(|d| d.get("CFBundleIdentifier"))
            .and_then(|v| v.as_string())
            .map(str::to_owned);
        Ok(AppJudgement {
            contract,
            app_id,
            helper_requirement: requirement.as_deref().map(requirement_facts),
            requirement,
            app_signing: signing(&app_ex),
            helper_signing,
            client_requirements: clients.iter().map(|c| requirement_facts(c)).collect(),
            identity: Box::new(ExaminedApp(app_ex)),
        })
    }

    fn code_satisfies(
        &self,
        name: &Path,
        bytes: &[u8],
        requirement: &str,
    ) -> Result<Verdict, TrustError> {
        let ex = examine_bytes(name, bytes, &self.options())?;
        if !ex.is_valid() || ex.slices.is_empty() {
            return Ok(Verdict::Fail(if ex.slices.is_empty() {
                vec![format!("{}: not signed", name.display())]
            } else {
                signature_problems(&ex)
            }));
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

    fn signature_valid(&self, name: &Path, bytes: &[u8]) -> Result<Verdict, TrustError> {
        let ex = examine_bytes(name, bytes, &self.options())?;
        Ok(if ex.slices.iter().any(|s| s.kind == Kind::Unsigned) {
            Verdict::Fail(vec![format!("{}: not signed", name.display())])
        } else if ex.is_valid() && !ex.slices.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail(signature_problems(&ex))
        })
    }
}
