//! The trust decisions an install needs, as one injected interface.
//!
//! The install mechanics (snapshot, locking, journaling, copying, modes, the job backend) do not
//! decide whether code is trustworthy; they ask a [`TrustCheck`]. The real implementation,
//! [`super::ContractTrust`], evaluates signatures and requirements with `crate::contract` and
//! `crate::codesign`; tests substitute fakes to drive the mechanics into every corner.
//!
//! The app is judged **once** ([`TrustCheck::judge_app`], on the private snapshot), and every
//! later question about it — does it satisfy the installed helper's `SMAuthorizedClients`? —
//! is answered from that judgement held in memory ([`AppJudgement::satisfies_any`]), never by
//! reading the app again.

use std::path::Path;

/// A trust question that could not be answered at all (unreadable file, internal failure):
/// the command could not run, as opposed to "checked and found wanting".
pub type TrustError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The answer to a trust question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The check passed.
    Pass,
    /// The check failed; each string says one reason, in words a user can act on.
    Fail(Vec<String>),
}

impl Verdict {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    /// The reasons for a failure (empty for a pass).
    pub fn reasons(&self) -> &[String] {
        match self {
            Verdict::Pass => &[],
            Verdict::Fail(reasons) => reasons,
        }
    }
}

/// How a piece of code is signed, for the root policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Signed with a certificate chain (Apple, a given anchor, or self-signed).
    Certificate,
    /// Ad-hoc signed (no certificate).
    AdHoc,
    /// Signed by the linker only (ad-hoc, no resources sealed).
    LinkerSigned,
    /// Not signed.
    Unsigned,
}

impl Signing {
    /// In words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Signing::Certificate => "signed with a certificate",
            Signing::AdHoc => "ad-hoc signed",
            Signing::LinkerSigned => "linker-signed",
            Signing::Unsigned => "unsigned",
        }
    }
}

/// What the root policy needs to know about one requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementFacts {
    /// The requirement text.
    pub text: String,
    /// Every way of satisfying it goes through an anchor (`anchor apple`, `anchor apple
    /// generic`, `anchor trusted`, `certificate root|N = H"…"`). `false` when it does not
    /// compile.
    pub anchored: bool,
    /// Every way of satisfying it pins a team (leaf `subject.OU`, a developer `subject.CN`, or
    /// a certificate hash). `false` when it does not compile.
    pub team_pinned: bool,
}

/// Answers "does the judged app satisfy any of these requirements?" from memory.
pub trait AppIdentity: Send + Sync {
    /// Whether the app (as judged) satisfies at least one of `requirements`.
    fn satisfies_any(&self, requirements: &[String]) -> Verdict;
}

/// Everything one examination of an app concludes about it and one of its helpers.
pub struct AppJudgement {
    /// The contract: `Fail` lists every error finding (warnings are no reason to refuse).
    pub contract: Verdict,
    /// The app's `CFBundleIdentifier`.
    pub app_id: Option<String>,
    /// `SMPrivilegedExecutables[label]` as the Info.plist **sealed by the app's signature**
    /// says it (the requirement the copy of the helper is checked against).
    pub requirement: Option<String>,
    /// How the app is signed.
    pub app_signing: Signing,
    /// How the bundled helper is signed.
    pub helper_signing: Signing,
    /// The app's requirement on the helper, analysed.
    pub helper_requirement: Option<RequirementFacts>,
    /// The helper's `SMAuthorizedClients`, analysed.
    pub client_requirements: Vec<RequirementFacts>,
    /// The app's identity, for later requirement questions.
    pub identity: Box<dyn AppIdentity>,
}

impl AppJudgement {
    /// Whether the judged app satisfies at least one of `requirements`.
    pub fn satisfies_any(&self, requirements: &[String]) -> Verdict {
        if requirements.is_empty() {
            return Verdict::Fail(vec![
                "SMAuthorizedClients is empty: it authorizes no app".into()
            ]);
        }
        self.identity.satisfies_any(requirements)
    }
}

/// The trust decisions of an install, answered by real signature and requirement evaluation
/// (or, in tests, by a fake).
pub trait TrustCheck {
    /// Judge the app at `app` (the private snapshot) and its helper `label`: the contract in
    /// both directions and the facts the root policy needs.
    fn judge_app(&self, app: &Path, label: &str) -> Result<AppJudgement, TrustError>;

    /// Whether `bytes` (code read from `name`, e.g. the copy in the destination read back
    /// from its own descriptor) carry a valid signature, in every architecture, satisfying
    /// `requirement`.
    fn code_satisfies(
        &self,
        name: &Path,
        bytes: &[u8],
        requirement: &str,
    ) -> Result<Verdict, TrustError>;

    /// Whether the signature of `bytes` (read from `name`) is valid, for `status` and for
    /// judging an installed helper before it may decide an update.
    fn signature_valid(&self, name: &Path, bytes: &[u8]) -> Result<Verdict, TrustError>;
}
