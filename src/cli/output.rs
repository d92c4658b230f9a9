//! Output helpers shared by commands.

use anyhow::Context as _;
use serde::Serialize;

/// Print `value` as pretty JSON on stdout, followed by a newline.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("serialising JSON output")?;
    println!("{text}");
    Ok(())
}
