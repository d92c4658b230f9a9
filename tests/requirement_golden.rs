//! Golden binaries of the requirement language, each assembled by hand from Apple's format
//! (requirement.h / reqmaker.cpp) and checked four ways: text compiles to exactly these bytes,
//! the bytes decompile to the canonical text, the canonical text compiles to the same bytes, and
//! the bytes decode and re-encode identically.
//!
//! Format reminders used in every derivation below (all big-endian u32 words):
//! blob = magic 0xfade0c00, total length, kind 1, expression in prefix order.
//! data = u32 length, bytes, zero padding to a multiple of 4 (padding not counted), so a datum of
//! n bytes takes 4 + n rounded up to 4. Slots are i32 (leaf 0, root -1). Dates are i64 seconds
//! since 2001-01-01. The declared total length of every golden is computed by hand in its
//! comment and must equal the assembled size.

use smbless::requirement::{self, decode, Decoded, Expr, Parsed};

#[derive(Clone, Copy)]
enum P {
    /// One u32 word (opcode, match operation, slot as u32).
    W(u32),
    /// A datum: length word, bytes, padding.
    D(&'static [u8]),
    /// An i64 date.
    Q(i64),
}
use P::{D, Q, W};

const SHA1_A: &[u8] = &[
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x01, 0x23, 0x45, 0x67,
];
const SHA1_B: &[u8] = &[0xaa; 20];
const OID_DEVID_APP: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x01, 0x0d];
const OID_DEVID_CA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x02, 0x06];
const OID_MAS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x01, 0x09];
const OID_WWDR: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x02, 0x01];

struct Golden {
    /// Text as a person would write it.
    text: &'static str,
    /// What Apple's dumper prints (None: the same as `text`).
    canonical: Option<&'static str>,
    /// Total length, derived by hand.
    len: u32,
    /// The expression, in prefix order.
    body: &'static [P],
}

fn assemble(len: u32, body: &[P]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xfade0c00u32.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    for p in body {
        match p {
            W(w) => out.extend_from_slice(&w.to_be_bytes()),
            Q(q) => out.extend_from_slice(&q.to_be_bytes()),
            D(d) => {
                out.extend_from_slice(&(d.len() as u32).to_be_bytes());
                out.extend_from_slice(d);
                while out.len() % 4 != 0 {
                    out.push(0);
                }
            }
        }
    }
    assert_eq!(out.len(), len as usize, "hand-derived length is wrong");
    out
}

/// The datum helper itself, checked against bytes written out by hand.
#[test]
fn datum_padding_by_hand() {
    let blob = assemble(36, &[W(2), D(b"com.example.app")]);
    let hand: &[u8] = &[
        0xfa, 0xde, 0x0c, 0x00, 0, 0, 0, 0x24, 0, 0, 0, 1, // header, length 36, kind 1
        0, 0, 0, 2, // opIdent
        0, 0, 0, 15, // 15 bytes
        b'c', b'o', b'm', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'a', b'p', b'p',
        0, // one byte of padding
    ];
    assert_eq!(blob, hand);
}

const GOLDENS: &[Golden] = &[
    // 12 header + 4 opTrue = 16.
    Golden { text: "always", canonical: None, len: 16, body: &[W(1)] },
    Golden { text: "true", canonical: Some("always"), len: 16, body: &[W(1)] },
    // opFalse.
    Golden { text: "never", canonical: None, len: 16, body: &[W(0)] },
    Golden { text: "false", canonical: Some("never"), len: 16, body: &[W(0)] },
    // opAppleAnchor (3), opAppleGenericAnchor (15), opTrustedCerts (13), opNotarized (21),
    // opLegacyDevID (23): 16 each.
    Golden { text: "anchor apple", canonical: None, len: 16, body: &[W(3)] },
    Golden { text: "anchor apple generic", canonical: None, len: 16, body: &[W(15)] },
    Golden { text: "anchor generic apple", canonical: Some("anchor apple generic"), len: 16, body: &[W(15)] },
    Golden { text: "anchor trusted", canonical: None, len: 16, body: &[W(13)] },
    Golden { text: "certificate trusted", canonical: Some("anchor trusted"), len: 16, body: &[W(13)] },
    Golden { text: "notarized", canonical: None, len: 16, body: &[W(21)] },
    Golden { text: "legacy", canonical: None, len: 16, body: &[W(23)] },
    // opIdent + "com.example.app" (15 → 4+15+1 = 20): 12 + 4 + 20 = 36. Dotted: quoted.
    Golden { text: "identifier \"com.example.app\"", canonical: None, len: 36, body: &[W(2), D(b"com.example.app")] },
    Golden { text: "identifier = com.example.app", canonical: Some("identifier \"com.example.app\""), len: 36, body: &[W(2), D(b"com.example.app")] },
    // "foo" (3 → 8): 24. Plain word: bare.
    Golden { text: "identifier foo", canonical: None, len: 24, body: &[W(2), D(b"foo")] },
    // A reserved word must be quoted: "apple" (5 → 12): 28.
    Golden { text: "identifier \"apple\"", canonical: None, len: 28, body: &[W(2), D(b"apple")] },
    // Empty string: length 0, no padding: 12 + 4 + 4 = 20; printed "".
    Golden { text: "identifier \"\"", canonical: None, len: 20, body: &[W(2), D(b"")] },
    // opPlatform + i32: 20.
    Golden { text: "platform = 2", canonical: None, len: 20, body: &[W(20), W(2)] },
    Golden { text: "platform 2", canonical: Some("platform = 2"), len: 20, body: &[W(20), W(2)] },
    // opCDHash + 20-byte datum (24): 40.
    Golden { text: "cdhash H\"0123456789abcdef0123456789abcdef01234567\"", canonical: None, len: 40, body: &[W(8), D(SHA1_A)] },
    // opAnchorHash, slot 0, 20-byte datum: 12 + 4 + 4 + 24 = 44.
    Golden { text: "certificate leaf = H\"0123456789abcdef0123456789abcdef01234567\"", canonical: None, len: 44, body: &[W(4), W(0), D(SHA1_A)] },
    // `anchor = H"…"` is slot -1 (0xffffffff), printed `certificate root`.
    Golden { text: "anchor = H\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", canonical: Some("certificate root = H\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""), len: 44, body: &[W(4), W(0xffff_ffff), D(SHA1_B)] },
    // opTrustedCert + slot 1: 20.
    Golden { text: "certificate 1 trusted", canonical: None, len: 20, body: &[W(12), W(1)] },
    // opInfoKeyField, "CFBundleVersion" (15 → 20), matchGreaterEqual (8), "1.0" (3 → 8):
    // 12 + 4 + 20 + 4 + 8 = 48. The value has a dot: quoted.
    Golden { text: "info[CFBundleVersion] >= \"1.0\"", canonical: None, len: 48, body: &[W(10), D(b"CFBundleVersion"), W(8), D(b"1.0")] },
    // matchLessEqual (7), "10" (2 → 8): 48.
    Golden { text: "info[CFBundleVersion] <= \"10\"", canonical: None, len: 48, body: &[W(10), D(b"CFBundleVersion"), W(7), D(b"10")] },
    // matchLessThan (5) / matchGreaterThan (6) with "2" (1 → 8): 48.
    Golden { text: "info[CFBundleVersion] < \"2\"", canonical: None, len: 48, body: &[W(10), D(b"CFBundleVersion"), W(5), D(b"2")] },
    Golden { text: "info[CFBundleVersion] > \"2\"", canonical: None, len: 48, body: &[W(10), D(b"CFBundleVersion"), W(6), D(b"2")] },
    // "NSPrincipalClass" (16 → 20), matchExists (0): 12 + 4 + 20 + 4 = 40.
    Golden { text: "info[NSPrincipalClass] exists", canonical: Some("info[NSPrincipalClass] /* exists */"), len: 40, body: &[W(10), D(b"NSPrincipalClass"), W(0)] },
    Golden { text: "info[NSPrincipalClass]", canonical: Some("info[NSPrincipalClass] /* exists */"), len: 40, body: &[W(10), D(b"NSPrincipalClass"), W(0)] },
    // opEntitlementField, 30-byte key (→ 36), matchAbsent (14): 12 + 4 + 36 + 4 = 56. Apple's
    // dumper writes a space after `absent`.
    Golden { text: "entitlement[\"com.apple.security.app-sandbox\"] absent", canonical: Some("entitlement[\"com.apple.security.app-sandbox\"] absent "), len: 56, body: &[W(16), D(b"com.apple.security.app-sandbox"), W(14)] },
    // "CFBundleIdentifier" (18 → 24), matchBeginsWith (3), "com.example" (11 → 16):
    // 12 + 4 + 24 + 4 + 16 = 60. The wildcard prints outside the quotes.
    Golden { text: "info[CFBundleIdentifier] = com.example*", canonical: Some("info[CFBundleIdentifier] = \"com.example\"*"), len: 60, body: &[W(10), D(b"CFBundleIdentifier"), W(3), D(b"com.example")] },
    // "CFBundleName" (12 → 16), matchEndsWith (4), "Helper" (6 → 12): 48.
    Golden { text: "info[CFBundleName] = *Helper", canonical: None, len: 48, body: &[W(10), D(b"CFBundleName"), W(4), D(b"Helper")] },
    // matchContains (2), "Help" (4 → 8): 44; `= *v*` is the same operation.
    Golden { text: "info[CFBundleName] ~ Help", canonical: None, len: 44, body: &[W(10), D(b"CFBundleName"), W(2), D(b"Help")] },
    Golden { text: "info[CFBundleName] = *Help*", canonical: Some("info[CFBundleName] ~ Help"), len: 44, body: &[W(10), D(b"CFBundleName"), W(2), D(b"Help")] },
    // Hex data value: "Foo" (3 → 8), matchEqual, bytes 00 ff (2 → 8): 36; printed as 0x….
    Golden { text: "info[Foo] = 0x00ff", canonical: None, len: 36, body: &[W(10), D(b"Foo"), W(1), D(&[0x00, 0xff])] },
    // Date on an Info key: "X" (1 → 8), matchOn (9), i64: 12 + 4 + 8 + 4 + 8 = 36.
    Golden { text: "info[X] = timestamp \"20190101000000Z\"", canonical: Some("info[X] = <2019-01-01 00:00:00 +0000>"), len: 36, body: &[W(10), D(b"X"), W(9), Q(567_993_600)] },
    // opCertField, slot 0, "subject.CN" (10 → 16), matchEqual, 40-byte value (→ 44):
    // 12 + 4 + 4 + 16 + 4 + 44 = 84.
    Golden { text: "certificate leaf[subject.CN] = \"Apple Development: Jane Doe (ABCDE12345)\"", canonical: None, len: 84, body: &[W(11), W(0), D(b"subject.CN"), W(1), D(b"Apple Development: Jane Doe (ABCDE12345)")] },
    // "subject.OU" (16), "W38PE5Y733" (10 → 16): 56; a team ID starting with a letter is bare…
    Golden { text: "certificate leaf[subject.OU] = W38PE5Y733", canonical: None, len: 56, body: &[W(11), W(0), D(b"subject.OU"), W(1), D(b"W38PE5Y733")] },
    // …and one starting with a digit is quoted.
    Golden { text: "certificate leaf[subject.OU] = \"97JCY7859U\"", canonical: None, len: 56, body: &[W(11), W(0), D(b"subject.OU"), W(1), D(b"97JCY7859U")] },
    // Negative slot -2 (0xfffffffe), "subject.O" (9 → 16), "Apple Inc." (10 → 16): 56.
    Golden { text: "certificate -2[subject.O] = \"Apple Inc.\"", canonical: None, len: 56, body: &[W(11), W(0xffff_fffe), D(b"subject.O"), W(1), D(b"Apple Inc.")] },
    // opCertGeneric, slot 1, 10-byte OID (→ 16), matchExists: 12 + 4 + 4 + 16 + 4 = 40.
    Golden { text: "certificate 1[field.1.2.840.113635.100.6.2.6] exists", canonical: Some("certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */"), len: 40, body: &[W(14), W(1), D(OID_DEVID_CA), W(0)] },
    Golden { text: "cert 1[extension.1.2.840.113635.100.6.2.6]", canonical: Some("certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */"), len: 40, body: &[W(14), W(1), D(OID_DEVID_CA), W(0)] },
    // opCertPolicy, 1.2.840.113635.100.5.1 (9 bytes → 16): 40.
    Golden { text: "certificate leaf[policy.1.2.840.113635.100.5.1]", canonical: Some("certificate leaf[policy.1.2.840.113635.100.5.1] /* exists */"), len: 40, body: &[W(17), W(0), D(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x05, 0x01]), W(0)] },
    // opCertFieldDate, 1.2.840.113635.100.6.1.33 (10 → 16), matchBefore (10), i64 567993600
    // (2019-01-01): 12 + 4 + 4 + 16 + 4 + 8 = 48.
    Golden { text: "certificate leaf[timestamp.1.2.840.113635.100.6.1.33] < timestamp \"20190101000000Z\"", canonical: Some("certificate leaf[timestamp.1.2.840.113635.100.6.1.33] < <2019-01-01 00:00:00 +0000>"), len: 48, body: &[W(22), W(0), D(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x01, 0x21]), W(10), Q(567_993_600)] },
    // opNot + opIdent "foo": 12 + 4 + 4 + 8 = 28.
    Golden { text: "!identifier foo", canonical: Some("! identifier foo"), len: 28, body: &[W(9), W(2), D(b"foo")] },
    // `!` binds to a primary; a compound operand keeps its parentheses:
    // 12 + 4 (not) + 4 (and) + 12 + 12 = 44.
    Golden { text: "! (identifier a and identifier b)", canonical: None, len: 44, body: &[W(9), W(6), W(2), D(b"a"), W(2), D(b"b")] },
    // opNamedCode, "com.apple.foo" (13 → 20): 36.
    Golden { text: "(\"com.apple.foo\")", canonical: None, len: 36, body: &[W(19), D(b"com.apple.foo")] },
    // opNamedAnchor, "appleca" (7 → 12): 28.
    Golden { text: "anchor apple appleca", canonical: None, len: 28, body: &[W(18), D(b"appleca")] },
    // `and` binds tighter: or(a, and(b, c)): 12 + 4 + 12 + 4 + 12 + 12 = 56.
    Golden { text: "identifier a or identifier b and identifier c", canonical: None, len: 56, body: &[W(7), W(2), D(b"a"), W(6), W(2), D(b"b"), W(2), D(b"c")] },
    // Parentheses override it: and(or(a, b), c): 56.
    Golden { text: "(identifier a or identifier b) and identifier c", canonical: None, len: 56, body: &[W(6), W(7), W(2), D(b"a"), W(2), D(b"b"), W(2), D(b"c")] },
    // A chain nests to the left: and(and(a, b), c): 56.
    Golden { text: "identifier a and identifier b and identifier c", canonical: None, len: 56, body: &[W(6), W(6), W(2), D(b"a"), W(2), D(b"b"), W(2), D(b"c")] },
    // or(or(a, b), c), with redundant parentheses dropped on output.
    Golden { text: "(identifier a or identifier b) or identifier c", canonical: Some("identifier a or identifier b or identifier c"), len: 56, body: &[W(7), W(7), W(2), D(b"a"), W(2), D(b"b"), W(2), D(b"c")] },
    // Comments and semicolons are fluff.
    Golden { text: "# a comment\nidentifier foo /* inline */ // trailing\n;", canonical: Some("identifier foo"), len: 24, body: &[W(2), D(b"foo")] },
    // Xcode's Developer ID DR (with the Mac App Store alternative), as parsed from text:
    // and(and(generic, ident), or(mas, and(and(devid_ca, devid_app), ou))).
    // 12 + and 4 + and 4 + generic 4 + ident (4 + 20) + or 4 + mas (4+4+16+4 = 28) + and 4 +
    // and 4 + devid_ca 28 + devid_app 28 + ou (4+4+16+4+16 = 44) = 188.
    Golden {
        text: "anchor apple generic and identifier \"com.example.app\" and (certificate leaf[field.1.2.840.113635.100.6.1.9] /* exists */ or certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = W38PE5Y733)",
        canonical: None,
        len: 188,
        body: &[
            W(6), W(6), W(15), W(2), D(b"com.example.app"),
            W(7), W(14), W(0), D(OID_MAS), W(0),
            W(6), W(6), W(14), W(1), D(OID_DEVID_CA), W(0),
            W(14), W(0), D(OID_DEVID_APP), W(0),
            W(11), W(0), D(b"subject.OU"), W(1), D(b"W38PE5Y733"),
        ],
    },
    // codesign's implicit Developer ID DR, as text compiles it (left-nested chain):
    // 12 + 4×and 16 + ident (4 + 20) + generic 4 + devid_ca 28 + devid_app 28 + ou 44 = 156.
    Golden {
        text: "identifier \"com.example.tool\" and anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = W38PE5Y733",
        canonical: None,
        len: 156,
        body: &[
            W(6), W(6), W(6), W(6), W(2), D(b"com.example.tool"), W(15),
            W(14), W(1), D(OID_DEVID_CA), W(0),
            W(14), W(0), D(OID_DEVID_APP), W(0),
            W(11), W(0), D(b"subject.OU"), W(1), D(b"W38PE5Y733"),
        ],
    },
    // Apple's own code: and(ident "com.apple.foo" (13 → 24 with length), anchor apple): 44.
    Golden { text: "identifier \"com.apple.foo\" and anchor apple", canonical: None, len: 44, body: &[W(6), W(2), D(b"com.apple.foo"), W(3)] },
    // rcodesign's/codesign's DR for a non-Apple chain: and(ident (4 + 18 → 4 + 4 + 20 = 28),
    // anchorhash leaf (4 + 4 + 24 = 32)): 12 + 4 + 28 + 32 = 76.
    Golden { text: "identifier \"com.example.helper\" and certificate leaf = H\"0123456789abcdef0123456789abcdef01234567\"", canonical: None, len: 76, body: &[W(6), W(2), D(b"com.example.helper"), W(4), W(0), D(SHA1_A)] },
    // Ad-hoc code of two architectures: or(cdhash (4 + 24), cdhash (4 + 24)): 12 + 4 + 56 = 72.
    Golden { text: "cdhash H\"0123456789abcdef0123456789abcdef01234567\" or cdhash H\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", canonical: None, len: 72, body: &[W(7), W(8), D(SHA1_A), W(8), D(SHA1_B)] },
];

fn canonical(g: &Golden) -> &'static str {
    g.canonical.unwrap_or(g.text)
}

#[test]
fn at_least_thirty_goldens() {
    assert!(GOLDENS.len() >= 30, "{} goldens", GOLDENS.len());
}

#[test]
fn text_compiles_to_the_golden_bytes() {
    for g in GOLDENS {
        let want = assemble(g.len, g.body);
        let req =
            requirement::parse_requirement(g.text).unwrap_or_else(|e| panic!("{}: {e}", g.text));
        let got = requirement::compile(&req).unwrap();
        assert_eq!(got, want, "compiling {:?}", g.text);
    }
}

#[test]
fn golden_bytes_decompile_to_apples_text() {
    for g in GOLDENS {
        let req = decode(&assemble(g.len, g.body)).unwrap_or_else(|e| panic!("{}: {e}", g.text));
        assert_eq!(
            requirement::to_text(&req),
            canonical(g),
            "decompiling {:?}",
            g.text
        );
    }
}

#[test]
fn canonical_text_is_a_fixed_point() {
    for g in GOLDENS {
        let want = assemble(g.len, g.body);
        let req = requirement::parse_requirement(canonical(g))
            .unwrap_or_else(|e| panic!("{}: {e}", canonical(g)));
        assert_eq!(
            requirement::compile(&req).unwrap(),
            want,
            "{:?}",
            canonical(g)
        );
        assert_eq!(requirement::to_text(&req), canonical(g));
    }
}

#[test]
fn golden_bytes_round_trip() {
    for g in GOLDENS {
        let bytes = assemble(g.len, g.body);
        let req = decode(&bytes).unwrap();
        assert_eq!(requirement::compile(&req).unwrap(), bytes, "{:?}", g.text);
    }
}

/// codesign's implicit Developer ID DR is nested to the right (drmaker.cpp): the bytes differ
/// from the text's left-nested compilation, the text does not.
#[test]
fn right_nested_implicit_developer_id_dr() {
    // and(ident, and(generic, and(devid_ca, and(devid_app, ou)))): same 156 bytes in all.
    let right = assemble(
        156,
        &[
            W(6),
            W(2),
            D(b"com.example.tool"),
            W(6),
            W(15),
            W(6),
            W(14),
            W(1),
            D(OID_DEVID_CA),
            W(0),
            W(6),
            W(14),
            W(0),
            D(OID_DEVID_APP),
            W(0),
            W(11),
            W(0),
            D(b"subject.OU"),
            W(1),
            D(b"W38PE5Y733"),
        ],
    );
    let text = "identifier \"com.example.tool\" and anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = W38PE5Y733";
    let req = decode(&right).unwrap();
    assert_eq!(requirement::to_text(&req), text);
    // Binary → tree → binary keeps the right nesting.
    assert_eq!(requirement::compile(&req).unwrap(), right);
    // Text → binary nests left: different bytes, same meaning and text.
    let left = requirement::compile(&requirement::parse_requirement(text).unwrap()).unwrap();
    assert_ne!(left, right);
    assert_eq!(left.len(), right.len());
    let clauses = |e: &Expr| e.flatten(true).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(clauses(&req.expr), clauses(&decode(&left).unwrap().expr));
    // The library's right-nesting helper builds exactly codesign's shape.
    let rebuilt = Expr::and_right(clauses(&req.expr)).unwrap();
    assert_eq!(rebuilt, req.expr);
}

/// Apple Development implicit DR (drmaker's iOS/ADC branch), right-nested:
/// and(ident, and(generic, and(cn, wwdr))): 12 + 4 + 24 + 4 + 4 + 4 + 72 + 28 = 152.
#[test]
fn right_nested_apple_development_dr() {
    let right = assemble(
        152,
        &[
            W(6),
            W(2),
            D(b"com.example.app"),
            W(6),
            W(15),
            W(6),
            W(11),
            W(0),
            D(b"subject.CN"),
            W(1),
            D(b"Apple Development: Jane Doe (ABCDE12345)"),
            W(14),
            W(1),
            D(OID_WWDR),
            W(0),
        ],
    );
    let req = decode(&right).unwrap();
    assert_eq!(
        requirement::to_text(&req),
        "identifier \"com.example.app\" and anchor apple generic and certificate leaf[subject.CN] = \"Apple Development: Jane Doe (ABCDE12345)\" and certificate 1[field.1.2.840.113635.100.6.2.1] /* exists */"
    );
    assert_eq!(requirement::compile(&req).unwrap(), right);
}

/// A requirement set: types in ascending order whatever the text order.
/// Header 12 + 2 × 8 index = 28; host (`anchor apple`, 16 bytes) at 28, designated
/// (`identifier foo`, 24 bytes) at 44; total 68.
#[test]
fn requirement_set_golden() {
    let mut want = Vec::new();
    for w in [0xfade0c01u32, 68, 2, 1, 28, 3, 44] {
        want.extend_from_slice(&w.to_be_bytes());
    }
    want.extend(assemble(16, &[W(3)]));
    want.extend(assemble(24, &[W(2), D(b"foo")]));
    let Parsed::Set(set) =
        requirement::parse("designated => identifier foo host => anchor apple").unwrap()
    else {
        panic!("expected a set");
    };
    assert_eq!(requirement::compile_set(&set).unwrap(), want);
    let back = requirement::decode_set(&want).unwrap();
    assert_eq!(back, set);
    assert_eq!(
        requirement::set_to_text(&back),
        "host => anchor apple\ndesignated => identifier foo\n"
    );
    assert!(matches!(
        requirement::decode_any(&want).unwrap(),
        Decoded::Set(_)
    ));
}

/// Apple's legacy opInfoKeyValue (5): key "CFBundleName" (16) and value "Foo" (8):
/// 12 + 4 + 16 + 8 = 40. It prints as `info[…] = …`, which compiles to the modern form: same
/// text and meaning, different bytes.
#[test]
fn legacy_info_key_value() {
    let bytes = assemble(40, &[W(5), D(b"CFBundleName"), D(b"Foo")]);
    let req = decode(&bytes).unwrap();
    assert_eq!(requirement::to_text(&req), "info[CFBundleName] = Foo");
    assert_eq!(requirement::compile(&req).unwrap(), bytes);
    let modern = requirement::parse_requirement("info[CFBundleName] = Foo").unwrap();
    assert_eq!(requirement::to_text(&modern), "info[CFBundleName] = Foo");
    assert_ne!(requirement::compile(&modern).unwrap(), bytes);
}

/// Unknown opcodes: 0x40000018 (skip) with a 4-byte payload is skipped and the next expression
/// stands in; 0x80000018 evaluates false; 0x00000018 is an error.
#[test]
fn skip_flags() {
    // skip: op, size 4, "abcd", then opTrue: 12 + 4 + 4 + 4 + 4 = 28.
    let skip = assemble(
        28,
        &[W(0x4000_0018), W(4), W(u32::from_be_bytes(*b"abcd")), W(1)],
    );
    let req = decode(&skip).unwrap();
    assert_eq!(requirement::to_text(&req), "/* opcode 24 */ always");
    assert_eq!(requirement::compile(&req).unwrap(), skip);
    let code = requirement::StaticIdentity::default();
    assert!(requirement::evaluate(&req, &code).satisfied);
    // false: op, size 0: 12 + 4 + 4 = 20; `or always` makes the whole true only through the
    // right side: or(unknown-false, never) is false.
    let f = assemble(28, &[W(7), W(0x8000_0018), W(0), W(0)]);
    let req = decode(&f).unwrap();
    assert_eq!(requirement::to_text(&req), "false /* opcode 24 */ or never");
    assert!(!requirement::evaluate(&req, &code).satisfied);
    // no flag: refused, naming the offset.
    let bad = assemble(16, &[W(0x18)]);
    let err = decode(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            requirement::DecodeError::UnknownOpcode {
                offset: 12,
                op: 0x18
            }
        ),
        "{err}"
    );
    // An unknown match operation keeps its datum and never matches.
    let m = assemble(36, &[W(10), D(b"Foo"), W(99), D(b"bar")]);
    let req = decode(&m).unwrap();
    assert_eq!(requirement::compile(&req).unwrap(), m);
    assert!(!requirement::evaluate(&req, &code).satisfied);
}

#[test]
fn lightweight_kind_is_named_not_misparsed() {
    let mut blob = assemble(16, &[W(1)]);
    blob[8..12].copy_from_slice(&2u32.to_be_bytes());
    let err = decode(&blob).unwrap_err();
    assert!(matches!(
        err,
        requirement::DecodeError::LightweightUnsupported { offset: 0 }
    ));
    assert!(err.to_string().contains("lightweight"), "{err}");
    blob[8..12].copy_from_slice(&7u32.to_be_bytes());
    assert!(matches!(
        decode(&blob).unwrap_err(),
        requirement::DecodeError::UnknownKind { kind: 7, .. }
    ));
}
