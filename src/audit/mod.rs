//! `smbless audit`: every privileged helper and launchd job of a system, judged.
//!
//! [`audit`] walks a root (`/` on a live Mac, a mounted disk image, a staged tree on any OS)
//! and reports each job with [`AuditFinding`]s, each a stable id with a hint:
//!
//! - what it enumerates: `Library/LaunchDaemons/*.plist`, `Library/LaunchAgents/*.plist`,
//!   every file of `Library/PrivilegedHelperTools`, and in the apps directories
//!   ([`AuditOptions::apps`]) the SMAppService plists inside app bundles
//!   (`Contents/Library/LaunchDaemons|LaunchAgents`) and SMJobBless helpers still inside apps
//!   (`Contents/Library/LaunchServices`);
//! - what it judges: orphans (a job whose app is gone, a helper no plist runs, a plist whose
//!   program is missing), signatures (unsigned, ad-hoc, invalid, another team than the app,
//!   x86_64-only), weak `SMAuthorizedClients` ([`crate::contract::lint`]), a heuristic for a
//!   helper that checks no client ([`client_check`]), file safety (modes, owners, the
//!   directories on the way), and the launchd key policy shared with `verify`
//!   ([`crate::launchd_policy`]).
//!
//! As root it reads places other users can write, so every file is reached through directory
//! handles ([`walk`]): no symbolic link is followed, no FIFO blocks it, sizes are capped.
//! Work per file is bounded: signatures are judged by their CMS binding and chain; page hashes
//! only with [`AuditOptions::deep`]. Programs on Apple's sealed system volume (`/System`,
//! `/usr` but `/usr/local`, `/bin`, `/sbin`) are Apple's and are not examined; files inside
//! app bundles are not judged for owner and mode (macOS checks the bundle's signature when it
//! launches them).

pub mod apps;
pub mod client_check;
pub mod clients;
pub mod findings;
mod judge;
pub mod program;
pub mod walk;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codesign::VerifyOptions;
pub use client_check::{ClientCheck, Verdict};
pub use findings::{AuditFinding, AuditRule, FindingId, Severity};
pub use program::SignatureSummary;

/// What to audit and how.
#[derive(Clone)]
pub struct AuditOptions {
    /// Trust anchors and time for signatures.
    pub verify: VerifyOptions,
    /// Directories of apps, as the audited system names them (default `/Applications`).
    pub apps: Vec<String>,
    /// Also hash every page of every program (slow on large files).
    pub deep: bool,
}

impl AuditOptions {
    /// `/Applications`, no page hashing.
    pub fn new(verify: VerifyOptions) -> AuditOptions {
        AuditOptions {
            verify,
            apps: vec!["/Applications".to_string()],
            deep: false,
        }
    }
}

/// Where a job was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobSource {
    /// `/Library/LaunchDaemons/*.plist`.
    LaunchDaemon,
    /// `/Library/LaunchAgents/*.plist`.
    LaunchAgent,
    /// A file of `/Library/PrivilegedHelperTools` no daemon plist runs.
    PrivilegedHelper,
    /// An SMAppService daemon (`X.app/Contents/Library/LaunchDaemons/*.plist`).
    SmappserviceDaemon,
    /// An SMAppService agent (`X.app/Contents/Library/LaunchAgents/*.plist`).
    SmappserviceAgent,
    /// An SMJobBless helper inside an app (`X.app/Contents/Library/LaunchServices/*`).
    BundledHelper,
}

impl JobSource {
    /// Whether launchd runs the job as root (daemons and helpers; agents run as a user).
    pub fn runs_as_root(self) -> bool {
        !matches!(self, JobSource::LaunchAgent | JobSource::SmappserviceAgent)
    }
}

/// One job (or helper file) of the audited system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditJob {
    /// The launchd label (a helper's file name when no plist names it).
    pub label: Option<String>,
    /// Where it was found.
    pub source: JobSource,
    /// The launchd plist, as the system names it.
    pub plist: Option<String>,
    /// The program launchd runs.
    pub program: Option<String>,
    /// The app it belongs to, when found.
    pub owner_app: Option<String>,
    /// The app identifiers it names (`AssociatedBundleIdentifiers`, `SMAuthorizedClients`).
    pub owner_ids: Vec<String>,
    /// The program's `CFBundleVersion`.
    pub version: Option<String>,
    /// How the program is signed.
    pub signature: Option<SignatureSummary>,
    /// The program's designated requirement.
    pub designated_requirement: Option<String>,
    /// The program's `SMAuthorizedClients`.
    pub client_requirements: Vec<String>,
    /// The client-check heuristic, for root jobs that clients can reach.
    pub client_check: Option<ClientCheck>,
}

impl AuditJob {
    fn new(source: JobSource, plist: Option<String>) -> AuditJob {
        AuditJob {
            label: None,
            source,
            plist,
            program: None,
            owner_app: None,
            owner_ids: Vec::new(),
            version: None,
            signature: None,
            designated_requirement: None,
            client_requirements: Vec::new(),
            client_check: None,
        }
    }
}

/// Everything the audit found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    /// The root audited.
    pub root: String,
    /// Whether page hashes were checked.
    pub deep: bool,
    /// Every job, in the order found.
    pub jobs: Vec<AuditJob>,
    /// Every finding, in job order.
    pub findings: Vec<AuditFinding>,
    /// What the audit could not read completely, one sentence each: directories that are
    /// there but could not be opened (a symbolic link, no permission), listings cut at
    /// [`walk::MAX_ENTRIES`] entries.
    pub incomplete: Vec<String>,
}

impl AuditReport {
    /// How many findings are at least `severity`.
    pub fn count_at_least(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity >= severity)
            .count()
    }
}

/// The audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The root is not a directory the audit can open (a symbolic link is refused).
    #[error("{path}: cannot audit: {reason}")]
    Root {
        /// The root given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The job directories under a root, and where jobs there come from.
const JOB_DIRS: &[(&str, JobSource)] = &[
    ("Library/LaunchDaemons", JobSource::LaunchDaemon),
    ("Library/LaunchAgents", JobSource::LaunchAgent),
];
const APP_JOB_DIRS: &[(&str, JobSource)] = &[
    ("Library/LaunchDaemons", JobSource::SmappserviceDaemon),
    ("Library/LaunchAgents", JobSource::SmappserviceAgent),
];

/// Audit the system under `root`.
///
/// # Errors
/// [`AuditError::Root`] when `root` cannot be opened as a directory. Everything else the
/// audit meets becomes a finding.
pub fn audit(root: &Path, options: &AuditOptions) -> Result<AuditReport, AuditError> {
    let dir = walk::open_root(root).map_err(|e| AuditError::Root {
        path: root.to_path_buf(),
        reason: walk::why(&e),
    })?;
    let mut ctx = judge::Ctx {
        root: &dir,
        apps: apps::AppIndex::scan(&dir, &options.apps),
        judging: program::Judging {
            verify: &options.verify,
            deep: options.deep,
        },
        jobs: Vec::new(),
        findings: Vec::new(),
        cut: Vec::new(),
    };
    let mut daemons_read = true;
    for (rel, source) in JOB_DIRS {
        let before = ctx.cut.len();
        let shown = format!("/{rel}");
        if let Some(d) = walk::job_dir(&dir, rel, &shown, &mut ctx.cut) {
            for file in apps::plists_in(&d, &shown, &mut ctx.cut) {
                ctx.plist_job(file, *source, None);
            }
        }
        if *source == JobSource::LaunchDaemon && ctx.cut.len() > before {
            daemons_read = false;
        }
    }
    let run: BTreeSet<String> = ctx.jobs.iter().filter_map(|j| j.program.clone()).collect();
    let helper_rel = judge::HELPER_DIR.trim_start_matches('/');
    if let Some(d) = walk::job_dir(&dir, helper_rel, judge::HELPER_DIR, &mut ctx.cut) {
        for name in walk::names(&d, judge::HELPER_DIR, &mut ctx.cut) {
            if !run.contains(&format!("{}/{name}", judge::HELPER_DIR)) {
                ctx.helper_job(&name, daemons_read);
            }
        }
    }
    for i in 0..ctx.apps.apps.len() {
        app_jobs(&mut ctx, i);
    }
    let mut incomplete = std::mem::take(&mut ctx.apps.cut);
    incomplete.append(&mut ctx.cut);
    Ok(AuditReport {
        root: root.display().to_string(),
        deep: options.deep,
        jobs: ctx.jobs,
        findings: ctx.findings,
        incomplete,
    })
}

/// The SMAppService plists and SMJobBless helpers inside app `i`.
fn app_jobs(ctx: &mut judge::Ctx<'_>, i: usize) {
    let Some(app) = ctx.apps.apps.get(i) else {
        return;
    };
    let base = format!("{}/Contents", app.path);
    let mut cut = Vec::new();
    let mut plists = Vec::new();
    for (rel, source) in APP_JOB_DIRS {
        if let Some(d) = walk::subdirs(&app.contents, rel) {
            for file in apps::plists_in(&d, &format!("{base}/{rel}"), &mut cut) {
                plists.push((file, *source));
            }
        }
    }
    let shown = format!("{base}/Library/LaunchServices");
    let helpers = walk::subdirs(&app.contents, "Library/LaunchServices")
        .map(|d| walk::names(&d, &shown, &mut cut))
        .unwrap_or_default();
    ctx.cut.append(&mut cut);
    for (file, source) in plists {
        ctx.plist_job(file, source, Some(i));
    }
    // Finder's `.DS_Store` is no helper (SMJobBlessUtil skips it too).
    for name in helpers.iter().filter(|n| n.as_str() != ".DS_Store") {
        ctx.bundled_helper(i, name);
    }
}
