//! Requirements judged against verified code: `smbless req check` and `smbless req designated`
//! on the signed fixtures, and every signed fixture satisfying its own designated requirement.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use smbless::codesign::trust::{AnchorKind, Anchors};
use smbless::codesign::{
    designated_requirement, examine, implicit_designated_requirement, DesignatedSource,
    ExamineOptions, VerifyOptions,
};
use smbless::requirement;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn path(rel: &str) -> PathBuf {
    root().join(rel)
}

/// The shared test PKI's root (fixtures/src/pki, what fixtures/macho and fixtures/apps are
/// signed under).
const TEST_ROOT: &str = "fixtures/src/pki/root.pem";
const TEAM_REQ: &str =
    "anchor apple generic and identifier \"com.example.smbless.helper\" and certificate leaf[subject.OU] = EXAMPLE123";

fn smbless() -> Command {
    Command::cargo_bin("smbless").unwrap()
}

fn check(target: &str, req: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = smbless()
        .args(["req", "check", "--json"])
        .args(extra)
        .arg(path(target))
        .arg(req)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

#[test]
fn team_pinned_requirement_holds_for_the_team_only() {
    let root = path(TEST_ROOT);
    let test_root = ["--testing-treat-as-apple-root", root.to_str().unwrap()];
    let (code, v) = check("fixtures/macho/helper-signed-arm64", TEAM_REQ, &test_root);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["satisfied"], true);
    let (code, v) = check("fixtures/macho/helper-signed-fat", TEAM_REQ, &test_root);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["slices"].as_array().unwrap().len(), 2);
    // Another team's certificate: the OU clause fails, and the explanation says why.
    let (code, v) = check(
        "fixtures/macho/helper-signed-other-team",
        TEAM_REQ,
        &test_root,
    );
    assert_eq!(code, 1, "{v}");
    let text = v.to_string();
    assert!(text.contains("OTHERTEAM1"), "{text}");
    // Without the test root treated as Apple's, `anchor apple generic` cannot hold.
    let (code, v) = check("fixtures/macho/helper-signed-arm64", TEAM_REQ, &[]);
    assert_eq!(code, 1, "{v}");
    // Trusted as a user anchor, it is trusted but not Apple's.
    let anchor = ["--anchor", root.to_str().unwrap()];
    assert_eq!(
        check(
            "fixtures/macho/helper-signed-arm64",
            "anchor trusted",
            &anchor
        )
        .0,
        0
    );
    assert_eq!(
        check(
            "fixtures/macho/helper-signed-arm64",
            "anchor apple generic",
            &anchor
        )
        .0,
        1
    );
}

#[test]
fn identifier_requirements() {
    let root = path(TEST_ROOT);
    let test_root = ["--testing-treat-as-apple-root", root.to_str().unwrap()];
    let (code, _) = check(
        "fixtures/macho/helper-signed-fat",
        "identifier \"com.example.smbless.helper\"",
        &test_root,
    );
    assert_eq!(code, 0);
    let (code, v) = check(
        "fixtures/macho/helper-signed-fat",
        "identifier \"com.example.other\"",
        &test_root,
    );
    assert_eq!(code, 1);
    assert!(v["slices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["satisfied"] == false));
    // The bundle: the app's own identity.
    let (code, v) = check(
        "fixtures/apps/Example.app",
        "anchor apple generic and identifier \"com.example.smbless.app\" and certificate leaf[subject.OU] = EXAMPLE123",
        &test_root,
    );
    assert_eq!(code, 0, "{v}");
}

#[test]
fn tampered_code_satisfies_nothing() {
    let root = path("fixtures/signature/root.pem");
    let test_root = ["--testing-treat-as-apple-root", root.to_str().unwrap()];
    // The requirement holds for the intact file...
    assert_eq!(
        check(
            "fixtures/signature/thin",
            "identifier \"com.example.helper\"",
            &test_root
        )
        .0,
        0
    );
    // ...and not once a code page changed, with the signature problem reported.
    let (code, v) = check(
        "fixtures/signature/thin-tampered-code-page",
        "identifier \"com.example.helper\"",
        &test_root,
    );
    assert_eq!(code, 1);
    assert_eq!(v["slices"][0]["signature_valid"], false);
    assert_eq!(v["slices"][0]["evaluation"]["satisfied"], true);
    assert!(v.to_string().contains("page-hash"));
}

#[test]
fn bad_requirement_text_is_exit_2() {
    smbless()
        .args(["req", "check"])
        .arg(path("fixtures/signature/thin"))
        .arg("identifier \"unterminated")
        .assert()
        .code(2);
}

fn opts(root_pem: &str) -> ExamineOptions {
    let mut anchors = Anchors::apple().unwrap();
    anchors
        .add_pem(
            &std::fs::read(path(root_pem)).unwrap(),
            AnchorKind::TestApple,
            root_pem,
        )
        .unwrap();
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

#[test]
fn signed_code_satisfies_its_own_designated_requirement() {
    let cases = [
        (
            "fixtures/macho/helper-signed-arm64",
            TEST_ROOT,
            DesignatedSource::Explicit,
        ),
        (
            "fixtures/macho/helper-signed-fat",
            TEST_ROOT,
            DesignatedSource::Explicit,
        ),
        (
            "fixtures/apps/Example.app",
            TEST_ROOT,
            DesignatedSource::Explicit,
        ),
        (
            "fixtures/signature/thin",
            "fixtures/signature/root.pem",
            DesignatedSource::Explicit,
        ),
        (
            "fixtures/signature/fat",
            "fixtures/signature/root.pem",
            DesignatedSource::Explicit,
        ),
        (
            "fixtures/signature/Sig.app",
            "fixtures/signature/root.pem",
            DesignatedSource::Explicit,
        ),
        (
            "fixtures/signature/adhoc",
            "fixtures/signature/root.pem",
            DesignatedSource::Implicit,
        ),
        (
            "fixtures/signature/linker-signed",
            "fixtures/signature/root.pem",
            DesignatedSource::Implicit,
        ),
    ];
    for (target, root_pem, source) in cases {
        let ex = examine(&path(target), &opts(root_pem)).unwrap();
        assert!(ex.is_valid(), "{target}: {:?}", ex.all_problems());
        for s in &ex.slices {
            let (dr, src) = designated_requirement(s, &ex.slices).unwrap().unwrap();
            assert_eq!(src, source, "{target}");
            let e = requirement::evaluate(&dr, s);
            assert!(
                e.satisfied,
                "{target} [{}] does not satisfy {}:\n{}",
                s.arch,
                requirement::to_text(&dr),
                e.explanation
            );
            // The implicit DR, synthesised from the certificates, holds too.
            let implicit = implicit_designated_requirement(s, &ex.slices)
                .unwrap()
                .to_requirement()
                .unwrap();
            let e = requirement::evaluate(&implicit, s);
            assert!(
                e.satisfied,
                "{target} [{}] implicit {}:\n{}",
                s.arch,
                requirement::to_text(&implicit),
                e.explanation
            );
        }
    }
    // And another team's code does not satisfy this team's DR.
    let mine = examine(
        &path("fixtures/macho/helper-signed-arm64"),
        &opts(TEST_ROOT),
    )
    .unwrap();
    let theirs = examine(
        &path("fixtures/macho/helper-signed-other-team"),
        &opts(TEST_ROOT),
    )
    .unwrap();
    let (dr, _) = designated_requirement(&mine.slices[0], &mine.slices)
        .unwrap()
        .unwrap();
    assert!(!requirement::evaluate(&dr, &theirs.slices[0]).satisfied);
}

#[test]
fn designated_command_prints_explicit_and_implicit_requirements() {
    let out = smbless()
        .args(["req", "designated", "--json"])
        .arg(path("fixtures/macho/helper-signed-fat"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for s in v.as_array().unwrap() {
        assert_eq!(s["source"], "explicit");
        assert!(s["designated_requirement"]
            .as_str()
            .unwrap()
            .contains("certificate leaf[subject.OU] = EXAMPLE123"));
    }
    let out = smbless()
        .args(["req", "designated"])
        .arg(path("fixtures/signature/adhoc"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    // Synthesised, so marked as `codesign -d -r-` marks it.
    assert!(text.starts_with("# designated => cdhash H\""), "{text}");
    // An unsigned slice has none.
    smbless()
        .args(["req", "designated"])
        .arg(path("fixtures/signature/unsigned"))
        .assert()
        .code(1);
}
