//! Pre-flight checks of an SMAppService daemon before it is registered: the plist
//! `Contents/Library/LaunchDaemons/NAME.plist` exists in the app, is a dictionary with a `Label`
//! and a `BundleProgram` that resolves — without `..` and without a symlink leading out — to a
//! regular file inside the bundle, and that file is validly signed code (not ad hoc).
//!
//! These checks run as the user, before the system's own check, to explain what SMAppService
//! would otherwise report as a bare code; they decide nothing as root. The plist is opened with
//! `O_NOFOLLOW | O_NONBLOCK` and read only when it is a regular file of bounded size.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::bundle::{is_plain_file_name, LAUNCH_DAEMONS_DIR, MAX_INFO_PLIST_SIZE};
use crate::codesign::{self, ExamineOptions, Kind};
use crate::plists::{Plist, PlistSource};

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
/// names.
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
    let plist = match read_plist(&plist_path) {
        Ok(plist) => plist,
        Err((id, message)) => {
            let hint = if id == PreflightId::PlistMissing {
                "ship the daemon plist in the app at Contents/Library/LaunchDaemons/NAME.plist (a Copy Files build phase, destination Wrapper, subpath Contents/Library/LaunchDaemons)"
            } else {
                "make it a regular file holding an XML or binary plist dictionary"
            };
            report.push(id, &plist_path, message, hint);
            return report;
        }
    };
    check_label(&plist, &plist_path, options, &mut report);
    match plist.string("BundleProgram") {
        Ok(Some(program)) => check_program(bundle, program, &plist_path, options, &mut report),
        Ok(None) | Err(_) => report.push(
            PreflightId::ProgramMissing,
            &plist_path,
            "key `BundleProgram` is missing or not a string; expected the daemon's path relative to the bundle".to_owned(),
            "add BundleProgram = Contents/MacOS/NAME (or Contents/Resources/NAME); SMAppService daemons do not use Program",
        ),
    }
    report
}

fn check_label(plist: &Plist<'_>, path: &Path, options: &PreflightOptions, report: &mut Preflight) {
    let label = match plist.string("Label") {
        Ok(Some(label)) if !label.is_empty() => label.to_owned(),
        _ => {
            report.push(
                PreflightId::LabelMissing,
                path,
                "key `Label` is missing, empty or not a string".to_owned(),
                "add Label = the daemon's reverse-DNS name (usually the plist's name without .plist)",
            );
            return;
        }
    };
    if let Some(expected) = &options.label {
        if *expected != label {
            report.push(
                PreflightId::LabelMismatch,
                path,
                format!("`Label` is {label:?}; expected {expected:?}"),
                "make Label equal the label the app registers and its clients connect to",
            );
        }
    }
    report.label = Some(label);
}

/// Read a plist without following a symlink or blocking on a FIFO; the error is a finding.
fn read_plist(path: &Path) -> Result<Plist<'static>, (PreflightId, String)> {
    use rustix::fs::{Mode, OFlags};
    let unreadable = |what: String| (PreflightId::PlistUnreadable, what);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::NOENT => {
            return Err((PreflightId::PlistMissing, "missing".to_owned()))
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
    plist_path: &Path,
    options: &PreflightOptions,
    report: &mut Preflight,
) {
    let target = bundle.join(program);
    if !is_contained_relative(program) {
        report.push(
            PreflightId::ProgramOutsideBundle,
            plist_path,
            format!("`BundleProgram` is {program:?}; expected a path relative to the bundle, without `..`"),
            "use a path inside the app such as Contents/MacOS/NAME",
        );
        return;
    }
    let resolved = match (fs::canonicalize(bundle), fs::canonicalize(&target)) {
        (Ok(root), Ok(resolved)) if resolved.starts_with(&root) => resolved,
        (Ok(_), Ok(resolved)) => {
            report.push(
                PreflightId::ProgramOutsideBundle,
                &target,
                format!("resolves through a symbolic link to {}, outside the bundle", resolved.display()),
                "ship the daemon executable itself inside the app; a link out of the bundle escapes its signature",
            );
            return;
        }
        (Err(e), _) | (_, Err(e)) => {
            report.push(
                PreflightId::ProgramNotFound,
                &target,
                format!("`BundleProgram` {program:?} does not resolve: {e}"),
                "build the daemon into the app at the path BundleProgram names",
            );
            return;
        }
    };
    if !fs::metadata(&resolved).is_ok_and(|m| m.is_file()) {
        report.push(
            PreflightId::ProgramNotFile,
            &resolved,
            "is not a regular file; expected the daemon's Mach-O executable".to_owned(),
            "point BundleProgram at the executable itself, not a directory or bundle",
        );
        return;
    }
    check_signature(&resolved, options, report);
    report.program = Some(resolved);
}

fn check_signature(program: &Path, options: &PreflightOptions, report: &mut Preflight) {
    let opts = ExamineOptions {
        verify: options.signature.clone(),
        integrity: true,
        arch: None,
    };
    let exam = match codesign::examine(program, &opts) {
        Ok(exam) => exam,
        Err(e) => {
            report.push(
                PreflightId::ProgramNotFile,
                program,
                format!("cannot be examined as code: {e}"),
                "point BundleProgram at a Mach-O executable",
            );
            return;
        }
    };
    if let Some(first) = exam.slices.first() {
        report.program_identifier = first.identifier.clone();
        report.program_team = first.team_id.clone();
    }
    let weak = exam
        .slices
        .iter()
        .find(|s| matches!(s.kind, Kind::Unsigned | Kind::Adhoc | Kind::LinkerSigned));
    if let Some(slice) = weak {
        report.push(
            PreflightId::ProgramUnsigned,
            program,
            format!("the {} slice is {}; SMAppService runs only code signed by a developer", slice.arch, slice.kind.as_str()),
            "sign the daemon with the app's Developer ID or Apple Development identity (codesign --sign … --options runtime)",
        );
    } else if !exam.is_valid() || exam.slices.is_empty() {
        let problems = exam.all_problems();
        report.push(
            PreflightId::ProgramSignatureInvalid,
            program,
            format!(
                "its signature is not valid: {}",
                problems.first().map_or("no signed slice", String::as_str)
            ),
            "sign the daemon with a Developer ID or Apple Development identity after its last change, then re-sign the app",
        );
    }
}

/// The name of the plist in `Contents/Library/LaunchDaemons` whose `Label` is `label`:
/// `LABEL.plist` when that is it, else the first (by name) among at most
/// [`MAX_DAEMON_PLISTS`] entries; `None` when there is none.
pub fn find_daemon_plist(bundle: &Path, label: &str) -> Option<String> {
    let dir = bundle.join(LAUNCH_DAEMONS_DIR);
    let has_label = |name: &str| {
        read_plist(&dir.join(name))
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
