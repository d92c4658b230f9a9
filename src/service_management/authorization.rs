//! Authorization Services results, in words: SMJobBless needs the right
//! [`BLESS_RIGHT`], which `AuthorizationCopyRights` obtains by showing the administrator prompt.

use serde::Serialize;

/// The right SMJobBless requires (`kSMRightBlessPrivilegedHelper`).
pub const BLESS_RIGHT: &str = "com.apple.ServiceManagement.blesshelper";

/// What an `AuthorizationCopyRights` status (an `OSStatus` of `Authorization.h`) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthorizationOutcome {
    /// `errAuthorizationSuccess` (0): the right is held.
    Granted,
    /// `errAuthorizationCanceled` (-60006): the user pressed Cancel.
    Canceled,
    /// `errAuthorizationDenied` (-60005): wrong password, or the user is not an administrator.
    Denied,
    /// `errAuthorizationInteractionNotAllowed` (-60007): no prompt could be shown (no GUI
    /// session, e.g. over ssh or from a daemon).
    InteractionNotAllowed,
    /// Any other status: an internal failure of Authorization Services.
    Failed(i32),
}

impl AuthorizationOutcome {
    /// Classify a status returned by `AuthorizationCreate` or `AuthorizationCopyRights`.
    pub fn from_status(status: i32) -> AuthorizationOutcome {
        match status {
            0 => AuthorizationOutcome::Granted,
            -60006 => AuthorizationOutcome::Canceled,
            -60005 => AuthorizationOutcome::Denied,
            -60007 => AuthorizationOutcome::InteractionNotAllowed,
            other => AuthorizationOutcome::Failed(other),
        }
    }

    /// One sentence for the user.
    pub fn message(self) -> String {
        match self {
            AuthorizationOutcome::Granted => format!("the right {BLESS_RIGHT} was granted"),
            AuthorizationOutcome::Canceled => {
                "the administrator prompt was cancelled; nothing was installed".to_owned()
            }
            AuthorizationOutcome::Denied => format!(
                "the right {BLESS_RIGHT} was denied: the name and password must be an administrator's"
            ),
            AuthorizationOutcome::InteractionNotAllowed => format!(
                "the right {BLESS_RIGHT} needs an administrator prompt and none can be shown here \
                 (no logged-in GUI session); run the app in the user's session, or install with \
                 `sudo smbless bless` from a package's postinstall script"
            ),
            AuthorizationOutcome::Failed(status) => format!(
                "Authorization Services failed with status {status} while obtaining {BLESS_RIGHT}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_of_authorization_h_are_classified() {
        assert_eq!(
            AuthorizationOutcome::from_status(0),
            AuthorizationOutcome::Granted
        );
        assert_eq!(
            AuthorizationOutcome::from_status(-60006),
            AuthorizationOutcome::Canceled
        );
        assert_eq!(
            AuthorizationOutcome::from_status(-60005),
            AuthorizationOutcome::Denied
        );
        assert_eq!(
            AuthorizationOutcome::from_status(-60007),
            AuthorizationOutcome::InteractionNotAllowed
        );
        assert_eq!(
            AuthorizationOutcome::from_status(-60008),
            AuthorizationOutcome::Failed(-60008)
        );
    }

    #[test]
    fn messages_name_the_right_and_the_way_out() {
        assert!(AuthorizationOutcome::Denied.message().contains(BLESS_RIGHT));
        assert!(AuthorizationOutcome::InteractionNotAllowed
            .message()
            .contains("sudo smbless bless"));
        assert!(AuthorizationOutcome::Failed(-60008)
            .message()
            .contains("-60008"));
    }
}
