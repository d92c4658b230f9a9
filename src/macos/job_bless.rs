//! SMJobBless from the running app: the contract check first, then the administrator prompt,
//! the call, an explained failure, and a look at what was actually installed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ffi;
use crate::codesign::VerifyOptions as SignatureOptions;
use crate::contract::{self, Finding, Severity, VerifyOptions};
use crate::install::{self, InstalledAt, PredictOptions};
use crate::service_management::{
    confirm::SMJOBBLESS_HELPER_DIR, confirm_installed, explain_job_bless, AuthorizationOutcome,
    Confirmation, InstalledVersion, InstallerError, BLESS_RIGHT,
};
use crate::version::BundleVersion;

/// Options of [`bless_job_with`].
#[derive(Clone)]
pub struct JobBlessOptions {
    /// Trust anchors and time for the contract check.
    pub signature: SignatureOptions,
    /// Call SMJobBless even when smbless's contract check finds errors (the findings are then
    /// only used to explain a failure).
    pub call_despite_findings: bool,
}

impl JobBlessOptions {
    /// Apple's roots; refuse before calling when the contract check finds an error.
    pub fn apple() -> Result<JobBlessOptions, InstallerError> {
        Ok(JobBlessOptions {
            signature: SignatureOptions::apple()
                .map_err(|e| InstallerError::Trust(e.to_string()))?,
            call_despite_findings: false,
        })
    }
}

/// A helper blessed by SMJobBless.
#[derive(Debug, Clone, Serialize)]
pub struct JobBlessReport {
    /// The label.
    pub label: String,
    /// The running app that blessed it.
    pub app: PathBuf,
    /// The installed helper.
    pub installed_path: PathBuf,
    /// The installed helper compared with the bundled one (`Current` or `NewerInstalled`).
    pub confirmation: Confirmation,
    /// Warnings and notes of the contract check (errors stop the bless).
    pub findings: Vec<Finding>,
}

/// Bless the running app's helper `label` with Apple's roots; see [`bless_job_with`].
pub fn bless_job(label: &str) -> Result<JobBlessReport, InstallerError> {
    bless_job_with(label, &JobBlessOptions::apple()?)
}

/// Bless the running app's helper `label`:
/// 1. check the SMJobBless contract of the running app's bundle with smbless (both
///    requirements evaluated, installed helper compared); errors stop here with finding ids;
/// 2. obtain `com.apple.ServiceManagement.blesshelper` (the administrator prompt);
/// 3. `SMJobBless(kSMDomainSystemLaunchd, label, auth)`; a failure code is explained by the
///    finding of step 1 that causes it;
/// 4. read `/Library/PrivilegedHelperTools/LABEL` and compare its version with the bundled one:
///    "success" with an older helper still installed is reported as an error.
pub fn bless_job_with(
    label: &str,
    options: &JobBlessOptions,
) -> Result<JobBlessReport, InstallerError> {
    let app = ffi::main_bundle_path();
    let verify = VerifyOptions {
        label: Some(label.to_owned()),
        signature: options.signature.clone(),
        strict: false,
    };
    let mut report = contract::verify(&app, &verify)
        .map_err(|e| InstallerError::ContractUnavailable(e.to_string()))?;
    // The same prediction `smbless bless --dry-run` and `verify --root /` make.
    let trust = install::ContractTrust::new(options.signature.clone());
    let predict = PredictOptions {
        service: &install::NoServiceManager,
        trust: &trust,
        policy: install::Policy::default(),
    };
    install::attach_predictions(
        &mut report,
        &app,
        &InstalledAt::Root(PathBuf::from("/")),
        &predict,
    )
    .map_err(|e| InstallerError::ContractUnavailable(e.to_string()))?;
    if !report.ok && !options.call_despite_findings {
        return Err(InstallerError::Contract(Box::new(report)));
    }
    let auth = ffi::authorize(BLESS_RIGHT).map_err(|status| {
        InstallerError::Authorization(AuthorizationOutcome::from_status(status))
    })?;
    if let Err(error) = ffi::job_bless(label, &auth) {
        return Err(InstallerError::JobBless {
            label: label.to_owned(),
            explanation: Box::new(explain_job_bless(&error, &report.findings, label)),
        });
    }
    drop(auth);
    let installed_path = Path::new(SMJOBBLESS_HELPER_DIR).join(label);
    let bundled = report
        .helpers
        .iter()
        .find(|h| h.label == label)
        .and_then(|h| h.version.as_deref())
        .and_then(|v| BundleVersion::parse(v).ok());
    let installed_version = installed_version(&installed_path);
    let state = match (
        &installed_version,
        std::fs::symlink_metadata(&installed_path),
    ) {
        (Some(v), _) => InstalledVersion::Version(v),
        (None, Ok(_)) => InstalledVersion::Unreadable,
        (None, Err(_)) => InstalledVersion::Absent,
    };
    let confirmation = match &bundled {
        Some(bundled) => confirm_installed(bundled, state),
        None => Confirmation::Unreadable,
    };
    if !confirmation.is_confirmed() {
        return Err(InstallerError::NotConfirmed {
            label: label.to_owned(),
            confirmation,
        });
    }
    Ok(JobBlessReport {
        label: label.to_owned(),
        app,
        installed_path,
        confirmation,
        findings: report
            .findings
            .into_iter()
            .filter(|f| f.severity < Severity::Error)
            .collect(),
    })
}

/// The `CFBundleVersion` of the helper installed at `path`, read without following a link.
fn installed_version(path: &Path) -> Option<BundleVersion> {
    let dir = install::dir::Dir::open_path(path.parent()?).ok()?;
    let name = path.file_name()?.to_str()?;
    match install::installed::read_helper(&dir, name) {
        Ok(Some(Ok(helper))) => helper.facts.version().ok(),
        _ => None,
    }
}
