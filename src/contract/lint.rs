//! Requirement lints: properties of a requirement's text that make it weaker than its author
//! likely meant, judged over every way the requirement can be satisfied.

use crate::requirement::{Data, Expr, Match};

/// Developer ID Application marker on a leaf certificate (Mac App Store leaves carry 6.1.9,
/// which only Apple's App Store signing identity has).
const MAC_APP_STORE_LEAF: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x01, 0x09];

/// Whether every way to satisfy `expr` goes through `holds` for some leaf clause: an `and` needs
/// one operand to, an `or` needs both, a negation never counts.
fn every_path(expr: &Expr, holds: &dyn Fn(&Expr) -> bool) -> bool {
    match expr {
        Expr::And { left, right } => every_path(left, holds) || every_path(right, holds),
        Expr::Or { left, right } => every_path(left, holds) && every_path(right, holds),
        Expr::Not { .. } => false,
        Expr::Unknown {
            next: Some(next), ..
        } => every_path(next, holds),
        leaf => holds(leaf),
    }
}

/// Whether any clause of `expr` (outside negations) satisfies `found`.
fn any_clause(expr: &Expr, found: &dyn Fn(&Expr) -> bool) -> bool {
    match expr {
        Expr::And { left, right } | Expr::Or { left, right } => {
            any_clause(left, found) || any_clause(right, found)
        }
        Expr::Not { .. } => false,
        Expr::Unknown {
            next: Some(next), ..
        } => any_clause(next, found),
        leaf => found(leaf),
    }
}

fn is_key(key: &Data, name: &str) -> bool {
    key.as_bytes() == name.as_bytes()
}

/// Whether satisfying `expr` always requires a trust anchor or exact code: without one,
/// `identifier "com.x"` alone is satisfied by anyone's code, even ad-hoc signed.
pub fn pins_anchor(expr: &Expr) -> bool {
    every_path(expr, &|e| {
        matches!(
            e,
            Expr::AppleAnchor
                | Expr::AppleGenericAnchor
                | Expr::AnchorHash { .. }
                | Expr::TrustedCert { .. }
                | Expr::TrustedCerts
                | Expr::NamedAnchor { .. }
                | Expr::CdHash { .. }
                | Expr::False
        )
    })
}

/// Whether `expr` relies on `anchor apple generic` without pinning a developer: any
/// Apple-issued developer certificate would then satisfy it. Pins are the team (`subject.OU`)
/// or name (`subject.CN`) of the leaf, a certificate hash, a cdhash, Apple's own code, or the
/// Mac App Store leaf marker (only Apple signs App Store builds).
pub fn lacks_team_pinning(expr: &Expr) -> bool {
    any_clause(expr, &|e| matches!(e, Expr::AppleGenericAnchor)) && !pins_team(expr)
}

/// Whether every way to satisfy `expr` pins one developer: the leaf's team (`subject.OU`) or
/// name (`subject.CN`), a certificate hash (`certificate leaf|root|N = H"…"`), a cdhash,
/// Apple's own code, or the Mac App Store leaf marker (Xcode's Developer ID requirement). The root policy of `bless` requires it in both directions.
pub fn pins_team(expr: &Expr) -> bool {
    every_path(expr, &|e| match e {
        Expr::CertField {
            slot: 0,
            key,
            matcher: Match::Equal(_),
        } => is_key(key, "subject.OU") || is_key(key, "subject.CN"),
        // Only Apple's App Store signing identity carries the Mac App Store leaf marker.
        Expr::CertGeneric {
            slot: 0,
            oid,
            matcher: Match::Exists,
        } => oid == MAC_APP_STORE_LEAF,
        Expr::AnchorHash { .. } | Expr::CdHash { .. } | Expr::AppleAnchor | Expr::False => true,
        _ => false,
    })
}

/// Whether a client requirement refuses older app versions: every way to satisfy it checks
/// `info[CFBundleVersion]` with `>=`, `>` or `=`.
pub fn has_downgrade_protection(expr: &Expr) -> bool {
    every_path(expr, &|e| match e {
        Expr::InfoKeyField { key, matcher } => {
            is_key(key, "CFBundleVersion")
                && matches!(
                    matcher,
                    Match::GreaterEqual(_) | Match::GreaterThan(_) | Match::Equal(_)
                )
        }
        Expr::InfoKeyValue { key, .. } => is_key(key, "CFBundleVersion"),
        Expr::CdHash { .. } | Expr::False => true,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirement::parse_requirement;

    fn expr(text: &str) -> Expr {
        parse_requirement(text).unwrap().expr
    }

    const XCODE_DR: &str = "anchor apple generic and identifier \"com.x\" and (certificate leaf[field.1.2.840.113635.100.6.1.9] /* exists */ or certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = TEAM)";

    #[test]
    fn anchors() {
        assert!(pins_anchor(&expr(XCODE_DR)));
        assert!(!pins_anchor(&expr("identifier \"com.x\"")));
        assert!(!pins_anchor(&expr(
            "anchor apple generic or identifier \"com.x\""
        )));
        assert!(pins_anchor(&expr("identifier \"com.x\" and certificate root = H\"0123456789012345678901234567890123456789\"")));
        assert!(!pins_anchor(&expr(
            "identifier \"com.x\" and !anchor apple"
        )));
    }

    #[test]
    fn team_pinning() {
        assert!(!lacks_team_pinning(&expr(XCODE_DR)));
        assert!(lacks_team_pinning(&expr(
            "anchor apple generic and identifier \"com.x\""
        )));
        assert!(lacks_team_pinning(&expr(
            "anchor apple generic and identifier \"com.x\" and (certificate leaf[subject.OU] = TEAM or info[X] exists)"
        )));
        assert!(!lacks_team_pinning(&expr("anchor apple")));
        assert!(!lacks_team_pinning(&expr("identifier \"com.x\"")));
    }

    #[test]
    fn downgrade_protection() {
        assert!(has_downgrade_protection(&expr(&format!(
            "{XCODE_DR} and info[CFBundleVersion] >= \"1.2\""
        ))));
        assert!(!has_downgrade_protection(&expr(XCODE_DR)));
        assert!(!has_downgrade_protection(&expr(
            "info[CFBundleVersion] < \"2\""
        )));
        assert!(!has_downgrade_protection(&expr(
            "info[CFBundleVersion] >= \"2\" or anchor apple generic"
        )));
    }
}
