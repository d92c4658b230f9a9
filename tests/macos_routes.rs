//! `smbless register --check`, and the macOS-only commands and `bless --via` on other systems.
//! (The SMAppService and SMJobBless calls themselves only exist on macOS; their decisions are
//! unit-tested in `smbless::service_management`.)

use std::path::PathBuf;

use assert_cmd::Command;

const PLIST: &str = "com.example.smbless.helper.plist";

fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
        .display()
        .to_string()
}

fn smbless(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("smbless")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(app: &str, extra: &[&str]) -> (i32, String, String) {
    let app = fixture(app);
    let root = fixture("src/pki/root.pem");
    let mut args = vec![
        "register",
        PLIST,
        "--check",
        &app,
        "--testing-treat-as-apple-root",
        &root,
    ];
    args.extend_from_slice(extra);
    smbless(&args)
}

#[test]
fn register_check_passes_a_well_formed_smappservice_app() {
    let (code, out, err) = check(
        "contract/smappservice-layout.app",
        &["--label", "com.example.smbless.helper"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("ok: SMAppService may be asked to register it"),
        "{out}"
    );
    assert!(
        out.contains("signed: identifier com.example.smbless.helper"),
        "{out}"
    );
    let (code, out, _) = check("contract/smappservice-layout.app", &["--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["label"], "com.example.smbless.helper");
    assert_eq!(json["findings"], serde_json::json!([]));
}

#[test]
fn register_check_explains_a_refusal_with_ids() {
    let (code, out, _) = check("apps/Example.app", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error [daemon-plist-missing]"), "{out}");
    let (code, out, _) = check(
        "contract/smappservice-layout.app",
        &["--label", "com.other", "--json"],
    );
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["findings"][0]["id"], "daemon-label-mismatch");
}

/// Validity as macOS judges it (implicit anchors, issue 14): a program signed by a complete
/// chain to a root nobody passed as an anchor is still validly signed; whom to trust is the
/// requirements' business, not the pre-flight's.
#[test]
fn register_check_judges_validity_as_macos_does() {
    let app = fixture("contract/smappservice-layout.app");
    let (code, out, _) = smbless(&["register", PLIST, "--check", &app]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("[bundle-program-signature-invalid]"), "{out}");
    assert!(out.contains("team EXAMPLE123"), "{out}");
}

#[cfg(not(target_os = "macos"))]
#[test]
fn os_installers_say_they_need_macos() {
    let (code, _, err) = smbless(&["register", PLIST]);
    assert_eq!(code, 2);
    assert!(
        err.contains("only on macOS") && err.contains("--check APP"),
        "{err}"
    );
    let (code, _, err) = smbless(&["unregister", PLIST]);
    assert_eq!(code, 2);
    assert!(err.contains("only on macOS"), "{err}");
    let app = fixture("apps/Example.app");
    for via in ["smappservice", "smjobbless"] {
        let (code, _, err) = smbless(&["bless", &app, "com.example.smbless.helper", "--via", via]);
        assert_eq!(code, 2, "{via}");
        assert!(err.contains("use --via direct"), "{err}");
    }
}

#[test]
fn bless_via_an_os_installer_refuses_staging_options() {
    let app = fixture("apps/Example.app");
    for extra in [["--dry-run", ""], ["--root", "/tmp"]] {
        let mut args = vec![
            "bless",
            &app,
            "com.example.smbless.helper",
            "--via",
            "smjobbless",
        ];
        args.extend(extra.iter().filter(|a| !a.is_empty()));
        let (code, _, err) = smbless(&args);
        assert_eq!(code, 2, "{extra:?}");
        assert!(err.contains("apply to --via direct only"), "{err}");
    }
    let (code, _, err) = smbless(&["bless", &app, "--via", "smappservice"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs the LABEL"), "{err}");
}

#[test]
fn bless_via_direct_is_the_root_installer() {
    let staging = tempfile::tempdir().unwrap();
    let app = fixture("apps/Example.app");
    let root = fixture("src/pki/root.pem");
    let dir = staging.path().to_str().unwrap();
    let (code, out, err) = smbless(&[
        "bless",
        &app,
        "--via",
        "direct",
        "--root",
        dir,
        "--dry-run",
        "--json",
        "--testing-treat-as-apple-root",
        &root,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["outcome"], "planned");
}
