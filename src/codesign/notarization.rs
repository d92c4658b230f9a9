//! Notarization as far as it can be known offline.
//!
//! Apple staples a notarization ticket to a bundle as `Contents/CodeResources` (beside, not
//! inside, `_CodeSignature`; it is not part of the resource seal). Its format is Apple's own and
//! undocumented, and its signature chains to a key only Apple's ticket service vouches for, so
//! it cannot be checked reliably here: a stapled ticket is reported (where, how large) and the
//! answer stays *unknown*, as it does for Apple-signed code without one (macOS would ask Apple's
//! service). Only code that cannot be notarized at all — not signed with a certificate chaining
//! to Apple — is confidently *not* notarized. Never a "no" without that evidence.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::trust::Trust;
use super::verify::Kind;
use crate::requirement::Notarization;

/// The most bytes read of a stapled ticket (real ones are a few KiB).
pub const MAX_TICKET: u64 = 1 << 20;

/// A stapled ticket found beside a bundle's signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StapledTicket {
    /// Where it is (`…/Contents/CodeResources`).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// The ticket stapled in the bundle whose support directory is `base` (`X.app/Contents`,
/// `X.framework/Versions/A`), if one is there: a regular, non-empty file no larger than
/// [`MAX_TICKET`]. Symlinks are not followed.
pub fn stapled_ticket(base: &Path) -> Option<StapledTicket> {
    let path = base.join("CodeResources");
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() == 0 || meta.len() > MAX_TICKET {
        return None;
    }
    let mut bytes = Vec::new();
    crate::mapped::open_regular(&path)
        .ok()?
        .take(MAX_TICKET)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(StapledTicket {
        path,
        size: bytes.len() as u64,
    })
}

/// What can be said about the notarization of code of `kind` whose chain ends at `trust`,
/// given the ticket stapled to its bundle (if any).
pub fn judge(kind: Kind, trust: Trust, ticket: Option<&StapledTicket>) -> Notarization {
    if trust != Trust::Apple || matches!(kind, Kind::Adhoc | Kind::LinkerSigned | Kind::Unsigned) {
        return Notarization::NotNotarized(format!(
            "only code signed with a certificate that chains to Apple can be notarized; this is {kind} (trust: {trust})"
        ));
    }
    Notarization::Unknown(match ticket {
        Some(t) => format!(
            "a ticket is stapled ({}, {} bytes), but its signature cannot be checked offline",
            t.path.display(),
            t.size
        ),
        None => "no ticket is stapled; only Apple's notarization service can say".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_apple_chained_code_can_be_notarized_and_then_it_is_unknown() {
        for kind in [Kind::Adhoc, Kind::LinkerSigned, Kind::Unsigned] {
            assert!(matches!(
                judge(kind, Trust::None, None),
                Notarization::NotNotarized(_)
            ));
        }
        assert!(matches!(
            judge(Kind::Untrusted, Trust::SelfSigned, None),
            Notarization::NotNotarized(_)
        ));
        assert!(matches!(
            judge(Kind::CustomAnchor, Trust::Anchor, None),
            Notarization::NotNotarized(_)
        ));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(stapled_ticket(dir.path()), None);
        std::fs::write(dir.path().join("CodeResources"), b"s8ch ticket bytes").unwrap();
        let t = stapled_ticket(dir.path()).unwrap();
        assert_eq!(t.size, 17);
        match judge(Kind::DeveloperId, Trust::Apple, Some(&t)) {
            Notarization::Unknown(r) => assert!(r.contains("stapled"), "{r}"),
            other => panic!("{other:?}"),
        }
        match judge(Kind::DeveloperId, Trust::Apple, None) {
            Notarization::Unknown(r) => assert!(r.contains("no ticket"), "{r}"),
            other => panic!("{other:?}"),
        }
    }
}
