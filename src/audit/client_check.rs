//! A heuristic for "does this helper check who its client is?": which client-authenticating
//! APIs its Mach-O imports (the symbol imports dyld binds: chained fixups, dyld info or the
//! symbol table, read with `object`) and which Objective-C selectors it references
//! (`__objc_selrefs` entries resolved into `__objc_methname`).
//!
//! It is a heuristic and says so: a helper may call these APIs through `dlsym` or a framework
//! of its own (then it looks unchecked), or import them and never call them on a client (then
//! it looks checked). It finds the common mistakes — no check at all, or a check by process ID,
//! which a client can win by exiting and letting a new process take its PID.

use std::collections::BTreeSet;

use object::read::{NameOrOrdinal, Object, ObjectSection, ObjectSegment};
use serde::Serialize;

use crate::container::Container;

/// Imports that check a code-signing requirement against a guest (with
/// `SecCodeCopyGuestWithAttributes`) or have the system check it for the connection.
const CHECK_VALIDITY: &[&str] = &[
    "SecCodeCheckValidity",
    "SecCodeCheckValidityWithErrors",
    "SecStaticCodeCheckValidity",
    "SecStaticCodeCheckValidityWithErrors",
];
const COPY_GUEST: &str = "SecCodeCopyGuestWithAttributes";
const SYSTEM_CHECKS: &[&str] = &[
    "xpc_connection_set_peer_code_signing_requirement",
    "xpc_connection_set_peer_requirement",
];
/// Selectors with which NSXPC checks the peer's code signature itself (macOS 13+).
const CHECK_SELECTORS: &[&str] = &[
    "setCodeSigningRequirement:",
    "setConnectionCodeSigningRequirement:",
];
/// Ways to a kernel-attested client identity: audit tokens.
const AUDIT_TOKEN: &[&str] = &[
    "kSecGuestAttributeAudit",
    "xpc_connection_get_audit_token",
    "xpc_dictionary_get_audit_token",
    "SecTaskCreateWithAuditToken",
    "audit_token_to_pid",
    "audit_token_to_pidversion",
];
const AUDIT_TOKEN_SELECTORS: &[&str] = &["auditToken"];
/// Ways to a client identity that the client can recycle: process IDs.
const PID_BASED: &[&str] = &[
    "xpc_connection_get_pid",
    "kSecGuestAttributePid",
    "SecTaskCreateWithPID",
    "proc_pidpath",
];
const PID_SELECTORS: &[&str] = &["processIdentifier"];

/// What the heuristic concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// It imports a code-signing check of its clients (`SecCodeCheckValidity*` with
    /// `SecCodeCopyGuestWithAttributes`, `xpc_connection_set_peer_code_signing_requirement`,
    /// or NSXPC's `setCodeSigningRequirement:`).
    CodeSigning,
    /// It can identify clients only by process ID.
    PidOnly,
    /// It imports nothing that identifies a client.
    None,
}

/// The heuristic's verdict and the imports and selectors it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientCheck {
    /// What it concluded.
    pub verdict: Verdict,
    /// The relevant imports and selectors found (`SecCodeCheckValidity`, `-processIdentifier`).
    pub evidence: Vec<String>,
}

/// At most this many imports or selector references are read per slice.
const MAX_NAMES: usize = 1 << 18;

/// What `container`'s Mach-O slices import and reference, judged.
pub fn judge(container: &Container<'_>) -> ClientCheck {
    let mut imports = BTreeSet::new();
    let mut selectors = BTreeSet::new();
    for slice in container.slices().iter().filter(|s| s.is_macho()) {
        let Ok(file) = object::File::parse(slice.data()) else {
            continue;
        };
        collect_imports(&file, &mut imports);
        collect_selectors(&file, &mut selectors);
    }
    verdict(&imports, &selectors)
}

fn collect_imports(file: &object::File<'_>, out: &mut BTreeSet<String>) {
    let Ok(iter) = file.imports() else { return };
    for import in iter.take(MAX_NAMES).flatten() {
        if let NameOrOrdinal::Name(name) = import.name() {
            let name = name.strip_prefix(b"_").unwrap_or(name);
            if let Ok(name) = std::str::from_utf8(name) {
                out.insert(name.to_string());
            }
        }
    }
}

/// The selector names `__objc_selrefs` points at. Pointers are resolved as plain addresses or
/// as chained-fixup rebases (the low 36 bits: a target address, or an offset from the image
/// base).
fn collect_selectors(file: &object::File<'_>, out: &mut BTreeSet<String>) {
    let Some(names) = file.section_by_name("__objc_methname") else {
        return;
    };
    let (Ok(text), base) = (names.data(), names.address()) else {
        return;
    };
    let Some(refs) = file.section_by_name("__objc_selrefs") else {
        return;
    };
    let Ok(refs) = refs.data() else { return };
    let image_base: u64 = file
        .segments()
        .find_map(|s| (s.name().ok().flatten() == Some("__TEXT")).then(|| s.address()))
        .unwrap_or(0);
    let width = if file.is_64() { 8 } else { 4 };
    let little = file.is_little_endian();
    for entry in refs.chunks_exact(width).take(MAX_NAMES) {
        let raw = word(entry, little);
        let low = raw & 0xf_ffff_ffff;
        let name = [raw, low, image_base.wrapping_add(low)]
            .into_iter()
            .find_map(|addr| c_string_at(text, addr.checked_sub(base)?));
        if let Some(name) = name {
            out.insert(name);
        }
    }
}

fn word(bytes: &[u8], little: bool) -> u64 {
    bytes.iter().enumerate().fold(0u64, |acc, (i, b)| {
        let shift = if little { i } else { bytes.len() - 1 - i } * 8;
        acc | (u64::from(*b) << shift)
    })
}

/// The NUL-terminated string at `offset` in `text`, when there is one.
fn c_string_at(text: &[u8], offset: u64) -> Option<String> {
    let start = usize::try_from(offset).ok()?;
    let rest = text.get(start..)?;
    let end = rest.iter().position(|b| *b == 0)?;
    let bytes = rest.get(..end)?;
    if bytes.is_empty() {
        return None;
    }
    std::str::from_utf8(bytes).ok().map(str::to_string)
}

/// The verdict over what was found.
pub fn verdict(imports: &BTreeSet<String>, selectors: &BTreeSet<String>) -> ClientCheck {
    let mut evidence = Vec::new();
    let mut note = |names: &[&str], set: &BTreeSet<String>, selector: bool| {
        let found: Vec<&str> = names.iter().copied().filter(|n| set.contains(*n)).collect();
        for n in &found {
            evidence.push(if selector {
                format!("-{n}")
            } else {
                (*n).to_string()
            });
        }
        !found.is_empty()
    };
    let validity = note(CHECK_VALIDITY, imports, false);
    let guest = note(&[COPY_GUEST], imports, false);
    let system = note(SYSTEM_CHECKS, imports, false);
    let nsxpc = note(CHECK_SELECTORS, selectors, true);
    let token = note(AUDIT_TOKEN, imports, false) | note(AUDIT_TOKEN_SELECTORS, selectors, true);
    let pid = note(PID_BASED, imports, false) | note(PID_SELECTORS, selectors, true);
    // A guest looked up by PID alone is a PID-based check, however it is then validated.
    let guest_by_pid = pid && !token;
    let verdict = if system || nsxpc || (validity && guest && !guest_by_pid) {
        Verdict::CodeSigning
    } else if pid {
        Verdict::PidOnly
    } else {
        Verdict::None
    };
    ClientCheck { verdict, evidence }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn verdicts() {
        let none = set(&[]);
        let v = |i: &[&str], s: &[&str]| verdict(&set(i), &set(s)).verdict;
        assert_eq!(v(&["write", "exit"], &[]), Verdict::None);
        assert_eq!(
            v(
                &[
                    "SecCodeCopyGuestWithAttributes",
                    "SecCodeCheckValidity",
                    "kSecGuestAttributeAudit"
                ],
                &[]
            ),
            Verdict::CodeSigning
        );
        assert_eq!(
            v(
                &[
                    "SecCodeCopyGuestWithAttributes",
                    "SecCodeCheckValidity",
                    "kSecGuestAttributePid"
                ],
                &[]
            ),
            Verdict::PidOnly
        );
        assert_eq!(v(&["xpc_connection_get_pid"], &[]), Verdict::PidOnly);
        assert_eq!(v(&[], &["processIdentifier"]), Verdict::PidOnly);
        assert_eq!(
            v(&[], &["setCodeSigningRequirement:"]),
            Verdict::CodeSigning
        );
        assert_eq!(
            v(&["xpc_connection_set_peer_code_signing_requirement"], &[]),
            Verdict::CodeSigning
        );
        // Checking its own validity is not a client check.
        assert_eq!(v(&["SecCodeCheckValidity"], &[]), Verdict::None);
        assert_eq!(verdict(&none, &none).evidence, Vec::<String>::new());
    }

    #[test]
    fn words_and_strings() {
        assert_eq!(
            word(&[1, 0, 0, 0, 0, 0, 0, 0x80], true),
            0x8000_0000_0000_0001
        );
        assert_eq!(word(&[0, 0, 1, 0], false), 0x100);
        assert_eq!(c_string_at(b"a\0bc\0", 2), Some("bc".into()));
        assert_eq!(c_string_at(b"abc", 0), None);
        assert_eq!(c_string_at(b"a\0", 9), None);
    }
}
