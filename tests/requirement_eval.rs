//! Evaluation against real certificate chains (Apple-issued Developer ID and Apple Development
//! leaves with Apple's real intermediates and roots) and the fixture PKI, with in-memory
//! identities; and a cross-check against the requirement sets rcodesign wrote into the signed
//! fixtures.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use plist::Value;
use sha1::Digest as _;
use smbless::requirement::{self, evaluate, parse_requirement, StaticIdentity};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn der(rel: &str) -> Vec<u8> {
    let bytes = std::fs::read(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    if bytes.starts_with(b"-----BEGIN") {
        let text = String::from_utf8(bytes).unwrap();
        let b64: String = text
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    } else {
        bytes
    }
}

/// Gregory Szorc's (public, expired) Developer ID Application leaf, Apple's Developer ID CA,
/// Apple Root CA.
fn real_developer_id() -> StaticIdentity {
    StaticIdentity {
        identifier: Some("com.example.app".into()),
        certificates: vec![
            der("fixtures/signature/apple-real/apple-signed-developer-id-application.cer"),
            der("fixtures/signature/apple-real/DeveloperIDCA.cer"),
            der("src/codesign/anchors/AppleRootCA.cer"),
        ],
        anchor_apple: true,
        anchor_trusted: true,
        ..StaticIdentity::default()
    }
}

fn real_apple_development() -> StaticIdentity {
    StaticIdentity {
        identifier: Some("com.example.app".into()),
        certificates: vec![
            der("fixtures/signature/apple-real/apple-signed-apple-development.cer"),
            der("fixtures/signature/apple-real/AppleWWDRCAG3.cer"),
            der("src/codesign/anchors/AppleRootCA.cer"),
        ],
        anchor_apple: true,
        anchor_trusted: true,
        ..StaticIdentity::default()
    }
}

/// The fixture PKI: leaf (team TEAMID1234) ← test Developer ID CA ← test root, the root
/// treated as Apple's (the analogue of TEST_APPLE_ANCHOR).
fn fixture_pki() -> StaticIdentity {
    StaticIdentity {
        identifier: Some("com.example.helper".into()),
        certificates: vec![
            der("fixtures/pki/devid-leaf.pem"),
            der("fixtures/pki/devid-ca.pem"),
            der("fixtures/pki/root.pem"),
        ],
        anchor_apple: true,
        anchor_trusted: true,
        ..StaticIdentity::default()
    }
}

fn holds(text: &str, code: &StaticIdentity) -> bool {
    let req = parse_requirement(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let ev = evaluate(&req, code);
    assert!(ev.error.is_none(), "{:?}", ev.error);
    ev.satisfied
}

const XCODE_DR: &str = "anchor apple generic and identifier \"com.example.app\" and (certificate leaf[field.1.2.840.113635.100.6.1.9] /* exists */ or certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = MK22MZP987)";

#[test]
fn xcode_developer_id_dr_accepts_the_real_developer_id_chain() {
    let code = real_developer_id();
    assert!(holds(XCODE_DR, &code));
    assert!(holds(
        "identifier \"com.example.app\" and anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = MK22MZP987",
        &code
    ));
}

#[test]
fn wrong_team_fails_and_says_why() {
    let code = real_developer_id();
    let req = parse_requirement(&XCODE_DR.replace("MK22MZP987", "ZZZ")).unwrap();
    let ev = evaluate(&req, &code);
    assert!(!ev.satisfied);
    let reasons: Vec<String> = ev
        .explanation
        .failures()
        .iter()
        .filter_map(|c| c.reason.clone())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r == "certificate leaf[subject.OU] is \"MK22MZP987\", required \"ZZZ\""),
        "{reasons:?}"
    );
    // The Mac App Store alternative is reported as not holding too.
    assert!(reasons
        .iter()
        .any(|r| r.contains("has no extension 1.2.840.113635.100.6.1.9")));
    let text = ev.explanation.to_string();
    assert!(text.contains("FAIL"), "{text}");
}

#[test]
fn anchor_apple_generic_checks_the_anchor_only() {
    // Apple Development code is not Developer ID, but `anchor apple generic` alone accepts it.
    let dev = real_apple_development();
    assert!(holds("anchor apple generic", &dev));
    assert!(!holds(
        "anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6]",
        &dev
    ));
    assert!(holds(
        "anchor apple generic and certificate leaf[subject.CN] = \"Apple Development: Gregory Szorc (DD5YMVP48D)\" and certificate 1[field.1.2.840.113635.100.6.2.1] /* exists */",
        &dev
    ));
    // Without an Apple anchor it fails, whatever the certificates say.
    let mut not_apple = dev.clone();
    not_apple.anchor_apple = false;
    assert!(!holds("anchor apple generic", &not_apple));
}

#[test]
fn anchor_apple_requires_apples_own_intermediate() {
    // A developer's code under an Apple root is not Apple's code.
    let code = real_developer_id();
    let req = parse_requirement("anchor apple").unwrap();
    let ev = evaluate(&req, &code);
    assert!(!ev.satisfied);
    let reason = ev.explanation.reason.clone().unwrap();
    assert!(reason.contains("not Apple's code-signing CA"), "{reason}");
    assert!(
        reason.contains("Developer ID Certification Authority"),
        "{reason}"
    );
}

#[test]
fn slots_count_from_the_leaf_and_back_from_the_anchor() {
    let code = real_developer_id();
    let sha = |i: usize| hex(&sha1::Sha1::digest(&code.certificates[i]));
    for (slot, index) in [
        ("leaf", 0),
        ("0", 0),
        ("1", 1),
        ("2", 2),
        ("root", 2),
        ("-1", 2),
        ("-2", 1),
        ("-3", 0),
    ] {
        let text = format!("certificate {slot} = H\"{}\"", sha(index));
        assert!(holds(&text, &code), "{text}");
        let wrong = format!("certificate {slot} = H\"{}\"", sha((index + 1) % 3));
        assert!(!holds(&wrong, &code), "{wrong}");
    }
    assert!(holds(&format!("anchor = H\"{}\"", sha(2)), &code));
    // Past either end: false, with a reason.
    for slot in ["3", "-4"] {
        let req = parse_requirement(&format!("certificate {slot}[subject.CN] exists")).unwrap();
        let ev = evaluate(&req, &code);
        assert!(!ev.satisfied);
        assert!(ev.explanation.reason.unwrap().contains("no certificate"));
    }
    assert!(holds("certificate -2[subject.O] = \"Apple Inc.\"", &code));
    assert!(holds(
        "certificate root[subject.CN] = \"Apple Root CA\"",
        &code
    ));
    assert!(holds("certificate leaf[subject.UID] = MK22MZP987", &code));
    assert!(holds("certificate leaf[subject.C] = US", &code));
    assert!(!holds("certificate leaf[subject.STREET] exists", &code));
    // A missing subject field is false even for `absent` (Apple returns false before matching).
    assert!(!holds("certificate leaf[subject.STREET] absent", &code));
    // An unknown certificate field name is false, not an error.
    assert!(!holds("certificate leaf[subject.XYZ] exists", &code));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn extension_field_semantics() {
    let code = real_developer_id();
    assert!(holds(
        "certificate leaf[field.1.2.840.113635.100.6.1.13] exists",
        &code
    ));
    assert!(!holds(
        "certificate leaf[field.1.2.840.113635.100.6.1.13] absent",
        &code
    ));
    assert!(holds(
        "certificate leaf[field.1.2.840.113635.100.6.1.9] absent",
        &code
    ));
    // The field's value is boolean true: equal to a string never holds.
    assert!(!holds(
        "certificate leaf[field.1.2.840.113635.100.6.1.13] = yes",
        &code
    ));
    // Without a certificate in the slot, even `absent` is false.
    assert!(!holds("certificate 5[field.1.2.3] absent", &code));
}

#[test]
fn fixture_pki_developer_id_shapes() {
    let code = fixture_pki();
    let implicit = "identifier \"com.example.helper\" and anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = TEAMID1234";
    assert!(holds(implicit, &code));
    assert!(!holds(&implicit.replace("TEAMID1234", "TEAMID9999"), &code));
    assert!(!holds(
        &implicit.replace("com.example.helper", "com.example.other"),
        &code
    ));
    assert!(!holds("anchor apple", &code));
    let mut other = fixture_pki();
    other.certificates[0] = der("fixtures/pki/other-team-leaf.pem");
    assert!(!holds(implicit, &other));
}

fn dict(pairs: &[(&str, Value)]) -> plist::Dictionary {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn info_and_entitlement_matching() {
    let mut code = StaticIdentity::with_identifier("x");
    code.info_plist = Some(dict(&[
        ("CFBundleVersion", Value::String("10".into())),
        ("CFBundleShortVersionString", Value::String("1.10.2".into())),
        ("CFBundleName", Value::String("My Helper".into())),
        ("Flag", Value::Boolean(false)),
        ("Count", Value::Integer(5.into())),
        (
            "Alternatives",
            Value::Array(vec![
                Value::String("a".into()),
                Value::String("beta".into()),
            ]),
        ),
    ]));
    code.entitlements = Some(dict(&[(
        "com.apple.security.app-sandbox",
        Value::Boolean(true),
    )]));
    // Numerically aware ordering: "10" > "9", "1.10.2" >= "1.9".
    assert!(holds("info[CFBundleVersion] > \"9\"", &code));
    assert!(!holds("info[CFBundleVersion] < \"9\"", &code));
    assert!(holds("info[CFBundleVersion] >= \"10\"", &code));
    assert!(holds("info[CFBundleVersion] <= \"10\"", &code));
    assert!(holds("info[CFBundleShortVersionString] >= \"1.9\"", &code));
    assert!(!holds("info[CFBundleShortVersionString] < \"1.9\"", &code));
    // Substrings.
    assert!(holds("info[CFBundleName] = My*", &code));
    assert!(holds("info[CFBundleName] = *Helper", &code));
    assert!(holds("info[CFBundleName] ~ \"y H\"", &code));
    assert!(!holds("info[CFBundleName] = *My", &code));
    // exists: present and not boolean false.
    assert!(!holds("info[Flag] exists", &code));
    assert!(holds("info[Count] exists", &code));
    // A non-string never equals a string value.
    assert!(!holds("info[Count] = \"5\"", &code));
    // Arrays: any element.
    assert!(holds("info[Alternatives] = beta", &code));
    assert!(holds("info[Alternatives] = b*", &code));
    assert!(!holds("info[Alternatives] = gamma", &code));
    // Missing keys: only `absent`.
    assert!(holds("info[Missing] absent", &code));
    assert!(!holds("info[Missing] exists", &code));
    assert!(!holds("info[CFBundleName] absent", &code));
    assert!(holds(
        "entitlement[\"com.apple.security.app-sandbox\"] exists",
        &code
    ));
    assert!(holds(
        "entitlement[\"com.apple.security.get-task-allow\"] absent",
        &code
    ));
    // No entitlements at all: `absent` still holds, as with kCFNull in Apple's interpreter.
    let bare = StaticIdentity::with_identifier("x");
    assert!(holds("entitlement[foo] absent", &bare));
    assert!(!holds("info[foo] exists", &bare));
}

#[test]
fn identity_level_clauses() {
    let mut code = StaticIdentity::with_identifier("com.example.tool");
    code.cdhashes = vec![vec![0x11; 20], vec![0x22; 20]];
    code.platform = 2;
    assert!(holds("identifier \"com.example.tool\"", &code));
    assert!(!holds("identifier \"com.example\"", &code));
    assert!(holds(&format!("cdhash H\"{}\"", "22".repeat(20)), &code));
    assert!(!holds(&format!("cdhash H\"{}\"", "33".repeat(20)), &code));
    assert!(holds("platform = 2", &code));
    assert!(!holds("platform = 1", &code));
    assert!(!holds("notarized", &code));
    code.notarized = true;
    assert!(holds("notarized", &code));
    assert!(!holds("legacy", &code));
    assert!(holds("always", &code));
    assert!(!holds("never", &code));
    assert!(holds("! never", &code));
    assert!(holds("never or always", &code));
    assert!(!holds("never and always", &code));
    // No certificates: certificate clauses and anchors are false.
    assert!(!holds("anchor apple generic", &code));
    assert!(!holds("anchor trusted", &code));
    // Named fragments are not available off macOS: false, not an error.
    assert!(!holds("anchor apple appleca", &code));
    assert!(!holds("(\"com.apple.foo\")", &code));
}

#[test]
fn trusted_certificates() {
    let mut code = real_developer_id();
    assert!(holds("anchor trusted", &code));
    assert!(holds("certificate root trusted", &code));
    assert!(!holds("certificate leaf trusted", &code));
    code.trusted_indices = vec![0];
    assert!(holds("certificate leaf trusted", &code));
    code.anchor_trusted = false;
    code.trusted_indices.clear();
    assert!(!holds("anchor trusted", &code));
}

/// The designated requirements rcodesign wrote into the signed fixtures decode, print, parse
/// back and compile to exactly the embedded bytes; and they hold for the code that carries them.
#[test]
fn cross_check_with_signed_fixtures() {
    use smbless::codesign::trust::{AnchorKind, Anchors};
    use smbless::codesign::{examine, ExamineOptions, VerifyOptions};
    let mut anchors = Anchors::apple().unwrap();
    let pem = std::fs::read(root().join("fixtures/signature/root.pem")).unwrap();
    anchors
        .add_pem(&pem, AnchorKind::TestApple, "root.pem")
        .unwrap();
    let opts = ExamineOptions {
        verify: VerifyOptions {
            anchors,
            at: None,
            threads: 0,
        },
        integrity: false,
        arch: None,
    };
    let mut checked = 0;
    for name in [
        "thin",
        "fat",
        "Sig.app",
        "Sig.app/Contents/Library/LaunchServices/com.example.helper",
        "timestamped",
        "foreign-chain",
        "adhoc",
    ] {
        let path: PathBuf = root().join("fixtures/signature").join(name);
        let ex = examine(&path, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        for slice in &ex.slices {
            let Some(blob) = &slice.requirements else {
                continue;
            };
            let set = requirement::decode_set(blob).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(requirement::compile_set(&set).unwrap(), *blob, "{name}");
            let Some(dr) = set.designated() else {
                continue;
            };
            let text = requirement::to_text(dr);
            eprintln!("{name} {}: {text}", slice.arch);
            let reparsed = parse_requirement(&text).unwrap();
            // The embedded designated blob, located through the set's own index.
            let single = requirement::compile(dr).unwrap();
            assert_eq!(
                requirement::compile(&reparsed).unwrap(),
                single,
                "{name}: {text}"
            );
            assert!(
                blob.windows(single.len()).any(|w| w == single.as_slice()),
                "{name}: designated blob not found verbatim"
            );
            // Evaluate the DR against the code that carries it.
            let code = StaticIdentity {
                identifier: slice.identifier.clone(),
                cdhashes: slice.cdhashes.iter().map(|(_, h)| h.clone()).collect(),
                certificates: slice
                    .chain()
                    .iter()
                    .map(|c| c.constructed_data().to_vec())
                    .collect(),
                anchor_apple: slice.anchor_is_apple(),
                anchor_trusted: slice.anchor_is_trusted(),
                info_plist: slice.info_plist.clone(),
                platform: slice.platform,
                ..StaticIdentity::default()
            };
            let ev = evaluate(dr, &code);
            assert!(ev.satisfied, "{name}: {text}\n{}", ev.explanation);
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "only {checked} designated requirements checked"
    );
}

/// `anchor apple`: an Apple root, Apple's code-signing intermediate at slot -2, and the
/// software-signing marker on the leaf (tests/data/requirements/README.md).
#[test]
fn anchor_apple_accepts_apples_own_chain_shape() {
    let chain = |leaf: &str| StaticIdentity {
        identifier: Some("com.apple.foo".into()),
        certificates: vec![
            der(&format!("tests/data/requirements/apple-code-{leaf}.der")),
            der("tests/data/requirements/apple-code-int.der"),
            der("tests/data/requirements/apple-code-root.der"),
        ],
        anchor_apple: true,
        anchor_trusted: true,
        ..StaticIdentity::default()
    };
    let apple = chain("leaf");
    assert!(holds(
        "identifier \"com.apple.foo\" and anchor apple",
        &apple
    ));
    assert!(holds("anchor apple generic", &apple));
    let mut untrusted_root = apple.clone();
    untrusted_root.anchor_apple = false;
    assert!(!holds("anchor apple", &untrusted_root));
    let unmarked = chain("leafnomark");
    let ev = evaluate(&parse_requirement("anchor apple").unwrap(), &unmarked);
    assert!(!ev.satisfied);
    assert!(ev
        .explanation
        .reason
        .unwrap()
        .contains("1.2.840.113635.100.6.22"));
}
