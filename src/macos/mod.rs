//! macOS's own installers for a privileged helper, called from the app that ships it:
//!
//! - **SMAppService** (macOS 13+): [`register_daemon`], [`unregister_daemon`],
//!   [`daemon_status`], [`open_login_items_settings`]. The daemon's plist stays in the app
//!   (`Contents/Library/LaunchDaemons/NAME.plist`, with `BundleProgram`); the user approves it
//!   in System Settings. Before registering, the plist and its program are checked
//!   ([`crate::service_management::preflight`]) so a refusal is explained by finding ids.
//! - **SMJobBless** (deprecated in 13, still working): [`bless_job`] obtains the right
//!   `com.apple.ServiceManagement.blesshelper` (the administrator prompt), runs smbless's
//!   contract check on the running app first, calls `SMJobBless(kSMDomainSystemLaunchd, …)`,
//!   explains a failure code with the finding that causes it, and then reads the installed
//!   helper's version to confirm the install took.
//! - [`install`]: either, chosen by macOS version and the caller's [`Preference`].
//!
//! Both act for the **running app only**: the system daemon (`smd`) identifies the caller from
//! the kernel, copies or registers from that app's bundle, and checks it — nothing here runs a
//! file as root. Decisions (routes, explanations, pre-flight, status) are the plain functions of
//! [`crate::service_management`]; this module only calls Apple's frameworks ([`mod@ffi`] holds
//! every `unsafe` call).
//!
//! [`Preference`]: crate::service_management::Preference

mod app_service;
pub(crate) mod ffi;
mod install;
mod job_bless;

pub use app_service::{
    daemon_status, open_login_items_settings, register_daemon, register_daemon_with,
    unregister_daemon, Registration,
};
pub use install::{install, InstallOutcome, Installation};
pub use job_bless::{bless_job, bless_job_with, JobBlessOptions, JobBlessReport};

/// The running app's bundle (`NSBundle.mainBundle.bundlePath`).
pub fn main_bundle() -> std::path::PathBuf {
    ffi::main_bundle_path()
}

/// The running macOS version (`NSProcessInfo.operatingSystemVersion`).
pub fn os_version() -> crate::service_management::OsVersion {
    ffi::os_version()
}
