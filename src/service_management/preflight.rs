//! Pre-flight checks of an SMAppService daemon before it is registered: the plist
//! `Contents/Library/LaunchDaemons/NAME.plist` exists in the app, is a dictionary with a `Label`
//! and a `BundleProgram` that resolves — without `..` and without a symlink leading out — to a
//! regular file inside the bundle, and that file is validly signed code (not ad hoc).
//!
//! These checks run as the user, before the system's own check, to explain what SMAppService
//! would otherwise report as a bare code; they decide nothing as root. They are the checks
//! `verify` makes of every SMAppService job ([`crate::contract::app_service`], one
//! implementation), reported here under the pre-flight's own ids.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::{is_plain_file_name, LAUNCH_DAEMONS_DIR};
use crate::codesign;
use crate::contract::app_service::{self, ServiceRule};

/// The most entries of `Contents/Library/LaunchDaemons` looked at when searching by label.
pub const MAX_DAEMON_PLISTS: usize = 1024;

macro_rules! preflight_ids {
    ($($(#[doc = $doc:literal])* $variant:ident = $id:literal;)*) => {
        /// The stable id of a pre-flight finding (kebab-case in all outputs). Every one is an
        /// error: SMAppService would refuse the daemon.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum PreflightId {
            $($(#[doc = $doc])* $variant,)*
        }

        impl PreflightId {
            /// Every id, in the order checked.
            pub const ALL: &'static [PreflightId] = &[$(PreflightId::$variant,)*];

            /// The kebab-case id.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(PreflightId::$variant => $id,)*
                }
            }
        }
    };
}

preflight_ids! {
    /// The plist name is not a plain file name ending in `.plist`.
    PlistNameInvalid = "daemon-plist-name-invalid";
    /// `Contents/Library/LaunchDaemons/NAME` does not exist.
    PlistMissing = "daemon-plist-missing";
    /// The plist is not a regular file holding a dictionary (symlink, FIFO, malformed, too large).
    PlistUnreadable = "daemon-plist-unreadable";
    /// The plist has no string `Label`.
    LabelMissing = "daemon-label-missing";
    /// `Label` is not the label asked for.
    LabelMismatch = "daemon-label-mismatch";
    /// The plist has no string `BundleProgram`.
    ProgramMissing = "bundle-program-missing";
    /// `BundleProgram` is absolute, contains `..`, or resolves through a symlink to outside the bundle.
    ProgramOutsideBundle = "bundle-program-outside-bundle";
    /// `BundleProgram` names nothing (or a dangling or looping symlink).
    ProgramNotFound = "bundle-program-not-found";
    /// `BundleProgram` is not a regular Mach-O file.
    ProgramNotFile = "bundle-program-not-file";
    /// The program is unsigned, ad hoc or only linker-signed.
    ProgramUnsigned = "bundle-program-unsigned";
    /// The program's signature does not verify.
    ProgramSignatureInvalid = "bundle-program-signature-invalid";
}

impl Serialize for PreflightId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for PreflightId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found before registering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreflightFinding {
    /// Stable id.
    pub id: PreflightId,
    /// The file the finding is about.
    pub path: String,
    /// What is wrong, with the values involved.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl PreflightFinding {
    /// A finding of kind `id` about `path`.
    pub fn new(
        id: PreflightId,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> PreflightFinding {
        PreflightFinding {
            id,
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// Options of [`check_daemon`].
#[derive(Clone)]
pub struct PreflightOptions {
    /// Trust anchors and time for the program's signature.
    pub signature: codesign::VerifyOptions,
    /// The `Label` the plist must have, when known.
    pub label: Option<String>,
}

/// The result of [`check_daemon`].
#[derive(Debug, Clone, Serialize)]
pub struct Preflight {
    /// The app bundle.
    pub bundle: PathBuf,
    /// The plist checked.
    pub plist: PathBuf,
    /// Its `Label`, when readable.
    pub label: Option<String>,
    /// Where `BundleProgram` resolves to, when it does.
    pub program: Option<PathBuf>,
    /// The program's signing identifier, when signed.
    pub program_identifier: Option<String>,
    /// The program's team identifier, when signed by a developer.
    pub program_team: Option<String>,
    /// Everything found; empty means SMAppService may be asked.
    pub findings: Vec<PreflightFinding>,
}

impl Preflight {
    /// No finding.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    fn push(&mut self, id: PreflightId, path: &Path, message: String, hint: &str) {
        self.findings.push(PreflightFinding::new(
            id,
            path.display().to_string(),
            message,
            hint,
        ));
    }
}

/// Check the SMAppService daemon plist `plist_name` of the app at `bundle`, and the program it
/// names. The checks are [`crate::contract::app_service::check_job`], the ones `verify` makes.
pub fn check_daemon(bundle: &Path, plist_name: &str, options: &PreflightOptions) -> Preflight {
    let plist_path = bundle.join(LAUNCH_DAEMONS_DIR).join(plist_name);
    let mut report = Preflight {
        bundle: bundle.to_path_buf(),
        plist: plist_path.clone(),
        label: None,
        program: None,
        program_identifier: None,
        program_team: None,
        findings: Vec::new(),
    };
    if !is_plain_file_name(plist_name) || !plist_name.ends_with(".plist") {
        report.push(
            PreflightId::PlistNameInvalid,
            &plist_path,
            format!("plist name {plist_name:?}; expected a file name ending in .plist, without `/`"),
            "pass the file name of the plist in Contents/Library/LaunchDaemons, e.g. com.example.helper.plist",
        );
        return report;
    }
    let job = app_service::check_job(
        bundle,
        &plist_path,
        options.label.as_deref(),
        &options.signature,
    );
    report.label = job.label;
    report.program = job.program;
    if let Some(first) = job.exam.as_ref().and_then(|e| e.slices.first()) {
        report.program_identifier = first.identifier.clone();
        report.program_team = first.team_id.clone();
    }
    report.findings = job
        .problems
        .into_iter()
        .map(|p| PreflightFinding {
            id: preflight_id(p.rule),
            path: p.path.display().to_string(),
            message: p.message,
            hint: p.hint,
        })
        .collect();
    report
}

/// The pre-flight id of a rule of the shared SMAppService checks.
fn preflight_id(rule: ServiceRule) -> PreflightId {
    match rule {
        ServiceRule::PlistMissing => PreflightId::PlistMissing,
        ServiceRule::PlistUnreadable => PreflightId::PlistUnreadable,
        ServiceRule::LabelMissing => PreflightId::LabelMissing,
        ServiceRule::LabelMismatch => PreflightId::LabelMismatch,
        ServiceRule::ProgramMissing => PreflightId::ProgramMissing,
        ServiceRule::ProgramOutsideBundle => PreflightId::ProgramOutsideBundle,
        ServiceRule::ProgramNotFound => PreflightId::ProgramNotFound,
        ServiceRule::ProgramNotFile => PreflightId::ProgramNotFile,
        ServiceRule::ProgramUnsigned => PreflightId::ProgramUnsigned,
        ServiceRule::ProgramSignatureInvalid => PreflightId::ProgramSignatureInvalid,
    }
}

/// The name of the plist in `Contents/Library/LaunchDaemons` whose `Label` is `label`:
/// `LABEL.plist` when that is it, else the first (by name) among at most
/// [`MAX_DAEMON_PLISTS`] entries; `None` when there is none.
pub fn find_daemon_plist(bundle: &Path, label: &str) -> Option<String> {
    let dir = bundle.join(LAUNCH_DAEMONS_DIR);
    let has_label = |name: &str| {
        app_service::read_plist_nofollow(&dir.join(name))
            .ok()
            .and_then(|p| p.string("Label").ok().flatten().map(|l| l == label))
            .unwrap_or(false)
    };
    let conventional = format!("{label}.plist");
    if has_label(&conventional) {
        return Some(conventional);
    }
    let mut names: Vec<String> = fs::read_dir(&dir)
        .ok()?
        .take(MAX_DAEMON_PLISTS)
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".plist") && *n != conventional)
        .collect();
    names.sort();
    names.into_iter().find(|n| has_label(n))
}

#[cfg(test)]
mod tests;
