//! `verify`: the whole app↔helper contract, every check of SMJobBlessUtil.py's `check` and of
//! the rules SMJobBless enforces without documenting them, with real requirement evaluation in
//! both directions. Every problem becomes a [`Finding`]; nothing stops at the first one.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::{self, Bundle, BundleError};
use crate::codesign::{self, examine, Examination, ExamineOptions, Kind, SignedSlice};
use crate::container::Container;
use crate::mapped::MappedFile;
use crate::plists::{self, EmbeddedPlists, Plist};
use crate::requirement::{self, evaluate, Requirement};

use super::findings::{Finding, FindingId, Severity};
use super::helper_plists::{check_info_plist, check_launchd_plist};
use super::jobs::{detect_mechanisms, AppFacts, JobFacts, JobSummary, Mechanism};
use super::lint;

/// Options of [`verify`].
#[derive(Clone)]
pub struct VerifyOptions {
    /// Check only this helper (default: every helper in `Contents/Library/LaunchServices`).
    pub label: Option<String>,
    /// Trust anchors and time for the signature checks.
    pub signature: codesign::VerifyOptions,
    /// Also require SMJobBlessUtil.py's string equality: `SMPrivilegedExecutables` values equal
    /// to the helpers' designated requirements, exactly one `SMAuthorizedClients` entry equal to
    /// the app's.
    pub strict: bool,
}

/// The app's side of the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppSummary {
    /// The bundle path.
    pub path: String,
    /// `CFBundleIdentifier`.
    pub identifier: Option<String>,
    /// `CFBundleVersion`.
    pub version: Option<String>,
    /// The app's designated requirement (explicit, else Apple's implicit one).
    pub designated_requirement: Option<String>,
}

/// One helper's side of the report.
#[derive(Debug, Clone, Serialize)]
pub struct HelperSummary {
    /// The label (file name in `Contents/Library/LaunchServices`).
    pub label: String,
    /// The helper's path.
    pub path: String,
    /// Its embedded `CFBundleVersion`.
    pub version: Option<String>,
    /// Its designated requirement.
    pub designated_requirement: Option<String>,
    /// What `bless` would do, when asked (`smbless::install::predict`, attached by
    /// `verify --root|--installed`): the planner's prediction, word for word.
    pub action: Option<String>,
    /// The installed helper's version, when one is installed and readable.
    pub installed_version: Option<String>,
}

/// The result of [`verify`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// No finding of severity error.
    pub ok: bool,
    /// The app.
    pub app: AppSummary,
    /// With `--previous`: the previous build the app was compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<AppSummary>,
    /// Every mechanism the app uses to run code outside itself, in this order: SMJobBless,
    /// SMAppService daemons, SMAppService agents, login items.
    pub mechanisms: Vec<Mechanism>,
    /// Every job the app carries, of every mechanism.
    pub jobs: Vec<JobSummary>,
    /// The SMJobBless helpers checked.
    pub helpers: Vec<HelperSummary>,
    /// Everything found, in the order checked.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Findings of at least `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity >= severity)
            .count()
    }
}

/// Why `verify` could not run at all (as opposed to finding problems).
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The app path does not exist.
    #[error("{path}: no such file or directory; expected an app bundle (X.app)")]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
}

/// Check the SMJobBless contract of `app` and its helpers.
///
/// ```no_run
/// use smbless::codesign::VerifyOptions as SignatureOptions;
/// use smbless::contract::{verify, VerifyOptions};
///
/// let options = VerifyOptions {
///     label: None,
///     signature: SignatureOptions::apple()?,
///     strict: false,
/// };
/// let report = verify("/Applications/Example.app".as_ref(), &options)?;
/// for finding in &report.findings {
///     eprintln!("{}: {} [{}]\n  hint: {}", finding.severity, finding.message, finding.id, finding.hint);
/// }
/// if report.ok {
///     // safe to call SMJobBless / smbless::install
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify(app: &Path, options: &VerifyOptions) -> Result<Report, ContractError> {
    if fs::symlink_metadata(app).is_err() {
        return Err(ContractError::NotFound {
            path: app.to_path_buf(),
        });
    }
    Ok(run(app, options).0)
}

/// Check `app` as [`verify`] does, and keep what the checks learnt about each job for the
/// migration and upgrade comparisons.
pub(super) fn run(app: &Path, options: &VerifyOptions) -> (Report, AppFacts) {
    let mut check = Check {
        options,
        findings: Vec::new(),
        app_plist: display(&app.join("Contents/Info.plist")),
        facts: AppFacts::default(),
    };
    let mut report = Report {
        ok: false,
        app: AppSummary {
            path: app.display().to_string(),
            ..AppSummary::default()
        },
        previous: None,
        mechanisms: Vec::new(),
        jobs: Vec::new(),
        helpers: Vec::new(),
        findings: Vec::new(),
    };
    if let Some(bundle) = check.open_app(app) {
        let app_code = check.app_signature(app, &bundle, &mut report.app);
        check.facts.identifier = report.app.identifier.clone();
        report.mechanisms = detect_mechanisms(&bundle);
        let services = report.mechanisms.iter().any(|m| {
            matches!(
                m,
                Mechanism::SmappserviceDaemon | Mechanism::SmappserviceAgent
            )
        });
        // An app that uses SMAppService alone is not judged as an SMJobBless app.
        if report.mechanisms.contains(&Mechanism::Smjobbless) || !services {
            check.helpers(&bundle, app_code.as_ref(), &mut report.helpers);
        }
        check.services(&bundle, app_code.as_ref());
        check.login_items(&bundle, app_code.as_ref());
        check.migration();
        check.facts.code = app_code;
    }
    report.jobs = check.facts.summaries();
    report.findings = check.findings;
    report.ok = report.count(Severity::Error) == 0;
    (report, check.facts)
}

pub(super) struct Check<'o> {
    pub(super) options: &'o VerifyOptions,
    pub(super) findings: Vec<Finding>,
    /// The app's Info.plist, where SMPrivilegedExecutables lives.
    pub(super) app_plist: String,
    /// What the checks learnt about the app and each job.
    pub(super) facts: AppFacts,
}

pub(super) fn display(path: &Path) -> String {
    path.display().to_string()
}

/// The verified signature of a file: every slice, and whether they are all valid.
pub(super) struct Code {
    pub(super) exam: Examination,
}

impl Code {
    pub(super) fn slices(&self) -> &[SignedSlice] {
        &self.exam.slices
    }

    /// The first slice's signing identifier and team.
    pub(super) fn identity(&self) -> (Option<&str>, Option<&str>) {
        let first = self.exam.slices.first();
        (
            first.and_then(|s| s.identifier.as_deref()),
            first.and_then(|s| s.team_id.as_deref()),
        )
    }

    pub(super) fn designated_requirement(&self) -> Option<String> {
        let first = self.exam.slices.first()?;
        codesign::designated_requirement_text(first, &self.exam.slices)
    }
}

/// Evaluate `req` against every slice; `Err(detail)` names the slices that fail and why.
pub(super) fn satisfies(req: &Requirement, code: &Code) -> Result<(), (String, String)> {
    let mut detail = String::new();
    let mut first_reason = None;
    for slice in code.slices() {
        let evaluation = evaluate(req, slice);
        if !evaluation.satisfied {
            let reason = evaluation.reason();
            first_reason.get_or_insert_with(|| format!("{} ({reason})", slice.arch));
            detail.push_str(&format!("[{}]\n{}", slice.arch, evaluation.explanation));
        }
    }
    match first_reason {
        None if code.slices().is_empty() => Err(("no signed slice".into(), String::new())),
        None => Ok(()),
        Some(reason) => Err((reason, detail)),
    }
}

impl Check<'_> {
    pub(super) fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    fn open_app(&mut self, app: &Path) -> Option<Bundle> {
        match Bundle::open(app) {
            Ok(bundle) => Some(bundle),
            Err(BundleError::InfoPlistMissing { path }) => {
                self.push(Finding::new(
                    FindingId::InfoPlistMissing,
                    display(&path),
                    "the app has no Contents/Info.plist",
                    "an app bundle needs Contents/Info.plist with CFBundleIdentifier, \
                     CFBundleExecutable and SMPrivilegedExecutables",
                ));
                None
            }
            Err(err) => {
                self.push(Finding::new(
                    FindingId::AppNotBundle,
                    display(app),
                    err.to_string(),
                    "pass the .app bundle directory that contains Contents/Info.plist, \
                     Contents/MacOS/<CFBundleExecutable> and Contents/Library/LaunchServices",
                ));
                None
            }
        }
    }

    pub(super) fn examine(&self, path: &Path) -> Result<Code, String> {
        let options = ExamineOptions {
            verify: self.options.signature.clone(),
            integrity: true,
            arch: None,
        };
        examine(path, &options)
            .map(|exam| Code { exam })
            .map_err(|e| e.to_string())
    }

    fn app_signature(
        &mut self,
        app: &Path,
        bundle: &Bundle,
        summary: &mut AppSummary,
    ) -> Option<Code> {
        let info = bundle.info_plist();
        summary.identifier = info
            .string("CFBundleIdentifier")
            .ok()
            .flatten()
            .map(str::to_string);
        summary.version = info
            .string("CFBundleVersion")
            .ok()
            .flatten()
            .map(str::to_string);
        let path = display(app);
        let code = match self.examine(app) {
            Ok(code) => code,
            Err(message) => {
                self.push(Finding::new(
                    FindingId::AppSignatureInvalid,
                    path,
                    message,
                    "sign the app (codesign --sign \"Developer ID Application: …\" --options runtime)",
                ));
                return None;
            }
        };
        if !code.exam.is_valid() {
            let problems = code.exam.all_problems();
            self.push(
                Finding::new(
                    FindingId::AppSignatureInvalid,
                    path.clone(),
                    format!(
                        "the app's signature is not valid: {}",
                        problems.first().map_or("", String::as_str)
                    ),
                    "re-sign the app after its last modification; SMJobBless refuses an app \
                     whose signature does not verify",
                )
                .with_detail(problems.join("\n")),
            );
        }
        self.adhoc(&path, &code, "app");
        summary.designated_requirement = code.designated_requirement();
        Some(code)
    }

    fn adhoc(&mut self, path: &str, code: &Code, what: &str) {
        if let Some(slice) = code
            .slices()
            .iter()
            .find(|s| matches!(s.kind, Kind::Adhoc | Kind::LinkerSigned))
        {
            self.push(Finding::new(
                FindingId::AdhocSignature,
                path,
                format!(
                    "the {what} is {} ({}): no certificate ties it to a developer",
                    if slice.kind == Kind::Adhoc {
                        "ad-hoc signed"
                    } else {
                        "only linker-signed"
                    },
                    slice.arch
                ),
                "sign it with a Developer ID Application certificate",
            ));
        }
    }

    /// SMPrivilegedExecutables as label → requirement text; `None` when unusable (reported).
    fn privileged_executables(&mut self, bundle: &Bundle) -> Option<Vec<(String, String)>> {
        let info = bundle.info_plist();
        let path = self.app_plist.clone();
        let dict = match info.dict("SMPrivilegedExecutables") {
            Ok(Some(d)) => d,
            Ok(None) => {
                self.push(Finding::new(
                    FindingId::PrivilegedExecutablesMissing,
                    path,
                    "the app's Info.plist has no SMPrivilegedExecutables",
                    "add SMPrivilegedExecutables: a dictionary from each helper's label to the \
                     requirement the helper must satisfy (`smbless setreq` writes it)",
                ));
                return None;
            }
            Err(e) => {
                self.push(Finding::new(
                    FindingId::PrivilegedExecutablesMissing,
                    path,
                    e.to_string(),
                    "SMPrivilegedExecutables must be a dictionary of label → requirement string",
                ));
                return None;
            }
        };
        let mut entries = Vec::new();
        for (label, value) in dict {
            match value.as_string() {
                Some(text) => entries.push((label.clone(), text.to_string())),
                None => self.push(Finding::new(
                    FindingId::PrivilegedExecutablesMissing,
                    path.clone(),
                    format!(
                        "SMPrivilegedExecutables[{label}] is {}; expected a requirement string",
                        plists::type_name(value)
                    ),
                    "each value must be the requirement string the helper satisfies",
                )),
            }
        }
        Some(entries)
    }

    fn helpers(&mut self, bundle: &Bundle, app_code: Option<&Code>, out: &mut Vec<HelperSummary>) {
        let dir = bundle.root().join(bundle::LAUNCH_SERVICES_DIR);
        let privileged = self.privileged_executables(bundle);
        let Some(entries) = bundle.helpers() else {
            self.push(Finding::new(
                FindingId::HelperDirMissing,
                display(&dir),
                "the app has no Contents/Library/LaunchServices directory",
                "copy the helper tool to Contents/Library/LaunchServices/<label> in a Copy Files \
                 build phase (destination: Wrapper, subpath Contents/Library/LaunchServices)",
            ));
            return;
        };
        if entries.is_empty() {
            self.push(Finding::new(
                FindingId::NoHelpers,
                display(&dir),
                "Contents/Library/LaunchServices holds no helper",
                "copy the helper tool there, named after its label",
            ));
            return;
        }
        let names: Vec<String> = entries
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();

        if let Some(privileged) = &privileged {
            self.key_set(privileged, &names);
        }
        for (path, label) in entries.iter().zip(&names) {
            if self.options.label.as_ref().is_some_and(|l| l != label) {
                continue;
            }
            let requirement = privileged
                .as_ref()
                .and_then(|p| p.iter().find(|(l, _)| l == label))
                .map(|(_, r)| r.as_str());
            // SMJobBless looks only at the label it is asked for: an entry no
            // SMPrivilegedExecutables key names is never installed, so it is not judged as a
            // helper (unless asked for by --label).
            if privileged.is_some() && requirement.is_none() && self.options.label.is_none() {
                continue;
            }
            if let Some(summary) = self.helper(path, label, requirement, app_code) {
                out.push(summary);
            }
        }
        if let Some(label) = &self.options.label {
            if !names.contains(label) {
                self.push(Finding::new(
                    FindingId::PrivilegedExecutablesMismatch,
                    display(&dir.join(label)),
                    format!("--label {label}: no such helper in Contents/Library/LaunchServices"),
                    format!("the helpers present are: {}", names.join(", ")),
                ));
            }
        }
    }

    /// SMJobBlessUtil check 9: the keys of SMPrivilegedExecutables are the helpers' names.
    fn key_set(&mut self, privileged: &[(String, String)], names: &[String]) {
        let path = self.app_plist.clone();
        for (label, _) in privileged {
            if !names.contains(label) {
                self.push(Finding::new(
                    FindingId::PrivilegedExecutablesMismatch,
                    path.clone(),
                    format!(
                        "SMPrivilegedExecutables names {label:?}, but Contents/Library/LaunchServices has no such helper"
                    ),
                    format!("copy the helper to Contents/Library/LaunchServices/{label}, or remove the entry"),
                ));
            }
        }
        for name in names {
            if !privileged.iter().any(|(l, _)| l == name) {
                let mut f = Finding::new(
                    FindingId::LaunchServicesEntryUnnamed,
                    path.clone(),
                    format!("Contents/Library/LaunchServices/{name} has no SMPrivilegedExecutables entry: SMJobBless never installs it (SMJobBlessUtil rejects the app)"),
                    format!("if it is a helper, add SMPrivilegedExecutables[{name}] = its designated requirement (`smbless setreq`); otherwise move it out of Contents/Library/LaunchServices"),
                );
                if self.options.strict {
                    f.severity = Severity::Error;
                }
                self.push(f);
            }
        }
    }

    pub(super) fn parse_requirement(
        &mut self,
        path: &str,
        what: &str,
        text: &str,
    ) -> Option<Requirement> {
        match requirement::parse_requirement(text) {
            Ok(req) => Some(req),
            Err(e) => {
                self.push(
                    Finding::new(
                        FindingId::RequirementSyntax,
                        path,
                        format!("{what} does not compile: {}:{}: {}", e.line, e.column, e.message),
                        "fix the requirement text (`smbless req compile '…'` shows the error in place)",
                    )
                    .with_detail(e.to_string()),
                );
                None
            }
        }
    }

    fn lint_requirement(&mut self, path: &str, what: &str, req: &Requirement) {
        if !lint::pins_anchor(&req.expr) {
            self.push(Finding::new(
                FindingId::NoAnchor,
                path,
                format!("{what} names no anchor: any code with a matching identifier satisfies it, even ad-hoc signed code"),
                "start the requirement with `anchor apple generic` and pin the team with \
                 `certificate leaf[subject.OU] = TEAMID`",
            ));
        } else if lint::lacks_team_pinning(&req.expr) {
            self.push(Finding::new(
                FindingId::NoTeamPinning,
                path,
                format!("{what} accepts any Apple-issued developer certificate (`anchor apple generic` without a team)"),
                "add `and certificate leaf[subject.OU] = TEAMID` (your Team ID)",
            ));
        }
    }

    fn helper(
        &mut self,
        path: &Path,
        label: &str,
        requirement: Option<&str>,
        app_code: Option<&Code>,
    ) -> Option<HelperSummary> {
        let shown = display(path);
        let mut summary = HelperSummary {
            label: label.to_string(),
            path: shown.clone(),
            version: None,
            designated_requirement: None,
            action: None,
            installed_version: None,
        };
        let is_file = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
        if !is_file {
            self.push(Finding::new(
                FindingId::HelperNotFile,
                shown,
                "not a regular file (a directory, bundle or symlink)",
                "SMJobBless installs a single Mach-O executable: put the helper tool itself \
                 there, named after its label",
            ));
            self.facts.jobs.push(JobFacts::helper(&summary, None));
            return Some(summary);
        }
        let embedded = match self.embedded_plists(path) {
            Ok(embedded) => embedded,
            Err(message) => {
                self.push(Finding::new(
                    FindingId::HelperNotFile,
                    shown,
                    message,
                    "the helper must be a Mach-O executable (thin or universal)",
                ));
                self.facts.jobs.push(JobFacts::helper(&summary, None));
                return Some(summary);
            }
        };
        let info = embedded.first().and_then(|p| p.info.as_ref());
        let launchd = embedded.first().and_then(|p| p.launchd.as_ref());
        let helper_info = check_info_plist(label, &shown, info, &mut self.findings);
        check_launchd_plist(label, &shown, launchd, &mut self.findings);
        summary.version = helper_info.version.as_ref().map(|v| v.to_string());

        let code = match self.examine(path) {
            Ok(code) => Some(code),
            Err(message) => {
                self.push(Finding::new(
                    FindingId::HelperSignatureInvalid,
                    shown.clone(),
                    message,
                    "sign the helper with your Developer ID in every architecture",
                ));
                None
            }
        };
        if let Some(code) = &code {
            self.helper_signature(&shown, code);
            self.slices_agree(&shown, &embedded, code);
            summary.designated_requirement = code.designated_requirement();
        }

        // The app's requirement for the helper.
        if let Some(text) = requirement {
            let what = format!("SMPrivilegedExecutables[{label}]");
            let app_plist = self.app_plist.clone();
            if let Some(req) = self.parse_requirement(&app_plist, &what, text) {
                self.lint_requirement(&app_plist, &what, &req);
                if let Some(code) = &code {
                    if let Err((reason, detail)) = satisfies(&req, code) {
                        self.push(
                            Finding::new(
                                FindingId::HelperRequirementUnsatisfied,
                                shown.clone(),
                                format!("the helper does not satisfy the app's SMPrivilegedExecutables requirement: {reason}"),
                                "make the requirement match how the helper is signed (`smbless setreq`), \
                                 or sign the helper with the identity it names",
                            )
                            .with_detail(detail),
                        );
                    }
                }
                if self.options.strict {
                    self.strict_equal(
                        &shown,
                        &what,
                        text,
                        summary.designated_requirement.as_deref(),
                    );
                }
            }
        }

        // The helper's requirements for its clients.
        let clients = self.client_requirements(&shown, &helper_info.authorized_clients);
        if let Some(app_code) = app_code {
            if !clients.is_empty() && !clients.iter().any(|r| satisfies(r, app_code).is_ok()) {
                let detail = clients
                    .iter()
                    .filter_map(|r| satisfies(r, app_code).err())
                    .map(|(_, d)| d)
                    .collect::<Vec<_>>()
                    .join("\n");
                let reason = clients
                    .first()
                    .and_then(|r| satisfies(r, app_code).err())
                    .map(|(r, _)| r)
                    .unwrap_or_default();
                self.push(
                    Finding::new(
                        FindingId::ClientRequirementUnsatisfied,
                        shown.clone(),
                        format!(
                            "the app satisfies none of the helper's SMAuthorizedClients: {reason}"
                        ),
                        "make SMAuthorizedClients name the app as it is signed (`smbless setreq`)",
                    )
                    .with_detail(detail),
                );
            }
            if self.options.strict {
                let app_dr = app_code.designated_requirement();
                match helper_info.authorized_clients.as_slice() {
                    [only] => {
                        self.strict_equal(&shown, "SMAuthorizedClients[0]", only, app_dr.as_deref())
                    }
                    [] => {}
                    many => self.push(Finding::new(
                        FindingId::StrictRequirementMismatch,
                        shown.clone(),
                        format!(
                            "SMAuthorizedClients has {} entries; --strict expects exactly one",
                            many.len()
                        ),
                        "keep one entry: the app's designated requirement",
                    )),
                }
            }
        }

        let mut facts = JobFacts::helper(&summary, code);
        facts.authorized_clients = helper_info.authorized_clients;
        facts.app_requirement = requirement.map(str::to_string);
        self.facts.jobs.push(facts);
        Some(summary)
    }

    fn helper_signature(&mut self, shown: &str, code: &Code) {
        if !code.exam.is_valid() {
            let problems = code.exam.all_problems();
            self.push(
                Finding::new(
                    FindingId::HelperSignatureInvalid,
                    shown,
                    format!(
                        "the helper's signature is not valid: {}",
                        problems.first().map_or("", String::as_str)
                    ),
                    "sign the helper with your Developer ID in every architecture, after its last modification",
                )
                .with_detail(problems.join("\n")),
            );
        }
        self.adhoc(shown, code, "helper");
    }

    /// The embedded plists of every slice of the helper, which must be a Mach-O executable.
    pub(super) fn embedded_plists(
        &self,
        path: &Path,
    ) -> Result<Vec<EmbeddedPlists<'static>>, String> {
        let file = MappedFile::open(path).map_err(|e| format!("cannot read: {e}"))?;
        let container = Container::parse(file.bytes()).map_err(|e| e.to_string())?;
        for slice in container.slices() {
            if !slice.is_macho() {
                return Err("an ELF file; SMJobBless installs Mach-O executables".into());
            }
            if slice.filetype() != crate::container::FileType::MachO(2) {
                return Err(format!(
                    "the {} slice is a Mach-O {}; expected an executable",
                    slice.arch(),
                    slice.filetype()
                ));
            }
        }
        let all = plists::embedded_all(&container).map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .map(|p| EmbeddedPlists {
                arch: p.arch,
                info: p.info.map(Plist::into_owned),
                launchd: p.launchd.map(Plist::into_owned),
            })
            .collect())
    }

    /// Every slice must embed the same plists and carry the same signing identifier.
    pub(super) fn slices_agree(
        &mut self,
        shown: &str,
        embedded: &[EmbeddedPlists<'static>],
        code: &Code,
    ) {
        if let Some(first) = embedded.first() {
            if embedded.iter().any(|p| !p.same_as(first)) {
                self.push(Finding::new(
                    FindingId::SlicesDisagree,
                    shown,
                    "the helper's slices embed different Info.plists or launchd plists",
                    "build every architecture from the same plists (one universal build, not lipo of separate builds)",
                ));
            }
        }
        let identifiers: Vec<_> = code
            .slices()
            .iter()
            .map(|s| s.identifier.as_deref())
            .collect();
        if identifiers.windows(2).any(|w| w[0] != w[1]) {
            self.push(Finding::new(
                FindingId::SlicesDisagree,
                shown,
                format!(
                    "the helper's slices are signed with different identifiers: {}",
                    code.slices()
                        .iter()
                        .map(|s| format!(
                            "{} = {}",
                            s.arch,
                            s.identifier.as_deref().unwrap_or("none")
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "sign the universal file once, with one identifier",
            ));
        }
    }

    fn client_requirements(&mut self, shown: &str, texts: &[String]) -> Vec<Requirement> {
        let mut out = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let what = format!("SMAuthorizedClients[{i}]");
            if let Some(req) = self.parse_requirement(shown, &what, text) {
                self.lint_requirement(shown, &what, &req);
                out.push(req);
            }
        }
        if !out.is_empty() && !out.iter().any(|r| lint::has_downgrade_protection(&r.expr)) {
            self.push(Finding::new(
                FindingId::NoDowngradeProtection,
                shown,
                "SMAuthorizedClients accepts any version of the app, including old ones with known bugs",
                "add `and info[CFBundleVersion] >= \"X\"` with the oldest app version allowed to install this helper",
            ));
        }
        out
    }

    fn strict_equal(&mut self, shown: &str, what: &str, text: &str, designated: Option<&str>) {
        if designated != Some(text) {
            self.push(Finding::new(
                FindingId::StrictRequirementMismatch,
                shown,
                format!(
                    "--strict: {what} is not string-equal to the designated requirement {}",
                    designated.map_or("(none)".to_string(), |d| format!("{d:?}"))
                ),
                "run `smbless setreq --write …` to copy the designated requirements into the plists",
            ));
        }
    }
}
