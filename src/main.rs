//! The `smbless` command: a thin layer that turns arguments into library calls.
//!
//! Everything that decides anything lives in the `smbless` library; this crate only parses
//! flags, prints, and maps outcomes to the exit codes documented in the README.

mod cli;

fn main() -> std::process::ExitCode {
    restore_sigpipe();
    cli::main()
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`smbless … | head`) would make every
/// `println!` panic. A command-line tool should end quietly there, as C tools do: restore the
/// default action before anything is printed.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: called first thing in `main`, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE and no handler of ours is replaced.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}
