//! The template helper under systemd socket activation: started by the first connection,
//! concurrent clients, bounded requests, read timeouts, idle exit and SIGTERM draining.
#![cfg(target_os = "linux")]

mod helper_support;

use std::time::Duration;

use helper_support::{string, Kind, Running, PATIENCE};
use plist::Value;
use smbless::client::{reply_error, request};

#[test]
fn not_running_until_the_first_connection_then_replies() {
    let helper = Running::activated(Kind::Unix, &[]);
    // The socket listens, but the process is still systemd-socket-activate waiting on it.
    assert_eq!(helper.program(), "systemd-socket-activate");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        helper.program(),
        "systemd-socket-activate",
        "started without a connection"
    );

    let pong = helper.call(&request("ping", []));
    assert_eq!(string(&pong, "reply"), Some("pong"), "{pong:?}");
    // The same process now runs the helper, which took the socket from LISTEN_FDS.
    assert_eq!(helper.program(), "smbless-helper");
    let version = helper.call(&request("version", []));
    assert_eq!(
        string(&version, "version"),
        Some("1.0.0"),
        "CFBundleVersion of Info.plist"
    );
}

#[test]
fn activated_on_loopback_tcp_too() {
    // TCP peers carry no identity: served only with the development-only --insecure-tcp.
    let helper = Running::activated(Kind::Tcp, &["--insecure-tcp"]);
    assert_eq!(helper.program(), "systemd-socket-activate");
    let echo = helper.call(&request("echo", [("k".into(), Value::from("v"))]));
    let echoed = echo
        .as_dictionary()
        .and_then(|d| d.get("echo"))
        .and_then(Value::as_dictionary);
    assert_eq!(
        echoed.and_then(|d| d.get("k")),
        Some(&Value::from("v")),
        "{echo:?}"
    );
    assert_eq!(helper.program(), "smbless-helper");
}

#[test]
fn serves_many_concurrent_clients() {
    let helper = Running::activated(Kind::Unix, &[]);
    const CLIENTS: usize = 24;
    const ROUNDS: usize = 20;
    // Open every connection first, so that all of them are live in the helper at once.
    let barrier = std::sync::Barrier::new(CLIENTS);
    std::thread::scope(|scope| {
        for client in 0..CLIENTS {
            let (helper, barrier) = (&helper, &barrier);
            scope.spawn(move || {
                let mut conn = helper.connect().patient();
                barrier.wait();
                for round in 0..ROUNDS {
                    let tag = format!("{client}/{round}");
                    conn.send_request(&request(
                        "echo",
                        [("tag".into(), Value::from(tag.as_str()))],
                    ));
                    let reply = conn.reply().expect("a reply on a live connection");
                    let got = reply
                        .as_dictionary()
                        .and_then(|d| d.get("echo"))
                        .and_then(Value::as_dictionary)
                        .and_then(|d| d.get("tag"))
                        .and_then(Value::as_string);
                    assert_eq!(
                        got,
                        Some(tag.as_str()),
                        "replies must not cross connections"
                    );
                }
            });
        }
    });
}

#[test]
fn oversized_length_prefix_is_refused_without_allocating() {
    let helper = Running::activated(Kind::Unix, &[]);
    helper.call(&request("ping", []));
    let peak_before = helper.status_kb("VmPeak");

    // Announce ~4 GiB and follow with a little of it: an error reply, then the close.
    let mut conn = helper.connect().patient();
    conn.send(&0xffff_fff0u32.to_be_bytes());
    conn.send(&[0u8; 8192]);
    let reply = conn.reply().expect("an error reply before the close");
    let (code, message) = reply_error(&reply).expect("an error reply");
    assert_eq!(code, "too-large");
    assert!(message.contains("1048576"), "{message}");
    assert!(
        conn.closed(),
        "the connection is closed after an oversized prefix"
    );

    // Had the helper reserved the announced size, its peak address space would show it.
    let peak_after = helper.status_kb("VmPeak");
    assert!(
        peak_after < peak_before + 256 * 1024,
        "VmPeak grew from {peak_before} kB to {peak_after} kB"
    );
    // And it still serves.
    assert_eq!(
        string(&helper.call(&request("ping", [])), "reply"),
        Some("pong")
    );
}

#[test]
fn request_cap_is_configurable_and_exact() {
    let helper = Running::activated(Kind::Unix, &["--max-request", "200"]);
    let fits = request("echo", [("x".into(), Value::from("a"))]);
    assert!(reply_error(&helper.call(&fits)).is_none());
    let mut conn = helper.connect().patient();
    // Exactly one byte over the cap.
    conn.send(&201u32.to_be_bytes());
    let (code, _) = reply_error(&conn.reply().unwrap())
        .map(|(c, m)| (c.to_owned(), m.to_owned()))
        .unwrap();
    assert_eq!(code, "too-large");
    // A zero length and a non-plist are errors too, not crashes.
    let mut conn = helper.connect().patient();
    conn.send(&0u32.to_be_bytes());
    assert_eq!(
        reply_error(&conn.reply().unwrap()).map(|e| e.0),
        Some("bad-frame")
    );
    let mut conn = helper.connect().patient();
    conn.send(&[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
    assert_eq!(
        reply_error(&conn.reply().unwrap()).map(|e| e.0),
        Some("bad-plist")
    );
}

#[test]
fn a_slow_client_times_out_and_does_not_block_others() {
    let helper = Running::activated(Kind::Unix, &["--read-timeout", "1"]);
    let mut slow = helper.connect().patient();
    // Two bytes of a length prefix, then nothing.
    slow.send(&[0, 0]);
    // Others are served meanwhile.
    assert_eq!(
        string(&helper.call(&request("ping", [])), "reply"),
        Some("pong")
    );
    let reply = slow.reply().expect("a timeout reply");
    assert_eq!(
        reply_error(&reply).map(|e| e.0),
        Some("timeout"),
        "{reply:?}"
    );
    assert!(slow.closed());
    // A client that connects and says nothing is let go as well, quietly: between requests
    // there is nothing to answer.
    let mut silent = helper.connect().patient();
    assert!(silent.closed());
}

#[test]
fn connections_over_the_limit_wait_in_the_backlog() {
    let helper = Running::activated(
        Kind::Unix,
        &["--max-connections", "2", "--read-timeout", "600"],
    );
    let mut first = helper.connect().patient();
    first.send_request(&request("ping", []));
    assert!(first.reply().is_some());
    let mut second = helper.connect().patient();
    second.send_request(&request("ping", []));
    assert!(second.reply().is_some());
    // Both slots are taken: a third client is connected (backlog) but not served...
    let mut third = helper.connect();
    third.send_request(&request("ping", []));
    assert!(
        !third.receives_within(Duration::from_secs(1)),
        "served over the limit"
    );
    // ...until a slot frees up.
    drop(first);
    let mut third = third.patient();
    assert_eq!(
        third.reply().as_ref().and_then(|r| string(r, "reply")),
        Some("pong")
    );
}

#[test]
fn exits_when_idle_but_not_while_a_request_is_in_flight() {
    let mut helper = Running::activated(
        Kind::Unix,
        &["--idle-timeout", "1", "--read-timeout", "120"],
    );
    // This connection starts the helper, then half of a request stays in flight: a request
    // in flight is a transaction, so there is no idle exit while it lasts, however long.
    let mut conn = helper.connect().patient();
    conn.send_request(&request("ping", []));
    assert!(conn.reply().is_some());
    let frame = smbless::client::encode_frame(
        &request("ping", []),
        smbless::client::PayloadFormat::Binary,
        u32::MAX,
    )
    .unwrap();
    let (head, tail) = frame.split_at(frame.len() / 2);
    conn.send(head);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        helper.alive(),
        "exited with a request in flight\n{}",
        helper.stderr()
    );
    conn.send(tail);
    assert!(conn.reply().is_some(), "the request is answered");
    let status = helper.wait_exit(PATIENCE).expect("idle exit");
    assert_eq!(status.code(), Some(0), "{}", helper.stderr());
    assert!(
        helper
            .stderr()
            .contains("exiting (idle; sockets from systemd)"),
        "{}",
        helper.stderr()
    );
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_and_exits_0() {
    let mut helper = Running::activated(Kind::Unix, &["--grace", "120"]);
    let mut busy = helper.connect().patient();
    busy.send_request(&request("ping", []));
    assert!(busy.reply().is_some(), "the connection is being served");
    // Another connection is open but between requests: SIGTERM may close it.
    let mut idle = helper.connect().patient();
    idle.send_request(&request("ping", []));
    assert!(idle.reply().is_some());

    // Half a request, then SIGTERM, then the rest.
    let frame = smbless::client::encode_frame(
        &request("echo", [("after".into(), Value::from("sigterm"))]),
        smbless::client::PayloadFormat::Binary,
        u32::MAX,
    )
    .unwrap();
    let (head, tail) = frame.split_at(frame.len() / 2);
    busy.send(head);
    std::thread::sleep(Duration::from_millis(200));
    helper.signal("TERM");
    assert!(
        idle.closed(),
        "a connection without a request in flight is closed"
    );
    std::thread::sleep(Duration::from_millis(200));
    busy.send(tail);
    let reply = busy.reply().expect("the in-flight request is answered");
    let echoed = reply
        .as_dictionary()
        .and_then(|d| d.get("echo"))
        .and_then(Value::as_dictionary);
    assert_eq!(
        echoed.and_then(|d| d.get("after")),
        Some(&Value::from("sigterm"))
    );
    let status = helper.wait_exit(PATIENCE).expect("exit after draining");
    assert_eq!(status.code(), Some(0), "{}", helper.stderr());
    assert!(
        helper.stderr().contains("exiting (terminated"),
        "{}",
        helper.stderr()
    );
}

#[test]
fn sigterm_with_nothing_in_flight_does_not_wait_for_the_grace_time() {
    // Grace far above the test's patience: only an immediate exit passes.
    let mut helper = Running::activated(Kind::Unix, &["--grace", "3600"]);
    let mut conn = helper.connect().patient();
    conn.send_request(&request("ping", []));
    assert!(conn.reply().is_some());
    helper.signal("TERM");
    let status = helper
        .wait_exit(PATIENCE)
        .expect("exit without waiting for the grace time");
    assert_eq!(status.code(), Some(0));
    assert!(conn.closed());
}

#[test]
fn sigterm_grace_time_bounds_a_stuck_request() {
    let mut helper = Running::activated(Kind::Unix, &["--grace", "1", "--read-timeout", "3600"]);
    let mut stuck = helper.connect().patient();
    stuck.send_request(&request("ping", []));
    assert!(stuck.reply().is_some());
    stuck.send(&[0, 0, 0, 100, b'<']);
    std::thread::sleep(Duration::from_millis(200));
    helper.signal("TERM");
    let status = helper
        .wait_exit(PATIENCE)
        .expect("exit once the grace time is over");
    assert_eq!(status.code(), Some(0), "{}", helper.stderr());
    assert!(
        helper.stderr().contains("grace time over"),
        "{}",
        helper.stderr()
    );
}

#[test]
fn sockets_meant_for_another_process_are_not_taken() {
    // LISTEN_PID names someone else (as when inherited from an activated parent): the helper
    // must not adopt fd 3, and without --listen it has nothing to serve.
    let out = std::process::Command::new(helper_support::helper_bin())
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no listening socket"), "{err}");
}

#[test]
fn per_connection_accept_mode_is_refused_with_a_reason() {
    // `--accept` hands over a connected socket, not a listener: refuse it clearly.
    let mut helper = helper_support::Running::accept_mode();
    let mut conn = helper.connect().patient();
    conn.send_request(&request("ping", []));
    assert!(conn.reply().is_none(), "no reply from a refused socket");
    wait_until_stderr(&mut helper, "not listening");
}

fn wait_until_stderr(helper: &mut Running, needle: &str) {
    helper_support::wait_until("the helper's complaint", || {
        helper.stderr().contains(needle)
    });
}
