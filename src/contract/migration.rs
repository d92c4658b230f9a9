//! An app that carries both an SMJobBless helper and an SMAppService daemon — what an app
//! moving from one to the other ships for a while: a shared label conflicts with the blessed
//! job still loaded from `/Library/LaunchDaemons`, the daemon must still satisfy what the app
//! pins for the helper it replaces, and the installer must remove the blessed helper.

use crate::requirement;

use super::findings::{Finding, FindingId};
use super::jobs::Mechanism;
use super::verify::{satisfies, Check};

impl Check<'_> {
    /// The migration findings, once every job has been checked.
    pub(super) fn migration(&mut self) {
        let mut found = Vec::new();
        let daemons: Vec<_> = self.facts.of(Mechanism::SmappserviceDaemon).collect();
        if daemons.is_empty() {
            return;
        }
        for helper in self.facts.of(Mechanism::Smjobbless) {
            let Some(label) = &helper.label else { continue };
            let path = helper.program.clone().unwrap_or_default();
            let Some(daemon) = daemons.iter().find(|d| d.label.as_ref() == Some(label)) else {
                let names: Vec<&str> = daemons.iter().filter_map(|d| d.label.as_deref()).collect();
                found.push(Finding::new(
                    FindingId::MigrationCleanup,
                    path,
                    format!("the app carries the SMJobBless helper {label} and the SMAppService daemon(s) {}: once a daemon is registered, the blessed helper stays installed as root until removed", names.join(", ")),
                    format!("after registering the daemon, remove the blessed job as root: `smbless remove {label}` (or launchctl bootout system/{label} and delete /Library/LaunchDaemons/{label}.plist and /Library/PrivilegedHelperTools/{label})"),
                ));
                continue;
            };
            found.push(Finding::new(
                FindingId::MigrationSameLabel,
                daemon.plist.clone().unwrap_or_default(),
                format!("the SMAppService daemon has the label {label:?} of the app's SMJobBless helper: while the blessed job is loaded from /Library/LaunchDaemons/{label}.plist, registering the daemon fails (launchd holds one job per label)"),
                format!("before registering the daemon, remove the blessed job as root: `smbless remove {label}`; on macOS 12 and older keep blessing the helper"),
            ));
            let (Some(text), Some(code)) = (&helper.app_requirement, &daemon.code) else {
                continue;
            };
            let Ok(req) = requirement::parse_requirement(text) else {
                continue; // reported as requirement-syntax with the helper
            };
            if let Err((reason, detail)) = satisfies(&req, code) {
                found.push(
                    Finding::new(
                        FindingId::MigrationRequirementUnsatisfied,
                        daemon.program.clone().unwrap_or_default(),
                        format!("the daemon that replaces {label} does not satisfy SMPrivilegedExecutables[{label}], the identity the app pins for that helper: {reason}"),
                        "sign the daemon with the helper's identifier and team, or update every client check that pins the old requirement (`smbless setreq`)",
                    )
                    .with_detail(detail),
                );
            }
        }
        self.findings.extend(found);
    }
}
