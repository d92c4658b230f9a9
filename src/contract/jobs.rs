//! The mechanisms an app uses to run code outside itself, and one entry per job: what the JSON
//! report lists, and what the migration and upgrade comparisons work from.

use std::fs;

use serde::Serialize;

use crate::bundle::{self, Bundle};

use super::app_service::{self, ServiceKind};
use super::verify::{Code, HelperSummary};

/// Where login items ship in an app.
pub const LOGIN_ITEMS_DIR: &str = "Contents/Library/LoginItems";

/// A mechanism by which an app installs or registers code that runs outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// SMJobBless: helpers in `Contents/Library/LaunchServices`, named by `SMPrivilegedExecutables`.
    Smjobbless,
    /// SMAppService daemons: plists in `Contents/Library/LaunchDaemons`.
    SmappserviceDaemon,
    /// SMAppService agents: plists in `Contents/Library/LaunchAgents`.
    SmappserviceAgent,
    /// Login items: bundles in `Contents/Library/LoginItems`.
    LoginItem,
}

impl Mechanism {
    /// The kebab-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Smjobbless => "smjobbless",
            Mechanism::SmappserviceDaemon => "smappservice-daemon",
            Mechanism::SmappserviceAgent => "smappservice-agent",
            Mechanism::LoginItem => "login-item",
        }
    }

    /// The SMAppService mechanism of plists of `kind`.
    pub fn service(kind: ServiceKind) -> Mechanism {
        match kind {
            ServiceKind::Daemon => Mechanism::SmappserviceDaemon,
            ServiceKind::Agent => Mechanism::SmappserviceAgent,
        }
    }
}

/// One job the app carries, of any mechanism.
#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    /// The mechanism.
    pub kind: Mechanism,
    /// The job's label (SMJobBless: the helper's file name; SMAppService: the plist's `Label`;
    /// login item: its `CFBundleIdentifier`), when known.
    pub label: Option<String>,
    /// The job plist in the app (SMAppService only: SMJobBless plists are embedded).
    pub plist: Option<String>,
    /// The executable or bundle that runs.
    pub program: Option<String>,
    /// Its `CFBundleVersion`, when it has one.
    pub version: Option<String>,
    /// Its signing identifier.
    pub identifier: Option<String>,
    /// Its team identifier.
    pub team_id: Option<String>,
    /// Its designated requirement.
    pub designated_requirement: Option<String>,
}

/// What the checks learnt about one job, kept for the migration and upgrade comparisons.
pub(super) struct JobFacts {
    pub(super) kind: Mechanism,
    /// What identifies the job from one build to the next: the label for SMJobBless helpers
    /// and login items, the plist's file name for SMAppService jobs.
    pub(super) key: String,
    pub(super) label: Option<String>,
    pub(super) plist: Option<String>,
    pub(super) program: Option<String>,
    pub(super) version: Option<String>,
    pub(super) code: Option<Code>,
    /// SMJobBless: the helper's `SMAuthorizedClients`.
    pub(super) authorized_clients: Vec<String>,
    /// SMJobBless: the app's `SMPrivilegedExecutables` requirement for the helper.
    pub(super) app_requirement: Option<String>,
}

impl JobFacts {
    pub(super) fn helper(summary: &HelperSummary, code: Option<Code>) -> JobFacts {
        JobFacts {
            kind: Mechanism::Smjobbless,
            key: summary.label.clone(),
            label: Some(summary.label.clone()),
            plist: None,
            program: Some(summary.path.clone()),
            version: summary.version.clone(),
            code,
            authorized_clients: Vec::new(),
            app_requirement: None,
        }
    }

    fn summary(&self) -> JobSummary {
        let (identifier, team) = self
            .code
            .as_ref()
            .map(Code::identity)
            .unwrap_or((None, None));
        JobSummary {
            kind: self.kind,
            label: self.label.clone(),
            plist: self.plist.clone(),
            program: self.program.clone(),
            version: self.version.clone(),
            identifier: identifier.map(str::to_string),
            team_id: team.map(str::to_string),
            designated_requirement: self.code.as_ref().and_then(Code::designated_requirement),
        }
    }
}

/// What the checks learnt about the app.
#[derive(Default)]
pub(super) struct AppFacts {
    pub(super) identifier: Option<String>,
    pub(super) code: Option<Code>,
    pub(super) jobs: Vec<JobFacts>,
}

impl AppFacts {
    pub(super) fn summaries(&self) -> Vec<JobSummary> {
        self.jobs.iter().map(JobFacts::summary).collect()
    }

    /// The jobs of one mechanism.
    pub(super) fn of(&self, kind: Mechanism) -> impl Iterator<Item = &JobFacts> {
        self.jobs.iter().filter(move |j| j.kind == kind)
    }
}

/// The mechanisms `bundle` uses: SMJobBless when it has `Contents/Library/LaunchServices` or
/// `SMPrivilegedExecutables`, SMAppService daemons and agents when their directories hold a
/// `.plist`, login items when `Contents/Library/LoginItems` holds an entry.
pub(super) fn detect_mechanisms(bundle: &Bundle) -> Vec<Mechanism> {
    let mut out = Vec::new();
    let root = bundle.root();
    let blessed = fs::symlink_metadata(root.join(bundle::LAUNCH_SERVICES_DIR)).is_ok()
        || bundle
            .info_plist()
            .dictionary()
            .contains_key("SMPrivilegedExecutables");
    if blessed {
        out.push(Mechanism::Smjobbless);
    }
    for kind in [ServiceKind::Daemon, ServiceKind::Agent] {
        if !app_service::list_plists(root, kind).is_empty() {
            out.push(Mechanism::service(kind));
        }
    }
    if !login_items(bundle).is_empty() {
        out.push(Mechanism::LoginItem);
    }
    out
}

/// The entries of `Contents/Library/LoginItems` (at most [`app_service::MAX_SERVICE_PLISTS`]),
/// sorted, without Finder's `.DS_Store`.
pub(super) fn login_items(bundle: &Bundle) -> Vec<String> {
    let Ok(entries) = fs::read_dir(bundle.root().join(LOGIN_ITEMS_DIR)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .take(app_service::MAX_SERVICE_PLISTS)
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != ".DS_Store")
        .collect();
    names.sort();
    names
}
