use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::*;
use crate::codesign::trust::{AnchorKind, Anchors};
use crate::codesign::VerifyOptions;

const LABEL: &str = "com.example.smbless.helper";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn signed_helper() -> PathBuf {
    fixtures()
        .join("contract/smappservice-layout.app/Contents/MacOS")
        .join(LABEL)
}

fn contract_helper(app: &str) -> PathBuf {
    fixtures()
        .join("contract")
        .join(app)
        .join("Contents/Library/LaunchServices")
        .join(LABEL)
}

fn options(label: Option<&str>) -> PreflightOptions {
    let mut anchors = Anchors::empty();
    let pem = fs::read(fixtures().join("src/pki/root.pem")).unwrap();
    anchors
        .add_pem(&pem, AnchorKind::TestApple, "root.pem")
        .unwrap();
    PreflightOptions {
        signature: VerifyOptions {
            anchors,
            at: None,
            threads: 0,
        },
        label: label.map(str::to_owned),
    }
}

fn plist(label: Option<&str>, program: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(l) = label {
        body += &format!("<key>Label</key><string>{l}</string>");
    }
    if let Some(p) = program {
        body += &format!("<key>BundleProgram</key><string>{p}</string>");
    }
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><plist version=\"1.0\"><dict>{body}</dict></plist>")
}

/// An app at `dir/A.app` with `plist` as `LABEL.plist` and `program` copied to
/// `Contents/MacOS/daemon`.
fn app(dir: &Path, plist_text: Option<&str>, program: Option<&Path>) -> PathBuf {
    let app = dir.join("A.app");
    fs::create_dir_all(app.join("Contents/MacOS")).unwrap();
    fs::create_dir_all(app.join(LAUNCH_DAEMONS_DIR)).unwrap();
    if let Some(text) = plist_text {
        fs::write(
            app.join(LAUNCH_DAEMONS_DIR).join(format!("{LABEL}.plist")),
            text,
        )
        .unwrap();
    }
    if let Some(src) = program {
        fs::copy(src, app.join("Contents/MacOS/daemon")).unwrap();
    }
    app
}

fn ids(report: &Preflight) -> Vec<PreflightId> {
    report.findings.iter().map(|f| f.id).collect()
}

fn check(app: &Path, label: Option<&str>) -> Preflight {
    check_daemon(app, &format!("{LABEL}.plist"), &options(label))
}

#[test]
fn the_smappservice_fixture_passes() {
    let app = fixtures().join("contract/smappservice-layout.app");
    let report = check(&app, Some(LABEL));
    assert!(report.ok(), "{:?}", report.findings);
    assert_eq!(report.label.as_deref(), Some(LABEL));
    assert!(report
        .program
        .as_ref()
        .unwrap()
        .ends_with(format!("Contents/MacOS/{LABEL}")));
    assert_eq!(report.program_identifier.as_deref(), Some(LABEL));
}

#[test]
fn a_symlink_that_stays_inside_the_bundle_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        Some(&plist(Some(LABEL), Some("Contents/Resources/d"))),
        Some(&signed_helper()),
    );
    fs::create_dir_all(app.join("Contents/Resources")).unwrap();
    symlink("../MacOS/daemon", app.join("Contents/Resources/d")).unwrap();
    let report = check(&app, None);
    assert!(report.ok(), "{:?}", report.findings);
}

#[test]
fn plist_names_must_be_plain_plist_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None, None);
    for name in ["../Info.plist", "x.txt", "", "a/b.plist"] {
        let report = check_daemon(&app, name, &options(None));
        assert_eq!(ids(&report), [PreflightId::PlistNameInvalid], "{name:?}");
    }
}

#[test]
fn a_missing_plist_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None, None);
    let report = check(&app, None);
    assert_eq!(ids(&report), [PreflightId::PlistMissing]);
    assert!(report.findings[0]
        .path
        .ends_with("Contents/Library/LaunchDaemons/com.example.smbless.helper.plist"));
}

#[test]
fn a_symlinked_plist_is_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None, Some(&signed_helper()));
    let outside = dir.path().join("evil.plist");
    fs::write(&outside, plist(Some(LABEL), Some("Contents/MacOS/daemon"))).unwrap();
    symlink(
        &outside,
        app.join(LAUNCH_DAEMONS_DIR).join(format!("{LABEL}.plist")),
    )
    .unwrap();
    let report = check(&app, None);
    assert_eq!(ids(&report), [PreflightId::PlistUnreadable]);
    assert!(report.findings[0].message.contains("symbolic link"));
}

#[test]
fn a_fifo_plist_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), None, None);
    let fifo = app.join(LAUNCH_DAEMONS_DIR).join(format!("{LABEL}.plist"));
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let report = check(&app, None);
    assert_eq!(ids(&report), [PreflightId::PlistUnreadable]);
    assert!(report.findings[0].message.contains("not a regular file"));
}

#[test]
fn a_malformed_plist_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Some("<plist><array/>"), None);
    assert_eq!(ids(&check(&app, None)), [PreflightId::PlistUnreadable]);
}

#[test]
fn label_and_program_keys_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Some(&plist(None, None)), None);
    assert_eq!(
        ids(&check(&app, None)),
        [PreflightId::LabelMissing, PreflightId::ProgramMissing]
    );
}

#[test]
fn the_label_must_be_the_one_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        Some(&plist(Some("com.other"), Some("Contents/MacOS/daemon"))),
        Some(&signed_helper()),
    );
    let report = check(&app, Some(LABEL));
    assert_eq!(ids(&report), [PreflightId::LabelMismatch]);
    assert!(report.findings[0].message.contains("\"com.other\""));
}

#[test]
fn programs_outside_the_bundle_are_refused() {
    for program in ["../../bin/sh", "/bin/sh", "Contents/../../x", ""] {
        let dir = tempfile::tempdir().unwrap();
        let app = app(
            dir.path(),
            Some(&plist(Some(LABEL), Some(program))),
            Some(&signed_helper()),
        );
        assert_eq!(
            ids(&check(&app, None)),
            [PreflightId::ProgramOutsideBundle],
            "{program:?}"
        );
    }
}

#[test]
fn a_symlink_escaping_the_bundle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        Some(&plist(Some(LABEL), Some("Contents/MacOS/link"))),
        None,
    );
    let outside = dir.path().join("outside");
    fs::copy(signed_helper(), &outside).unwrap();
    symlink(&outside, app.join("Contents/MacOS/link")).unwrap();
    let report = check(&app, None);
    assert_eq!(ids(&report), [PreflightId::ProgramOutsideBundle]);
    assert!(report.findings[0].message.contains("outside the bundle"));
    assert_eq!(report.program, None);
}

#[test]
fn a_missing_dangling_or_looping_program_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        Some(&plist(Some(LABEL), Some("Contents/MacOS/daemon"))),
        None,
    );
    assert_eq!(ids(&check(&app, None)), [PreflightId::ProgramNotFound]);
    symlink("nowhere", app.join("Contents/MacOS/daemon")).unwrap();
    assert_eq!(ids(&check(&app, None)), [PreflightId::ProgramNotFound]);
    fs::remove_file(app.join("Contents/MacOS/daemon")).unwrap();
    symlink("daemon", app.join("Contents/MacOS/daemon")).unwrap();
    assert_eq!(ids(&check(&app, None)), [PreflightId::ProgramNotFound]);
}

#[test]
fn a_directory_or_non_macho_program_is_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        Some(&plist(Some(LABEL), Some("Contents/MacOS"))),
        None,
    );
    assert_eq!(ids(&check(&app, None)), [PreflightId::ProgramNotFile]);
    let app2 = dir.path().join("A.app");
    fs::write(app2.join("Contents/MacOS/daemon"), b"#!/bin/sh\n").unwrap();
    fs::write(
        app2.join(LAUNCH_DAEMONS_DIR).join(format!("{LABEL}.plist")),
        plist(Some(LABEL), Some("Contents/MacOS/daemon")),
    )
    .unwrap();
    assert_eq!(ids(&check(&app2, None)), [PreflightId::ProgramNotFile]);
}

#[test]
fn unsigned_and_adhoc_programs_are_refused() {
    for fixture in ["helper-adhoc.app", "helper-unsigned.app"] {
        let dir = tempfile::tempdir().unwrap();
        let app = app(
            dir.path(),
            Some(&plist(Some(LABEL), Some("Contents/MacOS/daemon"))),
            Some(&contract_helper(fixture)),
        );
        let report = check(&app, None);
        assert_eq!(ids(&report), [PreflightId::ProgramUnsigned], "{fixture}");
    }
}

#[test]
fn a_tampered_program_has_an_invalid_signature() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        Some(&plist(Some(LABEL), Some("Contents/MacOS/daemon"))),
        Some(&contract_helper("helper-tampered.app")),
    );
    let report = check(&app, None);
    assert_eq!(ids(&report), [PreflightId::ProgramSignatureInvalid]);
}

/// macOS judges validity with implicit anchors (issue 14): a complete chain to a root nobody
/// trusts is a valid signature, and trust is the requirement's business.
#[test]
fn an_untrusted_but_complete_chain_is_valid_as_on_macos() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(
        dir.path(),
        Some(&plist(Some(LABEL), Some("Contents/MacOS/daemon"))),
        Some(&signed_helper()),
    );
    let mut opts = options(None);
    opts.signature.anchors = Anchors::empty();
    let report = check_daemon(&app, &format!("{LABEL}.plist"), &opts);
    assert!(!ids(&report).contains(&PreflightId::ProgramSignatureInvalid));
}

#[test]
fn daemon_plists_are_found_by_label() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), Some(&plist(Some(LABEL), None)), None);
    assert_eq!(
        find_daemon_plist(&app, LABEL),
        Some(format!("{LABEL}.plist"))
    );
    fs::write(
        app.join(LAUNCH_DAEMONS_DIR).join("b.plist"),
        plist(Some("com.example.b"), None),
    )
    .unwrap();
    assert_eq!(
        find_daemon_plist(&app, "com.example.b"),
        Some("b.plist".to_owned())
    );
    assert_eq!(find_daemon_plist(&app, "com.example.none"), None);
    assert_eq!(
        find_daemon_plist(&dir.path().join("missing.app"), LABEL),
        None
    );
}

#[test]
fn ids_are_unique_kebab_case() {
    let mut seen = std::collections::HashSet::new();
    for id in PreflightId::ALL {
        assert!(seen.insert(id.as_str()));
        assert!(id
            .as_str()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-'));
    }
}
