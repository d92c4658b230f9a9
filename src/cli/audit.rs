//! `smbless audit [--root DIR]`: every privileged helper and launchd job of a system, judged.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use smbless::audit::{self, AuditFinding, AuditJob, AuditOptions, AuditReport, FindingId};
use smbless::contract::Severity;

use super::output::{self, SarifResult, SarifRule};
use super::signature::TrustArgs;
use super::Outcome;

/// Output formats of `audit`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable report, job by job.
    Human,
    /// The JSON report documented in the README.
    Json,
    /// GitHub Actions workflow annotations, then a summary line.
    Github,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

/// The lowest severity that fails the audit.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MinSeverity {
    /// Any finding fails.
    Info,
    /// Warnings and errors fail.
    Warning,
    /// Only errors fail.
    Error,
}

impl MinSeverity {
    fn severity(self) -> Severity {
        match self {
            MinSeverity::Info => Severity::Info,
            MinSeverity::Warning => Severity::Warning,
            MinSeverity::Error => Severity::Error,
        }
    }
}

/// Arguments of `smbless audit`.
#[derive(Args)]
pub struct AuditArgs {
    /// The root of the system to audit: `/` (the default) on a live Mac, a mounted volume or a
    /// staged tree.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// An apps directory as the audited system names it (default `/Applications`, under the
    /// root). Repeatable.
    #[arg(long = "apps", value_name = "DIR")]
    apps: Vec<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Also hash every page of every program (reads each program completely).
    #[arg(long)]
    deep: bool,
    /// Exit 1 when a finding reaches this severity.
    #[arg(long, value_enum, default_value_t = MinSeverity::Error)]
    min_severity: MinSeverity,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// Run `audit`.
pub fn run(args: AuditArgs) -> anyhow::Result<Outcome> {
    let mut options = AuditOptions::new(args.trust.options()?);
    if !args.apps.is_empty() {
        options.apps = args.apps;
    }
    options.deep = args.deep;
    let report = audit::audit(&args.root, &options)?;
    let min = args.min_severity.severity();
    let failed = report.count_at_least(min) > 0;
    match args.format {
        Format::Human => print_human(&report, min, failed),
        Format::Json => output::print_json(&report)?,
        Format::Github => print_github(&report, failed),
        Format::Sarif => output::print_json(&sarif(&report))?,
    }
    Ok(Outcome::from_ok(!failed))
}

fn print_job(job: &AuditJob) {
    println!(
        "{} ({})",
        job.label.as_deref().unwrap_or("(no label)"),
        serde_json::to_value(job.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    if let Some(plist) = &job.plist {
        println!("  plist:     {plist}");
    }
    if let Some(program) = &job.program {
        let mut facts = Vec::new();
        if let Some(v) = &job.version {
            facts.push(v.clone());
        }
        if let Some(s) = &job.signature {
            facts.push(format!("{}, trust {}", s.kind, s.trust));
            if let Some(team) = &s.team {
                facts.push(format!("team {team}"));
            }
            facts.push(s.architectures.join("+"));
        }
        if facts.is_empty() {
            println!("  program:   {program}");
        } else {
            println!("  program:   {program} ({})", facts.join(", "));
        }
    }
    if let Some(app) = &job.owner_app {
        println!("  app:       {app}");
    } else if !job.owner_ids.is_empty() {
        println!("  app:       {} (not installed)", job.owner_ids.join(", "));
    }
    if let Some(dr) = &job.designated_requirement {
        println!("  designated requirement: {dr}");
    }
    for c in &job.client_requirements {
        println!("  client requirement:     {c}");
    }
    if let Some(check) = &job.client_check {
        let verdict = serde_json::to_value(check.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        println!("  client check (heuristic): {verdict}");
    }
}

fn print_finding(f: &AuditFinding) {
    println!("  {}[{}]: {}", f.severity, f.id, f.message);
    println!("    --> {}", f.path);
    println!("    = hint: {}", f.hint);
}

fn print_human(report: &AuditReport, min: Severity, failed: bool) {
    println!(
        "smbless audit of {}: {} jobs",
        report.root,
        report.jobs.len()
    );
    for (i, job) in report.jobs.iter().enumerate() {
        print_job(job);
        for f in report.findings.iter().filter(|f| f.job == i) {
            print_finding(f);
        }
    }
    for note in &report.incomplete {
        println!("incomplete: {note}");
    }
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    println!(
        "{}: {} error(s), {} warning(s), {} info (failing at {min})",
        if failed { "FAILED" } else { "ok" },
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
}

fn print_github(report: &AuditReport, failed: bool) {
    for f in &report.findings {
        let title = format!(
            "smbless {} {}",
            f.id,
            f.label.as_deref().unwrap_or_default()
        );
        let message = format!("{}\nhint: {}", f.message, f.hint);
        println!(
            "{}",
            output::github_annotation(f.severity, &f.path, title.trim_end(), &message)
        );
    }
    for note in &report.incomplete {
        println!(
            "::warning title=smbless audit incomplete::{}",
            output::escape_workflow(note, false)
        );
    }
    println!(
        "smbless audit: {} — {} job(s), {} finding(s)",
        if failed { "failed" } else { "ok" },
        report.jobs.len(),
        report.findings.len()
    );
}

fn sarif(report: &AuditReport) -> serde_json::Value {
    let rules: Vec<SarifRule<'_>> = FindingId::all()
        .into_iter()
        .map(|id| SarifRule {
            id: id.to_string(),
            description: id.description(),
            severity: id.severity(),
        })
        .collect();
    let results: Vec<SarifResult<'_>> = report
        .findings
        .iter()
        .map(|f| SarifResult {
            rule: f.id.to_string(),
            severity: f.severity,
            message: f.message.clone(),
            uri: &f.path,
            hint: &f.hint,
        })
        .collect();
    let mut log = output::sarif_log(&rules, &results);
    // What could not be read goes where SARIF puts a tool's own trouble.
    let notes: Vec<serde_json::Value> = report
        .incomplete
        .iter()
        .map(|n| serde_json::json!({"level": "warning", "message": {"text": n}}))
        .collect();
    log["runs"][0]["invocations"] = serde_json::json!([{
        "executionSuccessful": true,
        "toolExecutionNotifications": notes,
    }]);
    log
}
