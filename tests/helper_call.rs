//! `smbless call` against the template helper: replies, error replies and unreachable helpers
//! map to exit codes 0, 1 and 2.
#![cfg(target_os = "linux")]

mod helper_support;

use std::process::{Command, Output};

use helper_support::{smbless_bin, Kind, Running};
use smbless::client::Endpoint;

fn call(endpoint: &Endpoint, args: &[&str]) -> Output {
    let mut cmd = Command::new(smbless_bin());
    cmd.arg("call");
    match endpoint {
        Endpoint::Unix(p) => cmd.arg("--socket").arg(p),
        Endpoint::Tcp(a) => cmd.arg("--addr").arg(a),
    };
    cmd.args(args).output().expect("run smbless call")
}

#[test]
fn call_prints_replies_as_json_or_xml() {
    let helper = Running::listening(&[]);
    let out = call(
        &helper.endpoint,
        &["echo", "--arg", "name=value", "--arg", "empty=", "--json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"echo": {"name": "value", "empty": ""}})
    );

    let out = call(&helper.endpoint, &["version", "--xml"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("<key>version</key>") && text.contains("<string>1.0.0</string>"),
        "{text}"
    );
}

#[test]
fn call_over_activated_tcp() {
    let helper = Running::activated(Kind::Tcp, &["--insecure-tcp"]);
    let out = call(&helper.endpoint, &["ping", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["reply"], "pong");
}

#[test]
fn error_replies_exit_1_and_failures_exit_2() {
    let helper = Running::listening(&[]);
    let out = call(&helper.endpoint, &["format-disk", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "unknown-command");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown-command"));

    let out = call(&helper.endpoint, &["echo", "--arg", "novalue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEY=VALUE"));

    let gone = Endpoint::Unix(std::env::temp_dir().join("smbless-no-such-helper.sock"));
    let out = call(&gone, &["ping"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));

    let out = Command::new(smbless_bin())
        .args(["call", "ping"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an endpoint is required");

    // Authorization Services are macOS's: asking for them here is an error, not a no-op.
    let out = call(&helper.endpoint, &["stop", "--authorize"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("macOS only"));
    assert!(helper_alive(&helper.endpoint), "nothing was sent");
}

fn helper_alive(endpoint: &Endpoint) -> bool {
    call(endpoint, &["ping"]).status.code() == Some(0)
}
