//! Refusals: a check ran and found the install wanting (exit 1). Each has a stable, typed id.

use std::fmt;

use serde::{Serialize, Serializer};

macro_rules! refusal_ids {
    ($(#[doc = $doc:literal] $variant:ident = $id:literal;)*) => {
        /// The stable identifier of a kind of refusal (kebab-case in all outputs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum RefusalId {
            $(#[doc = $doc] $variant,)*
        }

        impl RefusalId {
            /// Every id, in documentation order.
            pub const ALL: &'static [RefusalId] = &[$(RefusalId::$variant,)*];

            /// The kebab-case id.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RefusalId::$variant => $id,)*
                }
            }

            /// One sentence saying what refusals of this kind mean.
            pub fn description(self) -> &'static str {
                match self {
                    $(RefusalId::$variant => $doc.trim_start(),)*
                }
            }
        }
    };
}

refusal_ids! {
    /// A directory on the install paths (the root, its parents, or the install directories) is a symlink, not owned by root or the caller, or writable by others.
    UnsafeDirectory = "unsafe-directory";
    /// An entry of the app bundle is not a regular file, directory or a symlink staying inside the bundle (FIFO, device, socket, escaping link), or the bundle is too large to examine.
    AppEntryUnsafe = "app-entry-unsafe";
    /// The app and its helper do not satisfy the SMJobBless contract (`smbless verify` explains each finding).
    ContractCheckFailed = "contract-check-failed";
    /// The app's Info.plist has no `CFBundleIdentifier`.
    AppIdentifierMissing = "app-identifier-missing";
    /// The app's signed Info.plist has no `SMPrivilegedExecutables` entry for the label.
    PrivilegedExecutablesMissing = "privileged-executables-missing";
    /// The bundled helper's `CFBundleVersion` is missing or malformed.
    BundleVersionInvalid = "bundle-version-invalid";
    /// Root policy: code on one side is ad-hoc signed, linker-signed or unsigned.
    CodeNotCertificateSigned = "code-not-certificate-signed";
    /// Root policy: a requirement names no anchor, so any code with that identifier satisfies it.
    RequirementNoAnchor = "requirement-no-anchor";
    /// Root policy: a requirement pins no team (leaf `subject.OU`, developer `subject.CN`, or a certificate hash).
    RequirementNotTeamPinned = "requirement-not-team-pinned";
    /// The installer's own `--team-id`/`--requirement` expectation of the helper is not met.
    InstallerRequirementUnsatisfied = "installer-requirement-unsatisfied";
    /// A key of the helper's embedded launchd plist changes what runs or how it is found.
    LaunchdKeyRefused = "launchd-key-refused";
    /// The installed job file is another program's job: it does not run the helper path.
    ForeignJob = "foreign-job";
    /// The installed helper cannot be read or parsed (or is not a regular file).
    InstalledHelperUnreadable = "installed-helper-unreadable";
    /// The installed helper's signature is not valid.
    InstalledHelperInvalid = "installed-helper-invalid";
    /// The app does not satisfy the installed helper's `SMAuthorizedClients`, so it may not replace it.
    InstalledClientRequirementUnsatisfied = "installed-client-requirement-unsatisfied";
    /// The copy in the destination is not what was examined, or fails verification; nothing was installed.
    CopyVerificationFailed = "copy-verification-failed";
}

impl fmt::Display for RefusalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RefusalId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why an install was refused: a check ran and found something wanting (exit 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Stable kebab-case id.
    pub id: RefusalId,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Details (e.g. contract findings), one per line.
    pub details: Vec<String>,
}

impl Refusal {
    /// A refusal without details.
    pub fn new(id: RefusalId, message: impl Into<String>, hint: impl Into<String>) -> Refusal {
        Refusal {
            id,
            message: message.into(),
            hint: hint.into(),
            details: Vec::new(),
        }
    }

    /// The same refusal with `details`.
    pub fn with_details(mut self, details: Vec<String>) -> Refusal {
        self.details = details;
        self
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused [{}]: {}", self.id, self.message)
    }
}
