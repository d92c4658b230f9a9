//! `smbless req compile|decompile|parse`: the code-signing requirement language.
//!
//! To add a subcommand (e.g. `req check PATH REQ`, `req designated PATH`), put its args struct and
//! `run` function in its own module (`src/cli/req_check.rs`), add a variant to [`ReqCommand`]
//! under the marked line, and one arm to [`run`].

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use serde::Serialize;
use smbless::requirement::{self, ast::hex, Decoded, Parsed};

use super::{output, Outcome};

/// `smbless req …`.
#[derive(Subcommand)]
pub enum ReqCommand {
    /// Compile requirement text (one requirement, or a set `designated => … host => …`) to
    /// Apple's binary form, byte for byte what `csreq -b` writes.
    Compile(CompileArgs),
    /// Print a binary requirement or requirement set as the text `codesign -d -r-` prints.
    Decompile(DecompileArgs),
    /// Parse requirement text and print it back in Apple's canonical form, or its syntax tree
    /// with `--json`.
    Parse(ParseArgs),
    // More `req` subcommands (check, designated) go here, each in its own module.
    /// Verify the code at PATH and evaluate a requirement against every slice, with the
    /// explanation tree. Exit 0 satisfied, 1 not (or the signature is invalid).
    Check(super::req_check::CheckArgs),
    /// Print the designated requirement of the code at PATH: the explicit one, else the one
    /// macOS synthesises from its certificates (or cdhashes, for ad-hoc code).
    Designated(super::req_check::DesignatedArgs),
}

/// `smbless req compile`.
#[derive(Args)]
pub struct CompileArgs {
    /// The requirement text (omit with `-f`).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub text: Option<String>,
    /// Read the requirement text from this file (`-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Write the binary blob to this file.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Print the blob as hex on standard output (the default when no `-o` is given).
    #[arg(long)]
    pub hex: bool,
    /// Print `{"hex": …, "text": …, "length": …}`.
    #[arg(long)]
    pub json: bool,
}

/// `smbless req decompile`.
#[derive(Args)]
pub struct DecompileArgs {
    /// A file holding a binary requirement (`0xfade0c00`) or set (`0xfade0c01`).
    #[arg(required_unless_present = "hex", conflicts_with = "hex")]
    pub file: Option<PathBuf>,
    /// The blob as hex instead of a file.
    #[arg(long, value_name = "HEX")]
    pub hex: Option<String>,
    /// Print `{"text": …, "tree": …}`.
    #[arg(long)]
    pub json: bool,
}

/// `smbless req parse`.
#[derive(Args)]
pub struct ParseArgs {
    /// The requirement text.
    pub text: String,
    /// Print the syntax tree as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run a `req` subcommand.
pub fn run(cmd: ReqCommand) -> anyhow::Result<Outcome> {
    match cmd {
        ReqCommand::Compile(args) => compile(args),
        ReqCommand::Decompile(args) => decompile(args),
        ReqCommand::Parse(args) => parse(args),
        ReqCommand::Check(args) => super::req_check::check(args),
        ReqCommand::Designated(args) => super::req_check::designated(args),
    }
}

fn read_text(text: Option<String>, file: Option<PathBuf>) -> anyhow::Result<String> {
    if let Some(t) = text {
        return Ok(t);
    }
    let Some(path) = file else {
        bail!("give the requirement text or -f FILE");
    };
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))
}

fn parse_text(text: &str) -> anyhow::Result<Parsed> {
    requirement::parse(text).map_err(|e| anyhow::anyhow!("requirement text, line {e}"))
}

fn canonical(parsed: &Parsed) -> String {
    match parsed {
        Parsed::Requirement(r) => requirement::to_text(r),
        Parsed::Set(s) => requirement::set_to_text(s).trim_end().to_owned(),
    }
}

#[derive(Serialize)]
struct CompileJson {
    length: usize,
    hex: String,
    text: String,
}

fn compile(args: CompileArgs) -> anyhow::Result<Outcome> {
    let text = read_text(args.text, args.file)?;
    let parsed = parse_text(&text)?;
    let blob = match &parsed {
        Parsed::Requirement(r) => requirement::compile(r)?,
        Parsed::Set(s) => requirement::compile_set(s)?,
    };
    if let Some(out) = &args.output {
        std::fs::write(out, &blob).with_context(|| format!("{}: cannot write", out.display()))?;
    }
    if args.json {
        output::print_json(&CompileJson {
            length: blob.len(),
            hex: hex(&blob),
            text: canonical(&parsed),
        })?;
    } else if args.hex || args.output.is_none() {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", hex(&blob)).context("writing standard output")?;
    }
    Ok(Outcome::Success)
}

fn unhex(s: &str) -> anyhow::Result<Vec<u8>> {
    let digits: Vec<u8> = s
        .trim()
        .trim_start_matches("0x")
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if !digits.len().is_multiple_of(2) {
        bail!("--hex: odd number of hex digits");
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .with_context(|| format!("--hex: invalid hex digit at position {}", i * 2))
        })
        .collect()
}

#[derive(Serialize)]
struct DecompileJson<'a> {
    text: String,
    tree: Tree<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Tree<'a> {
    Requirement(&'a requirement::Requirement),
    Set(&'a requirement::RequirementSet),
}

fn decompile(args: DecompileArgs) -> anyhow::Result<Outcome> {
    let blob = match (&args.hex, &args.file) {
        (Some(h), _) => unhex(h)?,
        (None, Some(path)) => {
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?
        }
        (None, None) => bail!("give a FILE or --hex HEX"),
    };
    let decoded = requirement::decode_any(&blob).context("reading the requirement blob")?;
    let (text, tree) = match &decoded {
        Decoded::Requirement(r) => (requirement::to_text(r), Tree::Requirement(r)),
        Decoded::Set(s) => (
            requirement::set_to_text(s).trim_end().to_owned(),
            Tree::Set(s),
        ),
    };
    if args.json {
        output::print_json(&DecompileJson { text, tree })?;
    } else {
        println!("{text}");
    }
    Ok(Outcome::Success)
}

fn parse(args: ParseArgs) -> anyhow::Result<Outcome> {
    let parsed = parse_text(&args.text)?;
    if args.json {
        output::print_json(&parsed)?;
    } else {
        println!("{}", canonical(&parsed));
    }
    Ok(Outcome::Success)
}
