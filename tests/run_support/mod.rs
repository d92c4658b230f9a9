//! Shared by the integration tests that run the CLI as a child process (`mod run_support;`).

#![allow(dead_code)] // each test file uses part of it

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Wait for `child` at most `within`; kill it and fail the test when it is still running
/// ("never a hang" is asserted, not hoped for).
pub fn wait_or_kill(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{what} still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A test that cannot run here says so; under `CI` (root, util-linux, debug builds) it fails
/// instead, so CI never reports a check it did not run.
pub fn skip(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "cannot run under CI: {why}"
    );
    eprintln!("SKIPPED: {why}");
}
