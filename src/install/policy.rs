//! The root policy: what `bless` refuses when it installs into the running system or runs as
//! root, where `verify` only warns.
//!
//! Deny by default (`../shared/references/attacker-model.md`): code that is ad-hoc,
//! linker-signed or unsigned on either side, and a requirement in either direction
//! (`SMPrivilegedExecutables[label]`, every `SMAuthorizedClients` entry) that names no anchor or
//! pins no team, are refused. Such pairs satisfy each other with no certificate at all: anyone
//! can make an app and a helper whose identifiers match. `allow_unpinned` loosens exactly
//! these rules, for development; it is never the default and the report prints it.
//!
//! The installer may also state its own expectation of the helper, whatever the app says:
//! `team_ids` (the helper's leaf certificate must carry one of them as `subject.OU`) and
//! `requirement` (the helper must satisfy it). Those are never loosened.

use super::refusal::{Refusal, RefusalId};
use super::trust::{AppJudgement, RequirementFacts, Signing};

/// What the installer itself demands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Enforce the root rules (set for the running system and whenever running as root).
    pub enforce: bool,
    /// Loosen the root rules (development only; printed in the report).
    pub allow_unpinned: bool,
    /// The helper must be signed by one of these teams (`--team-id`).
    pub team_ids: Vec<String>,
    /// The helper must satisfy this requirement (`--requirement`).
    pub requirement: Option<String>,
}

impl Policy {
    /// The requirement the installer checks the helper against, if it has any expectation:
    /// `--requirement` and the `--team-id` pin, joined with `and`.
    pub fn installer_requirement(&self) -> Option<String> {
        let teams = (!self.team_ids.is_empty()).then(|| {
            let any: Vec<String> = self
                .team_ids
                .iter()
                .map(|t| format!("certificate leaf[subject.OU] = {}", quote(t)))
                .collect();
            format!("({})", any.join(" or "))
        });
        match (teams, &self.requirement) {
            (Some(t), Some(r)) => Some(format!("{t} and ({r})")),
            (Some(t), None) => Some(t),
            (None, Some(r)) => Some(r.clone()),
            (None, None) => None,
        }
    }

    /// Whether the root rules are being checked (and not loosened).
    pub fn strict(&self) -> bool {
        self.enforce && !self.allow_unpinned
    }
}

/// A requirement-language string literal.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The refusals the root rules give for `app` (empty when they pass or are not enforced).
pub fn check(policy: &Policy, app: &AppJudgement, label: &str) -> Vec<Refusal> {
    if !policy.strict() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (what, signing) in [("the app", app.app_signing), (label, app.helper_signing)] {
        if signing != Signing::Certificate {
            out.push(Refusal::new(
                RefusalId::CodeNotCertificateSigned,
                format!("{what} is {}: as root smbless installs only code signed with a certificate", signing.describe()),
                "sign both the app and the helper with your Developer ID (codesign --sign \"Developer ID Application: …\"); for local development only, pass --allow-unpinned",
            ));
        }
    }
    let mut requirements: Vec<(String, &RequirementFacts)> = Vec::new();
    if let Some(r) = &app.helper_requirement {
        requirements.push((format!("SMPrivilegedExecutables[{label}]"), r));
    }
    for (i, r) in app.client_requirements.iter().enumerate() {
        requirements.push((format!("{label}'s SMAuthorizedClients[{i}]"), r));
    }
    for (where_, r) in requirements {
        if !r.anchored {
            out.push(Refusal::new(
                RefusalId::RequirementNoAnchor,
                format!("{where_} = {:?} names no anchor: any code with that identifier satisfies it, even ad-hoc signed", r.text),
                "start the requirement with `anchor apple generic` (or pin a certificate with `certificate root = H\"…\"`); `smbless setreq` writes a pinned pair",
            ));
        } else if !r.team_pinned {
            out.push(Refusal::new(
                RefusalId::RequirementNotTeamPinned,
                format!("{where_} = {:?} pins no team: any developer's code with that identifier satisfies it", r.text),
                "add `and certificate leaf[subject.OU] = \"TEAMID\"` (`smbless setreq --team-id TEAMID …` writes both sides)",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::trust::{AppIdentity, Verdict};

    struct Nobody;
    impl AppIdentity for Nobody {
        fn satisfies_any(&self, _: &[String]) -> Verdict {
            Verdict::Fail(vec![])
        }
    }

    fn facts(text: &str, anchored: bool, team_pinned: bool) -> RequirementFacts {
        RequirementFacts {
            text: text.into(),
            anchored,
            team_pinned,
        }
    }

    fn judgement(app: Signing, helper: Signing, req: RequirementFacts) -> AppJudgement {
        AppJudgement {
            contract: Verdict::Pass,
            app_id: Some("com.example.app".into()),
            requirement: Some(req.text.clone()),
            app_signing: app,
            helper_signing: helper,
            helper_requirement: Some(req.clone()),
            client_requirements: vec![req],
            identity: Box::new(Nobody),
        }
    }

    fn ids(r: &[Refusal]) -> Vec<RefusalId> {
        r.iter().map(|r| r.id).collect()
    }

    const PINNED: (&str, bool, bool) = (
        "anchor apple generic and certificate leaf[subject.OU] = \"T\"",
        true,
        true,
    );

    #[test]
    fn pinned_certificate_pair_passes() {
        let p = Policy {
            enforce: true,
            ..Policy::default()
        };
        let (t, a, pin) = PINNED;
        let j = judgement(Signing::Certificate, Signing::Certificate, facts(t, a, pin));
        assert!(check(&p, &j, "l").is_empty());
    }

    #[test]
    fn adhoc_linker_and_unsigned_code_is_refused_on_either_side() {
        let p = Policy {
            enforce: true,
            ..Policy::default()
        };
        let (t, a, pin) = PINNED;
        for s in [Signing::AdHoc, Signing::LinkerSigned, Signing::Unsigned] {
            let j = judgement(s, Signing::Certificate, facts(t, a, pin));
            assert_eq!(
                ids(&check(&p, &j, "l")),
                [RefusalId::CodeNotCertificateSigned]
            );
            let j = judgement(Signing::Certificate, s, facts(t, a, pin));
            assert_eq!(
                ids(&check(&p, &j, "l")),
                [RefusalId::CodeNotCertificateSigned]
            );
        }
    }

    #[test]
    fn unanchored_and_unpinned_requirements_are_refused_in_both_directions() {
        let p = Policy {
            enforce: true,
            ..Policy::default()
        };
        let j = judgement(
            Signing::Certificate,
            Signing::Certificate,
            facts("identifier \"x\"", false, false),
        );
        assert_eq!(
            ids(&check(&p, &j, "l")),
            [
                RefusalId::RequirementNoAnchor,
                RefusalId::RequirementNoAnchor
            ]
        );
        let j = judgement(
            Signing::Certificate,
            Signing::Certificate,
            facts("anchor apple generic and identifier \"x\"", true, false),
        );
        assert_eq!(
            ids(&check(&p, &j, "l")),
            [
                RefusalId::RequirementNotTeamPinned,
                RefusalId::RequirementNotTeamPinned
            ]
        );
    }

    #[test]
    fn allow_unpinned_and_staging_loosen_only_the_root_rules() {
        let j = judgement(
            Signing::AdHoc,
            Signing::AdHoc,
            facts("identifier \"x\"", false, false),
        );
        let loose = Policy {
            enforce: true,
            allow_unpinned: true,
            ..Policy::default()
        };
        assert!(check(&loose, &j, "l").is_empty());
        assert!(check(&Policy::default(), &j, "l").is_empty());
    }

    #[test]
    fn installer_requirement_joins_team_ids_and_requirement() {
        let p = Policy {
            team_ids: vec!["AAA".into(), "B\"B".into()],
            requirement: Some("identifier \"h\"".into()),
            ..Policy::default()
        };
        assert_eq!(
            p.installer_requirement().as_deref(),
            Some("(certificate leaf[subject.OU] = \"AAA\" or certificate leaf[subject.OU] = \"B\\\"B\") and (identifier \"h\")")
        );
        assert_eq!(Policy::default().installer_requirement(), None);
    }
}
