//! The template helper against an unprivileged local user (issue 11), under
//! `systemd-socket-activate` with the socket open to everyone (mode 0666): every peer is
//! identified by `SO_PEERCRED` before anything it sends is read, commands declare what they
//! need, and one uid cannot starve another or keep the helper from exiting.
//!
//! The attacker is `nobody`, run through `setpriv` (the tests run as root here and in CI).
#![cfg(target_os = "linux")]

mod helper_support;
mod run_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use helper_support::{
    as_nobody, can_drop_privileges, peer_client_bin, smbless_bin, string, Kind, Running, NOBODY,
    PATIENCE,
};
use plist::Value;
use smbless::client::{self as smbless_client, reply_error, request, UNAUTHORIZED};

/// `smbless call --socket S ARGS…` as `nobody`.
fn call_as_nobody(helper: &Running, args: &[&str]) -> Output {
    let smbless = helper.shared_copy(&smbless_bin());
    let smbless_client::Endpoint::Unix(socket) = &helper.endpoint else {
        panic!("a Unix endpoint");
    };
    as_nobody(&smbless)
        .arg("call")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run smbless call as nobody")
}

/// `peer-client S send HEX` as `nobody`: the reply's error code (or `ok`/`closed`) and message.
fn send_as_nobody(helper: &Running, bytes: &[u8]) -> (String, String) {
    let client = helper.shared_copy(&peer_client_bin());
    let smbless_client::Endpoint::Unix(socket) = &helper.endpoint else {
        panic!("a Unix endpoint");
    };
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let out = as_nobody(&client)
        .arg(socket)
        .args(["send", &hex])
        .output()
        .expect("run peer-client as nobody");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let code = lines.next().unwrap_or_default().to_owned();
    let message = lines.next().unwrap_or_default().to_owned();
    (code, message)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

macro_rules! require_setpriv {
    () => {
        if !can_drop_privileges() {
            run_support::skip("not root or no setpriv: cannot act as another user");
            return;
        }
    };
}

#[test]
fn an_allowed_uid_is_served() {
    require_setpriv!();
    let helper = Running::activated(Kind::Unix, &["--allow-uid", &NOBODY.to_string()]);
    let out = call_as_nobody(&helper, &["echo", "--arg", "k=v", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\nhelper: {}",
        String::from_utf8_lossy(&out.stderr),
        helper.stderr()
    );
    assert_eq!(json(&out), serde_json::json!({"echo": {"k": "v"}}));
    // A group rule serves it too.
    let by_group = Running::activated(Kind::Unix, &["--allow-gid", &NOBODY.to_string()]);
    let out = call_as_nobody(&by_group, &["ping", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", by_group.stderr());
}

#[test]
fn another_uid_is_refused_unauthorized_before_any_parsing() {
    require_setpriv!();
    // Default policy: root only.
    let helper = Running::activated(Kind::Unix, &["--read-timeout", "600"]);
    let out = call_as_nobody(&helper, &["echo", "--arg", "k=v", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error reply, not a served echo"
    );
    assert_eq!(json(&out)["error"]["code"], UNAUTHORIZED);
    assert!(
        json(&out)["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("uid 65534")),
        "{}",
        json(&out)
    );

    // Sending nothing at all: the refusal comes on accept, not after a request is read.
    assert_eq!(send_as_nobody(&helper, &[]).0, UNAUTHORIZED);
    // What the peer sends is never looked at: a 4 GiB length prefix would be `too-large`, a
    // non-plist payload `bad-plist`, were either parsed.
    let mut huge = 0xffff_fff0u32.to_be_bytes().to_vec();
    huge.extend_from_slice(&[0x41; 4096]);
    assert_eq!(send_as_nobody(&helper, &huge).0, UNAUTHORIZED);
    assert_eq!(
        send_as_nobody(&helper, &[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']).0,
        UNAUTHORIZED
    );
    // Root, the default's one allowed uid, is served all along.
    assert_eq!(
        string(&helper.call(&request("ping", [])), "reply"),
        Some("pong")
    );
}

#[test]
fn tcp_peers_carry_no_identity_and_are_refused_unless_insecure_tcp() {
    let helper = Running::activated(Kind::Tcp, &[]);
    let reply = helper.call(&request("ping", []));
    assert_eq!(
        reply_error(&reply).map(|e| e.0),
        Some(UNAUTHORIZED),
        "{reply:?}"
    );
    let open = Running::activated(Kind::Tcp, &["--insecure-tcp"]);
    assert_eq!(
        string(&open.call(&request("ping", [])), "reply"),
        Some("pong")
    );
    helper_support::wait_until("the --insecure-tcp warning", || {
        open.stderr().contains("WITHOUT authentication")
    });
}

/// `peer-client hold N` as nobody: returns once the connections are open; they stay open and
/// silent until the returned child's stdin is closed.
fn hold_as_nobody(helper: &Running, count: usize) -> std::process::Child {
    let client = helper.shared_copy(&peer_client_bin());
    let smbless_client::Endpoint::Unix(socket) = &helper.endpoint else {
        panic!("a Unix endpoint");
    };
    let mut child = as_nobody(&client)
        .arg(socket)
        .args(["hold", &count.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run peer-client hold as nobody");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("read peer-client");
    assert_eq!(line.trim(), format!("held {count}"));
    child
}

#[test]
fn one_uid_holding_many_silent_connections_blocks_neither_another_uid_nor_idle_exit() {
    require_setpriv!();
    let mut helper = Running::activated(
        Kind::Unix,
        &[
            "--allow-uid",
            &NOBODY.to_string(),
            "--max-connections",
            "16",
            "--max-connections-per-uid",
            "4",
            "--idle-timeout",
            "2",
            "--idle-connection-timeout",
            "600",
            "--read-timeout",
            "600",
        ],
    );
    // nobody opens more connections than the helper has slots, and says nothing on any.
    let mut holder = hold_as_nobody(&helper, 40);
    // Root is served at once, not after the silent connections time out (600 s).
    let options = smbless::client::CallOptions {
        timeout: Duration::from_secs(20),
        ..helper_support::options()
    };
    let reply = smbless::client::call(&helper.endpoint, &request("ping", []), &options)
        .unwrap_or_else(|e| panic!("root was starved: {e}\n{}", helper.stderr()));
    assert_eq!(string(&reply, "reply"), Some("pong"));
    // Over its share, nobody is told so.
    assert_eq!(send_as_nobody(&helper, &[]).0, "busy");

    // Silent connections are not transactions: the helper exits on idle while they are open.
    let status = helper
        .wait_exit(PATIENCE)
        .unwrap_or_else(|| panic!("no idle exit with silent connections open"));
    assert_eq!(status.code(), Some(0), "{}", helper.stderr());
    assert!(
        helper.stderr().contains("exiting (idle"),
        "{}",
        helper.stderr()
    );
    drop(holder.stdin.take());
    assert!(holder.wait().expect("peer-client exits").success());
}

#[test]
fn commands_declare_their_needs_and_rights_map_to_admin_ids() {
    require_setpriv!();
    let mut helper = Running::activated(Kind::Unix, &["--allow-uid", &NOBODY.to_string()]);
    // Any authenticated client may echo; `stop` needs a right nobody does not have.
    assert_eq!(call_as_nobody(&helper, &["echo"]).status.code(), Some(0));
    let out = call_as_nobody(&helper, &["stop", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let error = &json(&out)["error"];
    assert_eq!(error["code"], UNAUTHORIZED);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("com.example.smbless-helper.stop")),
        "{error}"
    );
    assert!(helper.alive(), "a refused stop must not stop the helper");
    // Root holds every right on Linux.
    let reply = helper.call(&request("stop", []));
    assert_eq!(
        reply.as_dictionary().and_then(|d| d.get("stopping")),
        Some(&Value::Boolean(true)),
        "{reply:?}"
    );
    let status = helper.wait_exit(PATIENCE).expect("stopped");
    assert_eq!(status.code(), Some(0));
    assert!(helper.stderr().contains("exiting (stopped by request"));

    // An --admin-uid rule grants the right to nobody.
    let mut admin = Running::activated(
        Kind::Unix,
        &[
            "--allow-uid",
            &NOBODY.to_string(),
            "--admin-uid",
            &NOBODY.to_string(),
        ],
    );
    let out = call_as_nobody(&admin, &["stop", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", admin.stderr());
    assert!(admin.wait_exit(PATIENCE).is_some());
}

#[test]
fn a_request_trickled_one_byte_at_a_time_hits_the_whole_request_deadline() {
    let helper = Running::activated(
        Kind::Unix,
        &["--read-timeout", "1", "--idle-connection-timeout", "600"],
    );
    let mut conn = helper.connect().patient();
    // Silent for longer than the request deadline: between requests, only the
    // idle-connection timeout applies, so the connection stays open...
    std::thread::sleep(Duration::from_millis(1500));
    let frame = smbless::client::encode_frame(
        &request("echo", [("pad".into(), Value::Data(vec![7; 200]))]),
        smbless::client::PayloadFormat::Binary,
        u32::MAX,
    )
    .unwrap();
    // ...then the request trickles in, one byte every 50 ms (about 12 s for the whole of it).
    let mut writer = match &conn {
        helper_support::Conn::Unix(s) => s.try_clone().expect("clone the stream"),
        helper_support::Conn::Tcp(_) => unreachable!(),
    };
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&sent);
    let total = frame.len();
    let trickle = std::thread::spawn(move || {
        for byte in frame {
            if writer.write_all(&[byte]).is_err() {
                break;
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let reply = conn.reply().expect("a timeout reply");
    let when = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        reply_error(&reply).map(|e| e.0),
        Some("timeout"),
        "{reply:?}"
    );
    assert!(
        when < total,
        "the deadline must end the request before all {total} bytes arrive (sent {when})"
    );
    assert!(conn.closed());
    trickle.join().unwrap();
}

#[test]
fn idle_connections_request_counts_and_lifetimes_are_capped() {
    // Closed after the idle-connection timeout with no request in flight.
    let helper = Running::activated(
        Kind::Unix,
        &["--idle-connection-timeout", "1", "--read-timeout", "600"],
    );
    let mut silent = helper.connect().patient();
    assert!(silent.closed(), "a silent connection is closed");

    // Closed after the N-th reply.
    let helper = Running::activated(Kind::Unix, &["--max-requests-per-connection", "3"]);
    let mut conn = helper.connect().patient();
    for _ in 0..3 {
        conn.send_request(&request("ping", []));
        assert!(conn.reply().is_some());
    }
    assert!(conn.closed(), "closed after 3 requests");

    // Closed at its first idle moment after its lifetime.
    let helper = Running::activated(
        Kind::Unix,
        &[
            "--max-connection-lifetime",
            "1",
            "--idle-connection-timeout",
            "600",
        ],
    );
    let mut conn = helper.connect().patient();
    conn.send_request(&request("ping", []));
    assert!(conn.reply().is_some());
    assert!(conn.closed(), "closed once its lifetime is over");
}

#[test]
fn the_client_checks_the_server_uid() {
    let helper = Running::activated(Kind::Unix, &[]);
    let smbless = smbless_bin();
    let socket = match &helper.endpoint {
        smbless_client::Endpoint::Unix(p) => p.clone(),
        smbless_client::Endpoint::Tcp(_) => unreachable!(),
    };
    let run = |uid: &str| {
        Command::new(&smbless)
            .arg("call")
            .arg("--socket")
            .arg(&socket)
            .args(["ping", "--json", "--server-uid", uid])
            .output()
            .expect("run smbless call")
    };
    // systemd-socket-activate, run by us, listens: our uid is the socket's owner.
    let me = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").expect("/proc/self").uid()
    };
    let ok = run(&me.to_string());
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let other = me.wrapping_add(1);
    let wrong = run(&other.to_string());
    assert_eq!(wrong.status.code(), Some(2));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains(&format!("runs as uid {me}, not the required uid {other}")),
        "{err}"
    );
}
