//! `CFBundleVersion` as SMJobBless compares it: one to three dot-separated non-negative
//! integers, missing parts counting as 0.
//!
//! No Apple document states the rule; the public evidence (trilemma-dev's `Blessed` and
//! `EmbeddedPropertyList`) is that an installed helper is replaced only when the bundled version
//! is strictly greater, compared component by component as numbers, and that a missing or
//! malformed version makes the bless fail. Parsing is therefore strict: anything that is not
//! 1–3 components of ASCII digits is an error naming the bad component, never a silent 0.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The most components a bundle version may have (`major.minor.patch`).
pub const MAX_COMPONENTS: usize = 3;

/// A `CFBundleVersion` that is not in bundle-version form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The string is empty (or only whitespace).
    #[error("CFBundleVersion is empty; expected 1 to 3 dot-separated integers such as \"1.2.3\"")]
    Empty,
    /// More than [`MAX_COMPONENTS`] components.
    #[error("CFBundleVersion {version:?} has {count} components; expected 1 to 3 dot-separated integers such as \"1.2.3\"")]
    TooManyComponents {
        /// The version string.
        version: String,
        /// How many components it has.
        count: usize,
    },
    /// A component is empty (`"1..2"`, `".1"`, `"1."`).
    #[error(
        "CFBundleVersion {version:?}: component {index} is empty; expected a non-negative integer"
    )]
    EmptyComponent {
        /// The version string.
        version: String,
        /// The 1-based component number.
        index: usize,
    },
    /// A component contains something other than ASCII digits.
    #[error("CFBundleVersion {version:?}: component {index} is {component:?}; expected a non-negative integer (digits 0-9 only)")]
    NotANumber {
        /// The version string.
        version: String,
        /// The 1-based component number.
        index: usize,
        /// The component text.
        component: String,
    },
    /// A component does not fit in 64 bits.
    #[error("CFBundleVersion {version:?}: component {index} is {component:?}; expected an integer below 2^63")]
    Overflow {
        /// The version string.
        version: String,
        /// The 1-based component number.
        index: usize,
        /// The component text.
        component: String,
    },
}

/// A parsed `CFBundleVersion`: `major.minor.patch`, with missing parts 0.
///
/// Ordering and equality are numeric on the three parts, so `"1.2"` == `"1.2.0"` and
/// `"1.10"` > `"1.9"`. The original text is kept for display.
#[derive(Debug, Clone)]
pub struct BundleVersion {
    parts: [u64; MAX_COMPONENTS],
    text: String,
}

impl BundleVersion {
    /// Parse a `CFBundleVersion` string. Surrounding whitespace is not accepted: Apple's tools
    /// would not trim it either, and a version that only looks right is worth an error.
    pub fn parse(version: &str) -> Result<BundleVersion, VersionError> {
        if version.trim().is_empty() {
            return Err(VersionError::Empty);
        }
        let count = version.split('.').count();
        if count > MAX_COMPONENTS {
            return Err(VersionError::TooManyComponents {
                version: version.to_owned(),
                count,
            });
        }
        let mut parts = [0u64; MAX_COMPONENTS];
        for (slot, (i, component)) in parts.iter_mut().zip(version.split('.').enumerate()) {
            let index = i + 1;
            if component.is_empty() {
                return Err(VersionError::EmptyComponent {
                    version: version.to_owned(),
                    index,
                });
            }
            if !component.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::NotANumber {
                    version: version.to_owned(),
                    index,
                    component: component.to_owned(),
                });
            }
            // Blessed parses into Swift `Int` (signed 64-bit); keep the same range.
            *slot = component
                .parse::<i64>()
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| VersionError::Overflow {
                    version: version.to_owned(),
                    index,
                    component: component.to_owned(),
                })?;
        }
        Ok(BundleVersion {
            parts,
            text: version.to_owned(),
        })
    }

    /// The three numeric parts, missing ones 0.
    pub fn parts(&self) -> [u64; MAX_COMPONENTS] {
        self.parts
    }

    /// The text as written in the plist.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a helper of version `self` would replace an installed helper of version
    /// `installed`: only when strictly greater, as SMJobBless does.
    pub fn is_upgrade_from(&self, installed: &BundleVersion) -> bool {
        self > installed
    }
}

impl PartialEq for BundleVersion {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for BundleVersion {}

impl PartialOrd for BundleVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BundleVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }
}

impl std::hash::Hash for BundleVersion {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
    }
}

impl fmt::Display for BundleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for BundleVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BundleVersion::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> BundleVersion {
        BundleVersion::parse(s).unwrap()
    }

    #[test]
    fn missing_parts_are_zero() {
        assert_eq!(v("1").parts(), [1, 0, 0]);
        assert_eq!(v("1.2").parts(), [1, 2, 0]);
        assert_eq!(v("1.2.3").parts(), [1, 2, 3]);
        assert_eq!(v("1"), v("1.0.0"));
        assert_eq!(v("1.2"), v("1.2.0"));
    }

    #[test]
    fn comparison_is_numeric_not_textual() {
        assert!(v("1.10") > v("1.9"));
        assert!(v("2") > v("1.99.99"));
        assert!(v("1.0.1") > v("1"));
        assert!(v("010") == v("10"));
    }

    #[test]
    fn upgrade_only_when_strictly_greater() {
        assert!(v("1.2").is_upgrade_from(&v("1.1")));
        assert!(!v("1.1").is_upgrade_from(&v("1.1.0")));
        assert!(!v("1.0").is_upgrade_from(&v("1.1")));
    }

    #[test]
    fn display_keeps_the_original_text() {
        assert_eq!(v("1.2").to_string(), "1.2");
        assert_eq!(v("01.2").as_str(), "01.2");
    }

    #[test]
    fn errors_name_the_bad_component() {
        assert_eq!(BundleVersion::parse(""), Err(VersionError::Empty));
        assert_eq!(BundleVersion::parse("  "), Err(VersionError::Empty));
        assert_eq!(
            BundleVersion::parse("1.2.3.4"),
            Err(VersionError::TooManyComponents {
                version: "1.2.3.4".into(),
                count: 4
            })
        );
        assert_eq!(
            BundleVersion::parse("1..2"),
            Err(VersionError::EmptyComponent {
                version: "1..2".into(),
                index: 2
            })
        );
        assert_eq!(
            BundleVersion::parse("1."),
            Err(VersionError::EmptyComponent {
                version: "1.".into(),
                index: 2
            })
        );
        assert_eq!(
            BundleVersion::parse("1.2b"),
            Err(VersionError::NotANumber {
                version: "1.2b".into(),
                index: 2,
                component: "2b".into()
            })
        );
        for bad in ["-1", "+1", " 1", "1 ", "1.0-beta", "١"] {
            assert!(
                matches!(
                    BundleVersion::parse(bad),
                    Err(VersionError::NotANumber { index: 1, .. })
                        | Err(VersionError::NotANumber { index: 2, .. })
                ),
                "{bad:?} accepted"
            );
        }
        assert_eq!(
            BundleVersion::parse("1.9223372036854775808"),
            Err(VersionError::Overflow {
                version: "1.9223372036854775808".into(),
                index: 2,
                component: "9223372036854775808".into()
            })
        );
        assert!(BundleVersion::parse("9223372036854775807").is_ok());
    }

    #[test]
    fn error_messages_say_what_was_expected() {
        let msg = BundleVersion::parse("1.x").unwrap_err().to_string();
        assert!(msg.contains("component 2"), "{msg}");
        assert!(msg.contains("\"x\""), "{msg}");
        assert!(msg.contains("non-negative integer"), "{msg}");
    }
}
