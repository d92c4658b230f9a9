//! One job judged: its plist, its program, its owner app, with every finding it earns.

use plist::{Dictionary, Value};

use super::apps::{AppIndex, PlistFile};
use super::findings::{is_reported, AuditFinding, AuditRule};
use super::program::{self, Judging, Program};
use super::walk::{self, Owner};
use super::{clients, AuditJob, JobSource};
use crate::codesign::Kind;
use crate::install::dir::Dir;
use crate::launchd_policy::{self, KeyRule, NOT_ROOT_OWNED_DIRS, ROOT_OWNED_DIRS};

/// Directories of Apple's sealed system volume: programs there are Apple's and not examined.
const SYSTEM_DIRS: &[&str] = &["/System", "/usr", "/bin", "/sbin"];

/// Where the helpers SMJobBless installs live.
pub const HELPER_DIR: &str = "/Library/PrivilegedHelperTools";

/// Whether `path` is `dir` or lies below it.
fn inside(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn inside_any(path: &str, dirs: &[&str]) -> bool {
    dirs.iter().any(|d| inside(path, d)) && !NOT_ROOT_OWNED_DIRS.iter().any(|d| inside(path, d))
}

/// The shared state of one audit.
pub struct Ctx<'a> {
    /// The audited root.
    pub root: &'a Dir,
    /// The apps found.
    pub apps: AppIndex,
    /// How signatures are judged.
    pub judging: Judging<'a>,
    /// The jobs judged so far.
    pub jobs: Vec<AuditJob>,
    /// Their findings, in job order.
    pub findings: Vec<AuditFinding>,
    /// What could not be read completely (see [`super::AuditReport::incomplete`]).
    pub cut: Vec<String>,
}

/// The program a launchd plist runs, as launchd picks it
/// ([`crate::launchd_policy::launched_program`]), else for an in-bundle job `BundleProgram`
/// relative to the app.
fn program_of(dict: &Dictionary, app: Option<&str>) -> Option<String> {
    if let Some(p) = crate::launchd_policy::launched_program(dict) {
        return Some(p.to_owned());
    }
    let bundle = dict.get("BundleProgram").and_then(Value::as_string)?;
    Some(format!("{}/{}", app?, bundle.trim_start_matches('/')))
}

fn strings(dict: Option<&Dictionary>, key: &str) -> Vec<String> {
    match dict.and_then(|d| d.get(key)) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_string)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn reachable(dict: Option<&Dictionary>) -> bool {
    dict.is_some_and(|d| d.contains_key("MachServices") || d.contains_key("Sockets"))
}

fn quote(path: &str) -> String {
    format!("'{}'", path.replace('\'', r"'\''"))
}

impl Ctx<'_> {
    fn push(&mut self, job: AuditJob, findings: Vec<AuditFinding>) {
        let label = job.label.clone();
        let index = self.jobs.len();
        self.findings.extend(findings.into_iter().map(|mut f| {
            f.job = index;
            f.label.clone_from(&label);
            f
        }));
        self.jobs.push(job);
    }

    /// The command that removes a job's files from the audited system.
    fn removal(job: &AuditJob) -> String {
        if matches!(
            job.source,
            JobSource::SmappserviceDaemon | JobSource::SmappserviceAgent | JobSource::BundledHelper
        ) {
            return "the job is part of its app: reinstall the app from its vendor, or remove \
                    the app"
                .to_string();
        }
        let mut files: Vec<String> = job.plist.iter().map(|p| quote(p)).collect();
        if let Some(p) = job.program.as_deref().filter(|p| inside(p, HELPER_DIR)) {
            files.push(quote(p));
        }
        let rm = format!("sudo rm -f {}", files.join(" "));
        match (&job.label, job.source) {
            (Some(l), JobSource::LaunchDaemon) => {
                format!(
                    "sudo launchctl bootout {}; {rm}",
                    quote(&format!("system/{l}"))
                )
            }
            (Some(l), JobSource::LaunchAgent) => {
                format!("launchctl bootout gui/$(id -u)/{}; {rm}", quote(l))
            }
            _ => rm,
        }
    }

    /// A launchd plist found in `/Library/LaunchDaemons|LaunchAgents` (app `None`) or inside
    /// app `app` (an SMAppService job).
    pub fn plist_job(&mut self, file: PlistFile, source: JobSource, app: Option<usize>) {
        let mut f = Vec::new();
        let mut job = AuditJob::new(source, Some(file.shown.clone()));
        let app_path = app
            .and_then(|i| self.apps.apps.get(i))
            .map(|a| a.path.clone());
        job.owner_app.clone_from(&app_path);
        let dict = match file.dict {
            Ok(d) => d,
            Err(why) => {
                f.push(AuditFinding::new(
                    AuditRule::PlistUnreadable,
                    &file.shown,
                    format!("{} {why}", file.shown),
                    "launchd cannot load it either: fix it, or remove it if nothing needs it",
                ));
                return self.push(job, f);
            }
        };
        job.label = dict
            .get("Label")
            .and_then(Value::as_string)
            .map(str::to_string);
        if job.label.is_none() {
            f.push(AuditFinding::new(
                AuditRule::PlistUnreadable,
                &file.shown,
                format!("{} has no Label string; launchd refuses it", file.shown),
                "add the job's Label, or remove the plist if nothing needs it",
            ));
        }
        if app.is_none() {
            if let Some(owner) = file.owner {
                file_safety(&file.shown, owner, &mut f);
            }
            self.path_safety(&file.shown, &mut f);
        }
        let label = job.label.clone().unwrap_or_default();
        for j in launchd_policy::judge(&dict, &label) {
            let in_bundle = app.is_some() && j.rule == KeyRule::BundleProgram;
            if is_reported(j.rule) && !in_bundle {
                f.push(AuditFinding::launchd(j, &file.shown));
            }
        }
        job.program = program_of(&dict, app_path.as_deref());
        job.owner_ids = strings(Some(&dict), "AssociatedBundleIdentifiers");
        let program = self.program(&mut job, &mut f, Some(&dict), app);
        self.owner(&mut job, &mut f, program.as_ref(), app);
        self.push(job, f);
    }

    /// A file of `/Library/PrivilegedHelperTools` that no plist read runs; `daemons_read`
    /// says whether every daemon plist could be read (else "no plist runs it" is unknown).
    pub fn helper_job(&mut self, name: &str, daemons_read: bool) {
        let mut f = Vec::new();
        let mut job = AuditJob::new(JobSource::PrivilegedHelper, None);
        job.label = Some(name.to_string());
        let path = format!("{HELPER_DIR}/{name}");
        job.program = Some(path.clone());
        f.extend(daemons_read.then(|| AuditFinding::new(
            AuditRule::HelperWithoutPlist,
            &path,
            format!("no launchd plist in /Library/LaunchDaemons runs {path}: a leftover of an uninstalled or half-removed helper"),
            format!("if nothing needs it: {}", Self::removal(&job)),
        )));
        let program = self.program(&mut job, &mut f, None, None);
        self.owner(&mut job, &mut f, program.as_ref(), None);
        self.push(job, f);
    }

    /// An SMJobBless helper still inside app `app` (`Contents/Library/LaunchServices/NAME`).
    pub fn bundled_helper(&mut self, app: usize, name: &str) {
        let mut f = Vec::new();
        let mut job = AuditJob::new(JobSource::BundledHelper, None);
        job.label = Some(name.to_string());
        let app_path = self.apps.apps.get(app).map(|a| a.path.clone());
        job.owner_app.clone_from(&app_path);
        job.program = app_path.map(|a| format!("{a}/Contents/Library/LaunchServices/{name}"));
        let program = self.program(&mut job, &mut f, None, Some(app));
        self.owner(&mut job, &mut f, program.as_ref(), Some(app));
        self.push(job, f);
    }

    /// Judge every directory on the way to `shown` (a system path): links and other writers.
    fn path_safety(&self, shown: &str, f: &mut Vec<AuditFinding>) {
        if let Some(located) = walk::locate(self.root, shown) {
            unsafe_path(shown, &located.unsafe_dirs, f);
        }
    }

    /// Read and judge the program of `job` (`job.program`), with `plist` the job's launchd
    /// plist if any and `app` the app carrying the job if it is inside one.
    fn program(
        &mut self,
        job: &mut AuditJob,
        f: &mut Vec<AuditFinding>,
        plist: Option<&Dictionary>,
        app: Option<usize>,
    ) -> Option<Program> {
        let sys = self.program_path(job, f, app)?;
        let (parent, name) = self.locate(job, f, &sys, app)?;
        let program = match program::read(&parent, &name, &sys, &self.judging) {
            Ok(p) => p,
            Err(why) => {
                f.push(AuditFinding::new(
                    AuditRule::ProgramUnreadable,
                    &sys,
                    format!("{sys} {why}"),
                    "a launchd program should be a regular Mach-O executable; replace it, or \
                     remove the job",
                ));
                return None;
            }
        };
        if app.is_none() {
            file_safety(&sys, program.owner, f);
        }
        judge_program(job, f, &sys, &program, plist);
        Some(program)
    }

    /// The job's program path, when there is one to examine: not on Apple's sealed system
    /// volume, with a warning when a root job's program lies outside root-owned directories.
    fn program_path(
        &self,
        job: &AuditJob,
        f: &mut Vec<AuditFinding>,
        app: Option<usize>,
    ) -> Option<String> {
        let Some(sys) = job.program.clone() else {
            f.push(AuditFinding::new(
                AuditRule::PlistWithoutProgram,
                job.plist.clone().unwrap_or_default(),
                "names no program (no Program, ProgramArguments or BundleProgram)",
                format!("if nothing needs the job: {}", Self::removal(job)),
            ));
            return None;
        };
        if inside_any(&sys, SYSTEM_DIRS) {
            return None;
        }
        if app.is_none() && job.source.runs_as_root() && !inside_any(&sys, ROOT_OWNED_DIRS) {
            f.push(AuditFinding::new(
                AuditRule::ProgramOutsideRootOwned,
                &sys,
                format!(
                    "the root job runs {sys}, outside the directories only root can change ({})",
                    ROOT_OWNED_DIRS.join(", ")
                ),
                "install the program under /Library/PrivilegedHelperTools (root:wheel, mode \
                 0544 or 0755)",
            ));
        }
        Some(sys)
    }

    /// Walk to the program's directory, judging the directories on the way (outside apps);
    /// `None` (with a finding) when it is missing.
    fn locate(
        &self,
        job: &AuditJob,
        f: &mut Vec<AuditFinding>,
        sys: &str,
        app: Option<usize>,
    ) -> Option<(Dir, String)> {
        let located = walk::locate(self.root, sys);
        if let Some(l) = located.as_ref().filter(|_| app.is_none()) {
            unsafe_path(sys, &l.unsafe_dirs, f);
        }
        let found = located
            .and_then(|l| Some((l.parent?, l.name)))
            .filter(|(parent, name)| walk::lstat(parent, name).is_some());
        if found.is_none() {
            self.missing(job, f, sys);
        }
        found
    }

    fn missing(&self, job: &AuditJob, f: &mut Vec<AuditFinding>, sys: &str) {
        let shown = job.plist.clone().unwrap_or_else(|| sys.to_string());
        f.push(AuditFinding::new(
            AuditRule::PlistWithoutProgram,
            shown,
            format!("its program {sys} does not exist: launchd cannot start the job, and whoever can create that path decides what runs"),
            format!("if nothing needs the job: {}", Self::removal(job)),
        ));
    }

    /// The job's owner app: the app carrying it, or the one its identifiers name.
    fn owner(
        &mut self,
        job: &mut AuditJob,
        f: &mut Vec<AuditFinding>,
        program: Option<&Program>,
        app: Option<usize>,
    ) {
        let found = app.or_else(|| self.apps.find(&job.owner_ids));
        let Some(i) = found else {
            if !job.owner_ids.is_empty() {
                let path = job
                    .plist
                    .clone()
                    .or_else(|| job.program.clone())
                    .unwrap_or_default();
                f.push(AuditFinding::new(
                    AuditRule::OrphanedJob,
                    path,
                    format!(
                        "no app with the identifier {} is installed: the job outlived its app",
                        job.owner_ids.join(" or ")
                    ),
                    format!("if nothing needs the job: {}", Self::removal(job)),
                ));
            }
            return;
        };
        job.owner_app = self.apps.apps.get(i).map(|a| a.path.clone());
        let Some(team) = program.and_then(Program::team) else {
            return;
        };
        if let Some(app_team) = self.apps.team(i, &self.judging) {
            if app_team != team {
                f.push(AuditFinding::new(
                    AuditRule::ProgramTeamMismatch,
                    job.program.clone().unwrap_or_default(),
                    format!(
                        "the program is signed by team {team}, its app {} by team {app_team}",
                        job.owner_app.as_deref().unwrap_or_default()
                    ),
                    "find out who replaced the program; reinstall it from the app's vendor",
                ));
            }
        }
    }
}

/// The finding for the unsafe directories on the way to `shown`, if any.
fn unsafe_path(shown: &str, unsafe_dirs: &[String], f: &mut Vec<AuditFinding>) {
    if unsafe_dirs.is_empty() {
        return;
    }
    f.push(AuditFinding::new(
        AuditRule::PathUserWritable,
        shown,
        format!(
            "the path to {shown} is not root's alone: {}; whoever controls it can swap the \
             file launchd reads",
            unsafe_dirs.join("; ")
        ),
        "keep launchd files and the programs they run in directories owned by root and \
         writable by nobody else (chown root:wheel, chmod go-w)",
    ));
}

/// What the program's own bytes say: signature, version, client requirements, client check.
fn judge_program(
    job: &mut AuditJob,
    f: &mut Vec<AuditFinding>,
    sys: &str,
    program: &Program,
    plist: Option<&Dictionary>,
) {
    job.signature = Some(program.summary());
    job.version = program.version();
    job.designated_requirement = program.designated_requirement();
    signature(sys, program, f);
    job.client_requirements = clients::authorized_clients(program.info.as_ref());
    for r in clients::judge(sys, &job.client_requirements, f) {
        clients::identifiers(&r.expr, &mut job.owner_ids);
    }
    // The copies still inside apps are not what launchd runs.
    let launchd_runs_it = job.source.runs_as_root() && job.source != JobSource::BundledHelper;
    if launchd_runs_it && (reachable(plist) || reachable(program.launchd.as_ref())) {
        client_check(sys, program, f);
        job.client_check = Some(program.client_check.clone());
    }
}

/// Owner and mode of a program or plist a root job uses.
fn file_safety(shown: &str, owner: Owner, f: &mut Vec<AuditFinding>) {
    let (writable, other_owner) = owner.problems();
    if let Some(w) = writable {
        f.push(AuditFinding::new(
            AuditRule::FileWritable,
            shown,
            format!("{shown} is {w}: any such user can change what launchd runs"),
            format!("sudo chmod go-w {}", quote(shown)),
        ));
    }
    if let Some(o) = other_owner {
        f.push(AuditFinding::new(
            AuditRule::FileNotRootOwned,
            shown,
            format!("{shown} is {o}: its owner can change what launchd runs"),
            format!("sudo chown root:wheel {}", quote(shown)),
        ));
    }
}

fn signature(sys: &str, program: &Program, f: &mut Vec<AuditFinding>) {
    let slices = &program.exam.slices;
    if let Some(s) = slices.iter().find(|s| s.kind == Kind::Unsigned) {
        f.push(AuditFinding::new(
            AuditRule::ProgramUnsigned,
            sys,
            format!("{sys} has no code signature ({})", s.arch),
            "replace it with a build signed with a Developer ID Application certificate",
        ));
        return;
    }
    if let Some(s) = slices
        .iter()
        .find(|s| matches!(s.kind, Kind::Adhoc | Kind::LinkerSigned))
    {
        f.push(AuditFinding::new(
            AuditRule::ProgramAdhoc,
            sys,
            format!(
                "{sys} is {} ({}): no certificate ties it to a developer",
                if s.kind == Kind::Adhoc {
                    "ad-hoc signed"
                } else {
                    "only linker-signed"
                },
                s.arch
            ),
            "replace it with a build signed with a Developer ID Application certificate",
        ));
    }
    if !program.exam.is_valid() {
        let problems = program.exam.all_problems();
        f.push(AuditFinding::new(
            AuditRule::ProgramSignatureInvalid,
            sys,
            format!(
                "the signature of {sys} is not valid: {}",
                problems.first().map_or("", String::as_str)
            ),
            "the file changed after it was signed, or its certificate is not valid: reinstall \
             it from its vendor",
        ));
    }
    if program.x86_64_only() {
        f.push(AuditFinding::new(
            AuditRule::X86_64Only,
            sys,
            format!("{sys} has only x86_64 code: on Apple silicon it runs only under Rosetta, and stops when Rosetta is removed"),
            "ask the vendor for a universal (arm64 + x86_64) build",
        ));
    }
}

fn client_check(sys: &str, program: &Program, f: &mut Vec<AuditFinding>) {
    use super::client_check::Verdict;
    let evidence = &program.client_check.evidence;
    match program.client_check.verdict {
        Verdict::CodeSigning => {}
        Verdict::None => f.push(AuditFinding::new(
            AuditRule::NoClientCheck,
            sys,
            format!("heuristic: {sys} imports none of the APIs that authenticate a client by code signature (SecCodeCopyGuestWithAttributes with SecCodeCheckValidity, xpc_connection_set_peer_code_signing_requirement, NSXPC setCodeSigningRequirement:); if it accepts requests from any local process, it is a local root"),
            "check every client against a requirement pinned to your team (audit token → SecCodeCopyGuestWithAttributes → SecCodeCheckValidity, or setCodeSigningRequirement: on macOS 13+); this finding is a heuristic over imports",
        )),
        Verdict::PidOnly => f.push(AuditFinding::new(
            AuditRule::PidBasedClientCheck,
            sys,
            format!("heuristic: {sys} identifies clients only by process ID ({}); a client can exit and let another process take its PID before the check", evidence.join(", ")),
            "identify clients by audit token (kSecGuestAttributeAudit), never by PID; this finding is a heuristic over imports",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(xml: &str) -> Dictionary {
        plist::from_bytes::<Value>(xml.as_bytes())
            .unwrap()
            .into_dictionary()
            .unwrap()
    }

    #[test]
    fn program_is_launchds_choice() {
        let both = dict("<plist><dict><key>Program</key><string>/a</string><key>ProgramArguments</key><array><string>/b</string></array></dict></plist>");
        assert_eq!(program_of(&both, None).as_deref(), Some("/a"));
        let args = dict("<plist><dict><key>ProgramArguments</key><array><string>/b</string><string>-x</string></array></dict></plist>");
        assert_eq!(program_of(&args, None).as_deref(), Some("/b"));
        let bundle = dict(
            "<plist><dict><key>BundleProgram</key><string>Contents/MacOS/d</string></dict></plist>",
        );
        assert_eq!(
            program_of(&bundle, Some("/Applications/A.app")).as_deref(),
            Some("/Applications/A.app/Contents/MacOS/d")
        );
        assert_eq!(program_of(&bundle, None), None);
    }

    #[test]
    fn root_owned_and_system_locations() {
        assert!(inside_any(
            "/Library/PrivilegedHelperTools/x",
            ROOT_OWNED_DIRS
        ));
        assert!(!inside_any(
            "/Library/PrivilegedHelperToolsX/x",
            ROOT_OWNED_DIRS
        ));
        assert!(!inside_any("/usr/local/bin/x", ROOT_OWNED_DIRS));
        assert!(inside_any("/usr/libexec/x", SYSTEM_DIRS));
        assert!(!inside_any("/usr/local/libexec/x", SYSTEM_DIRS));
    }

    #[test]
    fn removal_commands_quote_what_they_name() {
        let mut job = AuditJob::new(
            JobSource::LaunchDaemon,
            Some("/Library/LaunchDaemons/it's.plist".into()),
        );
        job.label = Some("a;b".into());
        job.program = Some(format!("{HELPER_DIR}/a;b"));
        assert_eq!(
            Ctx::removal(&job),
            "sudo launchctl bootout 'system/a;b'; sudo rm -f \
             '/Library/LaunchDaemons/it'\\''s.plist' '/Library/PrivilegedHelperTools/a;b'"
        );
        job.program = Some("/usr/local/bin/tool".into());
        assert!(
            !Ctx::removal(&job).contains("/usr/local"),
            "only helpers are removed"
        );
        job.source = JobSource::SmappserviceDaemon;
        assert!(Ctx::removal(&job).starts_with("the job is part of its app"));
    }
}
