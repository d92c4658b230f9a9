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
    let raw = read_regular_nofollow(path, MAX_INFO_PLIST_SIZE).map_err(|e| match e {
        ReadError::Missing => (ServiceRule::PlistMissing, "missing".to_owned()),
        ReadError::Symlink => (
            ServiceRule::PlistUnreadable,
            "is a symbolic link; expected a regular file sealed by the app's signature".to_owned(),
        ),
        ReadError::Other(message) => (ServiceRule::PlistUnreadable, message),
    })?;
    Plist::parse(raw, PlistSource(path.display().to_string())).map_err(|e| {
        (
            ServiceRule::PlistUnreadable,
            format!("not a plist dictionary: {e}"),
        )
    })
}

/// Why [`read_regular_nofollow`] read nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Nothing at the path.
    Missing,
    /// The last component is a symbolic link (not followed).
    Symlink,
    /// Anything else, said in words (not a regular file, too large, an I/O error).
    Other(String),
}

/// The bytes of the regular file at `path`, at most `max` of them: opened with `O_NOFOLLOW`
/// (a symlink in its place is not followed) and `O_NONBLOCK` (a FIFO does not block), checked
/// to be a regular file with `fstat` before reading.
pub fn read_regular_nofollow(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    use rustix::fs::{Mode, OFlags};
    let other = |what: String| ReadError::Other(what);
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::NOENT => return Err(ReadError::Missing),
        Err(e) if e == rustix::io::Errno::LOOP => return Err(ReadError::Symlink),
        Err(e) => return Err(other(format!("cannot open: {}", io::Error::from(e)))),
    };
    let file = fs::File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| other(format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(other("is not a regular file".to_owned()));
    }
    if meta.len() > max {
        return Err(other(format!(
            "{} bytes; expected at most {max}",
            meta.len()
        )));
    }
    let mut raw = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut raw)
        .map_err(|e| other(format!("cannot read: {e}")))?;
    if raw.len() as u64 > max {
        return Err(other(format!("grew past {max} bytes while read")));
    }
    Ok(raw)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_up_to_the_cap_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular_nofollow(&file, 5).unwrap(), b"12345");
        let Err(ReadError::Other(message)) = read_regular_nofollow(&file, 4) else {
            panic!("a file over the cap was read");
        };
        assert_eq!(message, "5 bytes; expected at most 4");
        assert_eq!(
            read_regular_nofollow(&dir.path().join("nope"), 5),
            Err(ReadError::Missing)
        );
    }

    #[test]
    fn neither_follows_links_nor_blocks_on_fifos_nor_reads_directories() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read_regular_nofollow(&link, 5), Err(ReadError::Symlink));
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        assert_eq!(
            read_regular_nofollow(&fifo, 5),
            Err(ReadError::Other("is not a regular file".into()))
        );
        assert_eq!(
            read_regular_nofollow(dir.path(), 5),
            Err(ReadError::Other("is not a regular file".into()))
        );
    }

    #[test]
    fn service_plists_are_listed_by_kind_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let daemons = dir.path().join(ServiceKind::Daemon.dir());
        fs::create_dir_all(&daemons).unwrap();
        for name in ["b.plist", "a.plist", "notes.txt"] {
            fs::write(daemons.join(name), b"").unwrap();
        }
        assert_eq!(
            list_plists(dir.path(), ServiceKind::Daemon),
            ["a.plist", "b.plist"]
        );
        assert!(list_plists(dir.path(), ServiceKind::Agent).is_empty());
    }
}
