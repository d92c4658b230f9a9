//! What ships beside the binary: shell completions and man pages generated from the clap
//! definitions (every subcommand present), and the terminal behaviour of every command:
//! `-q/--quiet`, and the progress spinner that appears only on a terminal for people.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_smbless");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn smbless(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("smbless runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The subcommands `smbless [PARENT] --help` lists (its "Commands:" section), `help` excepted.
fn subcommands(parent: &[&str]) -> Vec<String> {
    let mut args = parent.to_vec();
    args.push("--help");
    let out = smbless(&args);
    assert!(out.status.success(), "{args:?}");
    let help = stdout(&out);
    let Some(section) = help.split("Commands:\n").nth(1) else {
        return Vec::new();
    };
    section
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   ")) // continuation lines of a long description
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every subcommand path: `verify`, `signature`, `signature show`, ….
fn command_paths() -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for top in subcommands(&[]) {
        let nested = subcommands(&[top.as_str()]);
        paths.push(vec![top.clone()]);
        for sub in nested {
            paths.push(vec![top.clone(), sub]);
        }
    }
    paths
}

#[test]
fn the_help_lists_the_commands_the_tests_below_rely_on() {
    let top = subcommands(&[]);
    for expected in ["verify", "inspect", "signature", "req", "completions"] {
        assert!(top.iter().any(|c| c == expected), "{expected} in {top:?}");
    }
    assert!(
        !top.iter().any(|c| c == "manpages"),
        "the generator stays hidden"
    );
    assert!(command_paths().contains(&vec!["signature".into(), "show".into()]));
}

#[test]
fn completions_generate_for_every_shell_and_name_every_subcommand() {
    let paths = command_paths();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = smbless(&["completions", shell]);
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = stdout(&out);
        for path in &paths {
            for name in path {
                assert!(script.contains(name.as_str()), "{shell}: no {name}");
            }
        }
        // Options of a subcommand are completed too, not only the command names.
        assert!(script.contains("testing-treat-as-apple-root"), "{shell}");
    }
    assert!(stdout(&smbless(&["completions", "bash"])).contains("complete -F _smbless"));
    assert!(stdout(&smbless(&["completions", "fish"])).contains("complete -c smbless"));
}

#[test]
fn completions_refuse_an_unknown_shell() {
    let out = smbless(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
}

#[test]
fn make_man_writes_a_page_per_subcommand_and_the_main_page_names_them_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(root().join("scripts/make-man"))
        .arg(dir.path())
        .env("SMBLESS", BIN)
        .output()
        .expect("scripts/make-man runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = |name: &str| -> String {
        let path: PathBuf = dir.path().join(format!("{name}.1"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let main = page("smbless");
    assert!(main.contains(".TH smbless 1"));
    for path in command_paths() {
        let name = format!("smbless-{}", path.join("-"));
        let text = page(&name);
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{name}");
        assert!(
            text.contains(&format!(".TH {name} 1")),
            "{name}: title\n{text}"
        );
        if path.len() == 1 {
            // roff escapes the hyphen in the cross reference: smbless\-verify(1).
            let reference = format!("smbless\\-{}(1)", path[0]);
            assert!(main.contains(&reference), "smbless.1 lacks {reference}");
        }
    }
    assert!(
        !dir.path().join("smbless-manpages.1").exists(),
        "no page for the hidden generator"
    );
}

const TRUST: [&str; 2] = ["--testing-treat-as-apple-root", "fixtures/src/pki/root.pem"];

fn verify(app: &str, extra: &[&str]) -> Output {
    let mut args = vec!["verify", app];
    args.extend(TRUST);
    args.extend(extra);
    smbless(&args)
}

#[test]
fn quiet_prints_nothing_for_people_and_keeps_the_exit_code() {
    let clean = verify("fixtures/apps/Example.app", &["-q"]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stdout.is_empty(), "{}", stdout(&clean));
    let broken = verify("fixtures/contract/helper-wrong-team.app", &["--quiet"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(broken.stdout.is_empty(), "{}", stdout(&broken));
    // Without -q the same run reports.
    assert!(stdout(&verify("fixtures/contract/helper-wrong-team.app", &[])).contains("error["));
    // The global flag may come first, too.
    let out = smbless(&["-q", "inspect", "fixtures/macho/helper-arm64"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn quiet_still_writes_output_a_machine_asked_for_and_errors() {
    let json = verify("fixtures/apps/Example.app", &["-q", "--json"]);
    assert_eq!(json.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(value["ok"], true);
    let sarif = verify("fixtures/apps/Example.app", &["-q", "--format", "sarif"]);
    assert!(stdout(&sarif).contains("\"version\": \"2.1.0\""));
    let missing = smbless(&["-q", "inspect", "fixtures/no-such-file"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(missing.stdout.is_empty());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-file"));
}

#[test]
fn every_subcommand_accepts_quiet() {
    for path in command_paths() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.extend(["-q", "--help"]);
        let out = smbless(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout(&out).contains("--quiet"), "{args:?}");
    }
}

/// Run `smbless ARGS > stdout_file` with stderr on a pseudo-terminal (util-linux `script`), and
/// return what reached the terminal.
fn on_terminal(args: &[&str], stdout_file: &Path) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        run_support::skip("util-linux `script` is not installed");
        return None;
    }
    let quoted: Vec<String> = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect();
    let command = format!("{} > '{}'", quoted.join(" "), stdout_file.display());
    let log = stdout_file.with_extension("typescript");
    let status = Command::new("script")
        .args(["-q", "-e", "-c", &command])
        .arg(&log)
        .current_dir(root())
        .env("SMBLESS_PROGRESS_AFTER_MS", "0")
        .env("TERM", "xterm")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("script runs");
    assert!(status.code().is_some_and(|c| c <= 1), "{status:?}");
    Some(std::fs::read_to_string(&log).expect("the terminal log"))
}

#[test]
fn progress_shows_on_a_terminal_for_people_only_and_never_alters_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["verify", "fixtures/apps/Example.app"];
    args.extend(TRUST);
    let out = dir.path().join("human.out");
    let Some(terminal) = on_terminal(&args, &out) else {
        return;
    };
    assert!(
        terminal.contains("smbless verify ("),
        "a spinner on the terminal: {terminal}"
    );
    let relayed = std::fs::read(&out).expect("stdout file");
    let plain = verify("fixtures/apps/Example.app", &[]).stdout;
    assert_eq!(
        relayed, plain,
        "stdout identical with and without a spinner"
    );

    for extra in [&["--json"][..], &["--format", "github"], &["-q"]] {
        let mut args = args.clone();
        args.extend(extra);
        let out = dir.path().join("machine.out");
        let terminal = on_terminal(&args, &out).expect("script present");
        assert!(
            !terminal.contains("smbless verify ("),
            "{extra:?}: {terminal}"
        );
    }
    // stderr not a terminal (captured by this test): never a spinner.
    let captured = Command::new(BIN)
        .args(&args)
        .current_dir(root())
        .env("SMBLESS_PROGRESS_AFTER_MS", "0")
        .output()
        .expect("smbless runs");
    assert!(captured.stderr.is_empty(), "{:?}", captured.stderr);
}
