//! Bundle-level rejections, each made by one change to a copy of a valid signed bundle
//! (fixtures/signature/Sig.app) or file: the seal file changed, missing or unreadable, a name the
//! resource walk cannot seal, and a signature that cannot be read. Each asserts its problem id.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use smbless::codesign::trust::{AnchorKind, Anchors};
use smbless::codesign::{examine, Examination, ExamineOptions, VerifyOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/signature")
        .join(name)
}

fn options() -> ExamineOptions {
    let mut anchors = Anchors::apple().unwrap();
    let pem = std::fs::read(fixture("root.pem")).unwrap();
    anchors
        .add_pem(&pem, AnchorKind::TestApple, "root.pem")
        .unwrap();
    ExamineOptions {
        verify: VerifyOptions {
            anchors,
            at: None,
            threads: 1,
        },
        integrity: true,
        arch: None,
    }
}

fn ids(ex: &Examination) -> BTreeSet<&'static str> {
    ex.problems
        .iter()
        .chain(ex.slices.iter().flat_map(|s| s.problems.iter()))
        .map(|p| p.code)
        .collect()
}

/// A copy of Sig.app (symlinks kept) in a temporary directory, verified valid first.
fn sig_app() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("Sig.app");
    let status = Command::new("cp")
        .arg("-a")
        .arg(fixture("Sig.app"))
        .arg(&app)
        .status()
        .unwrap();
    assert!(status.success());
    let ex = examine(&app, &options()).unwrap();
    assert!(ex.is_valid(), "baseline: {:?}", ex.all_problems());
    (dir, app)
}

fn code_resources(app: &Path) -> PathBuf {
    app.join("Contents/_CodeSignature/CodeResources")
}

#[track_caller]
fn assert_has(app: &Path, id: &str) -> Examination {
    let ex = examine(app, &options()).unwrap();
    assert!(!ex.is_valid());
    assert!(
        ids(&ex).contains(id),
        "expected {id}: {:?}",
        ex.all_problems()
    );
    ex
}

#[test]
fn a_changed_seal_file_breaks_special_slot_3() {
    let (_dir, app) = sig_app();
    let path = code_resources(&app);
    // Still a well-formed plist: one key renamed.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("<key>files</key>"));
    std::fs::write(
        &path,
        text.replacen("<key>files</key>", "<key>filez</key>", 1),
    )
    .unwrap();
    let ex = assert_has(&app, "resources");
    assert!(
        ex.all_problems()
            .iter()
            .any(|p| p.contains("does not match the hash sealed in special slot -3")),
        "{:?}",
        ex.all_problems()
    );
}

#[test]
fn a_missing_seal_file_is_resources_missing() {
    let (_dir, app) = sig_app();
    std::fs::remove_file(code_resources(&app)).unwrap();
    let ex = assert_has(&app, "resources-missing");
    // The CodeDirectory still claims it in slot -3.
    assert!(ids(&ex).contains("resources"), "{:?}", ex.all_problems());
}

#[test]
fn an_unreadable_seal_file_is_resources_unreadable() {
    let (_dir, app) = sig_app();
    std::fs::write(code_resources(&app), b"not a property list").unwrap();
    assert_has(&app, "resources-unreadable");
}

#[test]
fn a_resource_name_that_is_not_utf8_is_resource_walk() {
    use std::os::unix::ffi::OsStrExt;
    let (_dir, app) = sig_app();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name");
    std::fs::write(app.join("Contents/Resources").join(name), b"x").unwrap();
    let ex = assert_has(&app, "resource-walk");
    assert!(
        ex.all_problems()
            .iter()
            .any(|p| p.contains("file name is not UTF-8")),
        "{:?}",
        ex.all_problems()
    );
}

#[test]
fn an_unreadable_superblob_is_signature_unreadable() {
    let mut data = std::fs::read(fixture("thin")).unwrap();
    let at = data
        .windows(4)
        .position(|w| w == [0xfa, 0xde, 0x0c, 0xc0])
        .unwrap();
    data[at + 3] = 0xc1; // not the embedded-signature magic
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("helper");
    std::fs::write(&path, &data).unwrap();
    let ex = examine(&path, &options()).unwrap();
    assert!(!ex.is_valid());
    assert_eq!(
        ids(&ex),
        BTreeSet::from(["signature-unreadable"]),
        "{:?}",
        ex.all_problems()
    );
    assert!(
        ex.all_problems().iter().any(|p| p.contains("offset 0x")),
        "{:?}",
        ex.all_problems()
    );
}
