//! The app↔helper contract of SMJobBless, checked completely and explained: every check of
//! Apple's SMJobBlessUtil.py and of the undocumented rules SMJobBless enforces, with real
//! requirement evaluation in both directions.

pub mod app_service;
pub mod findings;
mod helper_plists;
mod jobs;
pub mod lint;
mod migration;
mod services;
pub mod setreq;
mod upgrade;
mod verify;

pub use findings::{Finding, FindingId, Severity};
pub use jobs::{JobSummary, Mechanism, LOGIN_ITEMS_DIR};
pub use upgrade::verify_upgrade;
pub use verify::{verify, AppSummary, ContractError, HelperSummary, Report, VerifyOptions};
