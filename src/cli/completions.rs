//! `smbless completions SHELL` and the hidden `smbless manpages --out DIR` (what
//! `scripts/make-man` runs): shell completion scripts and man pages, generated from the same clap
//! definitions that parse the arguments, so they cannot drift from the commands.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Outcome};

/// Arguments of `smbless completions`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Arguments of `smbless manpages`.
#[derive(Args)]
pub struct ManpagesArgs {
    /// The directory to write `smbless.1` and one `smbless-COMMAND.1` per subcommand into
    /// (created when missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Print the completion script for the shell on stdout.
pub fn run_completions(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    let mut stdout = std::io::stdout();
    clap_complete::generate(args.shell, &mut cmd, "smbless", &mut stdout);
    Ok(Outcome::Success)
}

/// Write the man pages: `smbless.1` and one page per visible subcommand, nested ones included
/// (`smbless-signature-show.1`).
pub fn run_manpages(args: ManpagesArgs) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the directory", args.out.display()))?;
    clap_mangen::generate_to(Cli::command(), &args.out)
        .with_context(|| format!("{}: cannot write the man pages", args.out.display()))?;
    Ok(Outcome::Success)
}
