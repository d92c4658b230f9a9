//! Code judged exactly as macOS judges it (issue 14): implicit anchors and expiration,
//! certificates hashed as stored, the strongest CodeDirectory, entitlements read leniently after
//! the first element, SignerInfos without signed attributes, bundle resolution, resource-seal
//! presence, notarization tickets. Fixtures: `scripts/fixtures/judge-fixtures`
//! (fixtures/judge) and `scripts/fixtures/tamper-signatures` (fixtures/signature).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use smbless::codesign::trust::{AnchorKind, Anchors, Trust};
use smbless::codesign::{examine, hex, Examination, ExamineOptions, HashType, Kind, VerifyOptions};
use smbless::requirement;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

fn options(test_apple: bool) -> ExamineOptions {
    let mut anchors = Anchors::apple().unwrap();
    if test_apple {
        let pem = std::fs::read(fixture("signature/root.pem")).unwrap();
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

fn verify(rel: &str) -> Examination {
    examine(&fixture(rel), &options(true)).unwrap()
}

fn satisfies(ex: &Examination, req: &str) -> (bool, String) {
    let r = requirement::parse_requirement(req).unwrap();
    let e = requirement::evaluate(&r, &ex.slices[0]);
    (e.satisfied, e.reason())
}

fn smbless() -> Command {
    Command::cargo_bin("smbless").unwrap()
}

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = smbless().args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn the_strongest_code_directory_is_the_cdhash() {
    // `thin` carries a SHA-1 primary and a SHA-256 alternate CodeDirectory.
    let ex = verify("signature/thin");
    let s = &ex.slices[0];
    let types: Vec<HashType> = s.cdhashes.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [HashType::Sha1, HashType::Sha256]);
    let sha1 = hex(&s.cdhashes[0].1);
    let sha256 = hex(&s.cdhashes[1].1);
    assert_eq!(s.cdhash.as_deref().map(hex), Some(sha256.clone()));
    // The requirement interpreter compares with that one only.
    assert!(satisfies(&ex, &format!("cdhash H\"{sha256}\"")).0);
    let (held, why) = satisfies(&ex, &format!("cdhash H\"{sha1}\""));
    assert!(!held, "a weaker alternate's cdhash must not satisfy");
    assert!(why.contains(&sha256), "{why}");
    // Headline and JSON agree; `cdhashes` still lists both, primary first.
    let (code, v) = json(&[
        "signature",
        "show",
        "--json",
        fixture("signature/thin").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let slice = &v["slices"][0];
    assert_eq!(slice["cdhash"], sha256.as_str());
    assert_eq!(slice["cdhashes"][0]["cdhash"], sha1.as_str());
    assert_eq!(slice["cdhashes"][1]["cdhash"], sha256.as_str());
}

fn codes(ex: &Examination) -> Vec<&'static str> {
    let mut c: Vec<&'static str> = ex.problems.iter().map(|p| p.code).collect();
    for s in &ex.slices {
        c.extend(s.problems.iter().map(|p| p.code));
    }
    c
}

fn joe_sha1() -> String {
    std::fs::read_to_string(fixture("judge/joe.sha1"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn self_signed_expired_without_timestamp_is_valid_but_trusted_by_nothing() {
    // Apple's SMJobBless sample shape: a self-signed, long-expired certificate, no timestamp.
    // Apple's roots only: the certificate is an implicit anchor and expiry is tolerated.
    let ex = examine(&fixture("judge/joe-helper"), &options(false)).unwrap();
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    let s = &ex.slices[0];
    assert_eq!(s.trust, Trust::SelfSigned);
    assert_eq!(s.kind, Kind::Untrusted);
    assert_eq!(s.timestamp, None);
    assert_eq!(s.chain_length, 1);
    // Requirements decide trust.
    assert!(satisfies(&ex, "certificate leaf[subject.CN] = \"Joe Developer\"").0);
    let pinned = format!("certificate leaf = H\"{}\"", joe_sha1());
    assert!(satisfies(&ex, &pinned).0, "{}", satisfies(&ex, &pinned).1);
    assert!(satisfies(&ex, &format!("certificate root = H\"{}\"", joe_sha1())).0);
    let (held, why) = satisfies(&ex, "anchor apple generic");
    assert!(!held);
    assert!(why.contains("Apple root"), "{why}");
    assert!(!satisfies(&ex, "anchor trusted").0);
}

#[test]
fn certificate_hashes_are_over_the_stored_bytes() {
    // The EC certificate's bytes differ from what the CMS parser re-encodes: every hash
    // smbless shows or compares must be the one openssl computes over the bytes themselves.
    let ex = verify("judge/joe-helper");
    let s = &ex.slices[0];
    assert_eq!(
        hex(&smbless::codesign::hash::sha1(
            s.certificates[0].constructed_data()
        )),
        joe_sha1()
    );
    let pem = std::fs::read(fixture("judge/joe.pem")).unwrap();
    let from_pem = x509_certificate::CapturedX509Certificate::from_pem(&pem).unwrap();
    assert_eq!(
        s.certificates[0].constructed_data(),
        from_pem.constructed_data()
    );
}

#[test]
fn any_certificate_of_the_chain_may_be_the_anchor() {
    // The self-signed leaf itself as `--anchor`: trusted, by the user's choice.
    let mut o = options(false);
    o.verify
        .anchors
        .add_pem(
            &std::fs::read(fixture("judge/joe.pem")).unwrap(),
            AnchorKind::Custom,
            "joe.pem",
        )
        .unwrap();
    let ex = examine(&fixture("judge/joe-helper"), &o).unwrap();
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.slices[0].trust, Trust::Anchor);
    assert_eq!(ex.slices[0].kind, Kind::CustomAnchor);
    assert!(satisfies(&ex, "anchor trusted").0);
    // `req check` says the same beside `kind`.
    let (code, v) = json(&[
        "req",
        "check",
        "--json",
        fixture("judge/joe-helper").to_str().unwrap(),
        "certificate leaf[subject.CN] = \"Joe Developer\"",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["slices"][0]["kind"], "untrusted");
    assert_eq!(v["slices"][0]["trust"], "self-signed");
    // The intermediate of the test PKI as anchor: the chain stops there.
    let mut o = options(false);
    o.verify
        .anchors
        .add_pem(
            &std::fs::read(fixture("pki/devid-ca.pem")).unwrap(),
            AnchorKind::Custom,
            "devid-ca.pem",
        )
        .unwrap();
    let ex = examine(&fixture("signature/thin"), &o).unwrap();
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.slices[0].trust, Trust::Anchor);
    assert_eq!(ex.slices[0].chain_length, 2);
    // And through the CLI, with `trust` beside `kind`.
    let (code, v) = json(&[
        "signature",
        "verify",
        "--json",
        "--anchor",
        fixture("judge/joe.pem").to_str().unwrap(),
        fixture("judge/joe-helper").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["slices"][0]["trust"], "anchor");
    assert_eq!(v["slices"][0]["kind"], "custom-anchor");
    let out = smbless()
        .args(["signature", "show"])
        .arg(fixture("judge/joe-helper"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("untrusted (trust: self-signed)"), "{text}");
}

#[test]
fn an_incomplete_chain_is_still_invalid() {
    // `foreign-chain` carries an intermediate with the right name but another key: the leaf's
    // issuer is not at hand, and no implicit anchor rescues an incomplete chain.
    let ex = examine(&fixture("signature/foreign-chain"), &options(false)).unwrap();
    assert!(codes(&ex).contains(&"chain-untrusted"), "{:?}", codes(&ex));
    assert_eq!(ex.slices[0].trust, Trust::None);
}

#[test]
fn signer_info_without_signed_attributes_is_verified_over_the_code_directory() {
    let ex = verify("judge/noattr-helper");
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.slices[0].kind, Kind::DeveloperId);
    // The CodeDirectory the script signed is the one in the file.
    let cd = std::fs::read(fixture("judge/noattr-cd")).unwrap();
    let file = std::fs::read(fixture("judge/noattr-helper")).unwrap();
    let at = file
        .windows(cd.len())
        .position(|w| w == cd.as_slice())
        .expect("the signed CodeDirectory is embedded");
    // Change the identifier inside it: the signature no longer covers it.
    let dir = tempfile::tempdir().unwrap();
    let mut tampered = file.clone();
    let ident = b"com.example.helper";
    let i = at + cd.windows(ident.len()).position(|w| w == ident).unwrap();
    tampered[i + ident.len() - 1] = b'x';
    let path = dir.path().join("tampered");
    std::fs::write(&path, &tampered).unwrap();
    let ex = examine(&path, &options(true)).unwrap();
    assert_eq!(codes(&ex), ["cms-signature"], "{:?}", ex.all_problems());
}

#[test]
fn entitlements_with_trailing_text_are_read_by_show_and_verify_alike() {
    let ex = verify("judge/entitlements-trailing");
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(
        ex.slices[0].entitlement_value("com.apple.security.cs.allow-jit"),
        Some(&plist::Value::Boolean(true))
    );
    for cmd in ["show", "verify"] {
        let (_, v) = json(&[
            "signature",
            cmd,
            "--json",
            "--testing-treat-as-apple-root",
            fixture("signature/root.pem").to_str().unwrap(),
            fixture("judge/entitlements-trailing").to_str().unwrap(),
        ]);
        assert_eq!(
            v["slices"][0]["entitlements"]["com.apple.security.cs.allow-jit"], true,
            "{cmd}: {v}"
        );
    }
    assert!(
        satisfies(
            &ex,
            "entitlement[\"com.apple.security.cs.allow-jit\"] exists"
        )
        .0
    );
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_main_executable_stands_for_its_bundle() {
    let test_root = root().join("fixtures/src/pki/root.pem");
    let mut o = options(false);
    o.verify
        .anchors
        .add_pem(
            &std::fs::read(&test_root).unwrap(),
            AnchorKind::TestApple,
            "root",
        )
        .unwrap();
    let exe = fixture("apps/Example.app/Contents/MacOS/Example");
    let ex = examine(&exe, &o).unwrap();
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    assert_eq!(ex.path, exe);
    assert_eq!(
        ex.bundle,
        Some(std::fs::canonicalize(fixture("apps/Example.app")).unwrap())
    );
    // Alone, the file's seals of Info.plist and CodeResources find nothing: today's
    // single-file judgement, kept for --file-only.
    let alone = smbless::codesign::examine_file_only(&exe, &o).unwrap();
    assert_eq!(alone.bundle, None);
    let c = codes(&alone);
    assert!(
        c.contains(&"info-plist") && c.contains(&"resources"),
        "{c:?}"
    );
    // Team-pinned requirements hold on the main executable's path, through the CLI.
    let req = "anchor apple generic and identifier \"com.example.smbless.app\" and certificate leaf[subject.OU] = EXAMPLE123";
    let args = |extra: &[&str]| {
        let mut a = vec![
            "req",
            "check",
            "--json",
            "--testing-treat-as-apple-root",
            test_root.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.push(exe.to_str().unwrap());
        a.push(req);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let out = smbless().args(&a).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let (code, v) = run(args(&[]));
    assert_eq!(code, Some(0), "{v}");
    assert!(
        v["bundle"].as_str().unwrap().ends_with("Example.app"),
        "{v}"
    );
    let (code, v) = run(args(&["--file-only"]));
    assert_eq!(code, Some(1), "{v}");
    assert!(v.get("bundle").is_none(), "{v}");
    // `signature verify` and `req designated` take the same path.
    let (code, v) = json(&[
        "signature",
        "verify",
        "--json",
        "--testing-treat-as-apple-root",
        test_root.to_str().unwrap(),
        exe.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{v}");
    assert!(v["bundle"].as_str().unwrap().ends_with("Example.app"));
    let out = smbless()
        .args(["req", "designated"])
        .arg(&exe)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn frameworks_and_other_bundle_kinds_resolve_too() {
    let fw = "signature/Sig.app/Contents/Frameworks/Foo.framework";
    for path in [format!("{fw}/Versions/A/Foo"), format!("{fw}/Foo")] {
        let ex = verify(&path);
        assert!(ex.is_valid(), "{path}: {:?}", ex.all_problems());
        assert_eq!(
            ex.bundle,
            Some(std::fs::canonicalize(fixture(fw)).unwrap()),
            "{path}"
        );
    }
    // XPC services, app extensions, system extensions, plug-ins: the same Contents/MacOS layout.
    let dir = tempfile::tempdir().unwrap();
    for ext in ["xpc", "appex", "systemextension", "plugin", "bundle"] {
        let b = dir.path().join(format!("Sig.{ext}"));
        copy_dir(&fixture("signature/Sig.app"), &b);
        let ex = examine(&b.join("Contents/MacOS/Sig App"), &options(true)).unwrap();
        assert!(ex.is_valid(), "{ext}: {:?}", ex.all_problems());
        assert_eq!(ex.bundle, Some(std::fs::canonicalize(&b).unwrap()), "{ext}");
    }
    // A file that is not the bundle's main executable is judged alone.
    let tool = fixture("signature/Sig.app/Contents/Helpers/tool");
    assert_eq!(
        verify("signature/Sig.app/Contents/Helpers/tool").bundle,
        None
    );
    assert_eq!(smbless::codesign::resolve::enclosing_bundle(&tool), None);
    let stray = dir.path().join("Sig.xpc/Contents/MacOS/other");
    std::fs::copy(&tool, &stray).unwrap();
    assert_eq!(smbless::codesign::resolve::enclosing_bundle(&stray), None);
}

#[test]
fn a_bundle_must_seal_its_resources_and_a_seal_must_find_them() {
    // Linker-signed main executable: no special slot -3, no CodeResources, resources present.
    let ex = verify("judge/Linker.app");
    assert!(
        ex.slices.iter().all(|s| s.is_valid()),
        "{:?}",
        ex.all_problems()
    );
    assert_eq!(codes(&ex), ["resources-not-sealed"]);
    // The same executable alone is valid: a single file has no resource base.
    let alone = smbless::codesign::examine_file_only(
        &fixture("judge/Linker.app/Contents/MacOS/Linker"),
        &options(true),
    )
    .unwrap();
    assert!(alone.is_valid(), "{:?}", alone.all_problems());
    // A sealed bundle whose CodeResources is gone: the seal finds nothing.
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("Sig.app");
    copy_dir(&fixture("signature/Sig.app"), &b);
    std::fs::remove_file(b.join("Contents/_CodeSignature/CodeResources")).unwrap();
    let ex = examine(&b, &options(true)).unwrap();
    let c = codes(&ex);
    assert!(c.contains(&"resources-missing"), "{c:?}");
    assert!(!c.contains(&"resources-not-sealed"), "{c:?}");
}

#[test]
fn designated_requirements_print_as_codesign_prints_them() {
    let line = |rel: &str| {
        let out = smbless()
            .args(["req", "designated"])
            .arg(fixture(rel))
            .output()
            .unwrap();
        assert!(out.status.success(), "{rel}");
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
    };
    // Synthesised ones are marked `# `: ad-hoc and linker-signed (cdhash of the strongest
    // CodeDirectory), and a certificate-signed one without an explicit requirement.
    for rel in ["signature/adhoc", "signature/linker-signed"] {
        let ex = verify(rel);
        let cdhash = hex(ex.slices[0].cdhash.as_ref().unwrap());
        assert_eq!(
            line(rel),
            format!("# designated => cdhash H\"{cdhash}\""),
            "{rel}"
        );
    }
    assert_eq!(
        line("judge/joe-helper"),
        format!(
            "# designated => identifier \"com.example.joe.helper\" and certificate leaf = H\"{}\"",
            joe_sha1()
        )
    );
    // Two CodeDirectories: the synthesised requirement names only the strongest one's cdhash.
    let ex = verify("judge/adhoc-dual-cd");
    let types: Vec<HashType> = ex.slices[0].cdhashes.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [HashType::Sha1, HashType::Sha256]);
    let sha256 = hex(&ex.slices[0].cdhashes[1].1);
    assert_eq!(
        line("judge/adhoc-dual-cd"),
        format!("# designated => cdhash H\"{sha256}\"")
    );
    // Explicit ones are printed as they are.
    let explicit = line("apps/Example.app/Contents/MacOS/Example");
    assert!(
        explicit.starts_with("[x86_64] designated => anchor apple generic"),
        "{explicit}"
    );
}

#[test]
fn notarization_is_true_false_or_unknown_never_a_confident_no_without_evidence() {
    use smbless::requirement::Notarization;
    // Apple-chained code without a ticket: unknown offline, and `notarized` is not satisfied
    // with that reason.
    let ex = verify("signature/Sig.app");
    match &ex.slices[0].notarization {
        Notarization::Unknown(r) => assert!(r.contains("no ticket"), "{r}"),
        other => panic!("{other:?}"),
    }
    let (held, why) = satisfies(&ex, "notarized");
    assert!(!held);
    assert!(why.contains("unknown offline"), "{why}");
    assert!(!why.contains("is not notarized"), "{why}");
    // A stapled ticket is reported, but its signature cannot be checked here: still unknown.
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("Sig.app");
    copy_dir(&fixture("signature/Sig.app"), &app);
    std::fs::write(app.join("Contents/CodeResources"), b"s8ch stapled ticket").unwrap();
    let ex = examine(&app, &options(true)).unwrap();
    assert!(ex.is_valid(), "{:?}", ex.all_problems());
    match &ex.slices[0].notarization {
        Notarization::Unknown(r) => {
            assert!(r.contains("stapled") && r.contains("19 bytes"), "{r}")
        }
        other => panic!("{other:?}"),
    }
    // Code that cannot be notarized is confidently not.
    for rel in ["signature/adhoc", "judge/joe-helper", "judge/Linker.app"] {
        let ex = verify(rel);
        assert!(
            matches!(ex.slices[0].notarization, Notarization::NotNotarized(_)),
            "{rel}"
        );
        assert!(!satisfies(&ex, "notarized").0);
    }
    // JSON: true | false | "unknown", with the reason beside it.
    let (_, v) = json(&[
        "signature",
        "show",
        "--json",
        "--testing-treat-as-apple-root",
        fixture("signature/root.pem").to_str().unwrap(),
        app.to_str().unwrap(),
    ]);
    assert_eq!(v["slices"][0]["notarized"], "unknown", "{v}");
    assert!(v["slices"][0]["notarization"]
        .as_str()
        .unwrap()
        .contains("stapled"));
    let (_, v) = json(&[
        "signature",
        "show",
        "--json",
        fixture("signature/adhoc").to_str().unwrap(),
    ]);
    assert_eq!(v["slices"][0]["notarized"], false, "{v}");
}
