//! Audit findings: a stable kebab-case id, a severity, the job and file they are about, what is
//! wrong and how to fix it. The launchd-plist findings are the launchd key policy's own rules
//! ([`crate::launchd_policy::KeyRule`]), spelled `launchd-RULE` as `verify` spells them.

use std::fmt;

use serde::Serialize;

pub use crate::contract::Severity;
use crate::launchd_policy::{KeyClass, KeyJudgement, KeyRule};

macro_rules! audit_rules {
    ($(#[doc = $doc:literal] $variant:ident = $id:literal, $severity:ident;)*) => {
        /// A kind of finding of the audit itself (the launchd key policy adds its own, see
        /// [`FindingId::Launchd`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AuditRule {
            $(#[doc = $doc] $variant,)*
        }

        impl AuditRule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [AuditRule] = &[$(AuditRule::$variant,)*];

            /// The kebab-case id.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditRule::$variant => $id,)*
                }
            }

            /// One sentence saying what findings of this kind mean.
            pub fn description(self) -> &'static str {
                match self {
                    $(AuditRule::$variant => $doc.trim_start(),)*
                }
            }

            /// The severity findings of this kind have.
            pub fn severity(self) -> Severity {
                match self {
                    $(AuditRule::$variant => Severity::$severity,)*
                }
            }
        }
    };
}

audit_rules! {
    // --- orphans ------------------------------------------------------------------------------
    /// The app a job belongs to (its `AssociatedBundleIdentifiers`, or the identifiers its helper's `SMAuthorizedClients` name) is not installed.
    OrphanedJob = "orphaned-job", Warning;
    /// A file in `/Library/PrivilegedHelperTools` that no launchd plist runs.
    HelperWithoutPlist = "helper-without-plist", Warning;
    /// A launchd plist whose program does not exist: launchd cannot start it, and whoever can create that path decides what runs.
    PlistWithoutProgram = "plist-without-program", Warning;
    // --- reading ------------------------------------------------------------------------------
    /// A launchd plist that is not a readable property-list dictionary (or not a regular file).
    PlistUnreadable = "plist-unreadable", Error;
    /// A program that is not a regular Mach-O file the audit can read (a symbolic link, a FIFO, too large, malformed).
    ProgramUnreadable = "program-unreadable", Warning;
    // --- signature ----------------------------------------------------------------------------
    /// The program has no code signature.
    ProgramUnsigned = "program-unsigned", Error;
    /// The program is ad-hoc or only linker-signed: nothing ties it to a developer.
    ProgramAdhoc = "program-adhoc", Warning;
    /// The program's signature does not verify.
    ProgramSignatureInvalid = "program-signature-invalid", Error;
    /// The program is signed by another team than the app its job belongs to.
    ProgramTeamMismatch = "program-team-mismatch", Error;
    /// The program has only x86_64 code: it stops working on Apple silicon without Rosetta.
    X86_64Only = "x86-64-only", Warning;
    // --- client requirement -------------------------------------------------------------------
    /// An `SMAuthorizedClients` requirement names no anchor: any code with that identifier, even ad-hoc signed, may bless over the helper.
    ClientRequirementNoAnchor = "client-requirement-no-anchor", Error;
    /// An `SMAuthorizedClients` requirement trusts any Apple-issued developer certificate (no team pinning).
    ClientRequirementNoTeam = "client-requirement-no-team", Warning;
    /// `SMAuthorizedClients` does not refuse older app versions (no `info[CFBundleVersion] >=`).
    ClientRequirementNoMinimumVersion = "client-requirement-no-minimum-version", Warning;
    /// `SMAuthorizedClients` has more than one entry: each one can replace the helper.
    ClientRequirementSeveral = "client-requirement-several", Info;
    /// An `SMAuthorizedClients` entry is not a requirement that compiles.
    ClientRequirementSyntax = "client-requirement-syntax", Warning;
    // --- client check in the helper (heuristic) -----------------------------------------------
    /// Heuristic: the helper imports none of the APIs that authenticate a client by its code signature.
    NoClientCheck = "no-client-check", Warning;
    /// Heuristic: the helper identifies clients only by process ID, which a client can recycle.
    PidBasedClientCheck = "pid-based-client-check", Warning;
    // --- file safety --------------------------------------------------------------------------
    /// A program or plist is writable by its group or by others.
    FileWritable = "file-writable", Error;
    /// A program or plist is not owned by root.
    FileNotRootOwned = "file-not-root-owned", Error;
    /// A directory on the path of a program or plist is writable by a user other than root, or is a symbolic link.
    PathUserWritable = "path-user-writable", Error;
    /// A daemon's program lies outside the directories only root can change.
    ProgramOutsideRootOwned = "program-outside-root-owned", Warning;
}

/// The stable identifier of a finding: one of the audit's own rules, or a rule of the launchd
/// key policy shared with `verify` and the installer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingId {
    /// A rule of the audit.
    Audit(AuditRule),
    /// A rule of [`crate::launchd_policy`] (only its refuse and warn classes, and not
    /// `label-mismatch`: an installed plist's `Label` is the job's label).
    Launchd(KeyRule),
}

/// Whether the audit reports judgements of the launchd key policy's `rule`: the refuse and
/// warn classes, except the label check (an installed job is named by its own `Label`).
pub fn is_reported(rule: KeyRule) -> bool {
    rule.class() != KeyClass::SetBySmbless && rule != KeyRule::LabelMismatch
}

impl FindingId {
    /// Every id: the audit's rules, then the launchd key policy's refuse and warn rules.
    pub fn all() -> Vec<FindingId> {
        AuditRule::ALL
            .iter()
            .map(|r| FindingId::Audit(*r))
            .chain(
                KeyRule::ALL
                    .iter()
                    .filter(|r| is_reported(**r))
                    .map(|r| FindingId::Launchd(*r)),
            )
            .collect()
    }

    /// One sentence saying what findings of this kind mean.
    pub fn description(self) -> &'static str {
        match self {
            FindingId::Audit(r) => r.description(),
            FindingId::Launchd(r) => r.description(),
        }
    }

    /// The severity: the audit rule's, or for a launchd rule error when the installer would
    /// refuse the key and warning otherwise.
    pub fn severity(self) -> Severity {
        match self {
            FindingId::Audit(r) => r.severity(),
            FindingId::Launchd(r) => match r.class() {
                KeyClass::Refuse => Severity::Error,
                KeyClass::Warn | KeyClass::SetBySmbless => Severity::Warning,
            },
        }
    }
}

impl fmt::Display for FindingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindingId::Audit(r) => f.write_str(r.as_str()),
            FindingId::Launchd(r) => write!(f, "launchd-{}", r.as_str()),
        }
    }
}

impl Serialize for FindingId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One finding of the audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditFinding {
    /// Stable kebab-case id.
    pub id: FindingId,
    /// Error, warning or info.
    pub severity: Severity,
    /// The index of the job it is about in [`super::AuditReport::jobs`].
    pub job: usize,
    /// The job's label, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The file the finding is about, as the audited system sees it (`/Library/…`).
    pub path: String,
    /// What is wrong, with the values involved.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl AuditFinding {
    /// A finding of the audit rule `rule` about `path`.
    pub fn new(
        rule: AuditRule,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> AuditFinding {
        AuditFinding {
            id: FindingId::Audit(rule),
            severity: rule.severity(),
            job: 0,
            label: None,
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The finding for a judgement of the launchd key policy over the plist at `path`.
    pub fn launchd(judgement: KeyJudgement, path: impl Into<String>) -> AuditFinding {
        let id = FindingId::Launchd(judgement.rule);
        AuditFinding {
            id,
            severity: id.severity(),
            job: 0,
            label: None,
            path: path.into(),
            message: judgement.message,
            hint: judgement.hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for id in FindingId::all() {
            let s = id.to_string();
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{s}"
            );
            assert!(seen.insert(s.clone()), "duplicate id {s}");
        }
    }

    #[test]
    fn launchd_ids_are_the_ones_verify_uses() {
        for id in FindingId::all() {
            if let FindingId::Launchd(rule) = id {
                let verify = crate::contract::FindingId::ALL
                    .iter()
                    .find(|v| v.as_str() == id.to_string());
                let verify = verify.unwrap_or_else(|| panic!("verify has no {id}"));
                assert_eq!(verify.severity(), id.severity(), "{rule}");
            }
        }
    }
}
