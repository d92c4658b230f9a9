//! The `smbless` command: a thin layer that turns arguments into library calls.
//!
//! Everything that decides anything lives in the `smbless` library; this crate only parses
//! flags, prints, and maps outcomes to the exit codes documented in the README.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
