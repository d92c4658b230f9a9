//! `bless_with_authorization`: install from an app, as SMJobBless does, with the user's
//! authorization instead of `sudo` (macOS only).
//!
//! Mechanism:
//! 1. Authorization Services (`AuthorizationCreate` with `kAuthorizationFlagInteractionAllowed |
//!    ExtendRights | PreAuthorize`) obtains the right `com.apple.ServiceManagement.blesshelper`
//!    — the right SMJobBless itself demands, so the same policy and the same admin prompt apply —
//!    together with `system.privilege.admin`, the right `AuthorizationExecuteWithPrivileges`
//!    checks before it starts a tool as root.
//! 2. `AuthorizationExecuteWithPrivileges` starts the smbless command-line tool shipped inside
//!    the app (`Contents/MacOS/smbless`, `Contents/Helpers/smbless` or
//!    `Contents/Resources/smbless`) as root with `bless APP LABEL --json`, and reads its JSON
//!    report from the pipe.
//! 3. The privileged side trusts nothing from the caller: it is the ordinary `smbless bless`,
//!    which takes the lock, checks the contract, compares versions, copies, re-verifies the copy
//!    and installs exactly as it does under `sudo`. The caller only learns the outcome.
//!
//! `AuthorizationExecuteWithPrivileges` is deprecated by Apple but still present; it is the only
//! public way to run a tool as root after an authorization prompt without first installing a
//! helper (which is the very thing being done here). The tool it starts is sealed by the app's
//! signature; ship the app where only admins can write (`/Applications`).

use std::io::Read;
use std::path::{Path, PathBuf};

use security_framework::authorization::{Authorization, AuthorizationItemSetBuilder, Flags};
use thiserror::Error;

/// The right SMJobBless requires (`kSMRightBlessPrivilegedHelper`).
pub const BLESS_RIGHT: &str = "com.apple.ServiceManagement.blesshelper";
/// The right `AuthorizationExecuteWithPrivileges` requires.
pub const EXECUTE_RIGHT: &str = "system.privilege.admin";
/// Where in an app the smbless tool is looked for, in order.
pub const TOOL_LOCATIONS: &[&str] = &[
    "Contents/MacOS/smbless",
    "Contents/Helpers/smbless",
    "Contents/Resources/smbless",
];
/// The most output read back from the privileged tool.
const MAX_REPORT: u64 = 4 * 1024 * 1024;

/// Why an authorized bless could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuthorizedBlessError {
    /// The app ships no smbless tool.
    #[error("{app}: no smbless tool at {}; ship it in the app or call `bless_with_authorization_using`", TOOL_LOCATIONS.join(", "))]
    ToolMissing {
        /// The app.
        app: PathBuf,
    },
    /// The user declined or the right was denied.
    #[error("authorization for {BLESS_RIGHT} was not granted: {0}")]
    NotAuthorized(security_framework::base::Error),
    /// The tool could not be started.
    #[error("{tool}: could not start as root: {source}")]
    Execute {
        /// The tool.
        tool: PathBuf,
        /// Why.
        source: security_framework::base::Error,
    },
    /// The tool's report could not be read.
    #[error("{tool}: unreadable report: {reason}")]
    Report {
        /// The tool.
        tool: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The privileged tool's JSON report (`smbless bless --json`).
#[derive(Debug, Clone)]
pub struct AuthorizedBless {
    /// Whether the helper is installed at the bundled or a newer version (`installed` or
    /// `no-change`).
    pub ok: bool,
    /// The report as the tool printed it.
    pub report: serde_json::Value,
}

/// Install `label` from `app` with the user's authorization, using the smbless tool shipped in
/// the app.
pub fn bless_with_authorization(
    app: &Path,
    label: &str,
) -> Result<AuthorizedBless, AuthorizedBlessError> {
    let tool = TOOL_LOCATIONS
        .iter()
        .map(|rel| app.join(rel))
        .find(|p| p.is_file())
        .ok_or_else(|| AuthorizedBlessError::ToolMissing {
            app: app.to_path_buf(),
        })?;
    bless_with_authorization_using(&tool, app, label)
}

/// Install `label` from `app` with the user's authorization, running `tool` (an smbless
/// executable) as root.
pub fn bless_with_authorization_using(
    tool: &Path,
    app: &Path,
    label: &str,
) -> Result<AuthorizedBless, AuthorizedBlessError> {
    let rights = AuthorizationItemSetBuilder::new()
        .add_right(BLESS_RIGHT)
        .and_then(|b| b.add_right(EXECUTE_RIGHT))
        .map_err(AuthorizedBlessError::NotAuthorized)?
        .build();
    let auth = Authorization::new(
        Some(rights),
        None,
        Flags::INTERACTION_ALLOWED | Flags::EXTEND_RIGHTS | Flags::PREAUTHORIZE,
    )
    .map_err(AuthorizedBlessError::NotAuthorized)?;
    let args = [
        std::ffi::OsStr::new("bless"),
        app.as_os_str(),
        std::ffi::OsStr::new(label),
        std::ffi::OsStr::new("--json"),
    ];
    let pipe = auth
        .execute_with_privileges_piped(tool, args, Flags::DEFAULTS)
        .map_err(|source| AuthorizedBlessError::Execute {
            tool: tool.to_path_buf(),
            source,
        })?;
    let mut out = Vec::new();
    pipe.take(MAX_REPORT)
        .read_to_end(&mut out)
        .map_err(|e| AuthorizedBlessError::Report {
            tool: tool.to_path_buf(),
            reason: e.to_string(),
        })?;
    let report: serde_json::Value =
        serde_json::from_slice(&out).map_err(|e| AuthorizedBlessError::Report {
            tool: tool.to_path_buf(),
            reason: e.to_string(),
        })?;
    let ok = report
        .get("ok")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    Ok(AuthorizedBless { ok, report })
}
