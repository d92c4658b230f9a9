//! `smbless req check PATH REQUIREMENT` and `smbless req designated PATH`: requirements judged
//! against real, verified code.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use smbless::codesign::{designated_requirement, DesignatedSource, ExamineOptions, Problem};
use smbless::requirement::{self, Evaluation};

use super::signature::{TargetArgs, TrustArgs};
use super::{output, Outcome};

/// `smbless req check`.
#[derive(Args)]
pub struct CheckArgs {
    /// A Mach-O file (thin or fat) or an app bundle.
    pub path: PathBuf,
    /// The requirement, in Apple's text form (e.g. `anchor apple generic and identifier
    /// "com.example.helper" and certificate leaf[subject.OU] = TEAMID1234`).
    pub requirement: String,
    /// Only this architecture (by default every slice must satisfy it).
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

/// `smbless req designated`.
#[derive(Args)]
pub struct DesignatedArgs {
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

#[derive(Serialize)]
struct SliceCheck {
    arch: String,
    identifier: Option<String>,
    kind: &'static str,
    /// What the chain ends at: `apple`, `anchor`, `self-signed`, `none`.
    trust: &'static str,
    /// The signature verified (a requirement is only meaningful for intact code).
    signature_valid: bool,
    signature_problems: Vec<Problem>,
    satisfied: bool,
    evaluation: Evaluation,
}

#[derive(Serialize)]
struct CheckReport {
    path: String,
    /// The bundle judged, when the path is one or is its main executable.
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle: Option<String>,
    requirement: String,
    satisfied: bool,
    /// Problems of the bundle as a whole (resources, nested code).
    problems: Vec<Problem>,
    slices: Vec<SliceCheck>,
}

/// Run `req check`: verify the code, then evaluate the requirement against every slice.
/// Exit 0 when every slice is validly signed and satisfies it, 1 otherwise.
pub fn check(args: CheckArgs) -> anyhow::Result<Outcome> {
    let req = requirement::parse_requirement(&args.requirement)
        .map_err(|e| anyhow::anyhow!("requirement text, line {e}"))?;
    let verify = args.trust.options()?;
    let opts = ExamineOptions {
        verify,
        integrity: true,
        arch: args.arch.clone(),
    };
    let ex = args.target.examine(&args.path, &opts)?;
    let mut slices = Vec::new();
    for s in &ex.slices {
        let evaluation = requirement::evaluate(&req, s);
        slices.push(SliceCheck {
            arch: s.arch.clone(),
            identifier: s.identifier.clone(),
            kind: s.kind.as_str(),
            trust: s.trust.as_str(),
            signature_valid: s.is_valid(),
            signature_problems: s.problems.clone(),
            satisfied: s.is_valid() && evaluation.satisfied,
            evaluation,
        });
    }
    let satisfied =
        ex.problems.is_empty() && !slices.is_empty() && slices.iter().all(|s| s.satisfied);
    let report = CheckReport {
        path: args.path.display().to_string(),
        bundle: ex.bundle.as_ref().map(|b| b.display().to_string()),
        requirement: requirement::to_text(&req),
        satisfied,
        problems: ex.problems.clone(),
        slices,
    };
    if args.json {
        output::print_json(&report)?;
    } else {
        println!("{}", report.path);
        println!("requirement: {}", report.requirement);
        for p in &report.problems {
            println!("  - {p}");
        }
        for s in &report.slices {
            let verdict = if s.satisfied {
                "satisfied"
            } else {
                "NOT satisfied"
            };
            println!(
                "[{}] {} ({}, trust: {}): {verdict}",
                s.arch,
                s.identifier.as_deref().unwrap_or("-"),
                s.kind,
                s.trust
            );
            if !s.signature_valid {
                println!("  the signature is not valid, so no requirement can be satisfied:");
                for p in &s.signature_problems {
                    println!("    - {p}");
                }
            }
            if let Some(e) = &s.evaluation.error {
                println!("  cannot evaluate: {e}");
            }
            for line in s.evaluation.explanation.to_string().lines() {
                println!("  {line}");
            }
        }
        println!(
            "{}: {}",
            report.path,
            if satisfied {
                "satisfied"
            } else {
                "NOT satisfied"
            }
        );
    }
    Ok(Outcome::from_ok(satisfied))
}

#[derive(Serialize)]
struct SliceDesignated {
    arch: String,
    identifier: Option<String>,
    kind: &'static str,
    source: Option<DesignatedSource>,
    designated_requirement: Option<String>,
}

/// Run `req designated`: print each slice's designated requirement (explicit, else Apple's
/// implicit one). Exit 1 when a slice has none (unsigned), 2 when a requirement set is
/// unreadable.
pub fn designated(args: DesignatedArgs) -> anyhow::Result<Outcome> {
    let verify = args.trust.options()?;
    let opts = ExamineOptions {
        verify,
        integrity: false,
        arch: args.arch.clone(),
    };
    let ex = args.target.examine(&args.path, &opts)?;
    let mut out = Vec::new();
    for s in &ex.slices {
        let dr = designated_requirement(s, &ex.slices).map_err(|e| {
            anyhow::anyhow!("{} [{}]: requirement set: {e}", args.path.display(), s.arch)
        })?;
        out.push(SliceDesignated {
            arch: s.arch.clone(),
            identifier: s.identifier.clone(),
            kind: s.kind.as_str(),
            source: dr.as_ref().map(|(_, src)| *src),
            designated_requirement: dr.as_ref().map(|(r, _)| requirement::to_text(r)),
        });
    }
    let all = out.iter().all(|s| s.designated_requirement.is_some());
    if args.json {
        output::print_json(&out)?;
    } else {
        let many = out.len() > 1;
        for s in &out {
            let prefix = if many {
                format!("[{}] ", s.arch)
            } else {
                String::new()
            };
            // As `codesign -d -r-` prints it: a synthesised (implicit) requirement is marked
            // with `# `, since it is not in the signature's requirement set.
            let mark = match s.source {
                Some(DesignatedSource::Implicit) => "# ",
                _ => "",
            };
            match &s.designated_requirement {
                Some(t) => println!("{prefix}{mark}designated => {t}"),
                None => println!("{prefix}(none: {})", s.kind),
            }
        }
    }
    Ok(Outcome::from_ok(all))
}
