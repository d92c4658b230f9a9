//! Command-line edge: flags in, library calls, output and exit codes out.
//!
//! Exit codes are decided here and nowhere else:
//! - 0: success (the check passed, the action was done or nothing needed doing);
//! - 1: checked and found wanting (an invalid signature, an unsatisfied requirement, …);
//! - 2: could not run (bad input, unreadable file, wrong arguments).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[cfg(unix)]
mod audit;
#[cfg(unix)]
mod bless;
mod call;
mod completions;
mod inspect;
mod output;
mod progress;
#[cfg(unix)]
mod register;
mod req;
mod req_check;
mod setreq;
mod signature;
mod verify;

/// What a command reports back to `main`, before it becomes an exit code.
pub enum Outcome {
    /// Everything checked out, or the action was done.
    Success,
    /// The command ran to the end and found a problem it has already reported.
    Wanting,
}

impl Outcome {
    /// `Success` when `ok`, else `Wanting`.
    pub fn from_ok(ok: bool) -> Outcome {
        if ok {
            Outcome::Success
        } else {
            Outcome::Wanting
        }
    }
}

#[derive(Parser)]
#[command(
    name = "smbless",
    version,
    about = "Open, portable SMJobBless: inspect, verify and install privileged macOS helpers",
    propagate_version = true
)]
struct Cli {
    /// Print no progress and no report for people: the exit code says the result and errors
    /// still go to stderr (output asked for with --json or --format is still written).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a shell completion script: `smbless completions bash > /etc/bash_completion.d/smbless`.
    // Declared first (other commands are added at the end), listed last before `help` (999).
    #[command(display_order = 998)]
    Completions(completions::CompletionsArgs),
    /// Write the man pages (smbless.1, one per subcommand) into a directory: scripts/make-man.
    #[command(hide = true)]
    Manpages(completions::ManpagesArgs),
    /// Send one request to a helper (`ping`, `version`, `echo`, …) and print its reply.
    Call(call::CallArgs),
    /// Show the slices, embedded plists and code-signature location of a Mach-O, ELF or app bundle.
    Inspect(inspect::InspectArgs),
    /// Read and verify code signatures.
    #[command(subcommand)]
    Signature(signature::SignatureCommand),
    /// Compile, decompile and parse code-signing requirements (Apple's `csreq` language).
    #[command(subcommand)]
    Req(req::ReqCommand),
    /// Check the whole app↔helper contract: signatures, requirements in both directions,
    /// plists, versions; every problem with a fix. Exit 0 clean, 1 errors found.
    Verify(verify::VerifyArgs),
    /// Write SMPrivilegedExecutables and SMAuthorizedClients: from a signed app's designated
    /// requirements, or before building from a team ID (Developer ID shape).
    Setreq(setreq::SetreqArgs),
    /// Install or upgrade an app's helper as a root launchd daemon (only to a strictly newer
    /// CFBundleVersion), verifying the copy it installs. Exit 0 done or no change, 1 refused.
    #[cfg(unix)]
    Bless(bless::BlessArgs),
    /// Unload and delete an installed helper and its daemon plist. Idempotent.
    #[cfg(unix)]
    Remove(bless::RemoveArgs),
    /// List installed privileged helpers: version, signature, loaded; with --app, what a bless
    /// would do.
    #[cfg(unix)]
    Status(bless::StatusArgs),
    /// Register an SMAppService daemon of the app smbless runs inside (macOS 13+), after a
    /// pre-flight check; --check APP runs only the check, on any OS. Exit 0 registered or
    /// awaiting approval, 1 refused.
    #[cfg(unix)]
    Register(register::RegisterArgs),
    /// Unregister an SMAppService daemon of the app smbless runs inside (macOS 13+).
    #[cfg(unix)]
    Unregister(register::UnregisterArgs),
    /// Judge every privileged helper and launchd job of a system (live, mounted or staged):
    /// orphans, signatures, client requirements, client checks, file safety. Exit 0 clean,
    /// 1 a finding reached --min-severity.
    #[cfg(unix)]
    Audit(audit::AuditArgs),
}

/// Parse the arguments, run the command and map its outcome to an exit code.
pub fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (m, cli)));
    let (matches, cli) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let session =
        match progress::Session::start(&progress::Request::from_matches(&matches, cli.quiet)) {
            Ok(session) => session,
            Err(err) => {
                eprintln!("error: cannot arrange standard output for --quiet: {err}");
                return ExitCode::from(2);
            }
        };
    let result = match cli.command {
        Command::Completions(args) => completions::run_completions(args),
        Command::Manpages(args) => completions::run_manpages(args),
        Command::Call(args) => call::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Signature(cmd) => signature::run(cmd),
        Command::Req(cmd) => req::run(cmd),
        Command::Verify(args) => verify::run(args),
        Command::Setreq(args) => setreq::run(args),
        #[cfg(unix)]
        Command::Bless(args) => bless::run_bless(args),
        #[cfg(unix)]
        Command::Remove(args) => bless::run_remove(args),
        #[cfg(unix)]
        Command::Status(args) => bless::run_status(args),
        #[cfg(unix)]
        Command::Register(args) => register::run_register(args),
        #[cfg(unix)]
        Command::Unregister(args) => register::run_unregister(args),
        #[cfg(unix)]
        Command::Audit(args) => audit::run(args),
    };
    session.finish();
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Wanting) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
