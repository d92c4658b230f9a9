//! The trust decisions bless, remove and status need, as one injected interface.
//!
//! The install mechanics (locking, journaling, copying, modes, the service manager) do not
//! decide whether code is trustworthy; they ask a [`TrustCheck`]. The real implementation,
//! [`super::ContractTrust`], evaluates signatures and requirements with `crate::contract` and
//! `crate::codesign`; tests substitute fakes to drive the mechanics into every corner.

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

/// The trust decisions of an install, answered by real signature and requirement evaluation
/// (or, in tests, by a fake).
///
/// Every method reads the files itself: callers pass paths, never parsed or cached results, so
/// the answer is about the bytes on disk at the time of the call.
pub trait TrustCheck {
    /// Check the app↔helper contract of `app` for `label` (signatures of both, the app's
    /// `SMPrivilegedExecutables` requirement, the helper's `SMAuthorizedClients`, plists,
    /// versions). `Fail` lists every error finding; warnings are not reasons to refuse.
    fn check_contract(&self, app: &Path, label: &str) -> Result<Verdict, TrustError>;

    /// Whether the code at `path` has a valid signature (in every architecture) and satisfies
    /// `requirement`, given in the requirement language. Used on the copy in the destination
    /// directory, which is what will run.
    fn code_satisfies(&self, path: &Path, requirement: &str) -> Result<Verdict, TrustError>;

    /// Whether the app at `app` has a valid signature and satisfies at least one of
    /// `requirements` (a helper's `SMAuthorizedClients`). With `sealed`, `(label, requirement)`,
    /// the same examination must also find `requirement` as `SMPrivilegedExecutables[label]` in
    /// the Info.plist the app's signature seals: bless read that requirement from the app
    /// earlier, and this proves it was the developer's, not a file swapped in and back while
    /// the helper was being copied.
    fn app_satisfies_any(
        &self,
        app: &Path,
        requirements: &[String],
        sealed: Option<(&str, &str)>,
    ) -> Result<Verdict, TrustError>;

    /// Whether the signature of the code at `path` is valid, for `status`.
    fn signature_valid(&self, path: &Path) -> Result<Verdict, TrustError>;
}
