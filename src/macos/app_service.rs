//! SMAppService daemons of the running app: register (after the pre-flight check), unregister,
//! status, and the System Settings pane where the user approves them.

use serde::Serialize;

use super::ffi;
use crate::codesign::VerifyOptions;
use crate::service_management::{
    check_daemon, explain_app_service, interpret_register, DaemonStatus, InstallerError, Preflight,
    PreflightOptions, RegisterVerdict,
};

/// A daemon registered (or already registered) with SMAppService.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    /// The plist name.
    pub plist_name: String,
    /// Its `Label`.
    pub label: Option<String>,
    /// `Enabled`, or `RequiresApproval` — then tell the user and offer
    /// [`open_login_items_settings`].
    pub status: DaemonStatus,
    /// The pre-flight check that ran before registering.
    pub preflight: Preflight,
}

impl Registration {
    /// Whether the user still has to approve the daemon in System Settings.
    pub fn requires_approval(&self) -> bool {
        self.status == DaemonStatus::RequiresApproval
    }
}

/// The status of the running app's daemon `plist_name`.
pub fn daemon_status(plist_name: &str) -> DaemonStatus {
    DaemonStatus::from_raw(ffi::daemon_status(plist_name))
}

/// Open System Settings › General › Login Items, where the user approves daemons.
pub fn open_login_items_settings() {
    ffi::open_login_items();
}

/// Register the running app's daemon `plist_name` (`Contents/Library/LaunchDaemons/NAME`),
/// checking it first against Apple's roots; see [`register_daemon_with`].
pub fn register_daemon(plist_name: &str) -> Result<Registration, InstallerError> {
    let options = PreflightOptions {
        signature: VerifyOptions::apple().map_err(|e| InstallerError::Trust(e.to_string()))?,
        label: None,
    };
    register_daemon_with(plist_name, &options)
}

/// Register the running app's daemon `plist_name`: run the pre-flight check on the app's own
/// bundle (refusing without calling SMAppService when it finds a problem), call `register()`,
/// read the status, and judge the two together. `RequiresApproval` is a success to be shown to
/// the user, not an error.
pub fn register_daemon_with(
    plist_name: &str,
    options: &PreflightOptions,
) -> Result<Registration, InstallerError> {
    let bundle = ffi::main_bundle_path();
    let preflight = check_daemon(&bundle, plist_name, options);
    if !preflight.ok() {
        return Err(InstallerError::Preflight(Box::new(preflight)));
    }
    let result = ffi::daemon_register(plist_name);
    let status = daemon_status(plist_name);
    match interpret_register(result.as_ref().err(), status) {
        RegisterVerdict::Enabled | RegisterVerdict::RequiresApproval => Ok(Registration {
            plist_name: plist_name.to_owned(),
            label: preflight.label.clone(),
            status: if status == DaemonStatus::Enabled {
                status
            } else {
                DaemonStatus::RequiresApproval
            },
            preflight,
        }),
        RegisterVerdict::Failed => {
            let error = result
                .err()
                .unwrap_or_else(|| crate::service_management::ServiceError {
                    domain: crate::service_management::ErrorDomain::AppService,
                    code: 0,
                    description: format!(
                        "register() succeeded but the status is {}",
                        status.as_str()
                    ),
                });
            Err(InstallerError::AppService {
                action: "register",
                plist_name: plist_name.to_owned(),
                explanation: Box::new(explain_app_service(&error, &preflight.findings, plist_name)),
            })
        }
    }
}

/// Unregister the running app's daemon `plist_name`; returns the status afterwards
/// (`NotRegistered` when done). Unregistering a daemon that is not registered is not an error.
pub fn unregister_daemon(plist_name: &str) -> Result<DaemonStatus, InstallerError> {
    match ffi::daemon_unregister(plist_name) {
        Ok(()) => Ok(daemon_status(plist_name)),
        Err(error) => {
            let status = daemon_status(plist_name);
            if status == DaemonStatus::NotRegistered {
                return Ok(status);
            }
            Err(InstallerError::AppService {
                action: "unregister",
                plist_name: plist_name.to_owned(),
                explanation: Box::new(explain_app_service(&error, &[], plist_name)),
            })
        }
    }
}
