//! Errors of the requirement engine: text that does not parse, blobs that do not read, trees
//! that cannot be written.

use std::fmt;

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// `start..end` (an empty or reversed range is widened to one byte for display).
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }
}

/// Text that is not a valid requirement: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}\n{snippet}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Byte range of the offending text.
    pub span: Span,
    /// What was wrong or expected.
    pub message: String,
    /// The source line and a caret under the offending text.
    pub snippet: String,
}

impl ParseError {
    /// An error at `span` of `src`.
    pub fn at(src: &str, span: Span, message: impl Into<String>) -> ParseError {
        let start = span.start.min(src.len());
        let line_start = src
            .get(..start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |p| p + 1);
        let line_end = src
            .get(start..)
            .and_then(|s| s.find('\n'))
            .map_or(src.len(), |p| start + p);
        let line = src.get(..line_start).map_or(0, |s| s.matches('\n').count()) + 1;
        let before = src.get(line_start..start).unwrap_or_default();
        let column = before.chars().count() + 1;
        let text = src.get(line_start..line_end).unwrap_or_default();
        let text = text.trim_end_matches('\r');
        let width = src
            .get(start..span.end.min(line_end).max(start))
            .map_or(1, |s| s.chars().count())
            .max(1);
        let gutter = line.to_string();
        let pad = " ".repeat(gutter.len());
        let indent: String = before
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let snippet = format!(
            "{pad} |\n{gutter} | {text}\n{pad} | {indent}{}",
            "^".repeat(width)
        );
        ParseError {
            line,
            column,
            span,
            message: message.into(),
            snippet,
        }
    }
}

/// A binary requirement or requirement set that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The data ended before a field could be read.
    #[error(
        "truncated requirement: {field} at offset {offset} needs {needed} bytes, {available} left"
    )]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Its offset in the blob.
        offset: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The magic is neither `0xfade0c00` nor `0xfade0c01`.
    #[error(
        "not a requirement: magic 0x{found:08x} at offset {offset}, expected 0x{expected:08x}"
    )]
    BadMagic {
        /// Offset of the magic.
        offset: usize,
        /// What was found.
        found: u32,
        /// What was expected.
        expected: u32,
    },
    /// The blob's length field disagrees with the data.
    #[error("requirement length {length} at offset {offset} is invalid ({reason})")]
    BadLength {
        /// Offset of the blob.
        offset: usize,
        /// The length field.
        length: u32,
        /// Why it is wrong.
        reason: &'static str,
    },
    /// The DER "lightweight code requirement" form (kind 2), which this implementation does not
    /// read.
    #[error("requirement at offset {offset} is a lightweight code requirement (kind 2, DER), which is not supported")]
    LightweightUnsupported {
        /// Offset of the blob.
        offset: usize,
    },
    /// A `kind` other than 1 or 2.
    #[error(
        "requirement at offset {offset} has unknown kind {kind} (expected 1, expression form)"
    )]
    UnknownKind {
        /// Offset of the blob.
        offset: usize,
        /// The kind.
        kind: u32,
    },
    /// An opcode without a skip flag that this implementation does not know.
    #[error("unknown requirement opcode 0x{op:08x} at offset {offset} (no skip flag)")]
    UnknownOpcode {
        /// Offset of the opcode.
        offset: usize,
        /// The opcode word.
        op: u32,
    },
    /// A field whose value is not allowed.
    #[error("invalid {field} at offset {offset}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Its offset.
        offset: usize,
        /// Why.
        reason: String,
    },
    /// Expressions nested deeper than [`super::MAX_DEPTH`].
    #[error("requirement nested deeper than {limit} levels at offset {offset}")]
    TooDeep {
        /// Offset of the opcode that exceeded the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// Bytes after the expression, inside the blob.
    #[error("{count} trailing bytes after the requirement expression at offset {offset}")]
    TrailingData {
        /// Where they start.
        offset: usize,
        /// How many.
        count: usize,
    },
}

/// A tree that cannot be written as Apple's binary form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// Nested deeper than [`super::MAX_DEPTH`] (Apple's interpreter would refuse it).
    #[error("requirement nested deeper than {0} levels")]
    TooDeep(usize),
    /// A value longer than a u32 length field can say, or a blob past 4 GiB.
    #[error("{0} is too large for the binary form")]
    TooLarge(&'static str),
    /// An anchor hash that is not 20 bytes (SHA-1).
    #[error("certificate hash must be 20 bytes (SHA-1), got {0}")]
    BadHashLength(usize),
    /// An unknown opcode without a skip flag cannot be written meaningfully.
    #[error("opcode 0x{0:08x} is unknown and carries no skip flag")]
    UnknownOpcode(u32),
}

/// Either kind of failure, for callers that parse or decode and then compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    /// Text did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A blob did not read.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A tree could not be written.
    #[error(transparent)]
    Compile(#[from] CompileError),
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}
