//! What the requirement evaluator needs to know about a piece of signed code.
//!
//! The evaluator sits below the signature layer, so it does not read signatures itself: the
//! caller hands it a [`CodeIdentity`]. The signature layer implements the trait for its verified
//! slices; [`StaticIdentity`] is a plain in-memory implementation for tests and for callers that
//! learnt the facts some other way.

use plist::{Dictionary, Value};

/// The facts about signed code that Apple's requirement interpreter (`reqinterp`) consults.
///
/// Every method answers for one architecture slice (one primary CodeDirectory). Absence is
/// expressed as `None`/empty, which the evaluator treats as "the clause does not hold", exactly as
/// Apple's interpreter treats a missing field.
pub trait CodeIdentity {
    /// The CodeDirectory identifier (`identifier "…"`).
    fn identifier(&self) -> Option<&str>;

    /// The cdhashes `cdhash H"…"` is compared with; it holds when any equals the requirement's
    /// value. For signed code macOS gives one: the strongest CodeDirectory's.
    fn cdhashes(&self) -> Vec<&[u8]>;

    /// The certificate chain as DER, leaf first, anchor last (the order requirement slots count
    /// in: 0 is the leaf, -1 the anchor). Empty for ad-hoc or unsigned code.
    fn certificates(&self) -> Vec<&[u8]>;

    /// Whether the chain's anchor is one of Apple's roots (or a root deliberately treated as
    /// Apple's for testing): what `anchor apple generic` checks.
    fn anchor_is_apple(&self) -> bool;

    /// Whether the chain's anchor is a root the system or the user trusts (any trusted root,
    /// Apple's included): what `anchor trusted` checks.
    fn anchor_is_trusted(&self) -> bool;

    /// Whether the certificate at chain index `index` (0 = leaf) is explicitly trusted by the
    /// user or system trust settings: what `certificate N trusted` checks. The default answers
    /// for the anchor only, from [`CodeIdentity::anchor_is_trusted`].
    fn certificate_is_trusted(&self, index: usize) -> bool {
        let count = self.certificates().len();
        count > 0 && index + 1 == count && self.anchor_is_trusted()
    }

    /// The Info.plist bound to the code (the bundle's, or a tool's embedded `__info_plist`).
    fn info_plist(&self) -> Option<&Dictionary>;

    /// The code's entitlements dictionary.
    fn entitlements(&self) -> Option<&Dictionary>;

    /// The CodeDirectory `platform` byte (0 for ordinary third-party code).
    fn platform(&self) -> u8;

    /// Whether the code carries a valid notarization ticket (stapled or looked up).
    fn notarized(&self) -> bool;

    /// What is known about notarization: yes, no, or unknown (offline, without a ticket that
    /// can be checked) with the reason. By default the answer of [`CodeIdentity::notarized`].
    fn notarization(&self) -> Notarization {
        if self.notarized() {
            Notarization::Notarized
        } else {
            Notarization::NotNotarized("the code is not notarized".into())
        }
    }

    /// Whether the code counts as a legacy Developer ID signature (signed before Apple required
    /// a secure timestamp): what `legacy` checks. Most code is not.
    fn legacy_developer_id(&self) -> bool {
        false
    }
}

/// What is known about a code's notarization. Serialised as `true`, `false` or `"unknown"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notarization {
    /// A valid ticket lists the code.
    Notarized,
    /// The code cannot be notarized, with why (e.g. it is not signed with a certificate that
    /// chains to Apple).
    NotNotarized(String),
    /// It cannot be decided offline, with why (no ticket, or one whose signature cannot be
    /// checked here).
    Unknown(String),
}

impl Notarization {
    /// `None` for notarized, else the reason.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Notarization::Notarized => None,
            Notarization::NotNotarized(r) | Notarization::Unknown(r) => Some(r),
        }
    }
}

impl serde::Serialize for Notarization {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Notarization::Notarized => s.serialize_bool(true),
            Notarization::NotNotarized(_) => s.serialize_bool(false),
            Notarization::Unknown(_) => s.serialize_str("unknown"),
        }
    }
}

/// A [`CodeIdentity`] held entirely in memory: build one field by field for tests, or from facts
/// obtained elsewhere.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaticIdentity {
    /// The CodeDirectory identifier.
    pub identifier: Option<String>,
    /// Every cdhash, primary first.
    pub cdhashes: Vec<Vec<u8>>,
    /// The chain as DER, leaf first, anchor last.
    pub certificates: Vec<Vec<u8>>,
    /// The anchor is an Apple root.
    pub anchor_apple: bool,
    /// The anchor is trusted (by the system or the user).
    pub anchor_trusted: bool,
    /// Chain indices of certificates explicitly trusted by trust settings (besides the anchor
    /// when `anchor_trusted`).
    pub trusted_indices: Vec<usize>,
    /// The Info.plist.
    pub info_plist: Option<Dictionary>,
    /// The entitlements.
    pub entitlements: Option<Dictionary>,
    /// The platform byte.
    pub platform: u8,
    /// Notarized.
    pub notarized: bool,
    /// Legacy Developer ID.
    pub legacy_developer_id: bool,
}

impl StaticIdentity {
    /// An identity with just an identifier; fill in the rest with struct update syntax.
    pub fn with_identifier(identifier: &str) -> Self {
        StaticIdentity {
            identifier: Some(identifier.to_owned()),
            ..StaticIdentity::default()
        }
    }

    /// Set one Info.plist key (creating the dictionary).
    pub fn set_info(&mut self, key: &str, value: Value) {
        self.info_plist
            .get_or_insert_with(Dictionary::new)
            .insert(key.to_owned(), value);
    }

    /// Set one entitlement (creating the dictionary).
    pub fn set_entitlement(&mut self, key: &str, value: Value) {
        self.entitlements
            .get_or_insert_with(Dictionary::new)
            .insert(key.to_owned(), value);
    }
}

impl CodeIdentity for StaticIdentity {
    fn identifier(&self) -> Option<&str> {
        self.identifier.as_deref()
    }

    fn cdhashes(&self) -> Vec<&[u8]> {
        self.cdhashes.iter().map(Vec::as_slice).collect()
    }

    fn certificates(&self) -> Vec<&[u8]> {
        self.certificates.iter().map(Vec::as_slice).collect()
    }

    fn anchor_is_apple(&self) -> bool {
        self.anchor_apple
    }

    fn anchor_is_trusted(&self) -> bool {
        self.anchor_trusted
    }

    fn certificate_is_trusted(&self, index: usize) -> bool {
        let is_anchor = !self.certificates.is_empty() && index + 1 == self.certificates.len();
        (is_anchor && self.anchor_trusted) || self.trusted_indices.contains(&index)
    }

    fn info_plist(&self) -> Option<&Dictionary> {
        self.info_plist.as_ref()
    }

    fn entitlements(&self) -> Option<&Dictionary> {
        self.entitlements.as_ref()
    }

    fn platform(&self) -> u8 {
        self.platform
    }

    fn notarized(&self) -> bool {
        self.notarized
    }

    fn legacy_developer_id(&self) -> bool {
        self.legacy_developer_id
    }
}

impl<T: CodeIdentity + ?Sized> CodeIdentity for &T {
    fn identifier(&self) -> Option<&str> {
        (**self).identifier()
    }
    fn cdhashes(&self) -> Vec<&[u8]> {
        (**self).cdhashes()
    }
    fn certificates(&self) -> Vec<&[u8]> {
        (**self).certificates()
    }
    fn anchor_is_apple(&self) -> bool {
        (**self).anchor_is_apple()
    }
    fn anchor_is_trusted(&self) -> bool {
        (**self).anchor_is_trusted()
    }
    fn certificate_is_trusted(&self, index: usize) -> bool {
        (**self).certificate_is_trusted(index)
    }
    fn info_plist(&self) -> Option<&Dictionary> {
        (**self).info_plist()
    }
    fn entitlements(&self) -> Option<&Dictionary> {
        (**self).entitlements()
    }
    fn platform(&self) -> u8 {
        (**self).platform()
    }
    fn notarized(&self) -> bool {
        (**self).notarized()
    }
    fn notarization(&self) -> Notarization {
        (**self).notarization()
    }
    fn legacy_developer_id(&self) -> bool {
        (**self).legacy_developer_id()
    }
}
