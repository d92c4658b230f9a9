//! The checks of one SMAppService job plist against its app bundle — the one implementation
//! shared by `verify` (which reports them as findings) and by the pre-flight of
//! `smbless register --check` ([`crate::service_management::preflight`]).
//!
//! An SMAppService daemon (macOS 13+) ships its plist in the app at
//! `Contents/Library/LaunchDaemons/NAME.plist` (a per-user agent in
//! `Contents/Library/LaunchAgents/`); the plist names its executable with `BundleProgram`, a
//! path relative to the bundle, and launchd runs it from the app in place. Checked here: the
//! plist is a regular file of bounded size holding a dictionary (opened with
//! `O_NOFOLLOW | O_NONBLOCK`, never following a link planted in its place), it has a `Label`,
//! and `BundleProgram` resolves — without `..` and without a symlink leading out — to a regular
//! file inside the bundle whose signature is a developer's and valid.
//!
//! Everything else `verify` asks of the job (team, architectures, hardened runtime, seal, keys)
//! needs the parsed plist and the program's [`Examination`], which [`ServiceJob`] hands back.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::bundle::MAX_INFO_PLIST_SIZE;
use crate::codesign::{self, Examination, ExamineError, ExamineOptions, Kind};
use crate::plists::{Plist, PlistSource};

/// The most entries of `Contents/Library/LaunchDaemons` (or `LaunchAgents`) looked at.
pub const MAX_SERVICE_PLISTS: usize = 1024;

/// Which SMAppService job a plist declares, by the directory it ships in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// `Contents/Library/LaunchDaemons`: a root daemon (`SMAppService.daemon(plistName:)`).
    Daemon,
    /// `Contents/Library/LaunchAgents`: a per-user agent (`SMAppService.agent(plistName:)`).
    Agent,
}

impl ServiceKind {
    /// The directory of the bundle the plists of this kind ship in.
    pub fn dir(self) -> &'static str {
        match self {
            ServiceKind::Daemon => crate::bundle::LAUNCH_DAEMONS_DIR,
            ServiceKind::Agent => "Contents/Library/LaunchAgents",
        }
    }

    /// `daemon` or `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Daemon => "daemon",
            ServiceKind::Agent => "agent",
        }
    }
}

/// What is wrong with a job, in the terms both callers map to their own ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceRule {
    /// The plist does not exist.
    PlistMissing,
    /// The plist is not a regular file holding a dictionary (symlink, FIFO, malformed, too large).
    PlistUnreadable,
    /// No non-empty string `Label`.
    LabelMissing,
    /// `Label` is not the label the caller expects.
    LabelMismatch,
    /// No string `BundleProgram`.
    ProgramMissing,
    /// `BundleProgram` is absolute, has `..`, or resolves through a link to outside the bundle.
    ProgramOutsideBundle,
    /// `BundleProgram` names nothing (or a dangling or looping link).
    ProgramNotFound,
    /// `BundleProgram` is not a regular Mach-O file.
    ProgramNotFile,
    /// The program is unsigned, ad hoc or only linker-signed.
    ProgramUnsigned,
    /// The program's signature does not verify.
    ProgramSignatureInvalid,
}

/// One problem of a job: the rule, the file it is about, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProblem {
    /// Which rule.
    pub rule: ServiceRule,
    /// The file the problem is about.
    pub path: PathBuf,
    /// What is wrong, with the values involved.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// One SMAppService job plist, checked.
pub struct ServiceJob {
    /// The plist.
    pub plist_path: PathBuf,
    /// The parsed plist, when readable.
    pub plist: Option<Plist<'static>>,
    /// Its `Label`, when present.
    pub label: Option<String>,
    /// Where `BundleProgram` resolves to, when it does to a regular file inside the bundle.
    pub program: Option<PathBuf>,
    /// The same file as `BundleProgram` names it (the bundle's path joined with it), for
    /// reports: stable and relative when the bundle's path is.
    pub program_named: Option<PathBuf>,
    /// The program's signature, when it is code.
    pub exam: Option<Examination>,
    /// Everything found, in the order checked.
    pub problems: Vec<ServiceProblem>,
}

impl ServiceJob {
    fn push(&mut self, rule: ServiceRule, path: &Path, message: String, hint: &str) {
        self.problems.push(ServiceProblem {
            rule,
            path: path.to_path_buf(),
            message,
            hint: hint.to_owned(),
        });
    }
}

/// Check the job plist at `plist_path` of the app at `bundle`: readable dictionary, `Label`
/// (equal to `expected_label` when given), and the program `BundleProgram` names, examined with
/// `signature`. A problem that leaves nothing further to check ends the check.
pub fn check_job(
    bundle: &Path,
    plist_path: &Path,
    expected_label: Option<&str>,
    signature: &codesign::VerifyOptions,
) -> ServiceJob {
    let mut job = ServiceJob {
        plist_path: plist_path.to_path_buf(),
        plist: None,
        label: None,
        program: None,
        program_named: None,
        exam: None,
        problems: Vec::new(),
    };
    let plist = match read_plist_nofollow(plist_path) {
        Ok(plist) => plist,
        Err((rule, message)) => {
            let hint = if rule == ServiceRule::PlistMissing {
                "ship the job plist in the app at Contents/Library/LaunchDaemons/NAME.plist (a Copy Files build phase, destination Wrapper, subpath Contents/Library/LaunchDaemons)"
            } else {
                "make it a regular file holding an XML or binary plist dictionary"
            };
            job.push(rule, plist_path, message, hint);
            return job;
        }
    };
    check_label(&plist, expected_label, &mut job);
    match plist.string("BundleProgram") {
        Ok(Some(program)) => check_program(bundle, program, signature, &mut job),
        Ok(None) | Err(_) => job.push(
            ServiceRule::ProgramMissing,
            plist_path,
            "key `BundleProgram` is missing or not a string; expected the daemon's path relative to the bundle".to_owned(),
            "add BundleProgram = Contents/MacOS/NAME (or Contents/Resources/NAME); SMAppService daemons do not use Program",
        ),
    }
    job.plist = Some(plist);
    job
}

fn check_label(plist: &Plist<'_>, expected: Option<&str>, job: &mut ServiceJob) {
    let path = job.plist_path.clone();
    let label = match plist.string("Label") {
        Ok(Some(label)) if !label.is_empty() => label.to_owned(),
        _ => {
            job.push(
                ServiceRule::LabelMissing,
                &path,
                "key `Label` is missing, empty or not a string".to_owned(),
                "add Label = the daemon's reverse-DNS name (usually the plist's name without .plist)",
            );
            return;
        }
    };
    if let Some(expected) = expected {
        if expected != label {
            job.push(
                ServiceRule::LabelMismatch,
                &path,
                format!("`Label` is {label:?}; expected {expected:?}"),
                "make Label equal the label the app registers and its clients connect to",
            );
        }
    }
    job.label = Some(label);
}

/// Read a plist without following a symlink or blocking on a FIFO; the error is a problem.
pub fn read_plist_nofollow(path: &Path) -> Result<Plist<'static>, (ServiceRule, String)> {
    use rustix::fs::{Mode, OFlags};
    let unreadable = |what: String| (ServiceRule::PlistUnreadable, what);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::NOENT => {
            return Err((ServiceRule::PlistMissing, "missing".to_owned()))
        }
        Err(e) if e == rustix::io::Errno::LOOP => {
            return Err(unreadable(
                "is a symbolic link; expected a regular file sealed by the app's signature"
                    .to_owned(),
            ))
        }
        Err(e) => return Err(unreadable(format!("cannot open: {}", io::Error::from(e)))),
    };
    let file = fs::File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| unreadable(format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(unreadable("is not a regular file".to_owned()));
    }
    if meta.len() > MAX_INFO_PLIST_SIZE {
        return Err(unreadable(format!(
            "{} bytes; expected at most {MAX_INFO_PLIST_SIZE}",
            meta.len()
        )));
    }
    let mut raw = Vec::new();
    file.take(MAX_INFO_PLIST_SIZE + 1)
        .read_to_end(&mut raw)
        .map_err(|e| unreadable(format!("cannot read: {e}")))?;
    if raw.len() as u64 > MAX_INFO_PLIST_SIZE {
        return Err(unreadable(format!(
            "grew past {MAX_INFO_PLIST_SIZE} bytes while read"
        )));
    }
    Plist::parse(raw, PlistSource(path.display().to_string()))
        .map_err(|e| unreadable(format!("not a plist dictionary: {e}")))
}

/// Whether `program` is a non-empty relative path of normal components only.
fn is_contained_relative(program: &str) -> bool {
    !program.is_empty()
        && Path::new(program)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

fn check_program(
    bundle: &Path,
    program: &str,
    signature: &codesign::VerifyOptions,
    job: &mut ServiceJob,
) {
    let target = bundle.join(program);
    let plist_path = job.plist_path.clone();
    if !is_contained_relative(program) {
        job.push(
            ServiceRule::ProgramOutsideBundle,
            &plist_path,
            format!("`BundleProgram` is {program:?}; expected a path relative to the bundle, without `..`"),
            "use a path inside the app such as Contents/MacOS/NAME",
        );
        return;
    }
    let resolved = match (fs::canonicalize(bundle), fs::canonicalize(&target)) {
        (Ok(root), Ok(resolved)) if resolved.starts_with(&root) => resolved,
        (Ok(_), Ok(resolved)) => {
            job.push(
                ServiceRule::ProgramOutsideBundle,
                &target,
                format!("resolves through a symbolic link to {}, outside the bundle", resolved.display()),
                "ship the daemon executable itself inside the app; a link out of the bundle escapes its signature",
            );
            return;
        }
        (Err(e), _) | (_, Err(e)) => {
            job.push(
                ServiceRule::ProgramNotFound,
                &target,
                format!("`BundleProgram` {program:?} does not resolve: {e}"),
                "build the daemon into the app at the path BundleProgram names",
            );
            return;
        }
    };
    if !fs::metadata(&resolved).is_ok_and(|m| m.is_file()) {
        job.push(
            ServiceRule::ProgramNotFile,
            &target,
            "is not a regular file; expected the daemon's Mach-O executable".to_owned(),
            "point BundleProgram at the executable itself, not a directory or bundle",
        );
        return;
    }
    check_signature(&resolved, &target, signature, job);
    job.program = Some(resolved);
    job.program_named = Some(target);
}

/// Examine `program` (resolved); problems name it as `named`.
fn check_signature(
    program: &Path,
    named: &Path,
    signature: &codesign::VerifyOptions,
    job: &mut ServiceJob,
) {
    let opts = ExamineOptions {
        verify: signature.clone(),
        integrity: true,
        arch: None,
    };
    let exam = match codesign::examine(program, &opts) {
        Ok(exam) => exam,
        Err(e) => {
            job.push(
                ServiceRule::ProgramNotFile,
                named,
                format!("cannot be examined as code: {}", without_path(&e)),
                "point BundleProgram at a Mach-O executable",
            );
            return;
        }
    };
    let weak = exam
        .slices
        .iter()
        .find(|s| matches!(s.kind, Kind::Unsigned | Kind::Adhoc | Kind::LinkerSigned));
    if let Some(slice) = weak {
        job.push(
            ServiceRule::ProgramUnsigned,
            named,
            format!("the {} slice is {}; SMAppService runs only code signed by a developer", slice.arch, slice.kind.as_str()),
            "sign the daemon with the app's Developer ID or Apple Development identity (codesign --sign … --options runtime)",
        );
    } else if !exam.is_valid() || exam.slices.is_empty() {
        let problems = exam.all_problems();
        job.push(
            ServiceRule::ProgramSignatureInvalid,
            named,
            format!(
                "its signature is not valid: {}",
                problems.first().map_or("no signed slice", String::as_str)
            ),
            "sign the daemon with a Developer ID or Apple Development identity after its last change, then re-sign the app",
        );
    }
    job.exam = Some(exam);
}

/// The names of the `.plist` files in `dir` of the bundle (at most [`MAX_SERVICE_PLISTS`]
/// entries looked at), sorted; empty when the directory does not exist.
pub fn list_plists(bundle: &Path, kind: ServiceKind) -> Vec<String> {
    let Ok(entries) = fs::read_dir(bundle.join(kind.dir())) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .take(MAX_SERVICE_PLISTS)
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".plist"))
        .collect();
    names.sort();
    names
}

/// What went wrong examining the program, without the resolved path (the finding names the
/// file as `BundleProgram` does).
fn without_path(e: &ExamineError) -> String {
    match e {
        ExamineError::Io { source, .. } => format!("cannot read: {source}"),
        ExamineError::Container { source, .. } => {
            format!("not a readable Mach-O or ELF file: {source}")
        }
        other => other.to_string(),
    }
}
