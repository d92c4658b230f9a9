//! `smbless audit` over staged systems laid out by `scripts/fixtures/audit-roots` from the
//! committed fixtures (fixtures/audit, fixtures/apps, fixtures/contract): each case's JSON report
//! matches its golden file in tests/data/audit, every finding id is produced by some case, the
//! SARIF and GitHub outputs have the shapes `verify` uses, and exit codes are 0/1/2.
//!
//! Regenerate the golden files after an intended change with
//! `SMBLESS_UPDATE_GOLDEN=1 cargo test --test audit`, and review the diff. The roots are laid
//! out with root:wheel owners, so the tests expect to run as root (as CI does).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process;

use assert_cmd::Command;
use serde_json::Value;

mod golden_support;

const TEST_ROOT: &str = "fixtures/src/pki/root.pem";
const CASES: &[&str] = &[
    "clean",
    "orphan",
    "plist-without-program",
    "file-safety",
    "client-check",
    "smappservice",
    "x86_64-only",
    "signature",
    "weak-clients",
    "launchd-keys",
    "unreadable",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Lay out `cases` in a fresh temporary directory.
fn staged(cases: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = process::Command::new(repo().join("scripts/fixtures/audit-roots"))
        .arg(dir.path())
        .args(cases)
        .status()
        .unwrap();
    assert!(status.success(), "audit-roots failed");
    dir
}

/// Run `smbless audit --root ROOT` with the test PKI's root as Apple's.
fn audit(root: &Path, extra: &[&str]) -> (i32, Vec<u8>) {
    let output = Command::cargo_bin("smbless")
        .unwrap()
        .current_dir(repo())
        .arg("audit")
        .arg("--root")
        .arg(root)
        .args(["--testing-treat-as-apple-root", TEST_ROOT])
        .args(extra)
        .output()
        .unwrap();
    (output.status.code().unwrap_or(-1), output.stdout)
}

fn json_report(root: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout) = audit(root, &args);
    let mut value: Value = serde_json::from_slice(&stdout).unwrap();
    value["root"] = Value::String("ROOT".into());
    (code, value)
}

fn ids(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn golden_reports() {
    let dir = staged(CASES);
    let update = golden_support::update_golden();
    for case in CASES {
        let (code, report) = json_report(&dir.path().join(case), &[]);
        let errors = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "error");
        assert_eq!(code, i32::from(errors), "{case}: exit code");
        let path = repo().join(format!("tests/data/audit/{case}.json"));
        let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
        if update {
            std::fs::write(&path, text).unwrap();
        } else {
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                text,
                golden,
                "{case}: report differs from {}",
                path.display()
            );
        }
    }
}

#[test]
fn every_finding_id_has_a_case() {
    let dir = staged(CASES);
    let mut seen = BTreeSet::new();
    for case in CASES {
        seen.extend(ids(&json_report(&dir.path().join(case), &[]).1));
    }
    let (_, sarif) = audit(&dir.path().join("clean"), &["--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&sarif).unwrap();
    let all: BTreeSet<String> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "ids no case produces: {missing:?}");
    assert!(seen.is_subset(&all), "ids missing from the rules table");
}

#[test]
fn clean_install_has_no_finding_and_knows_its_app() {
    let dir = staged(&["clean"]);
    let (code, report) = json_report(&dir.path().join("clean"), &[]);
    assert_eq!(code, 0);
    assert_eq!(report["findings"], Value::Array(vec![]));
    let job = &report["jobs"][0];
    assert_eq!(job["source"], "launch-daemon");
    assert_eq!(job["owner_app"], "/Applications/Example.app");
    assert_eq!(job["signature"]["kind"], "developer-id");
    assert_eq!(job["signature"]["trust"], "apple");
    assert_eq!(job["signature"]["team"], "EXAMPLE123");
    assert_eq!(job["client_check"]["verdict"], "code-signing");
    assert_eq!(report["jobs"][1]["source"], "bundled-helper");
}

#[test]
fn deep_hashes_pages_and_finds_the_changed_code() {
    let dir = staged(&["signature"]);
    let root = dir.path().join("signature");
    let invalid = |report: &Value| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"] == "program-signature-invalid")
            .map(|f| f["label"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, shallow) = json_report(&root, &[]);
    assert_eq!(invalid(&shallow), ["com.example.tampered-cms"]);
    let (_, deep) = json_report(&root, &["--deep"]);
    assert_eq!(deep["deep"], true);
    assert_eq!(
        invalid(&deep),
        ["com.example.tampered-cms", "com.example.tampered-code"]
    );
}

#[test]
fn min_severity_decides_the_exit_code() {
    let dir = staged(&["orphan"]);
    let root = dir.path().join("orphan");
    // Only warnings: clean at the default (error), failing at warning.
    assert_eq!(audit(&root, &[]).0, 0);
    assert_eq!(audit(&root, &["--min-severity", "warning"]).0, 1);
    assert_eq!(audit(&root, &["--min-severity", "info"]).0, 1);
}

#[test]
fn could_not_run_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _) = audit(&dir.path().join("missing"), &[]);
    assert_eq!(code, 2);
    // A root that is a symbolic link is refused, not followed.
    std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
    assert_eq!(audit(&dir.path().join("link"), &[]).0, 2);
}

#[test]
fn sarif_has_the_verify_shape() {
    let dir = staged(&["signature"]);
    let (code, stdout) = audit(&dir.path().join("signature"), &["--format", "sarif"]);
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "smbless");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for rule in rules {
        assert!(rule["id"].is_string());
        assert!(rule["shortDescription"]["text"].is_string());
        let level = rule["defaultConfiguration"]["level"].as_str().unwrap();
        assert!(["error", "warning", "note"].contains(&level), "{level}");
    }
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert!(result["message"]["text"].is_string());
        let uri = &result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert!(uri.as_str().unwrap().starts_with("/Library/"), "{uri}");
        assert!(result["fixes"][0]["description"]["text"].is_string());
    }
}

#[test]
fn github_annotations() {
    let dir = staged(&["plist-without-program"]);
    let (code, stdout) = audit(
        &dir.path().join("plist-without-program"),
        &["--format", "github"],
    );
    assert_eq!(code, 0);
    let text = String::from_utf8(stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("::warning file=/Library/LaunchDaemons/com.example.noprogram.plist,title=smbless plist-without-program com.example.noprogram::"), "{}", lines[0]);
    assert!(lines[0].contains("%0Ahint: "));
    assert!(lines
        .last()
        .unwrap()
        .starts_with("smbless audit: ok — 3 job(s), 2 finding(s)"));
}

#[test]
fn human_report_names_jobs_findings_and_hints() {
    let dir = staged(&["orphan"]);
    let (code, stdout) = audit(&dir.path().join("orphan"), &[]);
    assert_eq!(code, 0);
    let text = String::from_utf8(stdout).unwrap();
    assert!(
        text.contains("com.example.smbless.stray (privileged-helper)"),
        "{text}"
    );
    assert!(text.contains("warning[helper-without-plist]"));
    assert!(text.contains(
        "= hint: if nothing needs it: sudo rm -f '/Library/PrivilegedHelperTools/com.example.smbless.stray'"
    ));
    assert!(text.contains("sudo launchctl bootout 'system/com.example.smbless.helper'; sudo rm -f '/Library/LaunchDaemons/com.example.smbless.helper.plist' '/Library/PrivilegedHelperTools/com.example.smbless.helper'"));
    assert!(text.ends_with("ok: 0 error(s), 3 warning(s), 0 info (failing at error)\n"));
}

/// A link where a directory of the path should be is reported and not followed: the helper
/// directory pointing at a tree the attacker controls yields no job from that tree.
#[test]
fn linked_directories_are_not_followed() {
    let dir = staged(&["clean"]);
    let root = dir.path().join("clean");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::rename(root.join("Library/PrivilegedHelperTools"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("Library/PrivilegedHelperTools")).unwrap();
    let (code, report) = json_report(&root, &[]);
    assert_eq!(code, 1);
    let findings = report["findings"].as_array().unwrap();
    let linked = findings
        .iter()
        .find(|f| f["id"] == "path-user-writable")
        .unwrap();
    assert!(linked["message"]
        .as_str()
        .unwrap()
        .contains("/Library/PrivilegedHelperTools is a symbolic link"));
    assert!(
        report["jobs"][0]["signature"].is_null(),
        "the program was not read"
    );
}

#[test]
fn library_reports_typed_ids() {
    use smbless::audit::{self, AuditOptions, AuditRule, FindingId};
    use smbless::codesign::VerifyOptions;
    let dir = staged(&["client-check"]);
    let report = audit::audit(
        &dir.path().join("client-check"),
        &AuditOptions::new(VerifyOptions::apple().unwrap()),
    )
    .unwrap();
    let pid = report
        .findings
        .iter()
        .find(|f| f.id == FindingId::Audit(AuditRule::PidBasedClientCheck))
        .unwrap();
    assert_eq!(pid.label.as_deref(), Some("com.example.pid"));
    assert!(pid.message.starts_with("heuristic: "));
    let job = &report.jobs[pid.job];
    assert_eq!(
        job.client_check.as_ref().unwrap().evidence,
        ["xpc_connection_get_pid"]
    );
    let nsxpc = report
        .jobs
        .iter()
        .find(|j| j.label.as_deref() == Some("com.example.nsxpc"))
        .unwrap();
    assert_eq!(
        nsxpc.client_check.as_ref().unwrap().evidence,
        ["-setCodeSigningRequirement:"]
    );
    // Without the test root, the test PKI's code is valid (an implicit anchor) but not trusted.
    let checks = &report.jobs[0];
    let sig = checks.signature.as_ref().unwrap();
    assert!(sig.valid);
    assert_eq!(sig.trust.as_str(), "self-signed");
}

/// Audited by a user who cannot read a job directory: the report says what it could not read
/// instead of passing over it, and the rest is still audited.
#[test]
fn unreadable_directories_are_reported_as_incomplete() {
    let dir = staged(&["orphan"]);
    let root = dir.path().join("orphan");
    let daemons = root.join("Library/LaunchDaemons");
    std::fs::set_permissions(
        &daemons,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    // The temporary directory itself must be searchable by nobody.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let output = process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("smbless"))
        .args(["audit", "--format", "json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let incomplete = report["incomplete"].as_array().unwrap();
    assert_eq!(incomplete.len(), 1, "{incomplete:?}");
    let note = incomplete[0].as_str().unwrap();
    assert!(
        note.starts_with("/Library/LaunchDaemons: opening directory: Permission denied"),
        "{note}"
    );
    // The helper directory was still read, but without the daemon plists nobody can say that
    // no plist runs a helper.
    let sources: Vec<&str> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["privileged-helper", "privileged-helper"]);
    assert!(!ids(&report).contains("helper-without-plist"));
}

/// Finder's `.DS_Store` in an app's `Library/LaunchServices` is not taken for a helper.
#[test]
fn ds_store_is_no_bundled_helper() {
    let dir = tempfile::tempdir().unwrap();
    let apps = dir.path().join("Applications");
    std::fs::create_dir(&apps).unwrap();
    let status = process::Command::new("cp")
        .arg("-R")
        .arg(repo().join("fixtures/contract/no-helpers.app"))
        .arg(&apps)
        .status()
        .unwrap();
    assert!(status.success());
    let (code, report) = json_report(dir.path(), &[]);
    assert_eq!(code, 0);
    assert_eq!(report["jobs"], Value::Array(vec![]));
}
