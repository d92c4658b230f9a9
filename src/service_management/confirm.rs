//! After SMJobBless reports success: is the installed helper the bundled version? SMJobBless
//! leaves an installed helper in place unless the bundled `CFBundleVersion` is strictly greater,
//! and says "success" either way.

use serde::Serialize;

use crate::version::BundleVersion;

/// Where SMJobBless installs helpers (`/Library/PrivilegedHelperTools/LABEL`).
pub const SMJOBBLESS_HELPER_DIR: &str = "/Library/PrivilegedHelperTools";

/// What is installed at `/Library/PrivilegedHelperTools/LABEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstalledVersion<'a> {
    /// No file.
    Absent,
    /// A file whose embedded `CFBundleVersion` cannot be read.
    Unreadable,
    /// A helper of this version.
    Version(&'a BundleVersion),
}

/// The installed helper compared with the bundled one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Confirmation {
    /// The installed helper has the bundled version.
    Current {
        /// The version.
        version: String,
    },
    /// A newer helper is installed (a newer app installed it); it was left in place.
    NewerInstalled {
        /// Installed.
        installed: String,
        /// Bundled.
        bundled: String,
    },
    /// An older helper is still installed: the bless did not take.
    Stale {
        /// Installed.
        installed: String,
        /// Bundled.
        bundled: String,
    },
    /// Nothing is installed.
    Missing,
    /// Something is installed whose version cannot be read.
    Unreadable,
}

impl Confirmation {
    /// Whether the helper the app needs (this version or newer) is in place.
    pub fn is_confirmed(&self) -> bool {
        matches!(
            self,
            Confirmation::Current { .. } | Confirmation::NewerInstalled { .. }
        )
    }
}

/// Compare the installed helper with the bundled version.
pub fn confirm_installed(bundled: &BundleVersion, installed: InstalledVersion<'_>) -> Confirmation {
    match installed {
        InstalledVersion::Absent => Confirmation::Missing,
        InstalledVersion::Unreadable => Confirmation::Unreadable,
        InstalledVersion::Version(v) if v == bundled => Confirmation::Current {
            version: v.to_string(),
        },
        InstalledVersion::Version(v) if v > bundled => Confirmation::NewerInstalled {
            installed: v.to_string(),
            bundled: bundled.to_string(),
        },
        InstalledVersion::Version(v) => Confirmation::Stale {
            installed: v.to_string(),
            bundled: bundled.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> BundleVersion {
        BundleVersion::parse(s).unwrap()
    }

    #[test]
    fn installed_versions_are_compared_numerically() {
        let bundled = v("1.10");
        assert_eq!(
            confirm_installed(&bundled, InstalledVersion::Version(&v("1.10.0"))),
            Confirmation::Current {
                version: "1.10.0".into()
            }
        );
        assert!(matches!(
            confirm_installed(&bundled, InstalledVersion::Version(&v("1.9"))),
            Confirmation::Stale { .. }
        ));
        let newer = confirm_installed(&bundled, InstalledVersion::Version(&v("2")));
        assert!(newer.is_confirmed());
        assert!(matches!(newer, Confirmation::NewerInstalled { .. }));
        assert_eq!(
            confirm_installed(&bundled, InstalledVersion::Absent),
            Confirmation::Missing
        );
        assert!(!confirm_installed(&bundled, InstalledVersion::Unreadable).is_confirmed());
    }
}
