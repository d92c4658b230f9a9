//! Findings: one problem or observation each, with a stable id, a severity, the path it is
//! about, a message saying what is wrong and a hint saying how to fix it.

use std::fmt;

use serde::Serialize;

/// How serious a finding is. Any `Error` makes the contract check fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; changes nothing.
    Info,
    /// Works, but is fragile or weaker than it should be.
    Warning,
    /// SMJobBless (or smbless) would refuse this.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! finding_ids {
    ($(#[doc = $doc:literal] $variant:ident = $id:literal, $severity:ident;)*) => {
        /// The stable identifier of a kind of finding (kebab-case in all outputs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FindingId {
            $(#[doc = $doc] $variant,)*
        }

        impl FindingId {
            /// Every id, in documentation order.
            pub const ALL: &'static [FindingId] = &[$(FindingId::$variant,)*];

            /// The kebab-case id.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FindingId::$variant => $id,)*
                }
            }

            /// One sentence saying what findings of this kind mean.
            pub fn description(self) -> &'static str {
                match self {
                    $(FindingId::$variant => $doc.trim_start(),)*
                }
            }

            /// The severity findings of this kind have.
            pub fn severity(self) -> Severity {
                match self {
                    $(FindingId::$variant => Severity::$severity,)*
                }
            }
        }
    };
}

finding_ids! {
    /// The app path is not a bundle directory with a readable Info.plist.
    AppNotBundle = "app-not-bundle", Error;
    /// The app's own signature does not verify.
    AppSignatureInvalid = "app-signature-invalid", Error;
    /// `Contents/Library/LaunchServices` is missing.
    HelperDirMissing = "helper-dir-missing", Error;
    /// `Contents/Library/LaunchServices` holds no helper.
    NoHelpers = "no-helpers", Error;
    /// An entry of `Contents/Library/LaunchServices` is not a regular Mach-O executable.
    HelperNotFile = "helper-not-file", Error;
    /// A helper's signature does not verify in every architecture.
    HelperSignatureInvalid = "helper-signature-invalid", Error;
    /// The app's Info.plist has no usable `SMPrivilegedExecutables` dictionary.
    PrivilegedExecutablesMissing = "privileged-executables-missing", Error;
    /// `SMPrivilegedExecutables` keys and the helpers present differ.
    PrivilegedExecutablesMismatch = "privileged-executables-mismatch", Error;
    /// A helper does not satisfy the app's requirement for it.
    HelperRequirementUnsatisfied = "helper-requirement-unsatisfied", Error;
    /// A requirement string does not compile.
    RequirementSyntax = "requirement-syntax", Error;
    /// A helper has no embedded Info.plist (or the app none).
    InfoPlistMissing = "info-plist-missing", Error;
    /// The helper's `CFBundleIdentifier` differs from its file name (the label).
    BundleIdentifierMismatch = "bundle-identifier-mismatch", Error;
    /// `CFBundleInfoDictionaryVersion` is not `6.0`.
    InfoDictionaryVersion = "info-dictionary-version", Error;
    /// `CFBundleVersion` is missing or malformed.
    BundleVersionInvalid = "bundle-version-invalid", Error;
    /// The helper's Info.plist has no usable `SMAuthorizedClients` array.
    AuthorizedClientsMissing = "authorized-clients-missing", Error;
    /// The app satisfies none of the helper's `SMAuthorizedClients`.
    ClientRequirementUnsatisfied = "client-requirement-unsatisfied", Error;
    /// The helper has no embedded launchd plist.
    LaunchdPlistMissing = "launchd-plist-missing", Error;
    /// The launchd plist's `Label` differs from the helper's file name.
    LabelMismatch = "label-mismatch", Error;
    /// The slices of a universal helper disagree on identifier, plists or version.
    SlicesDisagree = "slices-disagree", Error;
    /// The app does not satisfy the installed helper's `SMAuthorizedClients`: an update would be refused.
    InstalledClientRequirementUnsatisfied = "installed-client-requirement-unsatisfied", Error;
    /// With `--root`/`--installed`: `bless` would refuse for a reason of its own (root policy, a foreign job, an unreadable or invalid installed helper, a refused launchd key).
    BlessRefused = "bless-refused", Error;
    /// `--strict`: a requirement is not string-equal to the designated requirement it names.
    StrictRequirementMismatch = "strict-requirement-mismatch", Error;
    // --- the launchd key policy (crate::launchd_policy): keys the installer refuses ---------
    /// The launchd plist sets `BundleProgram`: launchd would run a file inside the app bundle as root.
    LaunchdBundleProgram = "launchd-bundle-program", Error;
    /// The launchd plist's `EnvironmentVariables` sets a `DYLD_`/`LD_` loader variable.
    LaunchdLoaderEnvironment = "launchd-loader-environment", Error;
    /// The launchd plist sets `RootDirectory`: launchd would chroot and run another file.
    LaunchdRootDirectory = "launchd-root-directory", Error;
    /// The launchd plist's `WorkingDirectory` is not a normalised absolute path in a root-owned directory.
    LaunchdWorkingDirectory = "launchd-working-directory", Error;
    /// The launchd plist sets `EnableGlobbing`: launchd would glob-expand the program arguments.
    LaunchdEnableGlobbing = "launchd-enable-globbing", Error;
    /// A `Contents/Library/LaunchServices` entry `SMPrivilegedExecutables` does not name: SMJobBless ignores it (SMJobBlessUtil rejects it; an error under `--strict`).
    LaunchServicesEntryUnnamed = "launchservices-entry-unnamed", Warning;
    /// The installed helper's version is not older than the bundled one: bless changes nothing.
    VersionNotNewer = "version-not-newer", Warning;
    /// A requirement trusts any Apple-issued developer certificate (no team pinning).
    NoTeamPinning = "no-team-pinning", Warning;
    /// A requirement names no anchor at all: any code with that identifier, even ad-hoc signed, satisfies it.
    NoAnchor = "no-anchor", Warning;
    /// The client requirement does not refuse older app versions.
    NoDowngradeProtection = "no-downgrade-protection", Warning;
    /// Ad-hoc or linker-signed code: nothing ties it to a developer.
    AdhocSignature = "adhoc-signature", Warning;
    /// `Program`/`ProgramArguments` in the embedded launchd plist are ignored by SMJobBless.
    ProgramKeyIgnored = "program-key-ignored", Warning;
    /// `KeepAlive`/`RunAtLoad` keep an on-demand helper running.
    NotOnDemand = "not-on-demand", Warning;
    /// Neither `MachServices` nor `Sockets`: nothing can reach the helper.
    Unreachable = "unreachable", Warning;
    // --- the launchd key policy (crate::launchd_policy): keys that deserve a warning --------
    /// The launchd plist's `UserName` is not root.
    LaunchdUserName = "launchd-user-name", Warning;
    /// The launchd plist's `GroupName` is not wheel.
    LaunchdGroupName = "launchd-group-name", Warning;
    /// `StandardInPath`/`StandardOutPath`/`StandardErrorPath` lies outside a root-owned directory.
    LaunchdStandardIoPath = "launchd-standard-io-path", Warning;
    /// `WatchPaths`/`QueueDirectories` start the root helper on file-system events.
    LaunchdLaunchOnPath = "launchd-launch-on-path", Warning;
    /// A `MachServices` name is neither the label nor `LABEL.something`.
    LaunchdMachServiceName = "launchd-mach-service-name", Warning;
    /// A socket's `SockPathName` is outside a root-owned directory or not named after the label.
    LaunchdSocketPath = "launchd-socket-path", Warning;
    /// A socket listens on a network port, where peers have no kernel-attested identity.
    LaunchdNetworkSocket = "launchd-network-socket", Warning;
    /// `Umask` lets group or others write the files the root helper creates.
    LaunchdUmask = "launchd-umask", Warning;
    /// `SMAuthorizedClients` has more than one entry (SMJobBlessUtil expects exactly one).
    MultipleAuthorizedClients = "multiple-authorized-clients", Info;
    // --- SMAppService daemons and agents (Contents/Library/LaunchDaemons|LaunchAgents) ------
    /// A job plist is not a regular file holding an XML or binary plist dictionary: SMAppService cannot register it.
    ServicePlistUnreadable = "service-plist-unreadable", Error;
    /// A job plist has no `Label` string.
    ServiceLabelMissing = "service-label-missing", Error;
    /// Two job plists of the app have the same `Label`: only one can be registered.
    ServiceLabelDuplicate = "service-label-duplicate", Error;
    /// A job plist has no `BundleProgram` string.
    BundleProgramMissing = "bundle-program-missing", Error;
    /// `BundleProgram` is absolute, contains `..`, or resolves through a symlink to outside the bundle.
    BundleProgramOutsideBundle = "bundle-program-outside-bundle", Error;
    /// `BundleProgram` names nothing in the bundle.
    BundleProgramNotFound = "bundle-program-not-found", Error;
    /// `BundleProgram` is not a regular Mach-O executable.
    BundleProgramNotFile = "bundle-program-not-file", Error;
    /// The program is unsigned, ad-hoc or only linker-signed in some slice: SMAppService does not run it.
    BundleProgramUnsigned = "bundle-program-unsigned", Error;
    /// The program's signature does not verify.
    BundleProgramSignatureInvalid = "bundle-program-signature-invalid", Error;
    /// The program is signed by another team than the app: launchd refuses to spawn it for the app.
    BundleProgramWrongTeam = "bundle-program-wrong-team", Error;
    /// The program has no arm64 slice: it runs only under Rosetta, and stops when Rosetta goes away.
    BundleProgramIntelOnly = "bundle-program-intel-only", Warning;
    /// The program is not signed with the hardened runtime (notarization refuses it).
    BundleProgramNotHardened = "bundle-program-not-hardened", Warning;
    /// The program's entitlements grant `get-task-allow`: debuggers may attach (notarization refuses it).
    BundleProgramGetTaskAllow = "bundle-program-get-task-allow", Warning;
    /// `Program` or an absolute `ProgramArguments[0]` names a file outside the app, which its signature does not cover.
    ServiceProgramKey = "service-program-key", Warning;
    /// The job plist is not sealed by the app's signature (not listed in `CodeResources`).
    ServicePlistUnsealed = "service-plist-unsealed", Error;
    /// `AssociatedBundleIdentifiers` is missing or does not name the app: System Settings shows the job without its app.
    AssociatedBundleIdentifiers = "associated-bundle-identifiers", Warning;
    /// The daemon's Info.plist has `SMAuthorizedClients`, which SMAppService ignores: the daemon must check its clients itself.
    AuthorizedClientsIgnored = "authorized-clients-ignored", Warning;
    /// A login item in `Contents/Library/LoginItems` is signed by another team than the app: it cannot be enabled.
    LoginItemWrongTeam = "login-item-wrong-team", Error;
    // --- migration from SMJobBless to SMAppService ------------------------------------------
    /// An SMJobBless helper and an SMAppService daemon share a label: registration conflicts with the blessed job until it is removed.
    MigrationSameLabel = "migration-same-label", Warning;
    /// The daemon that replaces an SMJobBless helper does not satisfy the requirement the app pins for that helper.
    MigrationRequirementUnsatisfied = "migration-requirement-unsatisfied", Warning;
    /// With `--root`: an SMJobBless helper with a daemon's label is installed there and blocks its registration.
    MigrationInstalledHelper = "migration-installed-helper", Error;
    /// The app carries both mechanisms: the installer must remove the blessed helper after registering the daemon.
    MigrationCleanup = "migration-cleanup", Info;
    // --- upgrade from a previous build (`--previous OLD.app`) --------------------------------
    /// A job's `Label` differs from the previous build's.
    UpgradeLabelChanged = "upgrade-label-changed", Error;
    /// A job's program (or the app) is signed with another identifier or team than in the previous build.
    UpgradeIdentityChanged = "upgrade-identity-changed", Error;
    /// An SMJobBless helper's `CFBundleVersion` is not greater than the previous build's: SMJobBless keeps the old one.
    UpgradeVersionNotNewer = "upgrade-version-not-newer", Error;
    /// The new app does not satisfy the previous helper's `SMAuthorizedClients`: SMJobBless refuses the update.
    UpgradeClientRequirementUnsatisfied = "upgrade-client-requirement-unsatisfied", Error;
    /// The new helper does not satisfy the previous app's requirement for it.
    UpgradeHelperRequirementUnsatisfied = "upgrade-helper-requirement-unsatisfied", Error;
    /// A job of the previous build is gone: what it installed stays until removed.
    UpgradeJobRemoved = "upgrade-job-removed", Warning;
    /// A job is new in this build.
    UpgradeJobAdded = "upgrade-job-added", Info;
}

impl fmt::Display for FindingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FindingId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One finding of the contract check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable kebab-case id.
    pub id: FindingId,
    /// Error, warning or info.
    pub severity: Severity,
    /// The file or bundle the finding is about.
    pub path: String,
    /// What is wrong, with the values involved.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// For unsatisfied requirements: the evaluation tree, one clause per line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Finding {
    /// A finding of kind `id` about `path`, with the kind's severity.
    pub fn new(
        id: FindingId,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Finding {
        Finding {
            id,
            severity: id.severity(),
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
            detail: None,
        }
    }

    /// Attach a multi-line detail (an evaluation tree, a parse error with its caret).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Finding {
        self.detail = Some(detail.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for id in FindingId::ALL {
            let s = id.as_str();
            assert!(seen.insert(s), "duplicate id {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{s}");
        }
    }

    #[test]
    fn serialises_with_stable_names() {
        let f = Finding::new(FindingId::LabelMismatch, "a", "m", "h");
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["id"], "label-mismatch");
        assert_eq!(json["severity"], "error");
        assert!(json.get("detail").is_none());
    }
}
