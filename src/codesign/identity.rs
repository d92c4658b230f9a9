//! What the requirement engine asks of signed code, answered from a verified slice.
//!
//! These accessors follow Apple's `reqinterp` semantics: certificate slots count from the leaf
//! (0) up; -1 is the anchor and -n counts back from it; the chain is the one built during
//! verification (leaf … anchor).

use x509_certificate::CapturedX509Certificate;

use super::examine::SignedSlice;
use super::hash::sha1;
use super::trust::{name_attributes, AnchorKind};

impl SignedSlice {
    /// The certificate chain as built (leaf first, anchor last when one was reached).
    pub fn chain(&self) -> &[CapturedX509Certificate] {
        self.certificates.get(..self.chain_length).unwrap_or(&[])
    }

    /// The certificate in requirement slot `slot`: 0 the leaf, n the n-th issuer above it,
    /// -1 the anchor, -n the n-th certificate counted back from the anchor.
    pub fn certificate_at(&self, slot: i32) -> Option<&CapturedX509Certificate> {
        let chain = self.chain();
        let index = if slot >= 0 {
            usize::try_from(slot).ok()?
        } else {
            let back = usize::try_from(slot.checked_neg()?).ok()?;
            chain.len().checked_sub(back)?
        };
        chain.get(index)
    }

    /// SHA-1 of the DER of the certificate in `slot` (`certificate N = H"…"`).
    pub fn certificate_sha1(&self, slot: i32) -> Option<[u8; 20]> {
        self.certificate_at(slot)
            .map(|c| sha1(c.constructed_data()))
    }

    /// Whether the chain ends at one of Apple's roots (or a root the caller asked to treat as
    /// Apple's, for tests): what `anchor apple generic` checks.
    pub fn anchor_is_apple(&self) -> bool {
        self.anchor.is_some_and(AnchorKind::is_apple)
    }

    /// Whether the chain ends at any trusted root (Apple's or the user's): what `anchor
    /// trusted` checks.
    pub fn anchor_is_trusted(&self) -> bool {
        self.anchor.is_some()
    }

    /// Whether this is Apple's own code (`anchor apple`): an Apple root and Apple's own
    /// code-signing leaf, "Software Signing".
    pub fn is_apple_code(&self) -> bool {
        self.anchor_is_apple() && self.kind == super::verify::Kind::Apple
    }

    /// The values of subject component `key` (`CN`, `OU`, `O`, `C`, `L`, `ST`, `STREET`, `UID`,
    /// `D`, `emailAddress`, or a dotted OID) of the certificate in `slot`.
    pub fn certificate_subject(&self, slot: i32, key: &str) -> Vec<String> {
        let Some(cert) = self.certificate_at(slot) else {
            return Vec::new();
        };
        let key = match key {
            "email" => "emailAddress",
            k => k,
        };
        name_attributes(cert.subject_name())
            .into_iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect()
    }

    /// The extension `oid` (dotted) of the certificate in `slot`: `Some(critical, value)`.
    pub fn certificate_extension(&self, slot: i32, oid: &str) -> Option<(bool, Vec<u8>)> {
        let cert = self.certificate_at(slot)?;
        super::trust::extensions(cert)
            .into_iter()
            .find(|(o, _, _)| o == oid)
            .map(|(_, c, v)| (c, v))
    }

    /// An Info.plist value (the bundle's, or the embedded `__info_plist` of a tool).
    pub fn info_value(&self, key: &str) -> Option<&plist::Value> {
        self.info_plist.as_ref()?.get(key)
    }

    /// An entitlement value.
    pub fn entitlement_value(&self, key: &str) -> Option<&plist::Value> {
        self.entitlements.as_ref()?.as_dictionary()?.get(key)
    }

    /// Every cdhash of this slice (one per CodeDirectory).
    pub fn all_cdhashes(&self) -> impl Iterator<Item = &[u8]> {
        self.cdhashes.iter().map(|(_, h)| h.as_slice())
    }
}

impl crate::requirement::CodeIdentity for SignedSlice {
    fn identifier(&self) -> Option<&str> {
        self.identifier.as_deref()
    }

    fn cdhashes(&self) -> Vec<&[u8]> {
        // Apple's interpreter compares with the code's one cdhash: the strongest
        // CodeDirectory's. A weaker alternate's hash does not satisfy `cdhash H"…"`.
        self.cdhash.iter().map(Vec::as_slice).collect()
    }

    fn certificates(&self) -> Vec<&[u8]> {
        self.chain().iter().map(|c| c.constructed_data()).collect()
    }

    fn anchor_is_apple(&self) -> bool {
        SignedSlice::anchor_is_apple(self)
    }

    fn anchor_is_trusted(&self) -> bool {
        SignedSlice::anchor_is_trusted(self)
    }

    fn info_plist(&self) -> Option<&plist::Dictionary> {
        self.info_plist.as_ref()
    }

    fn entitlements(&self) -> Option<&plist::Dictionary> {
        self.entitlements.as_ref()?.as_dictionary()
    }

    fn platform(&self) -> u8 {
        self.platform
    }

    fn notarized(&self) -> bool {
        self.notarization == crate::requirement::Notarization::Notarized
    }

    fn notarization(&self) -> crate::requirement::Notarization {
        self.notarization.clone()
    }
}
