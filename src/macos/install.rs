//! One call for an app's first run: SMAppService on macOS 13+, SMJobBless before, unless the
//! caller chooses; the result names the route taken.

use std::path::Path;

use serde::Serialize;

use super::{app_service, ffi, job_bless};
use crate::service_management::{
    available, choose_route, InstallerError, Preference, Route, RouteChoice,
};

/// What [`install`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Installation {
    /// The route taken and why.
    pub route: RouteChoice,
    /// Its result.
    pub outcome: InstallOutcome,
}

/// The result of the route taken.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "route")]
pub enum InstallOutcome {
    /// SMAppService registered the daemon (enabled, or awaiting the user's approval).
    #[serde(rename = "smappservice")]
    AppService(app_service::Registration),
    /// SMJobBless installed the helper.
    #[serde(rename = "smjobbless")]
    JobBless(job_bless::JobBlessReport),
}

impl Installation {
    /// Which installer was used.
    pub fn route(&self) -> Route {
        self.route.route
    }
}

/// Install the helper `label` of `app` — which must be the running app — with the installer
/// [`choose_route`] picks for this macOS version, the `preference` and what the app ships.
pub fn install(
    app: &Path,
    label: &str,
    preference: Preference,
) -> Result<Installation, InstallerError> {
    let running = ffi::main_bundle_path();
    let same = match (std::fs::canonicalize(app), std::fs::canonicalize(&running)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        return Err(InstallerError::NotTheRunningApp {
            app: app.to_path_buf(),
            running,
        });
    }
    let choice = choose_route(ffi::os_version(), preference, label, &available(app, label))?;
    let outcome = match (&choice.route, &choice.plist_name) {
        (Route::AppService, Some(plist)) => {
            InstallOutcome::AppService(app_service::register_daemon(plist)?)
        }
        (Route::AppService, None) => {
            return Err(InstallerError::Route(
                crate::service_management::route::RouteError::AppServiceNotShipped {
                    label: label.to_owned(),
                },
            ))
        }
        (Route::JobBless, _) => InstallOutcome::JobBless(job_bless::bless_job(label)?),
    };
    Ok(Installation {
        route: choice,
        outcome,
    })
}
