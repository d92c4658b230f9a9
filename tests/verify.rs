//! `smbless verify` over the contract fixtures (fixtures/contract, one broken SMJobBless rule
//! per bundle, built by scripts/make-fixtures): every finding id is produced, each case's JSON
//! report matches its golden file in tests/data/verify, and the bundled example is clean.
//!
//! Regenerate the golden files after an intended change with
//! `SMBLESS_UPDATE_GOLDEN=1 cargo test --test verify`, and review the diff.

use std::collections::BTreeSet;
use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

mod golden_support;
mod run_support;

const TEST_ROOT: &str = "fixtures/src/pki/root.pem";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run verify from the repository root (so paths in reports are relative and stable).
fn verify(app: &str, extra: &[&str]) -> (i32, Vec<u8>, String) {
    let output = Command::cargo_bin("smbless")
        .unwrap()
        .current_dir(root())
        .arg("verify")
        .arg(app)
        .args(["--testing-treat-as-apple-root", TEST_ROOT])
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn verify_json(app: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = verify(app, &args);
    let json = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("{app}: not JSON ({e}); stderr: {stderr}"));
    (code, json)
}

fn ids(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn golden(name: &str, report: &Value) {
    let path = root()
        .join("tests/data/verify")
        .join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(report).unwrap() + "\n";
    if golden_support::update_golden() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with SMBLESS_UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        text,
        expected,
        "{name}: report differs from {}",
        path.display()
    );
}

/// Each contract fixture, the finding ids it must produce (exactly), and whether it is ok.
const CASES: &[(&str, &[&str], bool)] = &[
    ("app-signature-invalid", &["app-signature-invalid"], false),
    ("app-wrong-team", &["client-requirement-unsatisfied"], false),
    (
        "authorized-clients-missing",
        &["authorized-clients-missing"],
        false,
    ),
    (
        "bundle-identifier-mismatch",
        &["bundle-identifier-mismatch"],
        false,
    ),
    (
        "bundle-version-malformed",
        &["bundle-version-invalid"],
        false,
    ),
    ("bundle-version-missing", &["bundle-version-invalid"], false),
    (
        "helper-adhoc",
        &["adhoc-signature", "helper-requirement-unsatisfied"],
        false,
    ),
    ("helper-dir-missing", &["helper-dir-missing"], false),
    ("helper-not-file", &["helper-not-file"], false),
    ("helper-tampered", &["helper-signature-invalid"], false),
    (
        "helper-unsigned",
        &["helper-requirement-unsatisfied", "helper-signature-invalid"],
        false,
    ),
    (
        "helper-wrong-team",
        &["helper-requirement-unsatisfied"],
        false,
    ),
    (
        "info-dictionary-version",
        &["info-dictionary-version"],
        false,
    ),
    ("info-plist-missing", &["info-plist-missing"], false),
    ("label-mismatch", &["label-mismatch"], false),
    ("launchd-plist-missing", &["launchd-plist-missing"], false),
    // The launchd key policy: refusals are errors, the rest warnings.
    ("launchd-bundle-program", &["launchd-bundle-program"], false),
    (
        "launchd-loader-environment",
        &["launchd-loader-environment"],
        false,
    ),
    ("launchd-root-directory", &["launchd-root-directory"], false),
    (
        "launchd-working-directory",
        &["launchd-working-directory"],
        false,
    ),
    (
        "launchd-enable-globbing",
        &["launchd-enable-globbing"],
        false,
    ),
    ("launchd-user-name", &["launchd-user-name"], true),
    ("launchd-group-name", &["launchd-group-name"], true),
    (
        "launchd-standard-io-path",
        &["launchd-standard-io-path"],
        true,
    ),
    ("launchd-launch-on-path", &["launchd-launch-on-path"], true),
    (
        "launchd-mach-service-name",
        &["launchd-mach-service-name"],
        true,
    ),
    ("launchd-socket-path", &["launchd-socket-path"], true),
    ("launchd-network-socket", &["launchd-network-socket"], true),
    ("launchd-umask", &["launchd-umask"], true),
    (
        "launchservices-extra-entry",
        &["launchservices-entry-unnamed"],
        true,
    ),
    (
        "no-downgrade-protection",
        &["no-downgrade-protection"],
        true,
    ),
    ("no-helpers", &["no-helpers"], false),
    (
        "no-team-pinning",
        &["no-downgrade-protection", "no-team-pinning"],
        true,
    ),
    (
        "privileged-executables-mismatch",
        &[
            "launchservices-entry-unnamed",
            "privileged-executables-mismatch",
        ],
        false,
    ),
    (
        "privileged-executables-missing",
        &["privileged-executables-missing"],
        false,
    ),
    (
        "program-key-ignored",
        &["not-on-demand", "program-key-ignored"],
        true,
    ),
    ("requirement-syntax", &["requirement-syntax"], false),
    ("slices-disagree", &["slices-disagree"], false),
    // The first SMAppService layout (issue 12): an Intel-only daemon without the hardened
    // runtime, whose Info.plist still carries SMAuthorizedClients.
    (
        "smappservice-layout",
        &[
            "authorized-clients-ignored",
            "bundle-program-intel-only",
            "bundle-program-not-hardened",
        ],
        true,
    ),
    (
        "two-helpers-one-mismatch",
        &["label-mismatch", "launchd-mach-service-name"],
        false,
    ),
    ("unreachable-helper", &["unreachable"], true),
    // --- SMAppService daemons and agents (scripts/fixtures/service-apps.sh) ----------------------
    ("smappservice-good", &[], true),
    (
        "service-plist-unreadable",
        &["service-plist-unreadable"],
        false,
    ),
    ("service-label-missing", &["service-label-missing"], false),
    (
        "service-label-duplicate",
        &["service-label-duplicate"],
        false,
    ),
    ("bundle-program-missing", &["bundle-program-missing"], false),
    (
        "bundle-program-outside-bundle",
        &["bundle-program-outside-bundle"],
        false,
    ),
    (
        "bundle-program-not-found",
        &["bundle-program-not-found"],
        false,
    ),
    (
        "bundle-program-not-file",
        &["bundle-program-not-file"],
        false,
    ),
    (
        "bundle-program-unsigned",
        &["bundle-program-unsigned"],
        false,
    ),
    (
        "bundle-program-signature-invalid",
        &["bundle-program-signature-invalid"],
        false,
    ),
    (
        "bundle-program-wrong-team",
        &["bundle-program-wrong-team"],
        false,
    ),
    (
        "bundle-program-intel-only",
        &["bundle-program-intel-only"],
        true,
    ),
    (
        "bundle-program-not-hardened",
        &["bundle-program-not-hardened"],
        true,
    ),
    (
        "bundle-program-get-task-allow",
        &["bundle-program-get-task-allow"],
        true,
    ),
    ("service-program-key", &["service-program-key"], true),
    // A plist dropped in after signing also breaks the app's seal.
    (
        "service-plist-unsealed",
        &["app-signature-invalid", "service-plist-unsealed"],
        false,
    ),
    (
        "associated-bundle-identifiers",
        &["associated-bundle-identifiers"],
        true,
    ),
    (
        "authorized-clients-ignored",
        &["authorized-clients-ignored"],
        true,
    ),
    ("service-unreachable", &["unreachable"], true),
    ("service-not-on-demand", &["not-on-demand"], true),
    (
        "service-loader-environment",
        &["launchd-loader-environment"],
        false,
    ),
    // --- login items ------------------------------------------------------------------------------
    ("login-item-good", &[], true),
    ("login-item-wrong-team", &["login-item-wrong-team"], false),
    // --- migration: both mechanisms in one app ---------------------------------------------------
    ("migration-same-label", &["migration-same-label"], true),
    (
        "migration-requirement-unsatisfied",
        &["migration-requirement-unsatisfied", "migration-same-label"],
        true,
    ),
    ("migration-cleanup", &["migration-cleanup"], true),
];

/// `verify NEW --previous OLD` (fixtures/contract/upgrade): golden name, new build, previous
/// build, the finding ids (exactly), and whether it is ok.
const UPGRADES: &[(&str, &str, &str, &[&str], bool)] = &[
    (
        "upgrade-clean",
        "upgrade/blessed-1.1",
        "upgrade/blessed-1.0",
        &[],
        true,
    ),
    (
        "upgrade-version-not-newer",
        "upgrade/blessed-1.0",
        "upgrade/blessed-1.0",
        &["upgrade-version-not-newer"],
        false,
    ),
    (
        "upgrade-identity-changed",
        "upgrade/blessed-other-identifier",
        "upgrade/blessed-1.0",
        &[
            "upgrade-helper-requirement-unsatisfied",
            "upgrade-identity-changed",
        ],
        false,
    ),
    (
        "upgrade-client-requirement-unsatisfied",
        "upgrade/app-renamed",
        "upgrade/blessed-1.0",
        &["upgrade-client-requirement-unsatisfied"],
        false,
    ),
    (
        "upgrade-label-changed",
        "upgrade/service-relabeled",
        "smappservice-good",
        &["upgrade-label-changed"],
        false,
    ),
    (
        "upgrade-migration",
        "smappservice-good",
        "upgrade/blessed-1.0",
        &["upgrade-job-added", "upgrade-job-removed"],
        true,
    ),
];

#[test]
fn previous_builds_report_each_upgrade_break() {
    for (name, new, old, expected, ok) in UPGRADES {
        let new = format!("fixtures/contract/{new}.app");
        let old = format!("fixtures/contract/{old}.app");
        let (code, report) = verify_json(&new, &["--previous", &old]);
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(ids(&report), expected, "{name}");
        assert_eq!(report["ok"], *ok, "{name}");
        assert_eq!(code, if *ok { 0 } else { 1 }, "{name}: exit code");
        assert_eq!(report["previous"]["path"], old.as_str(), "{name}");
        golden(name, &report);
    }
}

#[test]
fn upgrade_findings_say_what_stops_matching() {
    let (_, report) = verify_json(
        "fixtures/contract/upgrade/blessed-other-identifier.app",
        &["--previous", "fixtures/contract/upgrade/blessed-1.0.app"],
    );
    let changed = finding(&report, "upgrade-identity-changed");
    let message = changed["message"].as_str().unwrap();
    assert!(
        message.contains("identifier com.example.smbless.helper → com.example.smbless.helper.v2"),
        "{message}"
    );
    assert!(message.contains("SMPrivilegedExecutables"), "{message}");
    // Migrating to SMAppService: the blessed helper is removed from the new build, which must
    // say how to clean it up; the daemon and the agent are new.
    let (_, report) = verify_json(
        "fixtures/contract/smappservice-good.app",
        &["--previous", "fixtures/contract/upgrade/blessed-1.0.app"],
    );
    let removed = finding(&report, "upgrade-job-removed");
    assert!(removed["hint"]
        .as_str()
        .unwrap()
        .contains("smbless remove com.example.smbless.helper"));
    let added: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "upgrade-job-added")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(added[0].contains("smappservice-daemon com.example.smbless.daemon"));
    assert!(added[1].contains("smappservice-agent com.example.smbless.agent"));
    // The other formats carry the same ids.
    let (code, stdout, _) = verify(
        "fixtures/contract/upgrade/blessed-1.0.app",
        &[
            "--previous",
            "fixtures/contract/upgrade/blessed-1.0.app",
            "--format",
            "github",
        ],
    );
    assert_eq!(code, 1);
    assert!(String::from_utf8(stdout)
        .unwrap()
        .contains("title=smbless upgrade-version-not-newer::"));
    // A missing previous build is a usage error, not a finding.
    let (code, _, stderr) = verify(
        "fixtures/contract/smappservice-good.app",
        &["--previous", "fixtures/contract/upgrade/Nope.app"],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("Nope.app: no such file or directory"),
        "{stderr}"
    );
}

fn finding<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"))
}

#[test]
fn mechanisms_and_jobs_are_listed() {
    let (_, report) = verify_json("fixtures/contract/smappservice-good.app", &[]);
    assert_eq!(
        report["mechanisms"],
        serde_json::json!(["smappservice-daemon", "smappservice-agent"])
    );
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["kind"], "smappservice-daemon");
    assert_eq!(jobs[0]["label"], "com.example.smbless.daemon");
    assert_eq!(
        jobs[0]["plist"],
        "fixtures/contract/smappservice-good.app/Contents/Library/LaunchDaemons/com.example.smbless.daemon.plist"
    );
    assert_eq!(
        jobs[0]["program"],
        "fixtures/contract/smappservice-good.app/Contents/Resources/com.example.smbless.daemon"
    );
    assert_eq!(jobs[0]["version"], "1.0");
    assert_eq!(jobs[0]["team_id"], "EXAMPLE123");
    assert!(jobs[0]["designated_requirement"]
        .as_str()
        .unwrap()
        .contains("identifier \"com.example.smbless.daemon\""));
    // The agent's plist is a binary plist.
    assert_eq!(jobs[1]["kind"], "smappservice-agent");
    assert_eq!(jobs[1]["label"], "com.example.smbless.agent");
    // An SMJobBless app lists its helper as a job too.
    let (_, report) = verify_json("fixtures/contract/migration-cleanup.app", &[]);
    assert_eq!(
        report["mechanisms"],
        serde_json::json!(["smjobbless", "smappservice-daemon"])
    );
    let kinds: Vec<&str> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["smjobbless", "smappservice-daemon"]);
    assert_eq!(report["jobs"][0]["plist"], Value::Null);
}

#[test]
fn login_items_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("A.app");
    copy_dir(
        &root().join("fixtures/contract/smappservice-good.app"),
        &app,
    );
    copy_dir(
        &root().join("fixtures/apps/Example.app"),
        &app.join("Contents/Library/LoginItems/Example.app"),
    );
    let (_, report) = verify_json(app.to_str().unwrap(), &[]);
    assert_eq!(
        report["mechanisms"],
        serde_json::json!(["smappservice-daemon", "smappservice-agent", "login-item"])
    );
    let item = &report["jobs"][2];
    assert_eq!(item["kind"], "login-item");
    assert_eq!(item["label"], "com.example.smbless.app");
    assert_eq!(item["version"], "1.0");
    // Added after the app was signed: the app's seal no longer holds.
    assert!(ids(&report).contains("app-signature-invalid"));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn an_installed_blessed_helper_blocks_the_daemon_with_the_exact_removal_command() {
    let dir = tempfile::tempdir().unwrap();
    let staging = std::fs::canonicalize(dir.path()).unwrap();
    let staging = staging.to_str().unwrap();
    // Without anything installed, the migrating app only carries the migration warning.
    let (code, report) = verify_json(
        "fixtures/contract/migration-same-label.app",
        &["--root", staging],
    );
    assert_eq!(code, 0, "{report}");
    assert!(!ids(&report).contains("migration-installed-helper"));
    // Bless the old SMJobBless build into the staging root.
    let out = Command::cargo_bin("smbless")
        .unwrap()
        .current_dir(root())
        .args(["bless", "fixtures/apps/Example.app", "--root", staging])
        .args(["--testing-treat-as-apple-root", TEST_ROOT])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, report) = verify_json(
        "fixtures/contract/migration-same-label.app",
        &["--root", staging],
    );
    assert_eq!(code, 1, "{report}");
    let found = finding(&report, "migration-installed-helper");
    assert_eq!(found["severity"], "error");
    assert_eq!(
        found["path"],
        format!("{staging}/Library/LaunchDaemons/com.example.smbless.helper.plist").as_str()
    );
    assert!(found["message"]
        .as_str()
        .unwrap()
        .contains("com.example.smbless.helper 1.0"));
    assert_eq!(
        found["hint"],
        format!("remove it first, as root: `smbless remove com.example.smbless.helper --root {staging}`").as_str()
    );
    // The app carrying only SMAppService daemons of other labels is not blocked.
    let (_, report) = verify_json(
        "fixtures/contract/smappservice-good.app",
        &["--root", staging],
    );
    assert!(!ids(&report).contains("migration-installed-helper"));
}

#[test]
fn every_contract_fixture_reports_its_findings() {
    for (name, expected, ok) in CASES {
        let app = format!("fixtures/contract/{name}.app");
        let (code, report) = verify_json(&app, &[]);
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(ids(&report), expected, "{name}");
        assert_eq!(report["ok"], *ok, "{name}");
        assert_eq!(code, if *ok { 0 } else { 1 }, "{name}: exit code");
        for finding in report["findings"].as_array().unwrap() {
            for key in ["id", "severity", "path", "message", "hint"] {
                assert!(
                    finding[key].is_string(),
                    "{name}: finding without {key}: {finding}"
                );
            }
        }
        golden(name, &report);
    }
}

#[test]
fn the_bundled_example_is_clean() {
    let (code, report) = verify_json("fixtures/apps/Example.app", &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["findings"], Value::Array(vec![]));
    assert_eq!(report["app"]["identifier"], "com.example.smbless.app");
    let helper = &report["helpers"][0];
    assert_eq!(helper["label"], "com.example.smbless.helper");
    assert_eq!(helper["version"], "1.0");
    assert_eq!(helper["action"], Value::Null);
    assert!(helper["designated_requirement"]
        .as_str()
        .unwrap()
        .contains("certificate leaf[subject.OU] = EXAMPLE123"));
    golden("Example", &report);
}

#[test]
fn without_the_test_root_nothing_is_trusted() {
    // The fixtures are signed by a test PKI: with only Apple's real roots the signatures are
    // valid (the test root is an implicit anchor, as on macOS) but `anchor apple generic`
    // cannot hold, so neither side satisfies the other's requirement.
    let output = Command::cargo_bin("smbless")
        .unwrap()
        .current_dir(root())
        .args(["verify", "fixtures/apps/Example.app", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let found = ids(&report);
    assert!(!found.contains("app-signature-invalid"), "{found:?}");
    assert!(
        found.contains("helper-requirement-unsatisfied"),
        "{found:?}"
    );
    assert!(
        found.contains("client-requirement-unsatisfied"),
        "{found:?}"
    );
}

#[test]
fn installed_helpers_predict_the_action() {
    let cases: &[(&str, &str, Option<&str>, &[&str])] = &[
        ("helper-0.9", "upgrade from 0.9 to 1.0", Some("0.9"), &[]),
        ("helper-1.0", "no change: installed 1.0 ≥ bundled 1.0", Some("1.0"), &["version-not-newer"]),
        ("helper-2.0", "no change: installed 2.0 ≥ bundled 1.0", Some("2.0"), &["version-not-newer"]),
        (
            "helper-0.9-other-clients",
            "refuse: [installed-client-requirement-unsatisfied] fixtures/apps/Example.app does not satisfy the SMAuthorizedClients of the installed com.example.smbless.helper, so it may not replace it",
            Some("0.9"),
            &["installed-client-requirement-unsatisfied"],
        ),
    ];
    for (installed, action, version, expected) in cases {
        let path = format!("fixtures/contract/installed/{installed}");
        let (code, report) = verify_json("fixtures/apps/Example.app", &["--installed", &path]);
        assert_eq!(report["helpers"][0]["action"], *action, "{installed}");
        assert_eq!(
            report["helpers"][0]["installed_version"].as_str(),
            *version,
            "{installed}"
        );
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(ids(&report), expected, "{installed}");
        let errors = expected.iter().any(|id| id.starts_with("installed-"));
        assert_eq!(code, if errors { 1 } else { 0 }, "{installed}");
    }
    // --root: nothing installed there yet.
    let empty = tempfile::tempdir().unwrap();
    let (code, report) = verify_json(
        "fixtures/apps/Example.app",
        &["--root", empty.path().to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert!(report["helpers"][0]["action"]
        .as_str()
        .unwrap()
        .starts_with("install"));
}

#[test]
fn every_finding_id_is_produced_by_some_fixture() {
    let mut seen = BTreeSet::new();
    for (_, expected, _) in CASES {
        seen.extend(expected.iter().map(|s| s.to_string()));
    }
    for (_, _, _, expected, _) in UPGRADES {
        seen.extend(expected.iter().map(|s| s.to_string()));
    }
    seen.insert("installed-client-requirement-unsatisfied".into());
    seen.insert("version-not-newer".into());
    seen.insert("migration-installed-helper".into()); // with --root, tested above
                                                      // The ids the issue lists, plus the ones smbless adds.
    let listed = [
        "app-not-bundle",
        "app-signature-invalid",
        "helper-dir-missing",
        "no-helpers",
        "helper-not-file",
        "helper-signature-invalid",
        "privileged-executables-missing",
        "privileged-executables-mismatch",
        "helper-requirement-unsatisfied",
        "requirement-syntax",
        "info-plist-missing",
        "bundle-identifier-mismatch",
        "info-dictionary-version",
        "bundle-version-invalid",
        "authorized-clients-missing",
        "client-requirement-unsatisfied",
        "launchd-plist-missing",
        "label-mismatch",
        "slices-disagree",
        "no-team-pinning",
        "no-downgrade-protection",
        "adhoc-signature",
        "program-key-ignored",
        "installed-client-requirement-unsatisfied",
        "version-not-newer",
        "launchd-bundle-program",
        "launchd-loader-environment",
        "launchd-root-directory",
        "launchd-working-directory",
        "launchd-enable-globbing",
        "launchd-user-name",
        "launchd-group-name",
        "launchd-standard-io-path",
        "launchd-launch-on-path",
        "launchd-mach-service-name",
        "launchd-socket-path",
        "launchd-network-socket",
        "launchd-umask",
        // issue 13: SMAppService, migration, upgrade
        "service-plist-unreadable",
        "service-label-missing",
        "service-label-duplicate",
        "bundle-program-missing",
        "bundle-program-outside-bundle",
        "bundle-program-not-found",
        "bundle-program-not-file",
        "bundle-program-unsigned",
        "bundle-program-signature-invalid",
        "bundle-program-wrong-team",
        "bundle-program-intel-only",
        "bundle-program-not-hardened",
        "bundle-program-get-task-allow",
        "service-program-key",
        "service-plist-unsealed",
        "associated-bundle-identifiers",
        "authorized-clients-ignored",
        "login-item-wrong-team",
        "migration-same-label",
        "migration-requirement-unsatisfied",
        "migration-installed-helper",
        "migration-cleanup",
        "upgrade-label-changed",
        "upgrade-identity-changed",
        "upgrade-version-not-newer",
        "upgrade-client-requirement-unsatisfied",
        "upgrade-helper-requirement-unsatisfied",
        "upgrade-job-removed",
        "upgrade-job-added",
    ];
    // app-not-bundle needs no fixture: any directory without Contents/ (tested below).
    for id in listed.iter().filter(|id| **id != "app-not-bundle") {
        assert!(seen.contains(*id), "no fixture produces {id}");
    }
}

#[test]
fn not_a_bundle_and_missing_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = verify_json(dir.path().to_str().unwrap(), &[]);
    assert_eq!(code, 1);
    assert_eq!(ids(&report), BTreeSet::from(["app-not-bundle".to_string()]));

    let missing = dir.path().join("Nope.app");
    let (code, _, stderr) = verify(missing.to_str().unwrap(), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no such file or directory"), "{stderr}");
}

#[test]
fn strict_mode_adds_string_equality() {
    // Example.app's plists hold exactly the designated requirements, except that the
    // helper's SMAuthorizedClients adds downgrade protection to the app's DR.
    let (code, report) = verify_json("fixtures/apps/Example.app", &["--strict"]);
    assert_eq!(code, 1);
    let strict: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "strict-requirement-mismatch")
        .collect();
    assert_eq!(strict.len(), 1, "{report}");
    assert!(strict[0]["message"]
        .as_str()
        .unwrap()
        .contains("SMAuthorizedClients[0]"));
}

#[test]
fn label_filter() {
    let (_, report) = verify_json(
        "fixtures/contract/two-helpers-one-mismatch.app",
        &["--label", "com.example.smbless.helper"],
    );
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["helpers"].as_array().unwrap().len(), 1);
    let (code, report) = verify_json("fixtures/apps/Example.app", &["--label", "com.nope"]);
    assert_eq!(code, 1);
    assert_eq!(
        ids(&report),
        BTreeSet::from(["privileged-executables-mismatch".to_string()])
    );
}

#[test]
fn github_annotations_and_sarif() {
    let (code, stdout, _) = verify(
        "fixtures/contract/helper-wrong-team.app",
        &["--format", "github"],
    );
    assert_eq!(code, 1);
    let text = String::from_utf8(stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("::error file=fixtures/contract/helper-wrong-team.app/Contents/Library/LaunchServices/com.example.smbless.helper,title=smbless helper-requirement-unsatisfied::"), "{first}");
    assert!(!first.contains('\n'));
    assert!(
        first.contains("%0Ahint: "),
        "multi-line messages are escaped: {first}"
    );

    let (code, stdout, _) = verify(
        "fixtures/contract/no-team-pinning.app",
        &["--format", "sarif"],
    );
    assert_eq!(code, 0);
    let sarif: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "no-team-pinning"));
    let results = run["results"].as_array().unwrap();
    // Both requirements lack team pinning; the client requirement also lacks downgrade protection.
    assert_eq!(results.len(), 3);
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(result["level"], "warning");
        assert!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
    }
}

#[test]
fn human_output_explains_with_a_tree() {
    Command::cargo_bin("smbless")
        .unwrap()
        .current_dir(root())
        .args(["verify", "fixtures/contract/helper-wrong-team.app"])
        .args(["--testing-treat-as-apple-root", TEST_ROOT])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[helper-requirement-unsatisfied]",
        ))
        .stdout(predicate::str::contains(
            "certificate leaf[subject.OU] is \"OTHERTEAM1\", required \"EXAMPLE123\"",
        ))
        .stdout(predicate::str::contains("= hint: "))
        .stdout(predicate::str::contains("FAILED: 1 error"));
}

#[test]
fn an_entry_smprivilegedexecutables_does_not_name_is_a_warning_an_error_under_strict() {
    // SMJobBless installs only the label asked for: a bundle beside the helper is ignored, and
    // not judged as a helper.
    let app = "fixtures/contract/launchservices-extra-entry.app";
    let (code, report) = verify_json(app, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["helpers"].as_array().unwrap().len(), 1);
    let finding = &report["findings"][0];
    assert_eq!(finding["id"], "launchservices-entry-unnamed");
    assert_eq!(finding["severity"], "warning");
    assert!(finding["message"]
        .as_str()
        .unwrap()
        .contains("LaunchServices/Extras.bundle"));
    let (code, report) = verify_json(app, &["--strict"]);
    assert_eq!(code, 1, "{report}");
    let strict: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "launchservices-entry-unnamed")
        .collect();
    assert_eq!(strict.len(), 1);
    assert_eq!(strict[0]["severity"], "error");
}

#[test]
fn register_check_and_verify_share_one_implementation() {
    use smbless::codesign::trust::{AnchorKind, Anchors};
    use smbless::service_management::{check_daemon, PreflightOptions};
    let mut anchors = Anchors::empty();
    let pem = std::fs::read(root().join(TEST_ROOT)).unwrap();
    anchors
        .add_pem(&pem, AnchorKind::TestApple, "root.pem")
        .unwrap();
    let options = PreflightOptions {
        signature: smbless::codesign::VerifyOptions {
            anchors,
            at: None,
            threads: 0,
        },
        label: None,
    };
    for name in [
        "smappservice-good",
        "service-plist-unreadable",
        "service-label-missing",
        "bundle-program-missing",
        "bundle-program-outside-bundle",
        "bundle-program-not-found",
        "bundle-program-not-file",
        "bundle-program-unsigned",
        "bundle-program-signature-invalid",
    ] {
        let app = format!("fixtures/contract/{name}.app");
        // Relative, as verify is run (the test runs in the package's directory).
        let preflight = check_daemon(
            std::path::Path::new(&app),
            "com.example.smbless.daemon.plist",
            &options,
        );
        let (_, report) = verify_json(&app, &[]);
        // The pre-flight speaks of daemons; verify of daemons and agents.
        let preflight: Vec<(String, String)> = preflight
            .findings
            .iter()
            .map(|f| {
                let id = f.id.as_str().replace("daemon-", "service-");
                (id, f.message.clone())
            })
            .collect();
        let verified: Vec<(String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_string(),
                    f["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(preflight, verified, "{name}");
    }
}

/// "Never a hang": a FIFO where a bundle file should be (here the seal,
/// `Contents/_CodeSignature/CodeResources`) is reported by `verify` and `signature verify`
/// within seconds, never waited on.
#[test]
fn a_fifo_in_the_bundle_is_reported_not_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("Example.app");
    copy_dir(&root().join("fixtures/apps/Example.app"), &app);
    let seal = app.join("Contents/_CodeSignature/CodeResources");
    std::fs::remove_file(&seal).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&seal)
        .status()
        .unwrap()
        .success());
    for args in [
        vec!["verify", app.to_str().unwrap()],
        vec!["signature", "verify", app.to_str().unwrap()],
    ] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("smbless"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let what = format!("{args:?} on a bundle with a FIFO");
        let status =
            run_support::wait_or_kill(&mut child, std::time::Duration::from_secs(20), &what);
        assert!(!status.success(), "{args:?}");
    }
}

/// "Never a panic": printing into a closed pipe (`smbless verify … | head`) ends the command
/// quietly, as C tools end, instead of panicking in `println!`.
#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("smbless"))
        .args([
            "verify",
            root().join("fixtures/apps/Example.app").to_str().unwrap(),
            "--testing-treat-as-apple-root",
            root().join("fixtures/src/pki/root.pem").to_str().unwrap(),
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
