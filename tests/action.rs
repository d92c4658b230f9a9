//! The composite GitHub Action (`action.yml`): its one step, `scripts/action-verify`, run here as
//! GitHub runs it — in a fake workspace, with the inputs in `INPUT_*` variables, and
//! `GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY` files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_smbless");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A workspace with two built apps in `build/`: the clean example and one whose helper is signed
/// by another team.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("build")).expect("build/");
        for (from, to) in [
            ("fixtures/apps/Example.app", "build/Example.app"),
            (
                "fixtures/contract/helper-wrong-team.app",
                "build/Broken.app",
            ),
        ] {
            let status = Command::new("cp")
                .arg("-a")
                .arg(root().join(from))
                .arg(dir.path().join(to))
                .status()
                .expect("cp runs");
            assert!(status.success());
        }
        Workspace { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Run the action's step with these inputs (name, value) and the test's smbless binary.
    fn run(&self, inputs: &[(&str, &str)]) -> Output {
        self.run_with(inputs, BIN, None)
    }

    /// Run the action's step as the runner does: inputs, the `smbless` input (empty: install),
    /// and a directory put first on PATH.
    fn run_with(
        &self,
        inputs: &[(&str, &str)],
        binary: &str,
        path_prefix: Option<&Path>,
    ) -> Output {
        let pem = root().join("fixtures/src/pki/root.pem");
        let mut cmd = Command::new(root().join("scripts/action-verify"));
        cmd.current_dir(self.dir.path())
            .env("GITHUB_WORKSPACE", self.dir.path())
            .env("GITHUB_OUTPUT", self.path("github_output"))
            .env("GITHUB_STEP_SUMMARY", self.path("step_summary"))
            .env("RUNNER_TEMP", self.path("runner_temp"))
            .env("INPUT_SMBLESS", binary)
            .env(
                "INPUT_ARGS",
                format!("--testing-treat-as-apple-root {}", pem.display()),
            )
            .env_remove("GITHUB_ACTION_PATH");
        for var in [
            "INPUT_APP",
            "INPUT_LABEL",
            "INPUT_FORMAT",
            "INPUT_SARIF_FILE",
        ] {
            cmd.env_remove(var);
        }
        for (name, value) in inputs {
            cmd.env(format!("INPUT_{name}"), value);
        }
        if let Some(prefix) = path_prefix {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", prefix.display()));
        }
        cmd.output().expect("scripts/action-verify runs")
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_clean_app_passes_with_github_format_by_default() {
    let ws = Workspace::new();
    let out = ws.run(&[("APP", "build/Example.app")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("smbless verify: ok"),
        "{}",
        stdout(&out)
    );
    assert_eq!(ws.read("github_output"), "result=ok\n");
    assert!(ws.read("step_summary").contains("**ok**"));
}

#[test]
fn errors_fail_the_step_with_annotations_on_the_files() {
    let ws = Workspace::new();
    let out = ws.run(&[("APP", "build/Broken.app")]);
    assert_eq!(out.status.code(), Some(1));
    let log = stdout(&out);
    assert!(
        log.lines()
            .any(|l| l.starts_with("::error file=build/Broken.app")),
        "{log}"
    );
    assert!(log.contains("smbless verify: failed"));
    assert_eq!(ws.read("github_output"), "result=failed\n");
}

#[test]
fn sarif_file_is_written_when_asked_and_the_step_still_fails_on_errors() {
    let ws = Workspace::new();
    let out = ws.run(&[
        ("APP", "build/Broken.app"),
        ("SARIF_FILE", "reports/smbless.sarif"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let sarif: serde_json::Value =
        serde_json::from_str(&ws.read("reports/smbless.sarif")).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results.iter().any(|r| r["level"] == "error"), "{sarif:#}");
    // The step's own log stays in the chosen format (annotations), not SARIF.
    assert!(stdout(&out).contains("::error file="));

    let clean = ws.run(&[("APP", "build/Example.app"), ("SARIF_FILE", "clean.sarif")]);
    assert_eq!(clean.status.code(), Some(0));
    let sarif: serde_json::Value = serde_json::from_str(&ws.read("clean.sarif")).expect("JSON");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(0)
    );
}

#[test]
fn label_and_format_reach_verify() {
    let ws = Workspace::new();
    let out = ws.run(&[
        ("APP", "build/Example.app"),
        ("LABEL", "com.example.smbless.helper"),
        ("FORMAT", "json"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["helpers"][0]["label"], "com.example.smbless.helper");

    let human = ws.run(&[("APP", "build/Example.app"), ("FORMAT", "human")]);
    assert!(
        stdout(&human).contains("ok: 0 errors"),
        "{}",
        stdout(&human)
    );
}

#[test]
fn bad_inputs_stop_before_verify_with_exit_2() {
    let ws = Workspace::new();
    for (inputs, says) in [
        (&[][..], "'app' input is required"),
        (&[("APP", "build/Missing.app")][..], "does not exist"),
        (
            &[("APP", "build/Example.app"), ("FORMAT", "xml")][..],
            "format 'xml'",
        ),
    ] {
        let out = ws.run(inputs);
        assert_eq!(out.status.code(), Some(2), "{inputs:?}");
        assert!(stdout(&out).contains(says), "{inputs:?}: {}", stdout(&out));
        assert!(stdout(&out).starts_with("::error"), "{inputs:?}");
    }
}

/// Without a given binary, the step installs smbless from the repository it is part of, once
/// per job: a stand-in `cargo` records the call and "installs" the real binary.
#[test]
fn without_a_binary_it_installs_smbless_from_its_own_repository_once() {
    let ws = Workspace::new();
    let fake = ws.path("fakebin");
    fs::create_dir(&fake).expect("fakebin");
    let log = ws.path("cargo.log");
    let script = format!(
        "#!/bin/sh\necho \"$PWD $*\" >> '{log}'\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
         mkdir -p \"$root/bin\" && ln -sf '{BIN}' \"$root/bin/smbless\"\n",
        log = log.display()
    );
    fs::write(fake.join("cargo"), script).expect("fake cargo");
    let status = Command::new("chmod")
        .arg("+x")
        .arg(fake.join("cargo"))
        .status()
        .expect("chmod");
    assert!(status.success());

    for _ in 0..2 {
        let out = ws.run_with(&[("APP", "build/Example.app")], "", Some(&fake));
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        assert!(stdout(&out).contains("smbless verify: ok"));
    }
    let calls = ws.read("cargo.log");
    let repo = root().canonicalize().expect("repo path");
    assert_eq!(calls.lines().count(), 1, "installed once per job: {calls}");
    let expected = format!(
        "{repo} install --locked --path {repo} --root {} --bin smbless",
        ws.path("runner_temp/smbless-action").display(),
        repo = repo.display()
    );
    assert_eq!(calls.trim_end(), expected);
}

#[test]
fn action_yml_runs_the_tested_script_with_every_input() {
    let yml = fs::read_to_string(root().join("action.yml")).expect("action.yml");
    assert!(yml.contains("using: composite"));
    assert!(yml.contains("run: '\"$GITHUB_ACTION_PATH/scripts/action-verify\"'"));
    assert!(yml.contains("    default: github"));
    let script = fs::read_to_string(root().join("scripts/action-verify")).expect("script");
    for (input, var) in [
        ("app", "INPUT_APP"),
        ("label", "INPUT_LABEL"),
        ("format", "INPUT_FORMAT"),
        ("sarif-file", "INPUT_SARIF_FILE"),
        ("smbless", "INPUT_SMBLESS"),
        ("args", "INPUT_ARGS"),
    ] {
        assert!(yml.contains(&format!("\n  {input}:\n")), "input {input}");
        assert!(
            yml.contains(&format!("{var}: ${{{{ inputs.{input} }}}}")),
            "{var} from inputs.{input}"
        );
        assert!(
            script.contains(&format!("${{{var}")),
            "the script reads {var}"
        );
    }
}
