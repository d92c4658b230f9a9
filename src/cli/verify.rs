//! `smbless verify APP`: the whole app↔helper contract, for people and for CI.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use smbless::contract::{self, Finding, FindingId, Mechanism, Report, Severity};
use smbless::install::{self, InstalledAt, PredictOptions};

use super::bless::{backend_for_prediction, PolicyArgs};
use super::output::{self, SarifResult, SarifRule};
use super::signature::TrustArgs;
use super::Outcome;

/// Output formats of `verify`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable report.
    Human,
    /// The JSON report documented in the README.
    Json,
    /// GitHub Actions workflow annotations (`::error file=…::…`), then a summary line.
    Github,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

/// Arguments of `smbless verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The app bundle (`X.app`) whose helpers to check.
    app: PathBuf,
    /// Check only this helper (its label, the file name in Contents/Library/LaunchServices).
    #[arg(long)]
    label: Option<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Predict the install against the helper installed under this root
    /// (ROOT/Library/PrivilegedHelperTools/LABEL; `/` for this machine).
    #[arg(long, value_name = "DIR", conflicts_with = "installed")]
    root: Option<PathBuf>,
    /// Predict the install against this installed helper file.
    #[arg(long, value_name = "PATH")]
    installed: Option<PathBuf>,
    /// Compare with the previous build (OLD.app): would this one upgrade cleanly over it?
    #[arg(long, value_name = "OLD.app")]
    previous: Option<PathBuf>,
    /// Also require SMJobBlessUtil.py's string equality between requirements and designated
    /// requirements.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Shorthand for `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
}

/// Run `verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let signature = args.trust.options()?;
    let options = contract::VerifyOptions {
        label: args.label,
        signature: signature.clone(),
        strict: args.strict,
    };
    let mut report = match &args.previous {
        Some(previous) => contract::verify_upgrade(&args.app, previous, &options)?,
        None => contract::verify(&args.app, &options)?,
    };
    if let Some(root) = &args.root {
        let trust = install::ContractTrust::new(signature.clone());
        installed_blessed_jobs(&mut report, root, &trust, args.policy.policy())?;
    }
    let at = match (args.root, args.installed) {
        (Some(root), _) => Some(InstalledAt::Root(root)),
        (None, Some(path)) => Some(InstalledAt::File(path)),
        (None, None) => None,
    };
    if let Some(at) = at {
        let trust = install::ContractTrust::new(signature);
        let backend = backend_for_prediction();
        let popts = PredictOptions {
            service: backend.as_ref(),
            trust: &trust,
            policy: args.policy.policy(),
        };
        install::attach_predictions(&mut report, &args.app, &at, &popts)?;
    }
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Human => print_human(&report),
        Format::Json => output::print_json(&report)?,
        Format::Github => print_github(&report),
        Format::Sarif => output::print_json(&sarif(&report))?,
    }
    Ok(Outcome::from_ok(report.ok))
}

/// Migration with `--root`: an SMJobBless helper installed under `root` with the label of one
/// of the app's SMAppService daemons blocks the daemon's registration.
fn installed_blessed_jobs(
    report: &mut Report,
    root: &Path,
    trust: &install::ContractTrust,
    policy: install::Policy,
) -> anyhow::Result<()> {
    let labels: Vec<String> = report
        .jobs
        .iter()
        .filter(|j| j.kind == Mechanism::SmappserviceDaemon)
        .filter_map(|j| j.label.clone())
        .filter(|l| install::validate_label(l).is_ok())
        .collect();
    let backend = backend_for_prediction();
    for label in labels {
        let opts = install::StatusOptions {
            root: root.to_path_buf(),
            app: None,
            service: backend.as_ref(),
            trust,
            policy: policy.clone(),
        };
        let status = install::status(Some(&label), &opts)?;
        let Some(helper) = status
            .helpers
            .iter()
            .find(|h| h.installed || h.program.is_some())
        else {
            continue;
        };
        let command = format!("smbless remove {label} --root {}", root.display());
        report.findings.push(Finding::new(
            FindingId::MigrationInstalledHelper,
            helper.plist.display().to_string(),
            format!(
                "an SMJobBless helper {label}{} is installed under {}: SMAppService cannot register the daemon {label} while that job exists",
                helper.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default(),
                root.display()
            ),
            format!("remove it first, as root: `{command}`"),
        ));
    }
    report.ok = report.count(Severity::Error) == 0;
    Ok(())
}

fn print_human(report: &Report) {
    let app = &report.app;
    println!(
        "{} ({} {})",
        app.path,
        app.identifier.as_deref().unwrap_or("no identifier"),
        app.version.as_deref().unwrap_or("no version")
    );
    if let Some(dr) = &app.designated_requirement {
        println!("  designated requirement: {dr}");
    }
    if let Some(previous) = &report.previous {
        println!(
            "  previous build: {} ({} {})",
            previous.path,
            previous.identifier.as_deref().unwrap_or("no identifier"),
            previous.version.as_deref().unwrap_or("no version")
        );
    }
    let mechanisms: Vec<&str> = report.mechanisms.iter().map(|m| m.as_str()).collect();
    println!(
        "  mechanisms: {}",
        if mechanisms.is_empty() {
            "none".to_string()
        } else {
            mechanisms.join(", ")
        }
    );
    for job in report
        .jobs
        .iter()
        .filter(|j| j.kind != Mechanism::Smjobbless)
    {
        println!(
            "  {} {} {}",
            job.kind.as_str(),
            job.label.as_deref().unwrap_or("(no label)"),
            job.version.as_deref().unwrap_or("(no version)")
        );
        if let Some(program) = &job.program {
            println!("    program: {program}");
        }
        if let Some(dr) = &job.designated_requirement {
            println!("    designated requirement: {dr}");
        }
    }
    for helper in &report.helpers {
        println!(
            "  helper {} {}",
            helper.label,
            helper.version.as_deref().unwrap_or("(no version)")
        );
        if let Some(dr) = &helper.designated_requirement {
            println!("    designated requirement: {dr}");
        }
        if let Some(action) = &helper.action {
            println!("    bless would: {action}");
        }
    }
    for f in &report.findings {
        println!("{}[{}]: {}", f.severity, f.id, f.message);
        println!("  --> {}", f.path);
        if let Some(detail) = &f.detail {
            for line in detail.lines() {
                println!("  | {line}");
            }
        }
        println!("  = hint: {}", f.hint);
    }
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning) - errors;
    println!(
        "{}: {errors} error{}, {warnings} warning{}",
        if report.ok { "ok" } else { "FAILED" },
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    );
}

/// The text of a finding with its evaluation tree or caret, when it has one.
fn full_message(f: &Finding) -> String {
    let mut text = f.message.clone();
    if let Some(detail) = &f.detail {
        text.push('\n');
        text.push_str(detail);
    }
    text
}

fn print_github(report: &Report) {
    for f in &report.findings {
        let message = format!("{}\nhint: {}", f.message, f.hint);
        let message = match &f.detail {
            Some(detail) => format!("{message}\n{detail}"),
            None => message,
        };
        let title = format!("smbless {}", f.id);
        println!(
            "{}",
            output::github_annotation(f.severity, &f.path, &title, &message)
        );
    }
    println!(
        "smbless verify: {} — {} error(s), {} finding(s)",
        if report.ok { "ok" } else { "failed" },
        report.count(Severity::Error),
        report.findings.len()
    );
}

fn sarif(report: &Report) -> serde_json::Value {
    let rules: Vec<SarifRule<'_>> = FindingId::ALL
        .iter()
        .map(|id| SarifRule {
            id: id.as_str().to_owned(),
            description: id.description(),
            severity: id.severity(),
        })
        .collect();
    let results: Vec<SarifResult<'_>> = report
        .findings
        .iter()
        .map(|f| SarifResult {
            rule: f.id.as_str().to_owned(),
            severity: f.severity,
            message: full_message(f),
            uri: &f.path,
            hint: &f.hint,
        })
        .collect();
    output::sarif_log(&rules, &results)
}
