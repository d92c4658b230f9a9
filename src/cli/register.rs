//! `smbless register`, `smbless unregister` and `smbless bless --via smappservice|smjobbless`:
//! macOS's own installers (SMAppService, SMJobBless) for the app smbless runs inside. The
//! library (`smbless::macos`, `smbless::service_management`) decides; this module prints.
//!
//! Both installers act for the *calling app*: run these commands from an smbless binary shipped
//! in the app's `Contents/MacOS`, whose main bundle is that app. `register --check APP` runs
//! only the pre-flight check, on any OS.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, ValueEnum};
use serde_json::json;
use smbless::service_management::{check_daemon, Preflight, PreflightOptions};

use super::bless::BlessArgs;
use super::signature::TrustArgs;
use super::{output, Outcome};

/// `bless --via`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViaArg {
    /// SMAppService (macOS 13+): register the app's Contents/Library/LaunchDaemons plist.
    Smappservice,
    /// SMJobBless: the administrator prompt, then smd copies the helper.
    Smjobbless,
    /// smbless's own root installer (run as root, e.g. from a postinstall script).
    Direct,
}

/// `smbless register` arguments.
#[derive(Args)]
pub struct RegisterArgs {
    /// The daemon plist's file name in the app's Contents/Library/LaunchDaemons.
    pub plist_name: String,
    /// Only run the pre-flight check, on this app bundle (any OS); register nothing.
    #[arg(long, value_name = "APP")]
    pub check: Option<PathBuf>,
    /// Require the plist's Label to be this.
    #[arg(long)]
    pub label: Option<String>,
    /// Only print the daemon's SMAppService status (macOS).
    #[arg(long, conflicts_with = "check")]
    pub status: bool,
    /// When the daemon awaits approval, open System Settings › General › Login Items (macOS).
    #[arg(long)]
    pub open_settings: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `smbless unregister` arguments.
#[derive(Args)]
pub struct UnregisterArgs {
    /// The daemon plist's file name in the app's Contents/Library/LaunchDaemons.
    pub plist_name: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn print_preflight(p: &Preflight) {
    println!("pre-flight {}", p.plist.display());
    if let Some(l) = &p.label {
        println!("  label: {l}");
    }
    if let Some(prog) = &p.program {
        println!("  program: {}", prog.display());
    }
    if let Some(id) = &p.program_identifier {
        let team = p.program_team.as_deref().unwrap_or("none");
        println!("  signed: identifier {id}, team {team}");
    }
    for f in &p.findings {
        println!("error [{}]: {}: {}", f.id, f.path, f.message);
        println!("  hint: {}", f.hint);
    }
    if p.ok() {
        println!("ok: SMAppService may be asked to register it");
    }
}

/// Run `smbless register`.
pub fn run_register(args: RegisterArgs) -> anyhow::Result<Outcome> {
    let options = PreflightOptions {
        signature: args.trust.options()?,
        label: args.label.clone(),
    };
    if let Some(app) = &args.check {
        let report = check_daemon(app, &args.plist_name, &options);
        if args.json {
            let mut v = serde_json::to_value(&report)?;
            v["ok"] = report.ok().into();
            output::print_json(&v)?;
        } else {
            print_preflight(&report);
        }
        return Ok(Outcome::from_ok(report.ok()));
    }
    macos::register(&args, &options)
}

/// Run `smbless unregister`.
pub fn run_unregister(args: UnregisterArgs) -> anyhow::Result<Outcome> {
    macos::unregister(&args)
}

/// Run `smbless bless --via smappservice|smjobbless`.
pub fn run_bless_via(args: &BlessArgs, via: ViaArg) -> anyhow::Result<Outcome> {
    if args.dry_run
        || args.root.root != std::path::Path::new("/")
        || args.root.service_manager.is_some()
    {
        bail!("--via smappservice|smjobbless installs through macOS into the running system; --root, --dry-run and --service-manager apply to --via direct only");
    }
    let Some(label) = args.label.as_deref() else {
        bail!("--via smappservice|smjobbless needs the LABEL");
    };
    macos::bless_via(&args.app, label, via, args.root.json)
}

/// Print an installer error (a refusal, explained) as text or JSON: exit 1.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn refused(
    error: &smbless::service_management::InstallerError,
    json: bool,
) -> anyhow::Result<Outcome> {
    use smbless::service_management::InstallerError as E;
    match error {
        E::Trust(_) | E::ContractUnavailable(_) => bail!("{error}"),
        _ if json => output::print_json(&json!({"ok": false, "error": error.to_string()}))?,
        _ => println!("refused: {error}"),
    }
    Ok(Outcome::Wanting)
}

#[cfg(target_os = "macos")]
mod macos {
    use std::path::Path;

    use serde_json::json;
    use smbless::macos;
    use smbless::service_management::{DaemonStatus, Preference, PreflightOptions};

    use super::{output, print_preflight, refused, Outcome, RegisterArgs, UnregisterArgs, ViaArg};

    fn app_name() -> String {
        macos::main_bundle()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "The app".to_owned())
    }

    fn print_status(status: DaemonStatus, open_settings: bool) {
        println!("status: {}", status.as_str());
        println!("{}", status.message(&app_name()));
        if status == DaemonStatus::RequiresApproval {
            if open_settings {
                macos::open_login_items_settings();
                println!("opened System Settings › General › Login Items");
            } else {
                println!("(run again with --open-settings to open that pane)");
            }
        }
    }

    pub(super) fn register(
        args: &RegisterArgs,
        options: &PreflightOptions,
    ) -> anyhow::Result<Outcome> {
        if args.status {
            let status = macos::daemon_status(&args.plist_name);
            if args.json {
                output::print_json(
                    &json!({"ok": true, "plist": args.plist_name, "status": status}),
                )?;
            } else {
                print_status(status, args.open_settings);
            }
            return Ok(Outcome::Success);
        }
        match macos::register_daemon_with(&args.plist_name, options) {
            Ok(reg) if args.json => {
                output::print_json(
                    &json!({"ok": true, "route": "smappservice", "registration": reg}),
                )?;
                if reg.requires_approval() && args.open_settings {
                    macos::open_login_items_settings();
                }
                Ok(Outcome::Success)
            }
            Ok(reg) => {
                print_preflight(&reg.preflight);
                println!("registered {} with SMAppService", reg.plist_name);
                print_status(reg.status, args.open_settings);
                Ok(Outcome::Success)
            }
            Err(e) => refused(&e, args.json),
        }
    }

    pub(super) fn unregister(args: &UnregisterArgs) -> anyhow::Result<Outcome> {
        match macos::unregister_daemon(&args.plist_name) {
            Ok(status) if args.json => {
                output::print_json(
                    &json!({"ok": true, "plist": args.plist_name, "status": status}),
                )?;
                Ok(Outcome::Success)
            }
            Ok(status) => {
                println!(
                    "unregistered {} (status: {})",
                    args.plist_name,
                    status.as_str()
                );
                Ok(Outcome::Success)
            }
            Err(e) => refused(&e, args.json),
        }
    }

    pub(super) fn bless_via(
        app: &Path,
        label: &str,
        via: ViaArg,
        json: bool,
    ) -> anyhow::Result<Outcome> {
        let preference = match via {
            ViaArg::Smappservice => Preference::AppService,
            ViaArg::Smjobbless => Preference::JobBless,
            ViaArg::Direct => anyhow::bail!("--via direct is smbless's own installer"),
        };
        let done = match macos::install(app, label, preference) {
            Ok(done) => done,
            Err(e) => return refused(&e, json),
        };
        if json {
            output::print_json(&json!({"ok": true, "route": done.route, "outcome": done.outcome}))?;
            return Ok(Outcome::Success);
        }
        println!("bless {label} via {} ({})", done.route(), done.route.reason);
        match &done.outcome {
            macos::InstallOutcome::AppService(reg) => print_status(reg.status, false),
            macos::InstallOutcome::JobBless(report) => {
                println!(
                    "installed {} ({:?})",
                    report.installed_path.display(),
                    report.confirmation
                );
                for f in &report.findings {
                    println!("{} [{}]: {}", f.severity, f.id, f.message);
                }
            }
        }
        Ok(Outcome::Success)
    }
}

#[cfg(not(target_os = "macos"))]
mod macos {
    use std::path::Path;

    use anyhow::bail;
    use smbless::service_management::PreflightOptions;

    use super::{Outcome, RegisterArgs, UnregisterArgs, ViaArg};

    const ONLY_MACOS: &str = "SMAppService and SMJobBless exist only on macOS";

    pub(super) fn register(_: &RegisterArgs, _: &PreflightOptions) -> anyhow::Result<Outcome> {
        bail!("{ONLY_MACOS}; `smbless register PLIST --check APP` runs the pre-flight check here")
    }

    pub(super) fn unregister(_: &UnregisterArgs) -> anyhow::Result<Outcome> {
        bail!("{ONLY_MACOS}")
    }

    pub(super) fn bless_via(_: &Path, _: &str, _: ViaArg, _: bool) -> anyhow::Result<Outcome> {
        bail!("{ONLY_MACOS}; use --via direct (smbless's own installer, as root)")
    }
}
