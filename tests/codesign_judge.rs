//! Code judged exactly as macOS judges it (issue 14): implicit anchors and expiration,
//! certificates hashed as stored, the strongest CodeDirectory, entitlements read leniently after
//! the first element, SignerInfos without signed attributes, bundle resolution, resource-seal
//! presence, notarization tickets. Fixtures: `scripts/fixtures/judge-fixtures`
//! (fixtures/judge) and `scripts/fixtures/tamper-signatures` (fixtures/signature).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use smbless::codesign::trust::{AnchorKind, Anchors};
use smbless::codesign::{examine, hex, Examination, ExamineOptions, HashType, VerifyOptions};
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
