//! Signature verification against the fixtures of `scripts/fixtures/tamper-signatures`: valid
//! thin, fat and bundle signatures, and every tampering rejected with its named reason.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use smbless::codesign::trust::{AnchorKind, Anchors, Trust};
use smbless::codesign::{examine, Examination, ExamineOptions, Kind, VerifyOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/signature")
        .join(name)
}

fn options(test_apple: bool) -> ExamineOptions {
    let mut anchors = Anchors::apple().unwrap();
    if test_apple {
        let pem = std::fs::read(fixture("root.pem")).unwrap();
        anchors
            .add_pem(&pem, AnchorKind::TestApple, "root.pem")
            .unwrap();
    }
    ExamineOptions {
        verify: VerifyOptions {
            anchors,
            at: None,
            threads: 0,
        },
        integrity: true,
        arch: None,
    }
}

fn verify(name: &str) -> Examination {
    examine(&fixture(name), &options(true)).unwrap()
}

fn codes(ex: &Examination) -> Vec<&'static str> {
    let mut c: Vec<&'static str> = ex.problems.iter().map(|p| p.code).collect();
    for s in &ex.slices {
        c.extend(s.problems.iter().map(|p| p.code));
    }
    c
}

#[track_caller]
fn assert_rejected(name: &str, code: &str) -> Examination {
    let ex = verify(name);
    assert!(!ex.is_valid(), "{name} should be invalid");
    assert!(
        codes(&ex).contains(&code),
        "{name}: expected {code}, got {:?}",
        ex.all_problems()
    );
    ex
}

#[test]
fn valid_thin_fat_and_bundle() {
    for (name, archs) in [
        ("thin", vec!["arm64"]),
        ("fat", vec!["x86_64", "arm64"]),
        ("Sig.app", vec!["arm64"]),
    ] {
        let ex = verify(name);
        assert!(ex.is_valid(), "{name}: {:?}", ex.all_problems());
        assert_eq!(
            ex.slices
                .iter()
                .map(|s| s.arch.as_str())
                .collect::<Vec<_>>(),
            archs
        );
        for s in &ex.slices {
            assert_eq!(s.kind, Kind::DeveloperId, "{name}");
            assert_eq!(s.team_id.as_deref(), Some("TEAMID1234"));
            assert_eq!(s.chain_length, 3);
            assert!(s.cdhash.as_ref().is_some_and(|h| h.len() == 20));
        }
    }
    let thin = verify("thin");
    let s = &thin.slices[0];
    assert_eq!(s.identifier.as_deref(), Some("com.example.helper"));
    // SHA-1 primary with a SHA-256 alternate, both bound by the CMS CDHashes attributes.
    let types: Vec<&str> = s.cdhashes.iter().map(|(t, _)| t.name()).collect();
    assert_eq!(types, ["sha1", "sha256"]);
    assert_eq!(
        s.entitlements
            .as_ref()
            .and_then(|e| e.as_dictionary())
            .and_then(|d| d.get("com.apple.security.cs.allow-jit")),
        Some(&plist::Value::Boolean(true))
    );
}

#[test]
fn tampered_code_page_is_rejected_in_every_slice() {
    for name in ["thin-tampered-code-page", "fat-tampered-code-page"] {
        let ex = assert_rejected(name, "page-hash");
        for s in &ex.slices {
            assert!(
                s.problems.iter().any(|p| p.code == "page-hash"),
                "{name} {}: {:?}",
                s.arch,
                s.problems
            );
        }
    }
}

#[test]
fn tampered_info_plist_is_rejected() {
    for name in ["thin-tampered-info-plist", "fat-tampered-info-plist"] {
        let ex = assert_rejected(name, "info-plist");
        assert!(ex
            .slices
            .iter()
            .all(|s| s.problems.iter().any(|p| p.code == "info-plist")));
    }
    assert_rejected("Sig-info-plist-modified.app", "info-plist");
}

#[test]
fn tampered_cd_identifier_breaks_the_cms_binding() {
    for name in ["thin-tampered-cd-identifier", "fat-tampered-cd-identifier"] {
        let ex = assert_rejected(name, "cms-message-digest");
        assert!(ex
            .slices
            .iter()
            .all(|s| s.problems.iter().any(|p| p.code == "cms-message-digest")));
        // The page hashes are intact: only the binding catches this one.
        assert!(!codes(&ex).contains(&"page-hash"));
    }
}

#[test]
fn tampered_cms_signature_is_rejected() {
    for name in ["thin-tampered-cms-signature", "fat-tampered-cms-signature"] {
        let ex = assert_rejected(name, "cms-signature");
        assert!(ex
            .slices
            .iter()
            .all(|s| s.problems.iter().any(|p| p.code == "cms-signature")));
    }
}

#[test]
fn swapped_alternate_code_directory_is_caught_by_cdhashes() {
    let ex = assert_rejected("thin-tampered-swap-alt-cd", "cdhashes");
    // The donor CodeDirectory describes the very same code: every page hash matches, and the
    // primary CodeDirectory (which messageDigest binds) is untouched.
    let c = codes(&ex);
    assert!(
        !c.contains(&"page-hash") && !c.contains(&"cms-message-digest"),
        "{c:?}"
    );
}

#[test]
fn certificate_from_another_chain_is_untrusted() {
    // The bag's intermediate does not sign the leaf: the chain is incomplete, which no
    // implicit anchor rescues.
    let ex = assert_rejected("foreign-chain", "chain-untrusted");
    assert_eq!(ex.slices[0].kind, Kind::Untrusted);
    assert_eq!(ex.slices[0].trust, Trust::None);
}

#[test]
fn expired_leaf_without_timestamp_is_valid_as_on_macos() {
    // Without a timestamp macOS retries allowing expired certificates: the leaf (valid
    // 2020-2021) does not make the signature invalid, and the chain still reaches the root.
    let ex = verify("expired-leaf");
    let s = &ex.slices[0];
    assert_eq!(s.timestamp, None);
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(s.kind, Kind::DeveloperId);
    assert_eq!(s.trust, Trust::Apple);
}

#[test]
fn timestamp_fixes_the_time_certificates_are_judged_at() {
    let ex = verify("timestamped");
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    let ts = ex.slices[0].timestamp.expect("verified timestamp");
    // Long after every certificate has expired, the timestamp still vouches for the signing.
    let mut o = options(true);
    o.verify.at = Some(
        chrono::DateTime::parse_from_rfc3339("2099-01-01T00:00:00Z")
            .unwrap()
            .into(),
    );
    let late = examine(&fixture("timestamped"), &o).unwrap();
    assert!(late.is_valid(), "{:?}", late.all_problems());
    assert_eq!(late.slices[0].timestamp, Some(ts));
    // The same leaf without a timestamp is expired then, which macOS tolerates.
    let no_ts = examine(&fixture("thin"), &o).unwrap();
    assert!(no_ts.is_valid(), "{:?}", no_ts.all_problems());
    assert_eq!(no_ts.slices[0].timestamp, None);
}

#[test]
fn bundle_resources_changed_added_removed_are_named() {
    let ex = assert_rejected("Sig-resource-modified.app", "resource-modified");
    assert!(ex
        .problems
        .iter()
        .any(|p| p.message.contains("Contents/Resources/one.txt")));
    let ex = assert_rejected("Sig-resource-added.app", "resource-added");
    assert!(ex
        .problems
        .iter()
        .any(|p| p.message.contains("Contents/Resources/added.txt")));
    let ex = assert_rejected("Sig-resource-removed.app", "resource-missing");
    assert!(ex
        .problems
        .iter()
        .any(|p| p.message.contains("Contents/Resources/two.txt")));
    // The main executable itself is intact in all three.
    assert!(ex.slices.iter().all(|s| s.is_valid()));
}

#[test]
fn nested_code_is_verified_recursively() {
    let ex = assert_rejected("Sig-nested-modified.app", "nested-code");
    assert!(ex
        .problems
        .iter()
        .any(|p| p.message.contains("Contents/Helpers/tool") && p.message.contains("page-hash")));
}

#[test]
fn every_slice_of_a_fat_file_is_checked() {
    let ex = verify("fat-one-slice-tampered");
    assert!(!ex.is_valid());
    let by_arch: Vec<(&str, bool)> = ex
        .slices
        .iter()
        .map(|s| (s.arch.as_str(), s.is_valid()))
        .collect();
    assert_eq!(by_arch, [("x86_64", true), ("arm64", false)]);
}

#[test]
fn adhoc_linker_signed_and_unsigned_are_classified() {
    let ex = verify("adhoc");
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.slices[0].kind, Kind::Adhoc);
    let ex = verify("linker-signed");
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.slices[0].kind, Kind::LinkerSigned);
    let ex = verify("unsigned");
    assert_eq!(ex.slices[0].kind, Kind::Unsigned);
    assert_eq!(codes(&ex), ["unsigned"]);
    // A universal file with one unsigned slice is invalid as a whole.
    let ex = verify("fat-unsigned-and-linker-signed");
    let kinds: Vec<Kind> = ex.slices.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [Kind::Unsigned, Kind::LinkerSigned]);
    assert!(!ex.is_valid());
}

#[test]
fn trust_depends_on_the_anchors() {
    // Apple's real roots only: the test PKI's self-signed root is an implicit anchor, so
    // the signature is valid (as `codesign --verify` says) but trusted by nothing.
    let ex = examine(&fixture("thin"), &options(false)).unwrap();
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.slices[0].kind, Kind::Untrusted);
    assert_eq!(ex.slices[0].trust, Trust::SelfSigned);
    assert_eq!(ex.slices[0].chain_length, 3);
    // The same root as a user anchor: valid, but not Apple.
    let mut o = options(false);
    o.verify
        .anchors
        .add_pem(
            &std::fs::read(fixture("root.pem")).unwrap(),
            AnchorKind::Custom,
            "root",
        )
        .unwrap();
    let ex = examine(&fixture("thin"), &o).unwrap();
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.slices[0].kind, Kind::CustomAnchor);
    assert_eq!(ex.slices[0].trust, Trust::Anchor);
}

#[test]
fn implicit_designated_requirements() {
    let ex = verify("thin");
    let dr = smbless::codesign::implicit_designated_requirement(&ex.slices[0], &ex.slices)
        .unwrap()
        .to_string();
    assert_eq!(
        dr,
        "identifier \"com.example.helper\" and anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = TEAMID1234"
    );
    // The requirement engine's dumper prints the synthesised tree the same way.
    let tree = smbless::codesign::implicit_designated_requirement(&ex.slices[0], &ex.slices)
        .unwrap()
        .to_requirement()
        .unwrap();
    assert_eq!(smbless::requirement::to_text(&tree), dr);
    let ex = verify("adhoc");
    let dr = smbless::codesign::implicit_designated_requirement(&ex.slices[0], &ex.slices)
        .unwrap()
        .to_string();
    let cdhash = smbless::codesign::hex(ex.slices[0].cdhash.as_ref().unwrap());
    assert_eq!(dr, format!("cdhash H\"{cdhash}\""));
}

fn smbless() -> Command {
    Command::cargo_bin("smbless").unwrap()
}

#[test]
fn cli_exit_codes_and_json_keys() {
    let root = fixture("root.pem");
    let out = smbless()
        .args([
            "signature",
            "verify",
            "--json",
            "--testing-treat-as-apple-root",
        ])
        .arg(&root)
        .arg(fixture("fat"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["valid"], true);
    let slice = &v["slices"][0];
    for key in [
        "arch",
        "identifier",
        "team_id",
        "kind",
        "cdhash",
        "cdhashes",
        "flags",
        "hardened_runtime",
        "code_directory_version",
        "page_size",
        "signing_time",
        "timestamp",
        "certificates",
        "entitlements",
        "designated_requirement",
        "valid",
        "problems",
    ] {
        assert!(slice.get(key).is_some(), "missing key {key} in {slice}");
    }
    assert_eq!(slice["kind"], "developer-id");
    assert_eq!(slice["cdhash"].as_str().unwrap().len(), 40);
    assert_eq!(slice["cdhashes"][1]["type"], "sha256");
    for key in ["subject", "issuer", "not_before", "not_after", "sha256"] {
        assert!(
            slice["certificates"][0].get(key).is_some(),
            "certificate key {key}"
        );
    }

    let out = smbless()
        .args([
            "signature",
            "verify",
            "--json",
            "--testing-treat-as-apple-root",
        ])
        .arg(&root)
        .arg(fixture("thin-tampered-cd-identifier"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["slices"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["code"] == "cms-message-digest"));

    smbless()
        .args(["signature", "verify"])
        .arg(fixture("no-such-file"))
        .assert()
        .code(2);
    smbless()
        .args(["signature", "verify"])
        .arg(&root)
        .assert()
        .code(2);
    smbless()
        .args(["signature", "show", "--json"])
        .arg(fixture("thin"))
        .assert()
        .code(0);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        let dest = to.join(e.file_name());
        if t.is_dir() {
            copy_dir(&e.path(), &dest);
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

#[test]
fn stapled_ticket_and_missing_optional_resources_do_not_break_the_seal() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("Sig.app");
    copy_dir(&fixture("Sig.app"), &app);
    // A notarization ticket stapled at Contents/CodeResources is outside the seal.
    std::fs::write(app.join("Contents/CodeResources"), b"ticket").unwrap();
    // Localizations are sealed as optional.
    std::fs::remove_file(app.join("Contents/Resources/en.lproj/Localizable.strings")).unwrap();
    let ex = examine(&app, &options(true)).unwrap();
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    // A re-pointed symlink is a modification.
    std::fs::remove_file(app.join("Contents/Resources/link.txt")).unwrap();
    std::os::unix::fs::symlink("two.txt", app.join("Contents/Resources/link.txt")).unwrap();
    let ex = examine(&app, &options(true)).unwrap();
    assert!(
        ex.problems
            .iter()
            .any(|p| p.code == "resource-modified" && p.message.contains("link.txt")),
        "{:?}",
        ex.all_problems()
    );
}

fn real_cert(name: &str) -> x509_certificate::CapturedX509Certificate {
    let der = std::fs::read(fixture("apple-real").join(name)).unwrap();
    x509_certificate::CapturedX509Certificate::from_der(der).unwrap()
}

#[test]
fn real_apple_chains_reach_the_shipped_roots() {
    use smbless::codesign::trust::{build_chain, Purpose};
    use smbless::codesign::verify::classify_chain;
    let anchors = Anchors::apple().unwrap();
    let at = |s: &str| -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
    };

    // Developer ID Application, Developer ID CA (G1) in the bag, Apple Root CA shipped. The leaf
    // carries Apple's critical marker extension, which must not be refused.
    let leaf = real_cert("apple-signed-developer-id-application.cer");
    let bag = [
        real_cert("DeveloperIDG2CA.cer"),
        real_cert("DeveloperIDCA.cer"),
    ];
    let chain = build_chain(
        &leaf,
        &bag,
        &anchors,
        at("2022-01-01T00:00:00Z"),
        Purpose::CodeSigning,
    );
    assert!(chain.problems.is_empty(), "{:?}", chain.problems);
    assert_eq!(chain.anchor, Some(AnchorKind::Apple));
    assert_eq!(chain.certs.len(), 3);
    assert_eq!(classify_chain(&chain), Kind::DeveloperId);
    let dr =
        smbless::codesign::designated::implicit("com.example.tool", &chain.certs, true).unwrap();
    assert_eq!(
        dr.to_string(),
        "identifier \"com.example.tool\" and anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = MK22MZP987"
    );
    // Expired today, and with no timestamp that is the verdict.
    let now = build_chain(
        &leaf,
        &bag,
        &anchors,
        at("2026-06-01T00:00:00Z"),
        Purpose::CodeSigning,
    );
    assert!(now
        .problems
        .iter()
        .any(|(c, _)| *c == "certificate-validity"));
    // Without the intermediate there is no chain.
    let orphan = build_chain(
        &leaf,
        &[],
        &anchors,
        at("2022-01-01T00:00:00Z"),
        Purpose::CodeSigning,
    );
    assert_eq!(orphan.anchor, None);

    // Apple Development through WWDR G3.
    let leaf = real_cert("apple-signed-apple-development.cer");
    let chain = build_chain(
        &leaf,
        &[real_cert("AppleWWDRCAG3.cer")],
        &anchors,
        at("2021-06-01T00:00:00Z"),
        Purpose::CodeSigning,
    );
    assert!(chain.problems.is_empty(), "{:?}", chain.problems);
    assert_eq!(classify_chain(&chain), Kind::AppleDevelopment);
    let dr =
        smbless::codesign::designated::implicit("com.example.app", &chain.certs, true).unwrap();
    assert_eq!(
        dr.to_string(),
        "identifier \"com.example.app\" and anchor apple generic and certificate leaf[subject.CN] = \"Apple Development: Gregory Szorc (DD5YMVP48D)\" and certificate 1[field.1.2.840.113635.100.6.2.1] /* exists */"
    );
}

#[test]
fn identity_accessors_follow_requirement_slot_numbering() {
    let ex = verify("thin");
    let s = &ex.slices[0];
    assert!(s.anchor_is_apple() && s.anchor_is_trusted() && !s.is_apple_code());
    assert_eq!(s.certificate_subject(0, "OU"), ["TEAMID1234"]);
    assert_eq!(
        s.certificate_subject(1, "CN"),
        ["Developer ID Certification Authority"]
    );
    assert_eq!(
        s.certificate_subject(-1, "CN"),
        s.certificate_subject(2, "CN")
    );
    assert_eq!(
        s.certificate_subject(-2, "CN"),
        s.certificate_subject(1, "CN")
    );
    assert!(s.certificate_at(3).is_none() && s.certificate_at(-4).is_none());
    assert!(s
        .certificate_extension(1, "1.2.840.113635.100.6.2.6")
        .is_some());
    assert!(s
        .certificate_extension(0, "1.2.840.113635.100.6.2.6")
        .is_none());
    assert_eq!(
        s.info_value("CFBundleIdentifier")
            .and_then(|v| v.as_string()),
        Some("com.example.helper")
    );
    assert_eq!(
        s.entitlement_value("com.apple.security.cs.allow-jit"),
        Some(&plist::Value::Boolean(true))
    );
    let root_sha1 = s.certificate_sha1(-1).unwrap();
    let pem = std::fs::read_to_string(fixture("root.pem")).unwrap();
    let root = x509_certificate::CapturedX509Certificate::from_pem(pem).unwrap();
    assert_eq!(
        root_sha1,
        <[u8; 20]>::try_from(&smbless::codesign::hash::sha1(root.constructed_data())[..]).unwrap()
    );
}

#[test]
fn nested_frameworks_are_verified_with_their_own_seal() {
    let ex = verify("Sig.app/Contents/Frameworks/Foo.framework");
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.slices[0].identifier.as_deref(), Some("com.example.foo"));
    let ex = assert_rejected("Sig-framework-modified.app", "nested-code");
    assert!(
        ex.problems
            .iter()
            .any(|p| p.message.contains("Contents/Frameworks/Foo.framework")
                && p.message.contains("Versions/Current/Resources/data.txt")),
        "{:?}",
        ex.all_problems()
    );
}

#[test]
fn shared_example_app_tamperings_are_named() {
    let mut anchors = Anchors::apple().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/src/pki/root.pem");
    anchors
        .add_pem(&std::fs::read(root).unwrap(), AnchorKind::TestApple, "root")
        .unwrap();
    let o = ExamineOptions {
        verify: VerifyOptions {
            anchors,
            at: None,
            threads: 0,
        },
        integrity: true,
        arch: None,
    };
    for (name, code, what) in [
        (
            "Example-resource-modified.app",
            "resource-modified",
            "Contents/Library/LaunchServices/",
        ),
        (
            "Example-resource-removed.app",
            "resource-missing",
            "Contents/Library/LaunchServices/",
        ),
        (
            "Example-resource-added.app",
            "resource-added",
            "Contents/Resources/added.txt",
        ),
    ] {
        let ex = examine(&fixture(name), &o).unwrap();
        assert!(
            ex.problems
                .iter()
                .any(|p| p.code == code && p.message.contains(what)),
            "{name}: {:?}",
            ex.all_problems()
        );
        assert!(
            ex.slices.iter().all(|s| s.is_valid()),
            "{name}: the executable itself is intact"
        );
    }
}
