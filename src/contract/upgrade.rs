//! `verify NEW.app --previous OLD.app`: whether build N+1 upgrades cleanly over build N. Every
//! job present in both keeps its label and its signing identity; an SMJobBless helper's version
//! grows, the new app satisfies the old helper's `SMAuthorizedClients` (else SMJobBless refuses
//! the update) and the new helper still meets the old app's requirement for it; jobs added and
//! removed are listed.

use std::path::Path;

use crate::requirement::{self, Requirement};
use crate::version::BundleVersion;

use super::findings::{Finding, FindingId, Severity};
use super::jobs::{AppFacts, JobFacts, Mechanism};
use super::verify::{run, satisfies, ContractError, Report, VerifyOptions};

/// Check `app` as [`super::verify`] does, then compare it with `previous`, the build it
/// replaces: the findings of both comparisons join the report, which names the previous build.
///
/// # Errors
/// [`ContractError::NotFound`] when either path does not exist.
pub fn verify_upgrade(
    app: &Path,
    previous: &Path,
    options: &VerifyOptions,
) -> Result<Report, ContractError> {
    for path in [app, previous] {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(ContractError::NotFound {
                path: path.to_path_buf(),
            });
        }
    }
    let (mut report, new) = run(app, options);
    let (old_report, old) = run(previous, options);
    report.previous = Some(old_report.app);
    report.findings.extend(compare(&new, &old));
    report.ok = report.count(Severity::Error) == 0;
    Ok(report)
}

fn compare(new: &AppFacts, old: &AppFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    for before in &old.jobs {
        match new
            .jobs
            .iter()
            .find(|j| j.kind == before.kind && j.key == before.key)
        {
            Some(after) => job(before, after, new, &mut out),
            None => out.push(removed(before)),
        }
    }
    for after in &new.jobs {
        if !old
            .jobs
            .iter()
            .any(|j| j.kind == after.kind && j.key == after.key)
        {
            out.push(Finding::new(
                FindingId::UpgradeJobAdded,
                after
                    .plist
                    .clone()
                    .or_else(|| after.program.clone())
                    .unwrap_or_default(),
                format!(
                    "new in this build: {} {}",
                    after.kind.as_str(),
                    shown_label(after)
                ),
                "nothing to do; the installer registers or blesses it as a first install",
            ));
        }
    }
    out
}

fn shown_label(job: &JobFacts) -> String {
    job.label.clone().unwrap_or_else(|| job.key.clone())
}

fn removed(before: &JobFacts) -> Finding {
    let label = shown_label(before);
    let hint = match before.kind {
        Mechanism::Smjobbless => format!("have the new build's installer remove it as root: `smbless remove {label}`"),
        Mechanism::SmappserviceDaemon => format!("have the new build call SMAppService.daemon(plistName: \"{}\").unregister() once, or the job stays registered (and listed in System Settings) with no program", before.key),
        Mechanism::SmappserviceAgent => format!("have the new build call SMAppService.agent(plistName: \"{}\").unregister() once", before.key),
        Mechanism::LoginItem => format!("have the new build call SMAppService.loginItem(identifier: \"{label}\").unregister() once"),
    };
    Finding::new(
        FindingId::UpgradeJobRemoved,
        before.plist.clone().or_else(|| before.program.clone()).unwrap_or_default(),
        format!("the previous build's {} {label} is gone from this build: what it installed or registered stays behind", before.kind.as_str()),
        hint,
    )
}

fn path_of(job: &JobFacts) -> String {
    job.program
        .clone()
        .or_else(|| job.plist.clone())
        .unwrap_or_default()
}

fn job(before: &JobFacts, after: &JobFacts, new: &AppFacts, out: &mut Vec<Finding>) {
    if let (Some(a), Some(b)) = (&before.label, &after.label) {
        if a != b {
            out.push(Finding::new(
                FindingId::UpgradeLabelChanged,
                after.plist.clone().unwrap_or_else(|| path_of(after)),
                format!("the label was {a:?} in the previous build and is {b:?} now: the old job stays registered beside the new one, and clients of {a:?} lose it"),
                format!("keep the label {a:?}; to rename, unregister the old job from the new build first"),
            ));
        }
    }
    identity(before, after, out);
    if before.kind != Mechanism::Smjobbless {
        return;
    }
    let parse = |v: &Option<String>| v.as_deref().and_then(|t| BundleVersion::parse(t).ok());
    if let (Some(a), Some(b)) = (parse(&before.version), parse(&after.version)) {
        if b <= a {
            out.push(Finding::new(
                FindingId::UpgradeVersionNotNewer,
                path_of(after),
                format!("CFBundleVersion is {b}, the previous build's {a}: SMJobBless replaces an installed helper only with a greater version, so the old helper keeps running"),
                format!("bump the helper's CFBundleVersion above {a}"),
            ));
        }
    }
    // SMJobBless lets the new app replace the installed (old) helper only if it satisfies the
    // old helper's SMAuthorizedClients.
    let clients = parsed(&before.authorized_clients);
    if let Some(app) = &new.code {
        if !clients.is_empty() && !clients.iter().any(|r| satisfies(r, app).is_ok()) {
            let (reason, detail) = clients
                .iter()
                .find_map(|r| satisfies(r, app).err())
                .unwrap_or_default();
            out.push(
                Finding::new(
                    FindingId::UpgradeClientRequirementUnsatisfied,
                    path_of(after),
                    format!("the new app satisfies none of the previous helper's SMAuthorizedClients: SMJobBless refuses to replace the installed helper ({reason})"),
                    "sign the new app as the previous helper's SMAuthorizedClients require, or ship one release whose helper accepts both identities first",
                )
                .with_detail(detail),
            );
        }
    }
    // A previous app still running checks the helper it talks to against its requirement.
    let old_requirement = before
        .app_requirement
        .as_deref()
        .and_then(|t| requirement::parse_requirement(t).ok());
    if let (Some(req), Some(code)) = (old_requirement, &after.code) {
        if let Err((reason, detail)) = satisfies(&req, code) {
            out.push(
                Finding::new(
                    FindingId::UpgradeHelperRequirementUnsatisfied,
                    path_of(after),
                    format!("the new helper does not satisfy the previous app's SMPrivilegedExecutables requirement for it: {reason}"),
                    "keep the helper's identifier and team; the previous app, still installed on users' machines, rejects a helper it does not recognise",
                )
                .with_detail(detail),
            );
        }
    }
}

fn parsed(texts: &[String]) -> Vec<Requirement> {
    texts
        .iter()
        .filter_map(|t| requirement::parse_requirement(t).ok())
        .collect()
}

/// The signing identifier and team of the job's program, compared.
fn identity(before: &JobFacts, after: &JobFacts, out: &mut Vec<Finding>) {
    let (Some(a), Some(b)) = (&before.code, &after.code) else {
        return;
    };
    let (old_id, old_team) = a.identity();
    let (new_id, new_team) = b.identity();
    let mut changed = Vec::new();
    if old_id != new_id {
        changed.push(format!(
            "identifier {} → {}",
            or_none(old_id),
            or_none(new_id)
        ));
    }
    if old_team != new_team {
        changed.push(format!(
            "team {} → {}",
            or_none(old_team),
            or_none(new_team)
        ));
    }
    if changed.is_empty() {
        return;
    }
    let old_dr = a.designated_requirement().unwrap_or_default();
    let stops = match before.kind {
        Mechanism::Smjobbless => "the previous app's SMPrivilegedExecutables requirement and every client check pinned to the helper's designated requirement",
        _ => "every requirement pinned to it (clients checking the job's code signature, launchd's record of the job's team)",
    };
    out.push(Finding::new(
        FindingId::UpgradeIdentityChanged,
        path_of(after),
        format!("{} {} is signed with {}: its previous designated requirement `{old_dr}` no longer matches, and with it {stops}", before.kind.as_str(), shown_label(after), changed.join(" and ")),
        "keep the signing identifier and the team from one build to the next",
    ));
}

fn or_none(v: Option<&str>) -> &str {
    v.unwrap_or("(none)")
}
