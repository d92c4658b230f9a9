//! Tokens of the requirement language, after Apple's `RequirementLexer` (requirements.grammar).
//!
//! Differences from Apple's lexer, all additive: `\\` is accepted as an escaped backslash (Apple's
//! dumper writes it, Apple's lexer rejects it), `\r` counts as white space, and a date in the
//! dumper's own form `<2019-01-01 00:00:00 +0000>` is one token so that dumped text parses again.

use super::error::{ParseError, Span};

/// One token kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A bare word, possibly dotted (`DOTKEY`): `anchor`, `subject.OU`, `com.example`.
    Word(String),
    /// A quoted string, escapes resolved (raw bytes: Apple's strings need not be UTF-8).
    Str(Vec<u8>),
    /// `H"…"`: the hex digits inside.
    Hash(String),
    /// `0x…`: the hex digits after `0x`.
    HexData(String),
    /// A decimal integer (digits only).
    Int(String),
    /// `/a/b…`: an absolute path.
    Path(String),
    /// `<2019-01-01 00:00:00 +0000>`: seconds since 2001-01-01.
    Date(i64),
    /// `=>`.
    Arrow,
    /// `;`.
    Semi,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `[`.
    LBrack,
    /// `]`.
    RBrack,
    /// `<`.
    Less,
    /// `>`.
    Gt,
    /// `<=`.
    Le,
    /// `>=`.
    Ge,
    /// `,`.
    Comma,
    /// `=`.
    Eql,
    /// `==`.
    Eqql,
    /// `~`.
    Subs,
    /// `-`.
    Neg,
    /// `!`.
    Not,
    /// `*`.
    Star,
    /// End of input.
    Eof,
}

/// A token and where it is in the source (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where it is.
    pub span: Span,
}

/// Words the grammar reserves (Apple's `RequirementKeywords.h`). The dumper quotes a value that
/// equals one of them.
pub const KEYWORDS: &[&str] = &[
    "guest",
    "host",
    "designated",
    "library",
    "plugin",
    "or",
    "and",
    "always",
    "true",
    "never",
    "false",
    "identifier",
    "cdhash",
    "platform",
    "notarized",
    "legacy",
    "anchor",
    "apple",
    "generic",
    "certificate",
    "cert",
    "trusted",
    "info",
    "entitlement",
    "exists",
    "absent",
    "leaf",
    "root",
    "timestamp",
];

/// Whether `word` is reserved.
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Split `src` into tokens (ending with [`Tok::Eof`]).
pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    let at = |i: usize| b.get(i).copied();
    while let Some(c) = at(i) {
        let start = i;
        let single = |tok: Tok| Token {
            tok,
            span: Span::new(start, start + 1),
        };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' => {
                while at(i).is_some_and(|c| c != b'\n') {
                    i += 1;
                }
            }
            b'/' if at(i + 1) == Some(b'/') => {
                while at(i).is_some_and(|c| c != b'\n') {
                    i += 1;
                }
            }
            b'/' if at(i + 1) == Some(b'*') => {
                i += 2;
                loop {
                    match at(i) {
                        None => {
                            return Err(ParseError::at(
                                src,
                                Span::new(start, start + 2),
                                "unterminated `/*` comment",
                            ))
                        }
                        Some(b'*') if at(i + 1) == Some(b'/') => {
                            i += 2;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'/' => {
                // PATHNAME: "/" IDENT ( "/" IDENT )+
                let mut parts = 0;
                while at(i) == Some(b'/') && at(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
                    i += 1;
                    while at(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
                        i += 1;
                    }
                    parts += 1;
                }
                if parts < 2 {
                    return Err(ParseError::at(
                        src,
                        Span::new(start, (start + 1).max(i)),
                        "expected an absolute path like `/path/to/cert` after `/`",
                    ));
                }
                out.push(Token {
                    tok: Tok::Path(src.get(start..i).unwrap_or_default().to_owned()),
                    span: Span::new(start, i),
                });
            }
            b'H' if at(i + 1) == Some(b'"') => {
                i += 2;
                let digits = i;
                while at(i).is_some_and(|c| c.is_ascii_hexdigit()) {
                    i += 1;
                }
                if i == digits || at(i) != Some(b'"') {
                    return Err(ParseError::at(
                        src,
                        Span::new(i, i + 1),
                        "expected hex digits and a closing `\"` in `H\"…\"`",
                    ));
                }
                let hex = src.get(digits..i).unwrap_or_default().to_owned();
                i += 1;
                out.push(Token {
                    tok: Tok::Hash(hex),
                    span: Span::new(start, i),
                });
            }
            b'0' if at(i + 1) == Some(b'x') => {
                i += 2;
                let digits = i;
                while at(i).is_some_and(|c| c.is_ascii_hexdigit()) {
                    i += 1;
                }
                if i == digits {
                    return Err(ParseError::at(
                        src,
                        Span::new(start, i),
                        "expected hex digits after `0x`",
                    ));
                }
                out.push(Token {
                    tok: Tok::HexData(src.get(digits..i).unwrap_or_default().to_owned()),
                    span: Span::new(start, i),
                });
            }
            b'0'..=b'9' => {
                while at(i).is_some_and(|c| c.is_ascii_digit()) {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Int(src.get(start..i).unwrap_or_default().to_owned()),
                    span: Span::new(start, i),
                });
            }
            b'A'..=b'Z' | b'a'..=b'z' => {
                // DOTKEY: IDENT ( "." ( IDENT | INTEGER ) )*
                while at(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
                    i += 1;
                }
                while at(i) == Some(b'.') && at(i + 1).is_some_and(|c| c.is_ascii_alphanumeric()) {
                    // Apple's lexer takes only digits after a dot when the segment starts with
                    // one (`a.1b` is two tokens there, and a syntax error); taking the whole
                    // segment accepts what the dumper prints for such keys.
                    i += 1;
                    while at(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
                        i += 1;
                    }
                }
                out.push(Token {
                    tok: Tok::Word(src.get(start..i).unwrap_or_default().to_owned()),
                    span: Span::new(start, i),
                });
            }
            b'"' => {
                i += 1;
                let mut value = Vec::new();
                loop {
                    match at(i) {
                        None => {
                            return Err(ParseError::at(
                                src,
                                Span::new(start, i),
                                "unterminated string (missing closing `\"`)",
                            ))
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => match at(i + 1) {
                            Some(e @ (b'"' | b'\\')) => {
                                value.push(e);
                                i += 2;
                            }
                            _ => {
                                return Err(ParseError::at(
                                    src,
                                    Span::new(i, i + 2),
                                    "unknown escape in string (only `\\\"` and `\\\\`)",
                                ))
                            }
                        },
                        Some(c) => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                out.push(Token {
                    tok: Tok::Str(value),
                    span: Span::new(start, i),
                });
            }
            b'<' if looks_like_date(b.get(i + 1..).unwrap_or_default()) => {
                let end = b
                    .get(i..)
                    .and_then(|rest| rest.iter().position(|&c| c == b'>'))
                    .map(|p| i + p);
                let Some(end) = end else {
                    return Err(ParseError::at(
                        src,
                        Span::new(start, start + 1),
                        "unterminated date (missing `>`)",
                    ));
                };
                let text = src.get(i + 1..end).unwrap_or_default();
                let Some(secs) = super::time::parse_dumper_date(text) else {
                    return Err(ParseError::at(
                        src,
                        Span::new(start, end + 1),
                        "expected a date like `<2019-01-01 00:00:00 +0000>`",
                    ));
                };
                i = end + 1;
                out.push(Token {
                    tok: Tok::Date(secs),
                    span: Span::new(start, i),
                });
            }
            _ => {
                let two = |t: Tok| Token {
                    tok: t,
                    span: Span::new(start, start + 2),
                };
                let next = at(i + 1);
                let (tok, len) = match (c, next) {
                    (b'=', Some(b'>')) => (two(Tok::Arrow), 2),
                    (b'=', Some(b'=')) => (two(Tok::Eqql), 2),
                    (b'<', Some(b'=')) => (two(Tok::Le), 2),
                    (b'>', Some(b'=')) => (two(Tok::Ge), 2),
                    (b'=', _) => (single(Tok::Eql), 1),
                    (b'<', _) => (single(Tok::Less), 1),
                    (b'>', _) => (single(Tok::Gt), 1),
                    (b';', _) => (single(Tok::Semi), 1),
                    (b'(', _) => (single(Tok::LParen), 1),
                    (b')', _) => (single(Tok::RParen), 1),
                    (b'[', _) => (single(Tok::LBrack), 1),
                    (b']', _) => (single(Tok::RBrack), 1),
                    (b',', _) => (single(Tok::Comma), 1),
                    (b'~', _) => (single(Tok::Subs), 1),
                    (b'-', _) => (single(Tok::Neg), 1),
                    (b'!', _) => (single(Tok::Not), 1),
                    (b'*', _) => (single(Tok::Star), 1),
                    _ => {
                        let width = src
                            .get(start..)
                            .and_then(|s| s.chars().next())
                            .map_or(1, char::len_utf8);
                        return Err(ParseError::at(
                            src,
                            Span::new(start, start + width),
                            "unexpected character",
                        ));
                    }
                };
                out.push(tok);
                i += len;
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(b.len(), b.len()),
    });
    Ok(out)
}

fn looks_like_date(rest: &[u8]) -> bool {
    rest.len() >= 5 && rest.iter().take(4).all(u8::is_ascii_digit) && rest.get(4) == Some(&b'-')
}
