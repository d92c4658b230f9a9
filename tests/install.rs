//! `smbless bless`, `remove`, `status` against the real checks (signatures, requirements, the
//! contract) and the real fixture apps, in temporary `--root` directories. The "installed"
//! helpers are the signed ones in `fixtures/contract/installed/` (0.9, 1.0, 2.0, and 0.9 whose
//! `SMAuthorizedClients` pins another team).

#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

mod run_support;
use run_support::{skip, wait_or_kill};
use smbless::install;

const LABEL: &str = "com.example.smbless.helper";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn example() -> PathBuf {
    fixture("apps/Example.app")
}

fn bundled_helper() -> Vec<u8> {
    fs::read(
        example()
            .join("Contents/Library/LaunchServices")
            .join(LABEL),
    )
    .unwrap()
}

fn test_root_pem() -> PathBuf {
    fixture("src/pki/root.pem")
}

struct Root {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl Root {
    fn helper(&self) -> PathBuf {
        self.path.join("Library/PrivilegedHelperTools").join(LABEL)
    }
    fn plist(&self) -> PathBuf {
        self.path
            .join("Library/LaunchDaemons")
            .join(format!("{LABEL}.plist"))
    }
}

/// An empty root, or one where `installed` (a file of `fixtures/contract/installed/`) is the
/// installed helper, with the plist an earlier install would have written.
fn root(installed: Option<&str>) -> Root {
    let tmp = tempfile::tempdir().unwrap();
    let path = fs::canonicalize(tmp.path()).unwrap();
    let r = Root { _tmp: tmp, path };
    if let Some(name) = installed {
        for d in [
            "Library",
            "Library/PrivilegedHelperTools",
            "Library/LaunchDaemons",
        ] {
            fs::create_dir_all(r.path.join(d)).unwrap();
            fs::set_permissions(r.path.join(d), fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::copy(fixture("contract/installed").join(name), r.helper()).unwrap();
        fs::set_permissions(r.helper(), fs::Permissions::from_mode(0o544)).unwrap();
        let mut dict = plist::Dictionary::new();
        dict.insert("Label".into(), LABEL.into());
        dict.insert(
            "ProgramArguments".into(),
            plist::Value::Array(vec![
                format!("/Library/PrivilegedHelperTools/{LABEL}").into()
            ]),
        );
        plist::Value::Dictionary(dict)
            .to_file_xml(r.plist())
            .unwrap();
        fs::set_permissions(r.plist(), fs::Permissions::from_mode(0o644)).unwrap();
    }
    r
}

fn smbless(args: &[&str]) -> Output {
    Command::cargo_bin("smbless")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn bless_cli(app: &Path, root: &Root, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec![
        "bless".to_owned(),
        app.display().to_string(),
        "--root".into(),
        root.path.display().to_string(),
        "--testing-treat-as-apple-root".into(),
        test_root_pem().display().to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = smbless(&args);
    exit_and_json(&out)
}

/// The exit code and the JSON report a command printed (the test fails with both streams when
/// stdout is not JSON).
fn exit_and_json(out: &Output) -> (i32, serde_json::Value) {
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// The helper and plist the example's bless writes, whole; no temporaries left.
fn assert_new_whole(r: &Root) {
    assert_eq!(fs::read(r.helper()).unwrap(), bundled_helper());
    assert_eq!(
        fs::metadata(r.helper()).unwrap().mode() & 0o7777,
        0o544,
        "helper mode"
    );
    assert_eq!(
        fs::metadata(r.plist()).unwrap().mode() & 0o7777,
        0o644,
        "plist mode"
    );
    let v: plist::Value = plist::from_file(r.plist()).unwrap();
    let d = v.as_dictionary().unwrap();
    assert_eq!(d["Label"], plist::Value::from(LABEL));
    assert_eq!(
        d["ProgramArguments"],
        plist::Value::Array(vec![
            format!("/Library/PrivilegedHelperTools/{LABEL}").into()
        ])
    );
    assert_eq!(
        d["AssociatedBundleIdentifiers"],
        plist::Value::Array(vec!["com.example.smbless.app".into()])
    );
    assert!(d.get("Program").is_none());
    assert!(d.get("MachServices").is_some());
    assert_no_leftovers(r);
}

fn assert_no_leftovers(r: &Root) {
    for dir in ["Library/PrivilegedHelperTools", "Library/LaunchDaemons"] {
        for e in fs::read_dir(r.path.join(dir)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with('.') || name == ".smbless",
                "leftover {dir}/{name}"
            );
        }
    }
    if let Ok(entries) = fs::read_dir(r.path.join("Library/PrivilegedHelperTools/.smbless")) {
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(name.ends_with(".lock"), "leftover state file {name}");
        }
    }
}

#[test]
fn fresh_install_of_the_example() {
    let r = root(None);
    let (code, json) = bless_cli(&example(), &r, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["outcome"], "installed");
    assert_eq!(json["action"]["action"], "install");
    assert_eq!(json["action"]["version"], "1.0");
    assert_eq!(json["service_manager"], "none");
    assert_new_whole(&r);
}

#[test]
fn upgrade_from_an_older_installed_helper() {
    let r = root(Some("helper-0.9"));
    let (code, json) = bless_cli(&example(), &r, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["outcome"], "installed");
    assert_eq!(json["action"]["action"], "upgrade");
    assert_eq!(json["action"]["from"], "0.9");
    assert_eq!(json["action"]["to"], "1.0");
    assert_new_whole(&r);
}

#[test]
fn same_version_and_downgrade_are_reported_no_change() {
    for (installed, version) in [("helper-1.0", "1.0"), ("helper-2.0", "2.0")] {
        let r = root(Some(installed));
        let before = fs::read(r.helper()).unwrap();
        let (code, json) = bless_cli(&example(), &r, &[]);
        assert_eq!(code, 0, "{installed}: {json:#}");
        assert_eq!(json["outcome"], "no-change");
        assert_eq!(json["action"]["action"], "none");
        assert_eq!(json["action"]["installed"], version);
        assert_eq!(json["action"]["bundled"], "1.0");
        assert!(
            json["notes"]
                .to_string()
                .contains(&format!("no change: installed {version} ≥ bundled 1.0")),
            "{json:#}"
        );
        assert_eq!(fs::read(r.helper()).unwrap(), before);
    }
}

#[test]
fn installed_helper_that_does_not_authorize_the_app_refuses_the_update() {
    let r = root(Some("helper-0.9-other-clients"));
    let before = fs::read(r.helper()).unwrap();
    let (code, json) = bless_cli(&example(), &r, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["ok"], false);
    assert_eq!(json["outcome"], "refused");
    assert_eq!(
        json["refusals"][0]["id"],
        "installed-client-requirement-unsatisfied"
    );
    assert!(
        json["refusals"][0]["details"]
            .to_string()
            .contains("OTHERTEAM1"),
        "{json:#}"
    );
    assert_eq!(fs::read(r.helper()).unwrap(), before);
}

#[test]
fn contract_errors_refuse_and_install_nothing() {
    for app in [
        "helper-wrong-team.app",
        "app-wrong-team.app",
        "helper-unsigned.app",
    ] {
        let r = root(None);
        let (code, json) = bless_cli(&fixture("contract").join(app), &r, &[]);
        assert_eq!(code, 1, "{app}: {json:#}");
        assert_eq!(json["refusals"][0]["id"], "contract-check-failed", "{app}");
        assert!(!r.helper().exists(), "{app}");
    }
}

#[test]
fn symlinked_privileged_helper_tools_is_refused() {
    let r = root(None);
    let elsewhere = r.path.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::create_dir_all(r.path.join("Library")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, r.path.join("Library/PrivilegedHelperTools")).unwrap();
    let (code, json) = bless_cli(&example(), &r, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["refusals"][0]["id"], "unsafe-directory");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            let bytes = if m.is_file() {
                fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.insert(p, (m.mode(), bytes));
        }
    }
    out
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    for installed in [None, Some("helper-0.9")] {
        let r = root(installed);
        let before = snapshot(&r.path);
        let (code, json) = bless_cli(&example(), &r, &["--dry-run"]);
        assert_eq!(code, 0, "{json:#}");
        assert_eq!(json["outcome"], "planned");
        let files = json["plan"]["files"].as_array().unwrap();
        assert_eq!(files[0]["mode"], "0544");
        assert_eq!(files[1]["mode"], "0644");
        assert_eq!(
            files[0]["system_path"],
            format!("/Library/PrivilegedHelperTools/{LABEL}")
        );
        assert_eq!(snapshot(&r.path), before, "{installed:?}");
    }
    // Human output names files, owners, modes and says what runs.
    let r = root(None);
    let out = smbless(&[
        "bless",
        example().to_str().unwrap(),
        "--root",
        r.path.to_str().unwrap(),
        "--testing-treat-as-apple-root",
        test_root_pem().to_str().unwrap(),
        "--dry-run",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("mode 0544") && text.contains("mode 0644"),
        "{text}"
    );
    assert!(text.contains("service manager: none"), "{text}");
    assert!(!r.path.join("Library").exists());
}

#[test]
fn remove_is_idempotent_and_checks_the_app() {
    let r = root(None);
    let rm = |extra: &[&str]| {
        let mut args = vec![
            "remove",
            LABEL,
            "--root",
            r.path.to_str().unwrap(),
            "--json",
            "--testing-treat-as-apple-root",
        ];
        let pem = test_root_pem();
        args.push(pem.to_str().unwrap());
        args.extend_from_slice(extra);
        let out = smbless(&args);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code().unwrap(), json)
    };
    let (code, json) = rm(&[]);
    assert_eq!((code, json["outcome"].as_str()), (0, Some("not-installed")));

    assert_eq!(bless_cli(&example(), &r, &[]).0, 0);
    let wrong = fixture("contract/app-wrong-team.app");
    let (code, json) = rm(&["--app", wrong.to_str().unwrap()]);
    assert_eq!(code, 1, "{json:#}");
    assert!(r.helper().exists());

    let ex = example();
    let (code, json) = rm(&["--app", ex.to_str().unwrap()]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["outcome"], "removed");
    assert!(!r.helper().exists() && !r.plist().exists());
    let (code, json) = rm(&[]);
    assert_eq!((code, json["outcome"].as_str()), (0, Some("not-installed")));
}

#[test]
fn status_lists_helpers_and_predicts_the_action() {
    let r = root(Some("helper-0.9"));
    // An unrelated daemon is not a privileged helper.
    let mut other = plist::Dictionary::new();
    other.insert("Label".into(), "org.example.other".into());
    other.insert("Program".into(), "/usr/sbin/otherd".into());
    plist::Value::Dictionary(other)
        .to_file_xml(r.path.join("Library/LaunchDaemons/org.example.other.plist"))
        .unwrap();
    let out = smbless(&[
        "status",
        "--root",
        r.path.to_str().unwrap(),
        "--app",
        example().to_str().unwrap(),
        "--testing-treat-as-apple-root",
        test_root_pem().to_str().unwrap(),
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    let helpers = json["helpers"].as_array().unwrap();
    assert_eq!(helpers.len(), 1, "{json:#}");
    let h = &helpers[0];
    assert_eq!(h["label"], LABEL);
    assert_eq!(h["version"], "0.9");
    assert_eq!(h["signature_valid"], true);
    assert_eq!(h["loaded"], serde_json::Value::Null);
    assert_eq!(h["bless_action"]["action"], "upgrade");
    assert_eq!(h["bless_action"]["from"], "0.9");

    // A tampered installed helper shows up as an invalid signature (exit 1).
    let r = root(Some("helper-1.0"));
    let mut bytes = fs::read(r.helper()).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0xff;
    fs::set_permissions(r.helper(), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(r.helper(), bytes).unwrap();
    let out = smbless(&["status", "--root", r.path.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert_eq!(json["helpers"][0]["signature_valid"], false);
}

#[test]
fn launchctl_is_refused_off_the_running_system_or_off_macos() {
    let r = root(None);
    let out = smbless(&[
        "bless",
        example().to_str().unwrap(),
        "--root",
        r.path.to_str().unwrap(),
        "--service-manager",
        "launchctl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("launchctl"));
}

/// What an unprivileged run needs, where `nobody` can reach it. When the tests run as root they
/// drop to `nobody`, who cannot read a checkout under a private directory (a fresh clone in a
/// 0700 temporary directory, as CI may use), so the binary, the example app and the test root
/// are copied into a world-readable temporary directory first.
struct Unprivileged {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    app: PathBuf,
    pem: PathBuf,
}

impl Unprivileged {
    /// The smbless command, run as `nobody` (via setpriv) when the tests run as root, else as
    /// ourselves; `None` when root cannot drop privileges here (no setpriv).
    fn command(&self) -> Option<std::process::Command> {
        if !rustix_euid_is_root() {
            return Some(std::process::Command::new(&self.bin));
        }
        if !Path::new("/usr/bin/setpriv").exists() {
            return None;
        }
        let mut c = std::process::Command::new("/usr/bin/setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&self.bin);
        Some(c)
    }
}

fn unprivileged() -> Unprivileged {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("smbless");
    fs::copy(assert_cmd::cargo::cargo_bin("smbless"), &bin).unwrap();
    let app = dir.path().join("Example.app");
    copy_dir(&example(), &app);
    let pem = dir.path().join("root.pem");
    fs::copy(test_root_pem(), &pem).unwrap();
    Unprivileged {
        _dir: dir,
        bin,
        app,
        pem,
    }
}

#[test]
fn the_running_system_needs_root_and_says_how() {
    let sandbox = unprivileged();
    let ex = sandbox.app.clone();
    let Some(mut cmd) = sandbox.command() else {
        skip("setpriv (util-linux) is missing");
        return;
    };
    let out = cmd
        .args(["bless", ex.to_str().unwrap(), "--service-manager", "none"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sudo") && err.contains("--root"), "{err}");
}

#[test]
fn an_unprivileged_dry_run_on_the_running_system_plans_as_root_and_writes_nothing() {
    let sandbox = unprivileged();
    let ex = sandbox.app.clone();
    let pem = sandbox.pem.clone();
    let Some(mut cmd) = sandbox.command() else {
        skip("setpriv (util-linux) is missing");
        return;
    };
    let existed = Path::new("/Library/PrivilegedHelperTools").exists();
    let out = cmd
        .args(["bless", ex.to_str().unwrap(), "--dry-run", "--json"])
        .args(["--service-manager", "none", "--testing-treat-as-apple-root"])
        .arg(&pem)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(json["outcome"], "planned");
    assert_eq!(json["root"], "/");
    assert_eq!(json["plan"]["files"][0]["owner"], "root:wheel (0:0)");
    assert_eq!(
        Path::new("/Library/PrivilegedHelperTools").exists(),
        existed
    );
}

fn rustix_euid_is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
fn concurrent_blesses_from_two_processes_are_serialized() {
    let r = root(None);
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("smbless"))
            .args([
                "bless",
                example().to_str().unwrap(),
                "--root",
                r.path.to_str().unwrap(),
                "--testing-treat-as-apple-root",
                test_root_pem().to_str().unwrap(),
                "--json",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut outcomes: Vec<String> = [a, b]
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            j["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    outcomes.sort();
    // Exactly one installs; the other runs after it and finds it installed.
    assert_eq!(outcomes, ["installed", "no-change"]);
    assert_new_whole(&r);
}

/// Abort the real CLI at each step of an upgrade (0.9 → 1.0): at that moment the installed
/// helper is exactly the old or the new file; a rerun finishes with the new one whole.
#[test]
fn crash_at_each_step_then_rerun_leaves_old_or_new_whole() {
    if !cfg!(debug_assertions) {
        skip("crash injection exists in debug builds only");
        return;
    }
    let old = fs::read(fixture("contract/installed/helper-0.9")).unwrap();
    let new = bundled_helper();
    for point in install::CRASH_POINTS {
        if point.starts_with("rollback") {
            continue;
        }
        let r = root(Some("helper-0.9"));
        let out = Command::cargo_bin("smbless")
            .unwrap()
            .env(install::CRASH_AT_ENV, point)
            .args([
                "bless",
                example().to_str().unwrap(),
                "--root",
                r.path.to_str().unwrap(),
                "--testing-treat-as-apple-root",
                test_root_pem().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: no crash");
        let now = fs::read(r.helper()).unwrap();
        assert!(
            now == old || now == new,
            "{point}: helper is neither old nor new"
        );
        let (code, json) = bless_cli(&example(), &r, &[]);
        assert_eq!(code, 0, "{point}: {json:#}");
        assert_new_whole(&r);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_dir(&e.path(), &t);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &t).unwrap();
        } else {
            fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Run `smbless bless APP --root ROOT` (debug build) pausing at `point`; `swap` runs while it
/// is paused, then it continues.
fn bless_paused(
    app: &Path,
    r: &Root,
    point: &str,
    swap: impl FnOnce(),
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let flag = r
        .path
        .parent()
        .unwrap()
        .join(format!("pause-{}", std::process::id()));
    let _ = fs::remove_file(&flag);
    let mut args: Vec<String> = vec![
        "bless".into(),
        app.display().to_string(),
        LABEL.into(),
        "--root".into(),
        r.path.display().to_string(),
        "--testing-treat-as-apple-root".into(),
        test_root_pem().display().to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("smbless"))
        .args(&args)
        .env(install::PAUSE_AT_ENV, point)
        .env(install::PAUSE_FILE_ENV, &flag)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !flag.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let reached = flag.exists();
    swap();
    let _ = fs::remove_file(&flag);
    let out = child.wait_with_output().unwrap();
    assert!(
        reached,
        "{point}: never paused; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exit_and_json(&out)
}

/// Issue 10, attack 2 and the earlier swap races: whatever is swapped into the app (its helper
/// for an ad-hoc or another team's, its Info.plist for `SMPrivilegedExecutables = always`, or
/// the app path itself flipped to another bundle) at any step after the capture, the outcome is
/// decided by the first examination alone: the examined helper's bytes are installed.
#[test]
fn the_app_swapped_at_each_step_changes_nothing() {
    if !cfg!(debug_assertions) {
        skip("pause points exist in debug builds only");
        return;
    }
    let points = [
        "captured",
        "judged",
        "locked",
        "helper-copied",
        "helper-verified",
        "plist-written",
    ];
    for point in points {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real/Example.app");
        let evil = tmp.path().join("evil/Example.app");
        copy_dir(&example(), &real);
        copy_dir(&example(), &evil);
        let plist = evil.join("Contents/Info.plist");
        let mut dict = plist::Value::from_file(&plist)
            .unwrap()
            .into_dictionary()
            .unwrap();
        let mut privileged = plist::Dictionary::new();
        privileged.insert(LABEL.into(), "always".into());
        dict.insert("SMPrivilegedExecutables".into(), privileged.into());
        plist::Value::Dictionary(dict).to_file_xml(&plist).unwrap();
        let adhoc =
            fixture("contract/helper-adhoc.app/Contents/Library/LaunchServices").join(LABEL);
        fs::copy(
            &adhoc,
            evil.join("Contents/Library/LaunchServices").join(LABEL),
        )
        .unwrap();
        // The path bless is given is a link the attacker flips.
        let link = tmp.path().join("Example.app");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let r = root(Some("helper-0.9"));
        let (code, json) = bless_paused(
            &link,
            &r,
            point,
            || {
                fs::remove_file(&link).unwrap();
                std::os::unix::fs::symlink(&evil, &link).unwrap();
                fs::copy(
                    &adhoc,
                    real.join("Contents/Library/LaunchServices").join(LABEL),
                )
                .unwrap();
            },
            &[],
        );
        assert_eq!(code, 0, "{point}: {json:#}");
        assert_eq!(json["outcome"], "installed", "{point}: {json:#}");
        assert_eq!(fs::read(r.helper()).unwrap(), bundled_helper(), "{point}");
        assert_no_leftovers(&r);
    }
}

/// A copy of the example app the test may break.
fn app_copy(tmp: &Path) -> PathBuf {
    let app = tmp.join("Example.app");
    copy_dir(&example(), &app);
    app
}

/// Issue 10, attack 4: a FIFO as the app's main executable made root hang forever holding the
/// lock. Now it is refused within seconds, by path, and nothing is written.
#[test]
fn a_fifo_in_the_app_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app_copy(tmp.path());
    let exe = app.join("Contents/MacOS/Example");
    fs::remove_file(&exe).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&exe)
        .status()
        .unwrap()
        .success());
    let r = root(None);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("smbless"))
        .args([
            "bless",
            app.to_str().unwrap(),
            "--root",
            r.path.to_str().unwrap(),
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_or_kill(
        &mut child,
        Duration::from_secs(20),
        "bless of an app with a FIFO",
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["refusals"][0]["id"], "app-entry-unsafe", "{json:#}");
    assert!(
        json["refusals"][0]["message"]
            .as_str()
            .unwrap()
            .contains("FIFO"),
        "{json:#}"
    );
    assert!(!r.helper().exists());
}

/// Issue 10, attack 4: a symlinked `Contents/Library/LaunchServices` made root read a root-only
/// file and echo its first bytes. Now the link is refused by path and nothing behind it is read.
#[test]
fn a_link_out_of_the_app_is_refused_without_echoing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret");
    fs::create_dir(&secret).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(secret.join(LABEL), "TOPSECRET-CONTENTS").unwrap();
    let app = app_copy(tmp.path());
    let ls = app.join("Contents/Library/LaunchServices");
    fs::remove_dir_all(&ls).unwrap();
    std::os::unix::fs::symlink(&secret, &ls).unwrap();
    let r = root(None);
    let out = smbless(&[
        "bless",
        app.to_str().unwrap(),
        LABEL,
        "--root",
        r.path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("TOPSECRET"), "{text}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["refusals"][0]["id"], "app-entry-unsafe", "{json:#}");
    assert!(!r.helper().exists());
}

/// Issue 10, attack 3: a staging root that is a symlink to `/` turned a staging run into a
/// live install. Now DIR itself may not be a link.
#[test]
fn a_staging_root_that_links_to_slash_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("stage");
    std::os::unix::fs::symlink("/", &link).unwrap();
    let out = smbless(&[
        "bless",
        example().to_str().unwrap(),
        "--root",
        link.to_str().unwrap(),
        "--dry-run",
        "--json",
        "--testing-treat-as-apple-root",
        test_root_pem().to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["refusals"][0]["id"], "unsafe-directory", "{json:#}");
    assert!(
        json["refusals"][0]["details"][0]
            .as_str()
            .unwrap()
            .contains("symbolic link"),
        "{json:#}"
    );
}

/// Issue 10, attack 3: a staging root owned by another user (here `nobody`), who could swap its
/// `Library` after the check, is refused when root installs into it.
#[test]
fn a_staging_root_owned_by_another_user_is_refused_as_root() {
    if rustix::process::geteuid().as_raw() != 0 {
        skip("needs root");
        return;
    }
    let r = root(None);
    std::os::unix::fs::chown(&r.path, Some(65534), Some(65534)).unwrap();
    let (code, json) = bless_cli(&example(), &r, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["refusals"][0]["id"], "unsafe-directory", "{json:#}");
    assert!(
        json["refusals"][0]["details"][0]
            .as_str()
            .unwrap()
            .contains("uid 65534"),
        "{json:#}"
    );
    assert!(!r.path.join("Library").exists());
}

/// Issue 10, attack 6: an existing job file under the label that runs another program is
/// another vendor's job: refused, never overwritten.
#[test]
fn a_foreign_job_is_refused_and_left_alone() {
    let r = root(None);
    fs::create_dir_all(r.path.join("Library/LaunchDaemons")).unwrap();
    let mut dict = plist::Dictionary::new();
    dict.insert("Label".into(), LABEL.into());
    dict.insert(
        "ProgramArguments".into(),
        plist::Value::Array(vec!["/usr/local/bin/otherd".into()]),
    );
    plist::Value::Dictionary(dict)
        .to_file_xml(r.plist())
        .unwrap();
    let before = fs::read(r.plist()).unwrap();
    let (code, json) = bless_cli(&example(), &r, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["refusals"][0]["id"], "foreign-job", "{json:#}");
    assert_eq!(fs::read(r.plist()).unwrap(), before);
    assert!(!r.helper().exists());

    // Naming our helper in ProgramArguments does not make it ours: launchd runs `Program`.
    let mut dict = plist::Dictionary::new();
    dict.insert("Label".into(), LABEL.into());
    dict.insert("Program".into(), "/usr/local/bin/otherd".into());
    dict.insert(
        "ProgramArguments".into(),
        plist::Value::Array(vec![
            format!("/Library/PrivilegedHelperTools/{LABEL}").into()
        ]),
    );
    plist::Value::Dictionary(dict)
        .to_file_xml(r.plist())
        .unwrap();
    let (code, json) = bless_cli(&example(), &r, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["refusals"][0]["id"], "foreign-job", "{json:#}");
}

/// Issue 10, attack 7: `bless --dry-run`, `status --app` and `verify --root` print the same
/// prediction, word for word, over a matrix of installed states.
#[test]
fn the_three_commands_predict_the_same() {
    let trust = [
        "--testing-treat-as-apple-root",
        test_root_pem().to_str().unwrap(),
    ]
    .map(str::to_owned);
    for installed in [
        None,
        Some("helper-0.9"),
        Some("helper-1.0"),
        Some("helper-2.0"),
        Some("helper-0.9-other-clients"),
        Some("garbage"),
    ] {
        let r = match installed {
            Some("garbage") => {
                let r = root(Some("helper-0.9"));
                fs::write(r.helper(), b"not a helper").unwrap();
                r
            }
            other => root(other),
        };
        let root_s = r.path.display().to_string();
        let app = example().display().to_string();
        let run = |args: Vec<String>| -> serde_json::Value {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = smbless(&args);
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!("{e}: {args:?}: {}", String::from_utf8_lossy(&out.stderr))
            })
        };
        let mut a = vec![
            "bless".into(),
            app.clone(),
            "--root".into(),
            root_s.clone(),
            "--dry-run".into(),
            "--json".into(),
        ];
        a.extend(trust.iter().cloned());
        let bless = run(a)["prediction"].as_str().unwrap().to_owned();
        let mut a = vec![
            "status".into(),
            LABEL.into(),
            "--root".into(),
            root_s.clone(),
            "--app".into(),
            app.clone(),
            "--json".into(),
        ];
        a.extend(trust.iter().cloned());
        let status = run(a)["helpers"][0]["prediction"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut a = vec![
            "verify".into(),
            app.clone(),
            "--root".into(),
            root_s.clone(),
            "--json".into(),
        ];
        a.extend(trust.iter().cloned());
        let verify = run(a)["helpers"][0]["action"].as_str().unwrap().to_owned();
        assert_eq!(bless, status, "{installed:?}");
        assert_eq!(bless, verify, "{installed:?}");
        let expected = match installed {
            None => "install 1.0",
            Some("helper-0.9") => "upgrade from 0.9 to 1.0",
            Some("helper-1.0") => "no change: installed 1.0 ≥ bundled 1.0",
            Some("helper-2.0") => "no change: installed 2.0 ≥ bundled 1.0",
            Some("helper-0.9-other-clients") => {
                "refuse: [installed-client-requirement-unsatisfied]"
            }
            _ => "refuse: [installed-helper-unreadable]",
        };
        assert!(bless.starts_with(expected), "{installed:?}: {bless}");
    }
}

/// The installer's own expectation of the helper (`--team-id`, `--requirement`) holds whatever
/// the app says.
#[test]
fn the_installers_team_and_requirement_are_enforced() {
    let r = root(None);
    let (code, json) = bless_cli(&example(), &r, &["--team-id", "OTHERTEAM1", "--dry-run"]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(
        json["refusals"][0]["id"], "installer-requirement-unsatisfied",
        "{json:#}"
    );
    let (code, json) = bless_cli(
        &example(),
        &r,
        &[
            "--requirement",
            "identifier \"com.example.other\"",
            "--dry-run",
        ],
    );
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(
        json["refusals"][0]["id"], "installer-requirement-unsatisfied",
        "{json:#}"
    );
    let (code, json) = bless_cli(&example(), &r, &["--team-id", "EXAMPLE123"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["outcome"], "installed", "{json:#}");
    assert!(json["notes"].to_string().contains("EXAMPLE123"), "{json:#}");
    assert_new_whole(&r);
}
