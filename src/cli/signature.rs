//! `smbless signature show|verify`: read and verify code signatures.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use smbless::codesign::report::{file_report, FileReport};
use smbless::codesign::trust::{AnchorKind, Anchors};
use smbless::codesign::{examine, ExamineOptions, VerifyOptions};

use super::{output, Outcome};

/// `smbless signature …`.
#[derive(Subcommand)]
pub enum SignatureCommand {
    /// Show each slice's signature: identifier, team, kind, cdhashes, flags, certificates,
    /// entitlements, designated requirement. Does not hash the code (use `verify`).
    Show(ShowArgs),
    /// Verify each slice's signature as macOS does: every page and special slot of every
    /// CodeDirectory, the CMS signature and its binding to each CodeDirectory, the certificate
    /// chain, and for a bundle its resources and nested code. Exit 0 valid, 1 invalid.
    Verify(VerifyArgs),
}

/// Options naming the roots to trust.
#[derive(Args, Clone, Default)]
pub struct TrustArgs {
    /// Also trust this root certificate (PEM; may hold several). Repeatable.
    #[arg(long = "anchor", value_name = "PEM")]
    pub anchors: Vec<PathBuf>,
    /// TESTING ONLY: treat the root(s) in this PEM file as Apple roots, so that `anchor apple
    /// generic` and the Developer ID shapes accept a test PKI (as Apple's debug builds do with
    /// TEST_APPLE_ANCHOR). Never use it to judge real software.
    #[arg(long = "testing-treat-as-apple-root", value_name = "PEM")]
    pub test_apple_roots: Vec<PathBuf>,
    /// Judge certificate validity at this time (RFC 3339, or YYYY-MM-DD) instead of now.
    /// A verified RFC 3161 timestamp still wins: the chain is judged at its time.
    #[arg(long = "at", value_name = "TIME")]
    pub at: Option<String>,
}

impl TrustArgs {
    /// Build the verification options.
    pub fn options(&self) -> anyhow::Result<VerifyOptions> {
        let mut anchors = Anchors::apple().context("loading the shipped Apple roots")?;
        for (paths, kind) in [
            (&self.anchors, AnchorKind::Custom),
            (&self.test_apple_roots, AnchorKind::TestApple),
        ] {
            for p in paths {
                let pem =
                    std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
                anchors
                    .add_pem(&pem, kind, &p.display().to_string())
                    .with_context(|| format!("{}: expected PEM certificates", p.display()))?;
            }
        }
        let at = self.at.as_deref().map(parse_time).transpose()?;
        Ok(VerifyOptions {
            anchors,
            at,
            threads: 0,
        })
    }
}

/// How a path names the code to judge.
#[derive(Args, Clone, Copy, Default)]
pub struct TargetArgs {
    /// Judge the file alone even when it is the main executable of a bundle (by default, as on
    /// macOS, `X.app/Contents/MacOS/X` stands for `X.app`, and a framework's
    /// `Versions/A/X` for the framework).
    #[arg(long = "file-only")]
    pub file_only: bool,
}

impl TargetArgs {
    /// Examine `path` as these arguments ask.
    pub fn examine(
        self,
        path: &Path,
        opts: &ExamineOptions,
    ) -> Result<smbless::codesign::Examination, smbless::codesign::ExamineError> {
        if self.file_only {
            smbless::codesign::examine_file_only(path, opts)
        } else {
            examine(path, opts)
        }
    }
}

/// Parse `--at`.
pub fn parse_time(s: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    anyhow::bail!(
        "--at {s:?}: expected an RFC 3339 time (2025-01-31T12:00:00Z) or a date (2025-01-31)"
    )
}

/// `signature show` arguments.
#[derive(Args)]
pub struct ShowArgs {
    /// A Mach-O file (thin or fat) or an app bundle.
    pub path: PathBuf,
    /// Only this architecture.
    #[arg(long)]
    pub arch: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `signature verify` arguments.
#[derive(Args)]
pub struct VerifyArgs {
    /// A Mach-O file (thin or fat) or an app bundle.
    pub path: PathBuf,
    /// Only this architecture (by default every slice must be valid).
    #[arg(long)]
    pub arch: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Hashing threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run `signature …`.
pub fn run(cmd: SignatureCommand) -> anyhow::Result<Outcome> {
    match cmd {
        SignatureCommand::Show(a) => {
            let report = build(&a.path, &a.trust, a.target, a.arch.clone(), false, 0)?;
            if a.json {
                output::print_json(&report)?;
            } else {
                print_human(&report);
            }
            Ok(Outcome::Success)
        }
        SignatureCommand::Verify(a) => {
            let report = build(&a.path, &a.trust, a.target, a.arch.clone(), true, a.threads)?;
            if a.json {
                output::print_json(&report)?;
            } else {
                print_human(&report);
            }
            Ok(Outcome::from_ok(report.valid == Some(true)))
        }
    }
}

fn build(
    path: &Path,
    trust: &TrustArgs,
    target: TargetArgs,
    arch: Option<String>,
    integrity: bool,
    threads: usize,
) -> anyhow::Result<FileReport> {
    let mut verify = trust.options()?;
    verify.threads = threads;
    let opts = ExamineOptions {
        verify,
        integrity,
        arch,
    };
    let ex = target.examine(path, &opts)?;
    Ok(file_report(&ex, |s| {
        smbless::codesign::designated_requirement_text(s, &ex.slices)
    }))
}

fn print_human(r: &FileReport) {
    println!("{}", r.path);
    if let Some(b) = r.bundle.as_ref().filter(|b| **b != r.path) {
        println!("  bundle: {b}");
    }
    if let Some(e) = &r.executable {
        println!("  executable: {e}");
    }
    for s in &r.slices {
        println!("  [{}] {} (trust: {})", s.arch, s.kind, s.trust);
        if let Some(i) = &s.identifier {
            println!("    identifier: {i}");
        }
        if let Some(t) = &s.team_id {
            println!("    team: {t}");
        }
        if let Some(c) = &s.cdhash {
            println!("    cdhash: {c}");
        }
        for c in &s.cdhashes {
            println!("      {}: {}", c.hash_type, c.cdhash);
        }
        if let Some(v) = &s.code_directory_version {
            println!(
                "    code directory: version {v}, page size {}, flags [{}]",
                s.page_size.map_or("none".into(), |p| p.to_string()),
                s.flags.join(", ")
            );
        }
        if let Some(t) = &s.signing_time {
            println!("    signing time: {t}");
        }
        if let Some(t) = &s.timestamp {
            println!("    timestamp: {t}");
        }
        for (i, c) in s.certificates.iter().enumerate() {
            println!("    certificate {i}: {}", c.subject);
            println!(
                "      issuer {}; valid {} to {}; sha256 {}",
                c.issuer, c.not_before, c.not_after, c.sha256
            );
        }
        match &s.notarization {
            None => println!("    notarized: yes"),
            Some(why) => println!(
                "    notarized: {} ({why})",
                if matches!(s.notarized, smbless::requirement::Notarization::Unknown(_)) {
                    "unknown"
                } else {
                    "no"
                }
            ),
        }
        if let Some(dr) = &s.designated_requirement {
            println!("    designated requirement: {dr}");
        }
        if let Some(e) = &s.entitlements {
            println!("    entitlements: {e}");
        }
        if let Some(valid) = s.valid {
            println!("    {}", if valid { "valid" } else { "INVALID" });
        }
        for p in s.problems.iter().flatten() {
            println!("      - {p}");
        }
    }
    if let Some(ps) = &r.problems {
        for p in ps {
            println!("  - {p}");
        }
    }
    if let Some(v) = r.valid {
        println!("{}: {}", r.path, if v { "valid" } else { "INVALID" });
    }
}
