//! `smbless setreq`: requirements derived from signed products or from a team ID, written into
//! plists that keep their format and other keys. The round trip setreq → build → sign → verify
//! is the fixture pipeline itself (scripts/make-fixtures runs setreq on Example.app's plists
//! before signing); here we check that what setreq writes is exactly what the signed example
//! carries, and that the example verifies clean.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const TEST_ROOT: &str = "fixtures/src/pki/root.pem";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn smbless() -> Command {
    let mut cmd = Command::cargo_bin("smbless").unwrap();
    cmd.current_dir(root());
    cmd
}

fn json(cmd: &mut Command) -> Value {
    let output = cmd.arg("--json").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn read_plist(path: &Path) -> plist::Dictionary {
    plist::Value::from_file(path)
        .unwrap()
        .into_dictionary()
        .unwrap()
}

const TEAM_ARGS: &[&str] = &[
    "setreq",
    "--team-id",
    "EXAMPLE123",
    "--app-id",
    "com.example.smbless.app",
    "--helper-id",
    "com.example.smbless.helper",
    "--min-client-version",
    "1.0",
];

#[test]
fn from_signed_products_matches_the_plists() {
    let report = json(smbless().args([
        "setreq",
        "fixtures/apps/Example.app",
        "--testing-treat-as-apple-root",
        TEST_ROOT,
    ]));
    let app_plist = read_plist(&root().join("fixtures/apps/Example.app/Contents/Info.plist"));
    let privileged = app_plist["SMPrivilegedExecutables"]
        .as_dictionary()
        .unwrap();
    assert_eq!(
        report["SMPrivilegedExecutables"]["com.example.smbless.helper"],
        privileged["com.example.smbless.helper"]
            .as_string()
            .unwrap()
    );
    // The helper's SMAuthorizedClients is the app's designated requirement plus downgrade
    // protection, so the derived one is its prefix.
    let helper_plist = read_plist(&root().join("fixtures/src/plists/helper-Info.plist"));
    let written = helper_plist["SMAuthorizedClients"].as_array().unwrap()[0]
        .as_string()
        .unwrap()
        .to_string();
    let derived = report["SMAuthorizedClients"][0].as_str().unwrap();
    assert_eq!(
        written,
        format!("{derived} and info[CFBundleVersion] >= \"1.0\"")
    );
}

#[test]
fn from_team_writes_exactly_what_the_example_was_signed_with() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app-Info.plist");
    let helper = dir.path().join("helper-Info.plist");
    std::fs::copy(root().join("fixtures/src/plists/app-Info.plist"), &app).unwrap();
    std::fs::copy(
        root().join("fixtures/src/plists/helper-Info.plist"),
        &helper,
    )
    .unwrap();
    let report = json(
        smbless()
            .args(TEAM_ARGS)
            .arg("--write")
            .arg(&app)
            .arg(&helper),
    );
    let statuses: Vec<&str> = report["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["unchanged", "unchanged"]);
    // ... and the app built and signed from those plists verifies clean.
    smbless()
        .args([
            "verify",
            "fixtures/apps/Example.app",
            "--testing-treat-as-apple-root",
            TEST_ROOT,
        ])
        .assert()
        .success();
}

#[test]
fn writes_keep_format_and_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    // An app plist without the key (XML) and a helper plist in binary form with a stale entry.
    let mut app_dict = read_plist(&root().join("fixtures/src/plists/app-Info.plist"));
    app_dict.remove("SMPrivilegedExecutables");
    let app = dir.path().join("Info.plist");
    plist::Value::Dictionary(app_dict.clone())
        .to_file_xml(&app)
        .unwrap();
    let mut helper_dict = read_plist(&root().join("fixtures/src/plists/helper-Info.plist"));
    helper_dict.insert(
        "SMAuthorizedClients".into(),
        plist::Value::Array(vec!["identifier \"stale\"".into()]),
    );
    let helper = dir.path().join("Helper-Info.plist");
    plist::Value::Dictionary(helper_dict.clone())
        .to_file_binary(&helper)
        .unwrap();

    let report = json(
        smbless()
            .args(TEAM_ARGS)
            .arg("--write")
            .arg(&app)
            .arg(&helper),
    );
    assert_eq!(report["written"][0]["status"], "updated");
    assert_eq!(report["written"][1]["status"], "updated");

    assert!(std::fs::read(&helper).unwrap().starts_with(b"bplist00"));
    assert!(std::fs::read(&app).unwrap().starts_with(b"<?xml"));
    let new_app = read_plist(&app);
    for (key, value) in &app_dict {
        assert_eq!(new_app.get(key), Some(value), "{key} kept");
    }
    assert_eq!(
        new_app["SMPrivilegedExecutables"].as_dictionary().unwrap()["com.example.smbless.helper"]
            .as_string(),
        report["SMPrivilegedExecutables"]["com.example.smbless.helper"].as_str()
    );
    let new_helper = read_plist(&helper);
    assert_eq!(
        new_helper["CFBundleVersion"],
        helper_dict["CFBundleVersion"]
    );
    assert_eq!(
        new_helper["SMAuthorizedClients"].as_array().unwrap()[0]
            .as_string()
            .unwrap(),
        report["SMAuthorizedClients"][0].as_str().unwrap()
    );
    // Idempotent.
    let again = json(
        smbless()
            .args(TEAM_ARGS)
            .arg("--write")
            .arg(&app)
            .arg(&helper),
    );
    assert_eq!(again["written"][0]["status"], "unchanged");
    assert_eq!(again["written"][1]["status"], "unchanged");
}

#[test]
fn refusals() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.plist");
    let other = dir.path().join("other.plist");
    std::fs::copy(root().join("fixtures/src/plists/app-Info.plist"), &app).unwrap();
    std::fs::copy(root().join("fixtures/src/plists/app-Info.plist"), &other).unwrap();
    // A "helper" plist whose identifier names no helper.
    smbless()
        .args(TEAM_ARGS)
        .arg("--write")
        .arg(&app)
        .arg(&other)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "CFBundleIdentifier is \"com.example.smbless.app\"; expected one of the helpers",
        ));
    // An unsigned helper has no designated requirement to copy.
    smbless()
        .args(["setreq", "fixtures/contract/helper-unsigned.app"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no designated requirement"));
    // Neither a product nor a team.
    smbless().args(["setreq"]).assert().code(2);
    // A team ID that would inject requirement syntax.
    smbless()
        .args([
            "setreq",
            "--team-id",
            "X) or (always",
            "--app-id",
            "a",
            "--helper-id",
            "h",
        ])
        .assert()
        .code(2);
}
