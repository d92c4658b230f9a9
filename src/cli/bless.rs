//! `smbless bless`, `smbless remove`, `smbless status`: install, uninstall and list privileged
//! helpers. The library (`smbless::install`) decides; this module picks the service manager and
//! the trust check, prints, and maps outcomes to exit codes.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use smbless::install::{
    self, BlessOptions, BlessOutcome, BlessReport, JobBackend, NoServiceManager, Policy, Refusal,
    RemoveOptions, RemoveOutcome, RemoveReport, StatusOptions, StatusReport, TrustCheck,
};

use super::signature::TrustArgs;
use super::{output, Outcome};

/// `--service-manager`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceManagerArg {
    /// launchd through /bin/launchctl (macOS, --root / only).
    Launchctl,
    /// Lay files only (packaging); nothing is loaded or unloaded.
    None,
}

/// Options shared by the three commands.
#[derive(Args)]
pub struct RootArgs {
    /// Install under this directory instead of the running system (staging for packages and
    /// tests; no root privileges needed).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// How to load and unload the daemon. Default: launchctl on macOS with --root /, none
    /// otherwise (the output says which).
    #[arg(long, value_enum, value_name = "MANAGER")]
    pub service_manager: Option<ServiceManagerArg>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What the installer itself demands: shared by `bless`, `status --app` and `verify --root`, so
/// the three predict the same thing.
#[derive(Args, Clone, Default)]
pub struct PolicyArgs {
    /// The helper must be signed by this team (leaf certificate subject.OU); repeatable. A
    /// postinstall script should pin its team.
    #[arg(long = "team-id", value_name = "TEAM")]
    pub team_ids: Vec<String>,
    /// The helper must also satisfy this requirement, whatever the app says.
    #[arg(long, value_name = "REQ")]
    pub requirement: Option<String>,
    /// Development only: as root, accept ad-hoc/linker-signed/unsigned code and requirements
    /// without anchor or team pinning. Never the default; printed in the report.
    #[arg(long)]
    pub allow_unpinned: bool,
}

impl PolicyArgs {
    /// The library policy (`enforce` is decided by the library from the root and the uid).
    pub fn policy(&self) -> Policy {
        Policy {
            enforce: false,
            allow_unpinned: self.allow_unpinned,
            team_ids: self.team_ids.clone(),
            requirement: self.requirement.clone(),
        }
    }
}

/// The backend used to read installed job files for a prediction (never loads anything).
pub fn backend_for_prediction() -> Box<dyn JobBackend> {
    Box::new(NoServiceManager)
}

/// `smbless bless` arguments.
#[derive(Args)]
pub struct BlessArgs {
    /// The app bundle carrying the helper in Contents/Library/LaunchServices.
    pub app: PathBuf,
    /// The helper's label (default: the only key of the app's SMPrivilegedExecutables).
    pub label: Option<String>,
    #[command(flatten)]
    pub root: RootArgs,
    /// Print the plan (files, owners, modes, commands) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Which installer: smbless's own (`direct`, as root; the default), or macOS's own for the
    /// app smbless runs inside (`smappservice`, `smjobbless`; macOS only).
    #[arg(long, value_enum, value_name = "INSTALLER", default_value = "direct")]
    pub via: super::register::ViaArg,
}

/// `smbless remove` arguments.
#[derive(Args)]
pub struct RemoveArgs {
    /// The helper's label.
    pub label: String,
    #[command(flatten)]
    pub root: RootArgs,
    /// Require this app to satisfy the installed helper's SMAuthorizedClients.
    #[arg(long, value_name = "APP")]
    pub app: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `smbless status` arguments.
#[derive(Args)]
pub struct StatusArgs {
    /// Only this helper.
    pub label: Option<String>,
    #[command(flatten)]
    pub root: RootArgs,
    /// Also say what `smbless bless APP` would do for each helper.
    #[arg(long, value_name = "APP")]
    pub app: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// The service manager for `root`, and a note when it was chosen by default.
fn service_manager(args: &RootArgs) -> anyhow::Result<(Box<dyn JobBackend>, Option<&'static str>)> {
    let system = install::is_system_root(&args.root)
        .with_context(|| format!("{}: cannot resolve --root", args.root.display()))?;
    match args.service_manager {
        Some(ServiceManagerArg::None) => Ok((Box::new(NoServiceManager), None)),
        Some(ServiceManagerArg::Launchctl) => {
            if !system {
                bail!("--service-manager launchctl loads daemons of the running system only; use it with --root / (or --service-manager none to stage files)");
            }
            launchctl()
        }
        None if system && cfg!(target_os = "macos") => launchctl(),
        None if system => Ok((
            Box::new(NoServiceManager),
            Some("service manager: none (launchctl exists only on macOS); files only, nothing loaded"),
        )),
        None => Ok((
            Box::new(NoServiceManager),
            Some("service manager: none (--root is a staging directory); files only, nothing loaded"),
        )),
    }
}

#[cfg(target_os = "macos")]
fn launchctl() -> anyhow::Result<(Box<dyn JobBackend>, Option<&'static str>)> {
    Ok((Box::new(install::Launchctl), None))
}

#[cfg(not(target_os = "macos"))]
fn launchctl() -> anyhow::Result<(Box<dyn JobBackend>, Option<&'static str>)> {
    bail!("--service-manager launchctl is only available on macOS; use --service-manager none")
}

/// The real trust check: signatures and requirements evaluated by smbless.
fn trust(args: &TrustArgs) -> anyhow::Result<Box<dyn TrustCheck>> {
    let options = args.options()?;
    Ok(Box::new(install::ContractTrust::new(options)))
}

fn print_refusals(refusals: &[Refusal]) {
    for r in refusals {
        println!("refused [{}]: {}", r.id, r.message);
        for d in &r.details {
            println!("    {d}");
        }
        println!("  hint: {}", r.hint);
    }
}

/// Print `report` as JSON (with `"ok"` added) or through `print`, and turn `ok` into the
/// command's outcome: the one ending of `bless`, `remove` and `status`.
fn finish(
    report: &impl serde::Serialize,
    ok: bool,
    json: bool,
    print: impl FnOnce(),
) -> anyhow::Result<Outcome> {
    if json {
        let mut v = serde_json::to_value(report).context("serialising JSON output")?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("ok".into(), ok.into());
        }
        output::print_json(&v)?;
    } else {
        print();
    }
    Ok(Outcome::from_ok(ok))
}

/// Run `smbless bless`.
pub fn run_bless(args: BlessArgs) -> anyhow::Result<Outcome> {
    if args.via != super::register::ViaArg::Direct {
        return super::register::run_bless_via(&args, args.via);
    }
    let (service, note) = service_manager(&args.root)?;
    let trust = trust(&args.trust)?;
    let opts = BlessOptions {
        root: args.root.root.clone(),
        dry_run: args.dry_run,
        service: service.as_ref(),
        trust: trust.as_ref(),
        policy: args.policy.policy(),
    };
    let mut report = install::bless(&args.app, args.label.as_deref(), &opts)?;
    if let Some(n) = note {
        report
            .notes
            .retain(|x| !x.starts_with("service manager: none"));
        report.notes.insert(0, n.to_owned());
    }
    let ok = report.outcome != BlessOutcome::Refused;
    finish(&report, ok, args.root.json, || print_bless(&report))
}

fn print_bless(r: &BlessReport) {
    println!(
        "bless {} from {} into {}",
        r.label,
        r.app.display(),
        r.root.display()
    );
    for n in &r.notes {
        println!("  note: {n}");
    }
    if let Some(rec) = &r.recovered {
        println!("  recovered: {rec}");
    }
    if let Some(p) = &r.prediction {
        println!("  prediction: {p}");
    }
    match r.outcome {
        BlessOutcome::Refused => print_refusals(&r.refusals),
        BlessOutcome::NoChange => println!("no change"),
        BlessOutcome::Installed => {
            if let (Some(h), Some(p)) = (&r.installed_helper, &r.installed_plist) {
                println!("installed {} (mode 0544)", h.display());
                println!("installed {} (mode 0644)", p.display());
            }
            println!("done ({})", r.service_manager);
        }
        BlessOutcome::Planned => {
            if let Some(plan) = &r.plan {
                println!("plan (dry run, nothing changed):");
                for d in &plan.create_directories {
                    println!(
                        "  create directory {} owner {} mode {}",
                        d.path.display(),
                        d.owner,
                        d.mode
                    );
                }
                for f in &plan.files {
                    println!(
                        "  write {} (installed as {}) owner {} mode {}: {}",
                        f.path.display(),
                        f.system_path.display(),
                        f.owner,
                        f.mode,
                        f.content
                    );
                }
                for c in &plan.commands {
                    println!("  run {c}");
                }
                if plan.commands.is_empty() {
                    println!("  run nothing (service manager {})", r.service_manager);
                }
                println!("  steps:");
                for (i, s) in plan.steps.iter().enumerate() {
                    println!("    {}. {s}", i + 1);
                }
            }
        }
    }
}

/// Run `smbless remove`.
pub fn run_remove(args: RemoveArgs) -> anyhow::Result<Outcome> {
    let (service, note) = service_manager(&args.root)?;
    let trust = trust(&args.trust)?;
    let opts = RemoveOptions {
        root: args.root.root.clone(),
        app: args.app.clone(),
        service: service.as_ref(),
        trust: trust.as_ref(),
    };
    let mut report = install::remove(&args.label, &opts)?;
    if let Some(n) = note {
        report.notes.insert(0, n.to_owned());
    }
    let ok = report.outcome != RemoveOutcome::Refused;
    finish(&report, ok, args.root.json, || print_remove(&report))
}

fn print_remove(r: &RemoveReport) {
    println!("remove {} from {}", r.label, r.root.display());
    for n in &r.notes {
        println!("  note: {n}");
    }
    if let Some(rec) = &r.recovered {
        println!("  recovered: {rec}");
    }
    match r.outcome {
        RemoveOutcome::Refused => print_refusals(&r.refusals),
        RemoveOutcome::NotInstalled => println!("not installed; nothing to remove"),
        RemoveOutcome::Removed => {
            for p in &r.removed {
                println!("removed {}", p.display());
            }
            println!("done ({})", r.service_manager);
        }
    }
}

/// Run `smbless status`. Exit 1 when an installed helper's signature is invalid or its file is
/// missing.
pub fn run_status(args: StatusArgs) -> anyhow::Result<Outcome> {
    let (service, note) = service_manager(&args.root)?;
    let trust = trust(&args.trust)?;
    let opts = StatusOptions {
        root: args.root.root.clone(),
        app: args.app.clone(),
        service: service.as_ref(),
        trust: trust.as_ref(),
        policy: args.policy.policy(),
    };
    let report = install::status(args.label.as_deref(), &opts)?;
    let ok = report
        .helpers
        .iter()
        .all(|h| h.signature_valid != Some(false) && (h.installed || h.program.is_none()));
    finish(&report, ok, args.root.json, || print_status(&report, note))
}

fn print_status(r: &StatusReport, note: Option<&str>) {
    if let Some(n) = note {
        println!("note: {n}");
    }
    if r.helpers.is_empty() {
        println!("no privileged helpers installed under {}", r.root.display());
    }
    for h in &r.helpers {
        println!("{}", h.label);
        if !h.installed && h.program.is_none() {
            println!("  not installed");
        } else {
            if let Some(p) = &h.path {
                println!("  path: {}", p.display());
            }
            println!("  plist: {}", h.plist.display());
            println!("  version: {}", h.version.as_deref().unwrap_or("unknown"));
            println!(
                "  signature: {}",
                match h.signature_valid {
                    Some(true) => "valid".to_owned(),
                    Some(false) => format!("INVALID ({})", h.signature_problems.join("; ")),
                    None => "not checked".to_owned(),
                }
            );
        }
        println!(
            "  loaded: {}",
            match h.loaded {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            }
        );
        for p in &h.problems {
            println!("  problem: {p}");
        }
        if let Some(p) = &h.prediction {
            println!("  prediction: {p}");
        }
    }
}
