//! The decisions behind macOS's own installers — SMAppService (macOS 13+) and SMJobBless —
//! made as plain functions that compile and are tested on every OS. The calls into Apple's
//! frameworks live in `crate::macos` (macOS only) and do nothing but call and hand the raw
//! results to this module.
//!
//! - [`codes`]: the documented error codes of `SMErrors.h` (returned in `CFErrorDomainLaunchd`
//!   by SMJobBless and in `SMAppServiceErrorDomain` by SMAppService) and which smbless finding
//!   explains each one;
//! - [`authorization`]: what an Authorization Services status means to the user;
//! - [`route`]: the macOS version, the caller's preference and what the app ships decide
//!   between SMAppService and SMJobBless;
//! - [`preflight`]: the checks of an SMAppService daemon plist against its app bundle, run
//!   before asking the system to register it;
//! - [`status`]: SMAppService's status values, and what a registration attempt came to;
//! - [`confirm`]: after SMJobBless, whether the installed helper is the bundled version;
//! - [`error`]: the one error type of the macOS installer routes.
//!
//! Nothing here runs anything as root or trusts a file for a root decision: the system daemon
//! (`smd`) makes that decision from the calling app's kernel-verified identity. These checks
//! exist to explain, before and after, what the system would otherwise report as a bare number.

pub mod authorization;
pub mod codes;
pub mod confirm;
pub mod error;
pub mod preflight;
pub mod route;
pub mod status;

pub use authorization::{AuthorizationOutcome, BLESS_RIGHT};
pub use codes::{
    explain_app_service, explain_job_bless, Cause, ErrorDomain, Explanation, ServiceError,
    SmErrorCode,
};
pub use confirm::{confirm_installed, Confirmation, InstalledVersion};
pub use error::InstallerError;
pub use preflight::{
    check_daemon, find_daemon_plist, Preflight, PreflightFinding, PreflightId, PreflightOptions,
};
pub use route::{
    available, choose_route, Available, OsVersion, Preference, Route, RouteChoice, RouteError,
};
pub use status::{interpret_register, DaemonStatus, NextStep, RegisterVerdict};
