//! SMAppService's status values, what to show the user for each, and what a registration
//! attempt came to.

use serde::Serialize;

use super::codes::{ErrorDomain, ServiceError, SmErrorCode};

/// `SMAppService.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaemonStatus {
    /// 0: not registered (never, or unregistered).
    NotRegistered,
    /// 1: registered and allowed to run.
    Enabled,
    /// 2: registered; the user must allow it in System Settings › General › Login Items.
    RequiresApproval,
    /// 3: the plist or program was not found (the app moved, or the name is wrong).
    NotFound,
    /// A value this version of smbless does not know.
    Unknown(i64),
}

/// What the app should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NextStep {
    /// Nothing: the daemon can be used.
    Nothing,
    /// Register it.
    Register,
    /// Show the approval message with a button that opens Login Items settings.
    ApproveInSettings,
    /// The bundle is broken: report it (a build problem, not a user problem).
    FixBundle,
}

impl DaemonStatus {
    /// From `SMAppService.status`'s raw value.
    pub fn from_raw(raw: i64) -> DaemonStatus {
        match raw {
            0 => DaemonStatus::NotRegistered,
            1 => DaemonStatus::Enabled,
            2 => DaemonStatus::RequiresApproval,
            3 => DaemonStatus::NotFound,
            other => DaemonStatus::Unknown(other),
        }
    }

    /// `not-registered`, `enabled`, `requires-approval`, `not-found` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonStatus::NotRegistered => "not-registered",
            DaemonStatus::Enabled => "enabled",
            DaemonStatus::RequiresApproval => "requires-approval",
            DaemonStatus::NotFound => "not-found",
            DaemonStatus::Unknown(_) => "unknown",
        }
    }

    /// What the app should do next.
    pub fn next_step(self) -> NextStep {
        match self {
            DaemonStatus::Enabled => NextStep::Nothing,
            DaemonStatus::NotRegistered => NextStep::Register,
            DaemonStatus::RequiresApproval => NextStep::ApproveInSettings,
            DaemonStatus::NotFound | DaemonStatus::Unknown(_) => NextStep::FixBundle,
        }
    }

    /// What to tell the user, in one or two sentences.
    pub fn message(self, app_name: &str) -> String {
        match self {
            DaemonStatus::Enabled => format!("{app_name}'s helper is installed and allowed to run."),
            DaemonStatus::NotRegistered => format!("{app_name}'s helper is not installed yet."),
            DaemonStatus::RequiresApproval => format!(
                "{app_name} needs your approval to run its helper. Open System Settings › General › \
                 Login Items and turn on {app_name} under “Allow in the Background”."
            ),
            DaemonStatus::NotFound => format!(
                "{app_name}'s helper could not be found inside the app. Reinstall {app_name} in \
                 /Applications; if that does not help, the app is damaged."
            ),
            DaemonStatus::Unknown(raw) => {
                format!("{app_name}'s helper is in a state this version does not know ({raw}).")
            }
        }
    }
}

/// What a `register()` attempt came to, read together with the status afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegisterVerdict {
    /// Registered and enabled (now or already).
    Enabled,
    /// Registered; waiting for the user's approval in System Settings.
    RequiresApproval,
    /// Failed: explain the error.
    Failed,
}

/// Judge a registration from its error (if any) and the status read right after.
///
/// SMAppService reports "needs approval" in several ways: success with status
/// `requiresApproval`, `EPERM` ("Operation not permitted"), or `kSMErrorLaunchDeniedByUser`
/// when the user had turned it off. "Already registered" is success when the status says so.
pub fn interpret_register(error: Option<&ServiceError>, status: DaemonStatus) -> RegisterVerdict {
    let code = error.and_then(|e| {
        if e.domain.uses_sm_codes() {
            SmErrorCode::from_code(e.code)
        } else {
            None
        }
    });
    let eperm = error.is_some_and(|e| e.domain == ErrorDomain::Posix && e.code == 1);
    let benign = error.is_none() || code == Some(SmErrorCode::AlreadyRegistered);
    let approval = eperm || code == Some(SmErrorCode::LaunchDeniedByUser);
    match status {
        DaemonStatus::Enabled if benign => RegisterVerdict::Enabled,
        DaemonStatus::RequiresApproval if benign || approval => RegisterVerdict::RequiresApproval,
        _ if approval => RegisterVerdict::RequiresApproval,
        _ => RegisterVerdict::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(domain: ErrorDomain, code: i64) -> ServiceError {
        ServiceError {
            domain,
            code,
            description: String::new(),
        }
    }

    #[test]
    fn raw_values_are_apples() {
        assert_eq!(DaemonStatus::from_raw(0), DaemonStatus::NotRegistered);
        assert_eq!(DaemonStatus::from_raw(1), DaemonStatus::Enabled);
        assert_eq!(DaemonStatus::from_raw(2), DaemonStatus::RequiresApproval);
        assert_eq!(DaemonStatus::from_raw(3), DaemonStatus::NotFound);
        assert_eq!(DaemonStatus::from_raw(7), DaemonStatus::Unknown(7));
    }

    #[test]
    fn each_status_says_what_to_do() {
        assert_eq!(DaemonStatus::Enabled.next_step(), NextStep::Nothing);
        assert_eq!(DaemonStatus::NotRegistered.next_step(), NextStep::Register);
        assert_eq!(
            DaemonStatus::RequiresApproval.next_step(),
            NextStep::ApproveInSettings
        );
        assert_eq!(DaemonStatus::NotFound.next_step(), NextStep::FixBundle);
        assert!(DaemonStatus::RequiresApproval
            .message("Example")
            .contains("Login Items"));
    }

    #[test]
    fn registration_outcomes() {
        use DaemonStatus as S;
        use RegisterVerdict as V;
        let eperm = err(ErrorDomain::Posix, 1);
        let already = err(ErrorDomain::AppService, 12);
        let denied = err(ErrorDomain::AppService, 11);
        let bad_sig = err(ErrorDomain::AppService, 3);
        assert_eq!(interpret_register(None, S::Enabled), V::Enabled);
        assert_eq!(
            interpret_register(None, S::RequiresApproval),
            V::RequiresApproval
        );
        assert_eq!(interpret_register(Some(&already), S::Enabled), V::Enabled);
        assert_eq!(
            interpret_register(Some(&already), S::RequiresApproval),
            V::RequiresApproval
        );
        assert_eq!(
            interpret_register(Some(&eperm), S::RequiresApproval),
            V::RequiresApproval
        );
        assert_eq!(
            interpret_register(Some(&denied), S::NotRegistered),
            V::RequiresApproval
        );
        assert_eq!(
            interpret_register(Some(&bad_sig), S::NotRegistered),
            V::Failed
        );
        assert_eq!(interpret_register(Some(&bad_sig), S::Enabled), V::Failed);
        assert_eq!(interpret_register(None, S::NotFound), V::Failed);
        assert_eq!(interpret_register(None, S::NotRegistered), V::Failed);
    }
}
