//! The one error type of the macOS installer routes (`crate::macos`). Every variant says
//! which check or call failed and, where smbless can tell, why — with finding ids.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::authorization::AuthorizationOutcome;
use super::codes::{ErrorDomain, Explanation};
use super::confirm::Confirmation;
use super::preflight::Preflight;
use super::route::RouteError;
use crate::contract::{Report, Severity};

/// Why an SMAppService or SMJobBless install did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallerError {
    /// The pre-flight check found the daemon unregistrable; SMAppService was not called.
    #[error("{}", preflight_text(.0))]
    Preflight(Box<Preflight>),
    /// smbless's contract check found errors; SMJobBless was not called.
    #[error("{}", contract_text(.0))]
    Contract(Box<Report>),
    /// The contract check could not run.
    #[error("contract check: {0}")]
    ContractUnavailable(String),
    /// Apple's trust anchors could not be loaded.
    #[error("trust anchors: {0}")]
    Trust(String),
    /// The administrator prompt did not grant the right.
    #[error("{}", .0.message())]
    Authorization(AuthorizationOutcome),
    /// SMJobBless failed.
    #[error("SMJobBless of {label} failed: {}", explanation_text(.explanation))]
    JobBless {
        /// The label.
        label: String,
        /// The error, explained.
        explanation: Box<Explanation>,
    },
    /// SMJobBless reported success but the installed helper is not the bundled one.
    #[error("SMJobBless reported success for {label}, but {}", confirmation_text(.confirmation))]
    NotConfirmed {
        /// The label.
        label: String,
        /// What is installed.
        confirmation: Confirmation,
    },
    /// SMAppService failed.
    #[error("SMAppService {action} of {plist_name} failed: {}", explanation_text(.explanation))]
    AppService {
        /// `register` or `unregister`.
        action: &'static str,
        /// The plist name.
        plist_name: String,
        /// The error, explained.
        explanation: Box<Explanation>,
    },
    /// No route fits.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// SMAppService and SMJobBless act for the running app only.
    #[error("{app}: not the running app ({running}); SMAppService and SMJobBless install only from the calling app's own bundle, which the system identifies from the kernel")]
    NotTheRunningApp {
        /// The app asked for.
        app: PathBuf,
        /// The running app's bundle.
        running: PathBuf,
    },
}

fn preflight_text(p: &Preflight) -> String {
    let mut s = format!(
        "{}: SMAppService would refuse this daemon; not registered:",
        p.plist.display()
    );
    for f in &p.findings {
        let _ = write!(
            s,
            "\n  [{}] {}: {}\n    hint: {}",
            f.id, f.path, f.message, f.hint
        );
    }
    s
}

fn contract_text(r: &Report) -> String {
    let mut s = format!(
        "{}: SMJobBless would refuse this app (smbless verify found {} error(s)); not called:",
        r.app.path,
        r.count(Severity::Error)
    );
    for f in r.findings.iter().filter(|f| f.severity == Severity::Error) {
        let _ = write!(
            s,
            "\n  [{}] {}: {}\n    hint: {}",
            f.id, f.path, f.message, f.hint
        );
    }
    s
}

fn explanation_text(e: &Explanation) -> String {
    let domain = match &e.error.domain {
        ErrorDomain::Launchd => "CFErrorDomainLaunchd".to_owned(),
        ErrorDomain::Framework => "kSMErrorDomainFramework".to_owned(),
        ErrorDomain::Ipc => "kSMErrorDomainIPC".to_owned(),
        ErrorDomain::AppService => "SMAppServiceErrorDomain".to_owned(),
        ErrorDomain::Posix => "NSPOSIXErrorDomain".to_owned(),
        ErrorDomain::OsStatus => "NSOSStatusErrorDomain".to_owned(),
        ErrorDomain::Other(name) => name.clone(),
    };
    let mut s = format!("{domain} error {}", e.error.code);
    if let Some(name) = e.name {
        let _ = write!(s, " ({name})");
    }
    let _ = write!(s, ": {}", e.meaning);
    for c in &e.causes {
        let _ = write!(s, "\n  because [{}] {}", c.id, c.message);
    }
    let _ = write!(s, "\n  hint: {}", e.hint);
    s
}

fn confirmation_text(c: &Confirmation) -> String {
    match c {
        Confirmation::Stale { installed, bundled } => format!(
            "the installed helper is still {installed} (bundled {bundled}): bump the bundled CFBundleVersion or remove the old helper"
        ),
        Confirmation::Missing => "no helper is installed at /Library/PrivilegedHelperTools".to_owned(),
        Confirmation::Unreadable => "the installed helper's version cannot be read".to_owned(),
        Confirmation::Current { version } => format!("the installed helper is {version}"),
        Confirmation::NewerInstalled { installed, .. } => {
            format!("a newer helper ({installed}) is installed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Finding, FindingId};
    use crate::service_management::codes::{explain_job_bless, ServiceError};
    use crate::service_management::preflight::{PreflightFinding, PreflightId};

    #[test]
    fn a_job_bless_failure_names_the_code_and_the_finding() {
        let error = ServiceError {
            domain: ErrorDomain::Launchd,
            code: 4,
            description: String::new(),
        };
        let finding = Finding::new(
            FindingId::ClientRequirementUnsatisfied,
            "X.app",
            "the app satisfies none",
            "fix the requirement",
        );
        let explanation = explain_job_bless(&error, &[finding], "com.example.helper");
        let text = InstallerError::JobBless {
            label: "com.example.helper".into(),
            explanation: Box::new(explanation),
        }
        .to_string();
        assert!(text.starts_with("SMJobBless of com.example.helper failed: CFErrorDomainLaunchd error 4 (kSMErrorAuthorizationFailure)"), "{text}");
        assert!(
            text.contains("because [client-requirement-unsatisfied] the app satisfies none"),
            "{text}"
        );
        assert!(text.contains("hint: fix the requirement"), "{text}");
    }

    #[test]
    fn a_preflight_refusal_lists_every_finding() {
        let p = Preflight {
            bundle: "/A.app".into(),
            plist: "/A.app/Contents/Library/LaunchDaemons/d.plist".into(),
            label: None,
            program: None,
            program_identifier: None,
            program_team: None,
            findings: vec![
                PreflightFinding::new(PreflightId::LabelMissing, "p", "no label", "add it"),
                PreflightFinding::new(PreflightId::ProgramMissing, "p", "no program", "add it"),
            ],
        };
        let text = InstallerError::Preflight(Box::new(p)).to_string();
        assert!(
            text.contains("[daemon-label-missing] p: no label"),
            "{text}"
        );
        assert!(
            text.contains("[bundle-program-missing] p: no program"),
            "{text}"
        );
    }

    #[test]
    fn a_stale_install_is_not_success() {
        let text = InstallerError::NotConfirmed {
            label: "L".into(),
            confirmation: Confirmation::Stale {
                installed: "1.0".into(),
                bundled: "1.1".into(),
            },
        }
        .to_string();
        assert!(text.contains("still 1.0 (bundled 1.1)"), "{text}");
    }
}
