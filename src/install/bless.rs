//! `bless` and the prediction `status --app` and `verify --root` share: snapshot, judge once,
//! read what is installed once, plan, execute.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::LAUNCH_SERVICES_DIR;

use super::backend::{display_command, JobBackend, LaunchctlOp, ServiceManagerKind};
use super::dir::{self, Dir};
use super::execute::{self, Commit, Target};
use super::helper::{HelperFacts, MAX_HELPER_SIZE};
use super::installed;
use super::layout::{Checked, Layout};
use super::plan::{self, Action, Decision, Facts, Installed};
use super::policy::{self, Policy};
use super::refusal::{Refusal, RefusalId};
use super::snapshot::{Limits, Snapshot};
use super::trust::{AppJudgement, TrustCheck};
use super::{
    pause_point, recover, require_privileges, unsafe_refusal, validate_label, InstallError,
    LabelLock, HELPER_MODE, PLIST_MODE,
};

/// The largest app `Info.plist` read.
const MAX_INFO_PLIST: u64 = 16 * 1024 * 1024;

/// How to bless.
pub struct BlessOptions<'a> {
    /// The root to install under (`/` for the running system).
    pub root: PathBuf,
    /// Print the plan; change nothing.
    pub dry_run: bool,
    /// The job backend (loads and unloads, renders the job file).
    pub service: &'a dyn JobBackend,
    /// Answers the trust questions.
    pub trust: &'a dyn TrustCheck,
    /// What the installer itself demands (`enforce` is set automatically for the running
    /// system and when running as root).
    pub policy: Policy,
}

/// How a bless ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlessOutcome {
    /// The helper was installed (fresh or upgrade) and, with a service manager, loaded.
    Installed,
    /// Nothing needed doing (the installed version is the same or greater).
    NoChange,
    /// `--dry-run`: the plan was made and nothing changed.
    Planned,
    /// A check refused the install; see `refusals`.
    Refused,
}

/// One file a bless writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedFile {
    /// Where it is written (under the root).
    pub path: PathBuf,
    /// Its path on the installed system.
    pub system_path: PathBuf,
    /// Owner, e.g. `root:wheel (0:0)`.
    pub owner: String,
    /// Octal mode, e.g. `0544`.
    pub mode: String,
    /// What it is.
    pub content: String,
}

/// What a bless will do (printed by `--dry-run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The decision.
    pub action: Action,
    /// Directories to create, with modes.
    pub create_directories: Vec<PlannedFile>,
    /// Files to write.
    pub files: Vec<PlannedFile>,
    /// Service-manager command lines, in order.
    pub commands: Vec<String>,
    /// The steps, in order, in words.
    pub steps: Vec<String>,
}

/// The result of [`bless`].
#[derive(Debug, Clone, Serialize)]
pub struct BlessReport {
    /// How it ended.
    pub outcome: BlessOutcome,
    /// The label.
    pub label: String,
    /// The app.
    pub app: PathBuf,
    /// The app's `CFBundleIdentifier`.
    pub app_id: Option<String>,
    /// The resolved root.
    pub root: PathBuf,
    /// The service manager used.
    pub service_manager: ServiceManagerKind,
    /// The prediction, in the words `status --app` and `verify --root` use too.
    pub prediction: Option<String>,
    /// The decision, once versions were compared.
    pub action: Option<Action>,
    /// The plan, when the install got that far.
    pub plan: Option<Plan>,
    /// Why it was refused.
    pub refusals: Vec<Refusal>,
    /// What recovery of an interrupted earlier install did, if anything.
    pub recovered: Option<String>,
    /// Other things worth saying (a loosened policy is always said here).
    pub notes: Vec<String>,
    /// The installed helper path (under the root) after success.
    pub installed_helper: Option<PathBuf>,
    /// The installed plist path (under the root) after success.
    pub installed_plist: Option<PathBuf>,
}

/// The app as examined once, for one label.
struct Examined {
    /// The app as the user named it (the snapshot it was judged from is gone).
    original: PathBuf,
    label: String,
    judgement: AppJudgement,
    helper: Result<(HelperFacts, Vec<u8>), String>,
}

/// The label an app blesses when none is given: the only key of `SMPrivilegedExecutables`.
pub fn default_label(app: &Path) -> Result<String, InstallError> {
    let snapshot = Snapshot::capture(app, Limits::default())?;
    label_of(&snapshot)
}

fn label_of(snapshot: &Snapshot) -> Result<String, InstallError> {
    let bytes = snapshot.read(Path::new("Contents/Info.plist"), MAX_INFO_PLIST)?;
    let app = snapshot.original().to_path_buf();
    let source = crate::plists::PlistSource(app.join("Contents/Info.plist").display().to_string());
    let info = crate::plists::Plist::parse(bytes, source)
        .map_err(|e| InstallError::App(crate::bundle::BundleError::from(e)))?;
    let keys: Vec<String> = info
        .dict("SMPrivilegedExecutables")
        .map_err(|e| InstallError::App(crate::bundle::BundleError::from(e)))?
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default();
    match keys.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(InstallError::LabelAmbiguous {
            app,
            found: "no helper".into(),
        }),
        many => Err(InstallError::LabelAmbiguous {
            app,
            found: format!("{} helpers ({})", many.len(), many.join(", ")),
        }),
    }
}

fn examine(
    snapshot: &Snapshot,
    label: &str,
    trust: &dyn TrustCheck,
) -> Result<Examined, InstallError> {
    let judgement = trust
        .judge_app(snapshot.bundle(), label)
        .map_err(|source| InstallError::Trust {
            what: format!("{}: contract check", snapshot.original().display()),
            source,
        })?;
    pause_point("judged");
    let rel = Path::new(LAUNCH_SERVICES_DIR).join(label);
    let shown = snapshot.original().join(&rel);
    let helper = match snapshot.read(&rel, MAX_HELPER_SIZE) {
        Ok(bytes) => HelperFacts::parse(&shown, &bytes)
            .map(|f| (f, bytes))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    Ok(Examined {
        original: snapshot.original().to_path_buf(),
        label: label.to_owned(),
        judgement,
        helper,
    })
}

/// The facts of the examination, with `installed` and the policy: what the planner weighs.
fn facts(
    ex: &Examined,
    installed: Installed,
    policy: &Policy,
    backend: &dyn JobBackend,
    trust: &dyn TrustCheck,
) -> Result<(Facts, Option<Vec<u8>>), InstallError> {
    let label = ex.label.as_str();
    let bundled = match &ex.helper {
        Ok((f, _)) => f.version().map_err(|e| {
            format!(
                "{}: {e}",
                ex.original.join(LAUNCH_SERVICES_DIR).join(label).display()
            )
        }),
        Err(e) => Err(e.clone()),
    };
    let installer = match (policy.installer_requirement(), &ex.helper) {
        (Some(req), Ok((_, bytes))) => Some(
            trust
                .code_satisfies(Path::new(label), bytes, &req)
                .map_err(|source| InstallError::Trust {
                    what: format!("{label}: --team-id/--requirement"),
                    source,
                })?,
        ),
        (Some(_), Err(e)) => Some(super::Verdict::Fail(vec![e.clone()])),
        (None, _) => None,
    };
    let (job, job_refusals) = render_job(ex, backend);
    let facts = Facts {
        label: label.to_owned(),
        app: ex.original.to_path_buf(),
        contract: ex.judgement.contract.clone(),
        app_id: ex.judgement.app_id.clone(),
        requirement: ex.judgement.requirement.clone(),
        bundled,
        policy: policy::check(policy, &ex.judgement, label),
        installer,
        job: job_refusals,
        installed,
    };
    Ok((facts, job))
}

/// The job file rendered from the helper's embedded launchd plist, or the key refusals.
fn render_job(ex: &Examined, backend: &dyn JobBackend) -> (Option<Vec<u8>>, Vec<Refusal>) {
    let label = ex.label.as_str();
    let Ok((facts, _)) = &ex.helper else {
        return (None, Vec::new());
    };
    // The contract reports a missing launchd plist; nothing to render then.
    let (Some(embedded), Some(app_id)) = (facts.launchd.as_ref(), ex.judgement.app_id.as_deref())
    else {
        return (None, Vec::new());
    };
    match backend.render(embedded, label, &Layout::system_helper(label), app_id) {
        Ok(bytes) => (Some(bytes), Vec::new()),
        Err(refusals) => (None, refusals),
    }
}

/// Options of [`predict`].
pub struct PredictOptions<'a> {
    /// The job backend (for reading installed job files).
    pub service: &'a dyn JobBackend,
    /// Answers the trust questions.
    pub trust: &'a dyn TrustCheck,
    /// What the installer demands (`enforce` as for `bless`).
    pub policy: Policy,
}

/// The prediction for one label: the decision and its one-line description.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// The label.
    pub label: String,
    /// The decision.
    pub decision: Decision,
    /// [`Decision::describe`].
    pub text: String,
    /// The installed version, when one was read.
    pub installed_version: Option<String>,
}

/// Where the installed helper to predict against is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstalledAt {
    /// Under a root (`ROOT/Library/…`; `/` for this machine).
    Root(PathBuf),
    /// This helper file (no job file is looked at).
    File(PathBuf),
}

/// What `bless` of `app` would do for each of `labels` (every helper the app names when
/// empty) against what is installed at `at`: the planner's decision, word for word what
/// `bless --dry-run` says. `Err` only when it could not run.
pub fn predict(
    app: &Path,
    labels: &[String],
    at: &InstalledAt,
    opts: &PredictOptions<'_>,
) -> Result<Vec<Prediction>, InstallError> {
    let snapshot = Snapshot::capture(app, Limits::default())?;
    let labels = match labels {
        [] => vec![label_of(&snapshot)?],
        _ => labels.to_vec(),
    };
    let (checked, system) = match at {
        InstalledAt::Root(root) => match Layout::open(root)? {
            Ok(layout) => (Some(layout.check()?), layout.is_system()),
            Err(u) => return Ok(refused_everywhere(labels, unsafe_refusal(vec![u]))),
        },
        InstalledAt::File(_) => (None, false),
    };
    let policy = Policy {
        enforce: opts.policy.enforce || system || dir::euid() == 0,
        ..opts.policy.clone()
    };
    let mut out = Vec::new();
    for label in labels {
        validate_label(&label)?;
        // One snapshot for every label, judged once per label (each is its own contract).
        let ex = examine(&snapshot, &label, opts.trust)?;
        let installed = match (at, &checked) {
            (InstalledAt::File(path), _) => installed_file(path, &ex, opts)?,
            (_, Some(c)) => installed::read(
                c.helper.as_ref(),
                c.daemon.as_ref(),
                &label,
                opts.service,
                opts.trust,
                &ex.judgement,
            )?,
            _ => Installed::Nothing,
        };
        out.push(prediction(&ex, installed, &policy, opts)?);
    }
    Ok(out)
}

fn prediction(
    ex: &Examined,
    installed: Installed,
    policy: &Policy,
    opts: &PredictOptions<'_>,
) -> Result<Prediction, InstallError> {
    let installed_version = match &installed {
        Installed::Helper { version, .. } => Some(version.to_string()),
        _ => None,
    };
    let (facts, _) = facts(ex, installed, policy, opts.service, opts.trust)?;
    let decision = plan::plan(&facts);
    Ok(Prediction {
        label: ex.label.clone(),
        text: decision.describe(),
        decision,
        installed_version,
    })
}

fn refused_everywhere(labels: Vec<String>, refusal: Refusal) -> Vec<Prediction> {
    let d = Decision::Refuse {
        refusals: vec![refusal],
    };
    labels
        .into_iter()
        .map(|label| Prediction {
            label,
            text: d.describe(),
            decision: d.clone(),
            installed_version: None,
        })
        .collect()
}

/// What is installed at the helper file `path` (`--installed PATH`; no job file there).
fn installed_file(
    path: &Path,
    ex: &Examined,
    opts: &PredictOptions<'_>,
) -> Result<Installed, InstallError> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(Installed::Nothing);
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let d = Dir::open_path(parent)?;
    let name = name.to_string_lossy();
    installed::read(
        Some(&d),
        None,
        &name,
        opts.service,
        opts.trust,
        &ex.judgement,
    )
}

fn new_report(app: &Path, label: &str, root: &Path, service: &dyn JobBackend) -> BlessReport {
    BlessReport {
        outcome: BlessOutcome::Refused,
        label: label.to_owned(),
        app: app.to_path_buf(),
        app_id: None,
        root: root.to_path_buf(),
        service_manager: service.kind(),
        prediction: None,
        action: None,
        plan: None,
        refusals: Vec::new(),
        recovered: None,
        notes: Vec::new(),
        installed_helper: None,
        installed_plist: None,
    }
}

fn policy_notes(policy: &Policy) -> Vec<String> {
    let mut notes = Vec::new();
    if policy.enforce && policy.allow_unpinned {
        notes.push("--allow-unpinned: the root policy is LOOSENED (ad-hoc, linker-signed or unsigned code and requirements without anchor or team pinning are accepted); never use this outside development".into());
    } else if policy.enforce {
        notes.push("root policy: certificate-signed code on both sides, requirements anchored and team-pinned in both directions".into());
    }
    if let Some(r) = policy.installer_requirement() {
        notes.push(format!("installer requirement on the helper: {r}"));
    }
    notes
}

/// One bless in progress: the checked root, the one examination, the policy in force.
struct Run<'a, 'o> {
    layout: Layout,
    ex: Examined,
    policy: Policy,
    opts: &'a BlessOptions<'o>,
    as_root: bool,
}

/// Install or upgrade the helper `label` of `app` (the only one when `label` is `None`).
///
/// Returns a report for every outcome a check decided (installed, no change, refused,
/// planned); `Err` only when the bless could not run.
pub fn bless(
    app: &Path,
    label: Option<&str>,
    opts: &BlessOptions<'_>,
) -> Result<BlessReport, InstallError> {
    let mut report = new_report(app, label.unwrap_or(""), &opts.root, opts.service);
    let layout = match Layout::open(&opts.root)? {
        Ok(l) => l,
        Err(u) => {
            report.refusals.push(unsafe_refusal(vec![u]));
            return Ok(report);
        }
    };
    require_privileges(&layout, opts.dry_run)?;
    let as_root = dir::euid() == 0;
    let policy = Policy {
        enforce: opts.policy.enforce || layout.is_system() || as_root,
        ..opts.policy.clone()
    };
    report.root = layout.root().to_path_buf();
    report.notes.extend(policy_notes(&policy));
    if opts.service.kind() == ServiceManagerKind::None {
        report
            .notes
            .push("service manager: none (files only; nothing is loaded or unloaded)".into());
    }
    let ex = match capture_and_examine(app, label, opts.trust)? {
        Ok(ex) => ex,
        Err(refusal) => {
            report.refusals.push(refusal);
            return Ok(report);
        }
    };
    report.label = ex.label.clone();
    report.app_id = ex.judgement.app_id.clone();
    let run = Run {
        layout,
        ex,
        policy,
        opts,
        as_root,
    };
    if opts.dry_run {
        run.dry_run(report)
    } else {
        run.install(report)
    }
}

/// Capture the app, pick the label, judge once. `Ok(Err(_))`: the capture refused an entry.
fn capture_and_examine(
    app: &Path,
    label: Option<&str>,
    trust: &dyn TrustCheck,
) -> Result<Result<Examined, Refusal>, InstallError> {
    let snapshot = match Snapshot::capture(app, Limits::default()) {
        Ok(s) => s,
        Err(InstallError::AppEntry { path, problem }) => {
            return Ok(Err(Refusal::new(
                RefusalId::AppEntryUnsafe,
                format!("{}: {problem}", path.display()),
                "a signed app bundle holds only directories, regular files and links inside the bundle; rebuild it, and install from a copy nobody else can write",
            )))
        }
        Err(e) => return Err(e),
    };
    let label = match label {
        Some(l) => l.to_owned(),
        None => label_of(&snapshot)?,
    };
    validate_label(&label)?;
    // The snapshot is dropped here: everything later uses the judgement and bytes in memory.
    examine(&snapshot, &label, trust).map(Ok)
}

impl Run<'_, '_> {
    fn facts(&self, installed: Installed) -> Result<(Facts, Option<Vec<u8>>), InstallError> {
        facts(
            &self.ex,
            installed,
            &self.policy,
            self.opts.service,
            self.opts.trust,
        )
    }

    fn read_installed(
        &self,
        helper: Option<&Dir>,
        daemon: Option<&Dir>,
    ) -> Result<Installed, InstallError> {
        installed::read(
            helper,
            daemon,
            &self.ex.label,
            self.opts.service,
            self.opts.trust,
            &self.ex.judgement,
        )
    }

    /// The real install: directories, lock, recovery, the installed state, plan, execute.
    fn install(self, mut report: BlessReport) -> Result<BlessReport, InstallError> {
        let checked = self.layout.ensure()?;
        if !checked.unsafe_dirs.is_empty() {
            report.refusals.push(unsafe_refusal(checked.unsafe_dirs));
            return Ok(report);
        }
        let Some(dirs) = checked.into_dirs() else {
            return Err(InstallError::Io {
                path: self.layout.helper_dir(),
                op: "opening the install directories",
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        };
        let label = self.ex.label.clone();
        let _lock = LabelLock::acquire(&dirs, &label)?;
        super::failpoint("locked");
        report.recovered = recover(&self.layout, &dirs, &label, self.opts.service)?;
        let installed = self.read_installed(Some(&dirs.helper), Some(&dirs.daemon))?;
        let old_version = match &installed {
            Installed::Helper { version, .. } => Some(version.to_string()),
            _ => None,
        };
        let (facts, job) = self.facts(installed)?;
        let decision = plan::plan(&facts);
        report.prediction = Some(decision.describe());
        let action = match decision {
            Decision::Refuse { refusals } => {
                report.refusals = refusals;
                return Ok(report);
            }
            Decision::Proceed { action } => action,
        };
        report.action = Some(action.clone());
        if let Action::None { .. } = action {
            report.outcome = BlessOutcome::NoChange;
            report.notes.push(format!(
                "{}; bump CFBundleVersion of the helper to replace it",
                action.describe()
            ));
            return Ok(report);
        }
        report.plan = Some(make_plan(
            &self.layout,
            &label,
            &action,
            &[],
            self.opts.service,
            true,
        ));
        let job = job.ok_or_else(|| InstallError::HelperUnreadable {
            path: self.ex.original.join(LAUNCH_SERVICES_DIR).join(&label),
            reason: "the examined helper has no launchd plist to install".into(),
        })?;
        self.execute(report, &dirs, &facts, &action, &job, old_version.as_deref())
    }

    fn execute(
        &self,
        mut report: BlessReport,
        dirs: &super::layout::Dirs,
        facts: &Facts,
        action: &Action,
        job: &[u8],
        old_version: Option<&str>,
    ) -> Result<BlessReport, InstallError> {
        let label = self.ex.label.as_str();
        let (Ok((_, helper)), Some(requirement)) = (&self.ex.helper, facts.requirement.as_deref())
        else {
            return Err(InstallError::HelperUnreadable {
                path: self.ex.original.join(LAUNCH_SERVICES_DIR).join(label),
                reason: "the examined helper could not be read".into(),
            });
        };
        let installer_requirement = self.policy.installer_requirement();
        let target = Target {
            layout: &self.layout,
            dirs,
            backend: self.opts.service,
            trust: self.opts.trust,
        };
        let commit = Commit {
            label,
            helper,
            job,
            requirement,
            installer_requirement: installer_requirement.as_deref(),
            new_version: &new_version(action),
            old_version,
            as_root: self.as_root,
        };
        match execute::commit(&target, &commit)? {
            Some(refusal) => report.refusals.push(refusal),
            None => {
                report.outcome = BlessOutcome::Installed;
                report.installed_helper = Some(self.layout.helper(label));
                report.installed_plist = Some(self.layout.plist(label));
            }
        }
        Ok(report)
    }

    /// `--dry-run`: the same decision from the directories as they are, and the plan.
    fn dry_run(self, mut report: BlessReport) -> Result<BlessReport, InstallError> {
        let checked = self.layout.check()?;
        if !checked.unsafe_dirs.is_empty() {
            report.refusals.push(unsafe_refusal(checked.unsafe_dirs));
            return Ok(report);
        }
        if pending(&checked, &self.ex.label) {
            report.notes.push(
                "an interrupted earlier install is pending; a real run recovers it first".into(),
            );
        }
        let installed = self.read_installed(checked.helper.as_ref(), checked.daemon.as_ref())?;
        let decision = plan::plan(&self.facts(installed)?.0);
        report.prediction = Some(decision.describe());
        match decision {
            Decision::Refuse { refusals } => report.refusals = refusals,
            Decision::Proceed { action } => {
                report.action = Some(action.clone());
                if let Action::None { .. } = action {
                    report.outcome = BlessOutcome::NoChange;
                    return Ok(report);
                }
                // The running system is only ever written as root, so that is whom a plan shows.
                let as_root = self.as_root || self.layout.is_system();
                report.plan = Some(make_plan(
                    &self.layout,
                    &self.ex.label,
                    &action,
                    &checked.missing,
                    self.opts.service,
                    as_root,
                ));
                report.outcome = BlessOutcome::Planned;
            }
        }
        Ok(report)
    }
}

/// Whether an interrupted install of `label` left anything (journal or temporaries).
fn pending(checked: &Checked, label: &str) -> bool {
    let has =
        |d: &Option<Dir>, name: &str| d.as_ref().is_some_and(|d| d.exists(name).unwrap_or(false));
    has(&checked.state, &super::layout::journal_name(label))
        || has(&checked.helper, &super::layout::new_helper_name(label))
        || has(&checked.daemon, &super::layout::new_plist_name(label))
}

fn new_version(action: &Action) -> String {
    match action {
        Action::Install { version } | Action::Upgrade { to: version, .. } => version.clone(),
        Action::None { bundled, .. } => bundled.clone(),
    }
}

fn owner_text(as_root: bool) -> String {
    if as_root {
        "root:wheel (0:0)".into()
    } else {
        format!("uid {} (not root: staging, owner unchanged)", dir::euid())
    }
}

fn make_plan(
    layout: &Layout,
    label: &str,
    action: &Action,
    missing: &[(PathBuf, u32)],
    service: &dyn JobBackend,
    as_root: bool,
) -> Plan {
    let owner = owner_text(as_root);
    let create_directories = missing
        .iter()
        .map(|(path, mode)| PlannedFile {
            system_path: Path::new("/").join(path.strip_prefix(layout.root()).unwrap_or(path)),
            path: path.clone(),
            owner: owner.clone(),
            mode: format!("{mode:04o}"),
            content: "directory".into(),
        })
        .collect();
    let version = new_version(action);
    let files = vec![
        PlannedFile {
            path: layout.helper(label),
            system_path: Layout::system_helper(label),
            owner: owner.clone(),
            mode: format!("{HELPER_MODE:04o}"),
            content: format!("helper {label} {version}, the examined bytes, re-verified from the copy's descriptor"),
        },
        PlannedFile {
            path: layout.plist(label),
            system_path: Layout::system_plist(label),
            owner,
            mode: format!("{PLIST_MODE:04o}"),
            content: format!(
                "embedded launchd plist through the key policy + ProgramArguments = [{}] + AssociatedBundleIdentifiers",
                Layout::system_helper(label).display()
            ),
        },
    ];
    Plan {
        action: action.clone(),
        create_directories,
        files,
        commands: plan_commands(label, service),
        steps: plan_steps(layout, label, service),
    }
}

fn plan_commands(label: &str, service: &dyn JobBackend) -> Vec<String> {
    let ops = [
        LaunchctlOp::Bootout {
            label: label.to_owned(),
        },
        LaunchctlOp::Bootstrap {
            plist: Layout::system_plist(label),
        },
    ];
    ops.iter()
        .flat_map(|op| service.commands(op))
        .map(|argv| display_command(&argv))
        .collect()
}

fn plan_steps(layout: &Layout, label: &str, service: &dyn JobBackend) -> Vec<String> {
    vec![
        format!("lock {}", layout.lock(label).display()),
        "copy the examined helper bytes to a hidden name in the helper directory and fsync".into(),
        "read the copy back from its descriptor; verify its signature and the sealed SMPrivilegedExecutables requirement (and the installer's own)".into(),
        format!("set owner and mode {HELPER_MODE:04o}; write the job file (mode {PLIST_MODE:04o})"),
        format!("journal the commit in {}", layout.journal(label).display()),
        format!("unload the old job ({})", service.kind()),
        "rename the helper, then the plist, into place; fsync both directories".into(),
        format!("load the job ({}); on failure restore the previous files", service.kind()),
    ]
}

/// Attach the planner's prediction for every helper of `report` (from `contract::verify` of
/// `app`) against what is installed at `at`: each helper summary's `action` and
/// `installed_version`, a `version-not-newer` warning for a no-change, and an error finding for
/// each refusal `bless` would give beyond the contract's own findings
/// (`installed-client-requirement-unsatisfied`, else `bless-refused`).
pub fn attach_predictions(
    report: &mut crate::contract::Report,
    app: &Path,
    at: &InstalledAt,
    opts: &PredictOptions<'_>,
) -> Result<(), InstallError> {
    use crate::contract::{Finding, FindingId, Severity};
    let labels: Vec<String> = report.helpers.iter().map(|h| h.label.clone()).collect();
    if labels.is_empty() {
        return Ok(());
    }
    let shown_at = match at {
        InstalledAt::Root(r) => r.join(super::HELPER_DIR).display().to_string(),
        InstalledAt::File(f) => f.display().to_string(),
    };
    for p in predict(app, &labels, at, opts)? {
        if let Some(h) = report.helpers.iter_mut().find(|h| h.label == p.label) {
            h.action = Some(p.text.clone());
            h.installed_version = p.installed_version.clone();
        }
        match &p.decision {
            Decision::Proceed {
                action: Action::None { installed, bundled },
            } => report.findings.push(Finding::new(
                FindingId::VersionNotNewer,
                shown_at.clone(),
                format!("installed {} is version {installed} ≥ bundled {bundled}: bless will leave the installed helper in place", p.label),
                "bump CFBundleVersion in the helper's Info.plist whenever the helper changes",
            )),
            Decision::Proceed { .. } => {}
            Decision::Refuse { refusals } => {
                for r in refusals.iter().filter(|r| r.id != RefusalId::ContractCheckFailed) {
                    let id = if r.id == RefusalId::InstalledClientRequirementUnsatisfied {
                        FindingId::InstalledClientRequirementUnsatisfied
                    } else {
                        FindingId::BlessRefused
                    };
                    report.findings.push(Finding::new(
                        id,
                        shown_at.clone(),
                        format!("bless would refuse [{}]: {}", r.id, r.message),
                        r.hint.clone(),
                    ));
                }
            }
        }
    }
    report.ok = report.count(Severity::Error) == 0;
    Ok(())
}
