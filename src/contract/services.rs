//! `verify` of SMAppService daemons and agents (macOS 13+): every plist in
//! `Contents/Library/LaunchDaemons` and `Contents/Library/LaunchAgents`, through the checks
//! shared with the `register --check` pre-flight ([`super::app_service`]), then what SMAppService
//! and launchd ask of a job beyond them — the team, the architectures, the hardened runtime, the
//! seal of the plist, the keys — and login items in `Contents/Library/LoginItems`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use plist::{Dictionary, Value};

use crate::bundle::Bundle;
use crate::codesign::directory::flags::RUNTIME;
use crate::codesign::seal::{CodeResources, MAX_CODE_RESOURCES};
use crate::codesign::Kind;
use crate::launchd_policy::{self, KeyRule};
use crate::plists::EmbeddedPlists;

use super::app_service::{self, ServiceKind, ServiceRule};
use super::findings::{Finding, FindingId};
use super::helper_plists::policy_finding;
use super::jobs::{login_items, JobFacts, Mechanism, LOGIN_ITEMS_DIR};
use super::verify::{display, Check, Code};

/// The entitlements that let a debugger attach (macOS spells it both ways).
const GET_TASK_ALLOW: &[&str] = &["com.apple.security.get-task-allow", "get-task-allow"];

/// The finding a rule of the shared checks is reported as.
fn finding_id(rule: ServiceRule) -> FindingId {
    match rule {
        ServiceRule::PlistMissing | ServiceRule::PlistUnreadable => {
            FindingId::ServicePlistUnreadable
        }
        ServiceRule::LabelMissing | ServiceRule::LabelMismatch => FindingId::ServiceLabelMissing,
        ServiceRule::ProgramMissing => FindingId::BundleProgramMissing,
        ServiceRule::ProgramOutsideBundle => FindingId::BundleProgramOutsideBundle,
        ServiceRule::ProgramNotFound => FindingId::BundleProgramNotFound,
        ServiceRule::ProgramNotFile => FindingId::BundleProgramNotFile,
        ServiceRule::ProgramUnsigned => FindingId::BundleProgramUnsigned,
        ServiceRule::ProgramSignatureInvalid => FindingId::BundleProgramSignatureInvalid,
    }
}

/// A key of `dict`, matched ASCII case-insensitively as launchd matches keys.
fn key<'d>(dict: &'d Dictionary, name: &str) -> Option<(&'d str, &'d Value)> {
    dict.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(k, v)| (k.as_str(), v))
}

impl Check<'_> {
    /// Check every SMAppService job plist of the app.
    pub(super) fn services(&mut self, bundle: &Bundle, app_code: Option<&Code>) {
        let root = bundle.root();
        let sealed = sealed_files(root);
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        for kind in [ServiceKind::Daemon, ServiceKind::Agent] {
            for name in app_service::list_plists(root, kind) {
                let job = self.service(root, kind, &name, sealed.as_ref(), app_code);
                if let Some(label) = &job.label {
                    let shown = job.plist.clone().unwrap_or_default();
                    if let Some(first) = labels.insert(label.clone(), shown.clone()) {
                        self.push(Finding::new(
                            FindingId::ServiceLabelDuplicate,
                            shown,
                            format!("`Label` {label:?} is also the label of {first}: launchd holds one job per label, so only one of them can be registered"),
                            "give every job plist of the app its own label",
                        ));
                    }
                }
                self.facts.jobs.push(job);
            }
        }
    }

    /// Check one job plist of `kind` named `name`; what was learnt about it.
    fn service(
        &mut self,
        root: &Path,
        kind: ServiceKind,
        name: &str,
        sealed: Option<&BTreeSet<String>>,
        app_code: Option<&Code>,
    ) -> JobFacts {
        let path = root.join(kind.dir()).join(name);
        let job = app_service::check_job(root, &path, None, &self.options.signature);
        let shown = display(&path);
        for p in &job.problems {
            self.push(Finding::new(
                finding_id(p.rule),
                display(&p.path),
                p.message.clone(),
                p.hint.clone(),
            ));
        }
        let relative = format!("{}/{name}", kind.dir().trim_start_matches("Contents/"));
        if sealed.is_some_and(|s| !s.contains(&relative)) {
            self.push(Finding::new(
                FindingId::ServicePlistUnsealed,
                shown.clone(),
                format!("Contents/{relative} is not listed in the app's Contents/_CodeSignature/CodeResources: the app's signature does not cover the plist SMAppService registers"),
                "add the plist to the app before signing it (a Copy Files build phase), then sign the app",
            ));
        }
        if let Some(plist) = &job.plist {
            self.service_keys(kind, &shown, plist.dictionary(), job.label.as_deref());
        }
        let mut facts = JobFacts {
            kind: Mechanism::service(kind),
            key: name.to_string(),
            label: job.label.clone(),
            plist: Some(shown),
            program: job.program_named.as_deref().map(display),
            version: None,
            code: None,
            authorized_clients: Vec::new(),
            app_requirement: None,
        };
        if let (Some(program), Some(exam)) = (&job.program_named, job.exam) {
            let code = Code { exam };
            facts.version = self.service_program(kind, program, &code, app_code);
            facts.code = Some(code);
        }
        facts
    }

    /// What launchd makes of the job's keys.
    fn service_keys(
        &mut self,
        kind: ServiceKind,
        shown: &str,
        dict: &Dictionary,
        label: Option<&str>,
    ) {
        let program = key(dict, "Program").map(|(k, v)| (k.to_string(), v.as_string()));
        let argument0 = key(dict, "ProgramArguments")
            .and_then(|(k, v)| Some((k, v.as_array()?.first()?.as_string()?)))
            .filter(|(_, a)| a.starts_with('/'));
        let mut named = Vec::new();
        if let Some((k, value)) = &program {
            named.push(format!("{k} = {:?}", value.unwrap_or("(not a string)")));
        }
        if let Some((k, value)) = argument0 {
            named.push(format!("{k}[0] = {value:?}"));
        }
        if !named.is_empty() {
            self.push(Finding::new(
                FindingId::ServiceProgramKey,
                shown,
                format!("the plist sets {}: launchd would run a file outside the app, which the app's signature does not cover", named.join(" and ")),
                "name the executable with BundleProgram only (a path inside the app); keep ProgramArguments for arguments, its first entry a name, not a path",
            ));
        }
        let app_id = self.facts.identifier.clone();
        let associated = key(dict, "AssociatedBundleIdentifiers").map(|(_, v)| v);
        let names: Vec<&str> = match associated {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_string).collect(),
            _ => Vec::new(),
        };
        if let Some(app_id) = &app_id {
            if !names.contains(&app_id.as_str()) {
                self.push(Finding::new(
                    FindingId::AssociatedBundleIdentifiers,
                    shown,
                    if associated.is_none() {
                        format!("the plist has no AssociatedBundleIdentifiers: System Settings › Login Items lists the job under its executable's name, not under {app_id:?}")
                    } else {
                        format!("AssociatedBundleIdentifiers ({}) does not name the app {app_id:?}", names.join(", "))
                    },
                    format!("add AssociatedBundleIdentifiers = [{app_id:?}]"),
                ));
            }
        }
        if kind == ServiceKind::Daemon {
            self.daemon_keys(shown, dict, label);
        }
    }

    /// The root daemon's keys: on demand, reachable, and the shared launchd key policy.
    fn daemon_keys(&mut self, shown: &str, dict: &Dictionary, label: Option<&str>) {
        let always_on: Vec<&str> = ["KeepAlive", "RunAtLoad"]
            .into_iter()
            .filter(|k| !matches!(key(dict, k), None | Some((_, Value::Boolean(false)))))
            .collect();
        if !always_on.is_empty() {
            self.push(Finding::new(
                FindingId::NotOnDemand,
                shown,
                format!("the daemon plist sets {}: launchd starts the daemon as soon as it is registered (and at every boot) and keeps it running as root, instead of when a client connects", always_on.join(" and ")),
                "drop KeepAlive/RunAtLoad unless the daemon must run without clients; declare MachServices and let launchd start it on demand",
            ));
        }
        if key(dict, "MachServices").is_none() && key(dict, "Sockets").is_none() {
            self.push(Finding::new(
                FindingId::Unreachable,
                shown,
                "the daemon plist has neither MachServices nor Sockets: no client can reach the daemon",
                "declare a MachServices entry (XPC) if the app talks to the daemon",
            ));
        }
        // Without a label (reported) the names derived from it cannot be judged.
        let Some(label) = label else { return };
        for judgement in launchd_policy::judge(dict, label) {
            if matches!(judgement.rule, KeyRule::BundleProgram) {
                continue; // BundleProgram is how an SMAppService daemon names its program.
            }
            if let Some(id) = policy_finding(judgement.rule) {
                self.push(Finding::new(id, shown, judgement.message, judgement.hint));
            }
        }
    }

    /// The program's signature beyond validity: team, slices, architectures, runtime,
    /// entitlements, and its embedded Info.plist. Returns its `CFBundleVersion`.
    fn service_program(
        &mut self,
        kind: ServiceKind,
        program: &Path,
        code: &Code,
        app_code: Option<&Code>,
    ) -> Option<String> {
        let shown = display(program);
        let embedded = self.embedded_plists(program).unwrap_or_default();
        self.architectures(&shown, code);
        let info = embedded.first().and_then(|p| p.info.as_ref());
        if kind == ServiceKind::Daemon
            && info.is_some_and(|i| i.dictionary().contains_key("SMAuthorizedClients"))
        {
            self.push(Finding::new(
                FindingId::AuthorizedClientsIgnored,
                shown.clone(),
                "the daemon's Info.plist has SMAuthorizedClients, which only SMJobBless reads: under SMAppService any process may connect to the daemon's services",
                "check each client's code signature in the daemon (audit token → SecCode requirement, or NSXPCConnection.setCodeSigningRequirement on macOS 13+)",
            ));
        }
        let version = info
            .and_then(|i| i.string("CFBundleVersion").ok().flatten())
            .map(str::to_string);
        // Unsigned, ad-hoc or linker-signed slices are reported already; what follows is about
        // a developer's signature.
        if code
            .slices()
            .iter()
            .any(|s| matches!(s.kind, Kind::Unsigned | Kind::Adhoc | Kind::LinkerSigned))
        {
            return version;
        }
        self.signing(kind, &shown, code, app_code, &embedded);
        version
    }

    fn architectures(&mut self, shown: &str, code: &Code) {
        if !code
            .slices()
            .iter()
            .any(|s| s.arch == "arm64" || s.arch == "arm64e")
        {
            let archs: Vec<&str> = code.slices().iter().map(|s| s.arch.as_str()).collect();
            self.push(Finding::new(
                FindingId::BundleProgramIntelOnly,
                shown,
                format!("the program has no arm64 slice ({}): on Apple silicon it runs only under Rosetta, and stops when Rosetta is removed", archs.join(", ")),
                "build the daemon universal (ARCHS = arm64 x86_64)",
            ));
        }
    }

    /// The developer signature's team, agreement between slices, runtime and entitlements.
    fn signing(
        &mut self,
        kind: ServiceKind,
        shown: &str,
        code: &Code,
        app_code: Option<&Code>,
        embedded: &[EmbeddedPlists<'static>],
    ) {
        let shown = shown.to_string();
        let (_, app_team) = app_code.map(Code::identity).unwrap_or((None, None));
        if let Some(app_team) = app_team {
            if let Some(slice) = code
                .slices()
                .iter()
                .find(|s| s.team_id.as_deref().is_some_and(|t| t != app_team))
            {
                self.push(Finding::new(
                    FindingId::BundleProgramWrongTeam,
                    shown.clone(),
                    format!(
                        "the {} slice is signed by team {}; the app by team {app_team}: launchd does not run a BundleProgram of another team for the app",
                        slice.arch,
                        slice.team_id.as_deref().unwrap_or_default()
                    ),
                    "sign the daemon with the app's own signing identity",
                ));
            }
        }
        self.slices_agree(&shown, embedded, code);
        if let Some(slice) = code.slices().iter().find(|s| s.flags & RUNTIME == 0) {
            self.push(Finding::new(
                FindingId::BundleProgramNotHardened,
                shown.clone(),
                format!("the {} slice is not signed with the hardened runtime: notarization refuses it, and nothing stops libraries from other teams loading into the {}", slice.arch, kind.as_str()),
                "sign with --options runtime (Xcode: ENABLE_HARDENED_RUNTIME = YES)",
            ));
        }
        let debuggable = code.slices().iter().find_map(|s| {
            let dict = s.entitlements.as_ref().and_then(Value::as_dictionary)?;
            GET_TASK_ALLOW
                .iter()
                .find(|k| dict.get(k).and_then(Value::as_boolean) == Some(true))
                .map(|k| (s.arch.as_str(), *k))
        });
        if let Some((arch, entitlement)) = debuggable {
            self.push(Finding::new(
                FindingId::BundleProgramGetTaskAllow,
                shown,
                format!("the {arch} slice is entitled {entitlement}: a debugger may attach to the {} and take over what it runs as, and notarization refuses it", kind.as_str()),
                "sign release builds without get-task-allow (Xcode adds it to Debug builds only)",
            ));
        }
    }

    /// Login items: each entry of `Contents/Library/LoginItems`, listed as a job, and signed by
    /// the app's team (their signatures are part of the app's, as nested code).
    pub(super) fn login_items(&mut self, bundle: &Bundle, app_code: Option<&Code>) {
        for name in login_items(bundle) {
            let path = bundle.root().join(LOGIN_ITEMS_DIR).join(&name);
            let info = app_service::read_plist_nofollow(&path.join("Contents/Info.plist")).ok();
            let string = |key: &str| {
                info.as_ref()
                    .and_then(|p| p.string(key).ok().flatten().map(str::to_string))
            };
            let (label, version) = (string("CFBundleIdentifier"), string("CFBundleVersion"));
            let code = self.examine(&path).ok();
            let (_, app_team) = app_code.map(Code::identity).unwrap_or((None, None));
            let (_, team) = code.as_ref().map(Code::identity).unwrap_or((None, None));
            if let (Some(app_team), Some(team)) = (app_team, team) {
                if app_team != team {
                    self.push(Finding::new(
                        FindingId::LoginItemWrongTeam,
                        display(&path),
                        format!("the login item is signed by team {team}; the app by team {app_team}: SMAppService.loginItem(identifier:) and SMLoginItemSetEnabled refuse a login item of another team"),
                        "sign the login item with the app's own signing identity",
                    ));
                }
            }
            self.facts.jobs.push(JobFacts {
                kind: Mechanism::LoginItem,
                key: label.clone().unwrap_or_else(|| name.clone()),
                label,
                plist: None,
                program: Some(display(&path)),
                version,
                code,
                authorized_clients: Vec::new(),
                app_requirement: None,
            });
        }
    }
}

/// The files the app's `Contents/_CodeSignature/CodeResources` seals (paths relative to
/// `Contents/`); `None` when the app has no readable seal (its signature finding says why).
fn sealed_files(root: &Path) -> Option<BTreeSet<String>> {
    let path = root.join("Contents/_CodeSignature/CodeResources");
    let raw = app_service::read_regular_nofollow(&path, MAX_CODE_RESOURCES).ok()?;
    let seal = CodeResources::parse(&raw).ok()?;
    Some(seal.files.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_in_place_of_the_seal_is_no_seal_and_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let sig = dir.path().join("Contents/_CodeSignature");
        std::fs::create_dir_all(&sig).unwrap();
        assert!(std::process::Command::new("mkfifo")
            .arg(sig.join("CodeResources"))
            .status()
            .unwrap()
            .success());
        assert_eq!(sealed_files(dir.path()), None);
    }

    #[test]
    fn the_seal_lists_the_plists_it_covers() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/contract/smappservice-good.app");
        let sealed = sealed_files(&root).unwrap();
        assert!(sealed.contains("Library/LaunchDaemons/com.example.smbless.daemon.plist"));
        assert!(sealed.contains("Library/LaunchAgents/com.example.smbless.agent.plist"));
    }

    #[test]
    fn keys_match_in_any_case_as_launchd_matches_them() {
        let mut dict = Dictionary::new();
        dict.insert("machservices".into(), Value::Boolean(true));
        assert_eq!(
            key(&dict, "MachServices").map(|(k, _)| k),
            Some("machservices")
        );
        assert!(key(&dict, "Sockets").is_none());
    }

    #[test]
    fn every_shared_rule_has_a_finding() {
        use ServiceRule::*;
        let rules = [
            PlistMissing,
            PlistUnreadable,
            LabelMissing,
            LabelMismatch,
            ProgramMissing,
            ProgramOutsideBundle,
            ProgramNotFound,
            ProgramNotFile,
            ProgramUnsigned,
            ProgramSignatureInvalid,
        ];
        for rule in rules {
            assert_eq!(
                finding_id(rule).severity(),
                crate::contract::Severity::Error
            );
        }
    }
}
