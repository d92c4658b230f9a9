//! The error codes of `SMErrors.h`, and which of smbless's findings explains each.
//!
//! SMJobBless returns them in `CFErrorDomainLaunchd` (`kSMErrorDomainLaunchd`), SMAppService in
//! `SMAppServiceErrorDomain`; a failure is a bare number ("CFErrorDomainLaunchd error 4") unless
//! something has looked at the bundle. [`explain_job_bless`] matches a code against the findings
//! of smbless's contract check ([`crate::contract::verify`]), [`explain_app_service`] against
//! the SMAppService pre-flight ([`super::preflight`]).

use serde::Serialize;

use super::preflight::{PreflightFinding, PreflightId};
use crate::contract::{Finding, FindingId};

/// The domain an `NSError`/`CFError` came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorDomain {
    /// `kSMErrorDomainLaunchd` (`CFErrorDomainLaunchd`): SMJobBless and launchd; codes of `SMErrors.h`.
    Launchd,
    /// `kSMErrorDomainFramework`: ServiceManagement itself; codes of `SMErrors.h`.
    Framework,
    /// `kSMErrorDomainIPC`: talking to `smd` failed; codes of `SMErrors.h`.
    Ipc,
    /// `SMAppServiceErrorDomain`: SMAppService; codes of `SMErrors.h`.
    AppService,
    /// `NSPOSIXErrorDomain`: an errno (SMAppService's "Operation not permitted" is `EPERM`, 1).
    Posix,
    /// `NSOSStatusErrorDomain`: an `OSStatus`.
    OsStatus,
    /// Any other domain, by name.
    Other(String),
}

impl ErrorDomain {
    /// The domain with this name when it is one of the public, fixed names (`NSPOSIXErrorDomain`,
    /// `NSOSStatusErrorDomain`, `CFErrorDomainLaunchd`); ServiceManagement's other domains are
    /// recognised by comparing with the framework's own constants (see `crate::macos`).
    pub fn from_name(name: &str) -> ErrorDomain {
        match name {
            "CFErrorDomainLaunchd" => ErrorDomain::Launchd,
            "NSPOSIXErrorDomain" => ErrorDomain::Posix,
            "NSOSStatusErrorDomain" => ErrorDomain::OsStatus,
            other => ErrorDomain::Other(other.to_owned()),
        }
    }

    /// Whether this domain's codes are those of `SMErrors.h`.
    pub fn uses_sm_codes(&self) -> bool {
        matches!(
            self,
            ErrorDomain::Launchd
                | ErrorDomain::Framework
                | ErrorDomain::Ipc
                | ErrorDomain::AppService
        )
    }
}

/// An error as a ServiceManagement call returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceError {
    /// Its domain.
    pub domain: ErrorDomain,
    /// Its code.
    pub code: i64,
    /// The framework's own description (`localizedDescription`), for the record.
    pub description: String,
}

macro_rules! sm_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal, $name:literal;)*) => {
        /// The documented codes of `SMErrors.h`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub enum SmErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl SmErrorCode {
            /// Every documented code, in numeric order.
            pub const ALL: &'static [SmErrorCode] = &[$(SmErrorCode::$variant,)*];

            /// The code with this number, if documented.
            pub fn from_code(code: i64) -> Option<SmErrorCode> {
                match code {
                    $($code => Some(SmErrorCode::$variant),)*
                    _ => None,
                }
            }

            /// Its number.
            pub fn code(self) -> i64 {
                match self {
                    $(SmErrorCode::$variant => $code,)*
                }
            }

            /// Its name in `SMErrors.h`.
            pub fn name(self) -> &'static str {
                match self {
                    $(SmErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

sm_codes! {
    /// An internal failure; from SMJobBless in practice also "a job of that label is already
    /// loaded at the same version".
    InternalFailure = 2, "kSMErrorInternalFailure";
    /// The app's or the tool's code signature is not valid.
    InvalidSignature = 3, "kSMErrorInvalidSignature";
    /// Authorization failed; from SMJobBless in practice nearly any signing or requirement
    /// mismatch between app and helper.
    AuthorizationFailure = 4, "kSMErrorAuthorizationFailure";
    /// The tool is not valid (not a signed Mach-O executable with the plists it needs).
    ToolNotValid = 5, "kSMErrorToolNotValid";
    /// No job of that label.
    JobNotFound = 6, "kSMErrorJobNotFound";
    /// The service (launchd, `smd`) is not available.
    ServiceUnavailable = 7, "kSMErrorServiceUnavailable";
    /// The job's plist was not found.
    JobPlistNotFound = 8, "kSMErrorJobPlistNotFound";
    /// The job is on launchd's disabled list and must be enabled first.
    JobMustBeEnabled = 9, "kSMErrorJobMustBeEnabled";
    /// The job's plist is not valid.
    InvalidPlist = 10, "kSMErrorInvalidPlist";
    /// The user turned the job off in System Settings › General › Login Items.
    LaunchDeniedByUser = 11, "kSMErrorLaunchDeniedByUser";
    /// The job is already registered.
    AlreadyRegistered = 12, "kSMErrorAlreadyRegistered";
}

impl SmErrorCode {
    /// What the code means, in one sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            SmErrorCode::InternalFailure => "an internal failure; SMJobBless also returns it when a job of that label is already loaded and the bundled version is not newer",
            SmErrorCode::InvalidSignature => "the code signature of the app or of the helper is not valid",
            SmErrorCode::AuthorizationFailure => "authorization failed: for SMJobBless this is nearly always a mismatch between the app's SMPrivilegedExecutables, the helper's SMAuthorizedClients and the actual signatures",
            SmErrorCode::ToolNotValid => "the helper is not a valid tool: a signed Mach-O executable with an embedded Info.plist",
            SmErrorCode::JobNotFound => "no job of that label: the label is not one the app declares, or nothing of that name is registered",
            SmErrorCode::ServiceUnavailable => "launchd or smd did not answer",
            SmErrorCode::JobPlistNotFound => "the job's launchd plist was not found",
            SmErrorCode::JobMustBeEnabled => "the job is on launchd's disabled list",
            SmErrorCode::InvalidPlist => "the job's plist is not valid",
            SmErrorCode::LaunchDeniedByUser => "the user turned the job off in System Settings › General › Login Items",
            SmErrorCode::AlreadyRegistered => "the job is already registered",
        }
    }

    /// The contract findings that make SMJobBless return this code.
    pub fn job_bless_causes(self) -> &'static [FindingId] {
        use FindingId as F;
        match self {
            SmErrorCode::InternalFailure => &[
                F::VersionNotNewer,
                F::LabelMismatch,
                F::BundleIdentifierMismatch,
            ],
            SmErrorCode::InvalidSignature => &[
                F::AppSignatureInvalid,
                F::HelperSignatureInvalid,
                F::AdhocSignature,
                F::SlicesDisagree,
            ],
            SmErrorCode::AuthorizationFailure => &[
                F::HelperRequirementUnsatisfied,
                F::ClientRequirementUnsatisfied,
                F::InstalledClientRequirementUnsatisfied,
                F::RequirementSyntax,
                F::PrivilegedExecutablesMissing,
                F::AuthorizedClientsMissing,
                F::AppSignatureInvalid,
                F::HelperSignatureInvalid,
            ],
            SmErrorCode::ToolNotValid => &[
                F::HelperNotFile,
                F::HelperSignatureInvalid,
                F::InfoPlistMissing,
                F::BundleIdentifierMismatch,
                F::InfoDictionaryVersion,
                F::BundleVersionInvalid,
                F::SlicesDisagree,
            ],
            SmErrorCode::JobNotFound => &[
                F::PrivilegedExecutablesMissing,
                F::PrivilegedExecutablesMismatch,
                F::HelperDirMissing,
                F::NoHelpers,
            ],
            SmErrorCode::JobPlistNotFound => &[
                F::LaunchdPlistMissing,
                F::HelperDirMissing,
                F::NoHelpers,
                F::HelperNotFile,
            ],
            SmErrorCode::InvalidPlist => &[
                F::LaunchdPlistMissing,
                F::LabelMismatch,
                F::InfoPlistMissing,
                F::InfoDictionaryVersion,
            ],
            SmErrorCode::ServiceUnavailable
            | SmErrorCode::JobMustBeEnabled
            | SmErrorCode::LaunchDeniedByUser
            | SmErrorCode::AlreadyRegistered => &[],
        }
    }

    /// The pre-flight findings that make SMAppService return this code.
    pub fn app_service_causes(self) -> &'static [PreflightId] {
        use PreflightId as P;
        match self {
            SmErrorCode::InvalidSignature | SmErrorCode::AuthorizationFailure => {
                &[P::ProgramUnsigned, P::ProgramSignatureInvalid]
            }
            SmErrorCode::ToolNotValid => &[
                P::ProgramNotFound,
                P::ProgramNotFile,
                P::ProgramOutsideBundle,
                P::ProgramUnsigned,
            ],
            SmErrorCode::JobPlistNotFound => &[P::PlistMissing, P::PlistNameInvalid],
            SmErrorCode::InvalidPlist => &[
                P::PlistUnreadable,
                P::LabelMissing,
                P::LabelMismatch,
                P::ProgramMissing,
                P::ProgramOutsideBundle,
            ],
            SmErrorCode::InternalFailure
            | SmErrorCode::JobNotFound
            | SmErrorCode::ServiceUnavailable
            | SmErrorCode::JobMustBeEnabled
            | SmErrorCode::LaunchDeniedByUser
            | SmErrorCode::AlreadyRegistered => &[],
        }
    }

    /// What to do when no finding explains the code.
    fn hint(self, label: &str) -> String {
        match self {
            SmErrorCode::InternalFailure => format!("run `smbless status {label}`: when the installed helper's version equals the bundled one, bump CFBundleVersion in the helper's embedded Info.plist"),
            SmErrorCode::InvalidSignature => "re-sign the app after its last modification (`codesign --verify --deep --strict` must pass), with a Developer ID or Apple Development identity".to_owned(),
            SmErrorCode::AuthorizationFailure => "run `smbless verify APP --root /`: it evaluates both requirements against the real signatures and names the clause that fails".to_owned(),
            SmErrorCode::ToolNotValid => "the helper must be a signed Mach-O executable whose embedded Info.plist has CFBundleIdentifier = the label".to_owned(),
            SmErrorCode::JobNotFound => format!("declare {label} in the app's SMPrivilegedExecutables (or register the plist before unregistering it)"),
            SmErrorCode::ServiceUnavailable => "try again; if it persists, restart the Mac (launchd or smd is not answering)".to_owned(),
            SmErrorCode::JobPlistNotFound => "embed the launchd plist in the helper (__TEXT,__launchd_plist), or for SMAppService ship it in Contents/Library/LaunchDaemons".to_owned(),
            SmErrorCode::JobMustBeEnabled => format!("enable the job: `sudo launchctl enable system/{label}`, then try again"),
            SmErrorCode::InvalidPlist => "the plist must be a dictionary with a Label equal to the label (and, for SMAppService, a BundleProgram)".to_owned(),
            SmErrorCode::LaunchDeniedByUser => "ask the user to turn the item on in System Settings › General › Login Items (the app can open that pane)".to_owned(),
            SmErrorCode::AlreadyRegistered => "nothing to do: read the status to see whether it is enabled or awaits approval".to_owned(),
        }
    }
}

/// A finding that explains an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// The finding's stable id.
    pub id: &'static str,
    /// What it says.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// An error, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The error as returned.
    pub error: ServiceError,
    /// Its `SMErrors.h` name, when the domain and code are documented.
    pub name: Option<&'static str>,
    /// What the code means.
    pub meaning: String,
    /// The findings that can cause this code (ids), whether or not present.
    pub possible_causes: Vec<&'static str>,
    /// The findings of the check that do explain it, in the order found.
    pub causes: Vec<Cause>,
    /// What to do.
    pub hint: String,
}

impl Explanation {
    /// Whether a finding of the check explains the error.
    pub fn is_explained(&self) -> bool {
        !self.causes.is_empty()
    }
}

fn no_cause_hint(possible: &[&'static str], fallback: String) -> String {
    if possible.is_empty() {
        fallback
    } else {
        format!(
            "smbless's check found none of its usual causes ({}); {fallback}",
            possible.join(", ")
        )
    }
}

/// Explain an SMJobBless failure for `label` from the findings of the contract check of the
/// calling app ([`crate::contract::verify`] on the running app's bundle).
pub fn explain_job_bless(error: &ServiceError, findings: &[Finding], label: &str) -> Explanation {
    let Some(code) = sm_code(error) else {
        return unknown(error);
    };
    let ids = code.job_bless_causes();
    let causes = findings
        .iter()
        .filter(|f| ids.contains(&f.id))
        .map(|f| Cause::of(f.id.as_str(), &f.message, &f.hint))
        .collect();
    let possible = ids.iter().map(|id| id.as_str()).collect();
    explained(error, code, possible, causes, label)
}

/// Explain an SMAppService failure for the daemon plist `plist_name` from the pre-flight
/// findings of the running app's bundle.
pub fn explain_app_service(
    error: &ServiceError,
    findings: &[PreflightFinding],
    plist_name: &str,
) -> Explanation {
    if error.domain == ErrorDomain::Posix && error.code == 1 {
        return Explanation {
            error: error.clone(),
            name: Some("EPERM"),
            meaning: "Operation not permitted: the system has not allowed this app to run the daemon yet".to_owned(),
            possible_causes: Vec::new(),
            causes: Vec::new(),
            hint: format!("the user must approve {plist_name} in System Settings › General › Login Items (open it with `open_login_items_settings`); a build signed ad hoc or not notarised for distribution can never be approved"),
        };
    }
    let Some(code) = sm_code(error) else {
        return unknown(error);
    };
    let label = plist_name.strip_suffix(".plist").unwrap_or(plist_name);
    let ids = code.app_service_causes();
    let causes = findings
        .iter()
        .filter(|f| ids.contains(&f.id))
        .map(|f| Cause::of(f.id.as_str(), &f.message, &f.hint))
        .collect();
    let possible = ids.iter().map(|id| id.as_str()).collect();
    explained(error, code, possible, causes, label)
}

/// The documented `SMErrors.h` code of `error`, when its domain uses them.
fn sm_code(error: &ServiceError) -> Option<SmErrorCode> {
    error
        .domain
        .uses_sm_codes()
        .then(|| SmErrorCode::from_code(error.code))
        .flatten()
}

impl Cause {
    fn of(id: &'static str, message: &str, hint: &str) -> Cause {
        Cause {
            id,
            message: message.to_owned(),
            hint: hint.to_owned(),
        }
    }
}

/// The explanation of a documented `code`: the findings present that cause it lead, else the
/// list of what could.
fn explained(
    error: &ServiceError,
    code: SmErrorCode,
    possible: Vec<&'static str>,
    causes: Vec<Cause>,
    label: &str,
) -> Explanation {
    let hint = match causes.first() {
        Some(c) => c.hint.clone(),
        None => no_cause_hint(&possible, code.hint(label)),
    };
    Explanation {
        error: error.clone(),
        name: Some(code.name()),
        meaning: code.meaning().to_owned(),
        possible_causes: possible,
        causes,
        hint,
    }
}

fn unknown(error: &ServiceError) -> Explanation {
    Explanation {
        error: error.clone(),
        name: None,
        meaning: format!("an undocumented error: {}", error.description),
        possible_causes: Vec::new(),
        causes: Vec::new(),
        hint: "run `smbless verify` on the app and report the error with its output".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launchd(code: i64) -> ServiceError {
        ServiceError {
            domain: ErrorDomain::Launchd,
            code,
            description: format!(
                "The operation couldn’t be completed. (CFErrorDomainLaunchd error {code}.)"
            ),
        }
    }

    fn finding(id: FindingId) -> Finding {
        Finding::new(
            id,
            "/Applications/X.app",
            format!("{id} happened"),
            format!("fix {id}"),
        )
    }

    #[test]
    fn every_documented_code_has_a_name_a_meaning_and_a_hint() {
        assert_eq!(SmErrorCode::ALL.len(), 11);
        for (i, code) in SmErrorCode::ALL.iter().enumerate() {
            assert_eq!(code.code(), i as i64 + 2);
            assert_eq!(SmErrorCode::from_code(code.code()), Some(*code));
            assert!(code.name().starts_with("kSMError"));
            assert!(!code.meaning().is_empty());
            assert!(!code.hint("L").is_empty());
        }
        assert_eq!(SmErrorCode::from_code(1), None);
        assert_eq!(SmErrorCode::from_code(13), None);
    }

    #[test]
    fn every_mapped_finding_explains_its_code() {
        for code in SmErrorCode::ALL {
            let error = launchd(code.code());
            for id in code.job_bless_causes() {
                let e = explain_job_bless(&error, &[finding(*id)], "L");
                assert_eq!(e.causes.len(), 1, "{code:?} / {id}");
                assert_eq!(e.causes[0].id, id.as_str());
                assert_eq!(e.hint, format!("fix {id}"));
            }
            let error = ServiceError {
                domain: ErrorDomain::AppService,
                ..error
            };
            for id in code.app_service_causes() {
                let f = PreflightFinding::new(*id, "p", "m", "h");
                let e = explain_app_service(&error, &[f], "L.plist");
                assert_eq!(e.causes[0].id, id.as_str(), "{code:?}");
            }
        }
    }

    #[test]
    fn error_4_is_explained_by_the_unsatisfied_client_requirement() {
        let findings = [
            finding(FindingId::NoTeamPinning),
            finding(FindingId::ClientRequirementUnsatisfied),
        ];
        let e = explain_job_bless(&launchd(4), &findings, "com.example.helper");
        assert_eq!(e.name, Some("kSMErrorAuthorizationFailure"));
        assert!(e.is_explained());
        assert_eq!(
            e.causes.len(),
            1,
            "only findings that cause error 4: {:?}",
            e.causes
        );
        assert_eq!(e.causes[0].id, "client-requirement-unsatisfied");
        assert_eq!(e.hint, "fix client-requirement-unsatisfied");
        assert!(e
            .possible_causes
            .contains(&"installed-client-requirement-unsatisfied"));
    }

    #[test]
    fn error_2_points_at_an_unchanged_version() {
        let e = explain_job_bless(&launchd(2), &[finding(FindingId::VersionNotNewer)], "L");
        assert_eq!(e.causes[0].id, "version-not-newer");
    }

    #[test]
    fn error_8_points_at_the_missing_launchd_plist() {
        let e = explain_job_bless(&launchd(8), &[finding(FindingId::LaunchdPlistMissing)], "L");
        assert_eq!(e.name, Some("kSMErrorJobPlistNotFound"));
        assert_eq!(e.causes[0].id, "launchd-plist-missing");
    }

    #[test]
    fn error_9_without_findings_says_how_to_enable_the_job() {
        let e = explain_job_bless(&launchd(9), &[], "com.example.helper");
        assert!(!e.is_explained());
        assert!(e.possible_causes.is_empty());
        assert_eq!(
            e.hint,
            "enable the job: `sudo launchctl enable system/com.example.helper`, then try again"
        );
    }

    #[test]
    fn unexplained_error_lists_what_was_ruled_out() {
        let e = explain_job_bless(&launchd(3), &[finding(FindingId::NoTeamPinning)], "L");
        assert!(!e.is_explained());
        assert!(e.hint.starts_with("smbless's check found none of its usual causes (app-signature-invalid, helper-signature-invalid"), "{}", e.hint);
    }

    #[test]
    fn every_job_bless_cause_is_an_error_or_the_version_warning() {
        for code in SmErrorCode::ALL {
            for id in code.job_bless_causes() {
                assert!(
                    id.severity() == crate::contract::Severity::Error
                        || matches!(id, FindingId::VersionNotNewer | FindingId::AdhocSignature),
                    "{code:?} → {id}"
                );
            }
        }
    }

    #[test]
    fn codes_outside_sm_domains_are_not_misread() {
        let posix = ServiceError {
            domain: ErrorDomain::Posix,
            code: 4,
            description: "Interrupted system call".into(),
        };
        let e = explain_job_bless(
            &posix,
            &[finding(FindingId::ClientRequirementUnsatisfied)],
            "L",
        );
        assert_eq!(e.name, None);
        assert!(e.causes.is_empty());
        assert!(e.meaning.contains("Interrupted system call"));
    }

    #[test]
    fn app_service_eperm_means_approval() {
        let eperm = ServiceError {
            domain: ErrorDomain::Posix,
            code: 1,
            description: "Operation not permitted".into(),
        };
        let e = explain_app_service(&eperm, &[], "com.example.helper.plist");
        assert_eq!(e.name, Some("EPERM"));
        assert!(e.hint.contains("Login Items"));
    }

    #[test]
    fn app_service_invalid_signature_points_at_the_unsigned_program() {
        let f = PreflightFinding::new(
            PreflightId::ProgramUnsigned,
            "/A.app/Contents/MacOS/d",
            "ad hoc",
            "sign it",
        );
        let err = ServiceError {
            domain: ErrorDomain::AppService,
            code: 3,
            description: String::new(),
        };
        let e = explain_app_service(&err, &[f], "d.plist");
        assert_eq!(e.causes[0].id, "bundle-program-unsigned");
        assert_eq!(e.hint, "sign it");
    }

    #[test]
    fn domain_names() {
        assert_eq!(
            ErrorDomain::from_name("CFErrorDomainLaunchd"),
            ErrorDomain::Launchd
        );
        assert_eq!(
            ErrorDomain::from_name("NSPOSIXErrorDomain"),
            ErrorDomain::Posix
        );
        assert_eq!(ErrorDomain::from_name("X"), ErrorDomain::Other("X".into()));
        assert!(!ErrorDomain::Posix.uses_sm_codes());
    }
}
