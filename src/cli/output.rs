//! Output helpers shared by commands: JSON, GitHub workflow annotations, SARIF 2.1.0.

use anyhow::Context as _;
use serde::Serialize;
use serde_json::{json, Value};
use smbless::contract::Severity;

/// Print `value` as pretty JSON on stdout, followed by a newline.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("serialising JSON output")?;
    println!("{text}");
    Ok(())
}

/// Escape a GitHub workflow-command value (`%`, CR, LF; in properties also `:` and `,`).
pub fn escape_workflow(text: &str, property: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

/// One GitHub Actions annotation line (`::error file=…,title=…::message`).
pub fn github_annotation(severity: Severity, file: &str, title: &str, message: &str) -> String {
    let level = match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    format!(
        "::{level} file={},title={}::{}",
        escape_workflow(file, true),
        escape_workflow(title, true),
        escape_workflow(message, false)
    )
}

/// The SARIF level of a severity.
pub fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// One rule of a SARIF rules table.
pub struct SarifRule<'a> {
    /// The stable id.
    pub id: String,
    /// One sentence.
    pub description: &'a str,
    /// Its default severity.
    pub severity: Severity,
}

/// One SARIF result.
pub struct SarifResult<'a> {
    /// The rule's id (must be in the rules table).
    pub rule: String,
    /// The result's severity.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// The file it is about.
    pub uri: &'a str,
    /// How to fix it.
    pub hint: &'a str,
}

/// A SARIF 2.1.0 log with one run of smbless: its rules table and results, each result
/// pointing at its rule by id and index.
pub fn sarif_log(rules: &[SarifRule<'_>], results: &[SarifResult<'_>]) -> Value {
    let table: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "shortDescription": {"text": r.description},
                "defaultConfiguration": {"level": sarif_level(r.severity)},
            })
        })
        .collect();
    let results: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "ruleId": r.rule,
                "ruleIndex": rules.iter().position(|x| x.id == r.rule),
                "level": sarif_level(r.severity),
                "message": {"text": r.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.uri}}}],
                "fixes": [{"description": {"text": r.hint}}],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "smbless",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": table,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(escape_workflow("50% a\nb", false), "50%25 a%0Ab");
        assert_eq!(escape_workflow("a:b,c", true), "a%3Ab%2Cc");
        assert_eq!(
            github_annotation(Severity::Info, "a,b", "t", "m\n"),
            "::notice file=a%2Cb,title=t::m%0A"
        );
    }
}
