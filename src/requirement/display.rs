//! Tree → the text `codesign -d -r-` prints, after Apple's `Dumper` (reqdumper.cpp).
//!
//! Parentheses only where precedence needs them (an `or` inside an `and`, anything compound
//! under `!`); values bare when they are identifier-like and not reserved words, quoted when
//! printable, `0x…` hex otherwise; `/* exists */`; wildcards outside the quotes; OIDs dotted.
//! Apple's own quirks are kept (`absent` is followed by a space) except where Apple's output would
//! not parse again: `certificate leaf trusted` gets the space Apple's dumper drops.

use std::fmt::{self, Write as _};

use super::ast::{hex, op, Expr, Match, Requirement, RequirementSet, ANCHOR, LEAF};
use super::lexer::is_keyword;
use super::time::dumper_date;

/// Precedence context (Apple's `SyntaxLevel`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Primary,
    And,
    Or,
    Top,
}

/// Apple's text for one requirement (no trailing newline).
pub fn to_text(req: &Requirement) -> String {
    let mut s = String::new();
    expr(&mut s, &req.expr, Level::Top);
    match s.strip_prefix(' ') {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}

/// Apple's text for a requirement set: one `type => requirement` line per entry, each ending
/// in a newline.
pub fn set_to_text(set: &RequirementSet) -> String {
    let mut s = String::new();
    for (ty, req) in &set.entries {
        match ty.name() {
            Some(name) => {
                let _ = write!(s, "{name} => ");
            }
            None => {
                let _ = write!(s, "/*unknown type*/ {} => ", ty.0);
            }
        }
        expr(&mut s, &req.expr, Level::Top);
        s.push('\n');
    }
    s
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_text(self))
    }
}

impl fmt::Display for RequirementSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&set_to_text(self))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        expr(&mut s, self, Level::Top);
        f.write_str(s.strip_prefix(' ').unwrap_or(&s))
    }
}

/// How Apple's dumper prints a value (`Dumper::data`): bare, quoted, or hex.
pub fn value_text(data: &[u8], dot_ok: bool) -> String {
    let mut s = String::new();
    data_text(&mut s, data, dot_ok);
    s
}

#[derive(PartialEq, Eq)]
enum Mode {
    Simple,
    Printable,
    Binary,
}

fn data_text(s: &mut String, data: &[u8], dot_ok: bool) {
    let mut mode = Mode::Simple;
    for (n, &c) in data.iter().enumerate() {
        if c.is_ascii_alphanumeric() || (c == b'.' && dot_ok) {
            if n == 0 && c.is_ascii_digit() {
                mode = Mode::Printable;
            }
        } else if c.is_ascii_graphic() || matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            if mode == Mode::Simple {
                mode = Mode::Printable;
            }
        } else {
            mode = Mode::Binary;
            break;
        }
    }
    if mode == Mode::Simple {
        // Empty or a reserved word: Apple's keyword table ends with "" too.
        let word = std::str::from_utf8(data).unwrap_or("");
        // A dotted key must also lex as one word again (`a.b`, not `a.`, `.a` or `a..b`); Apple
        // prints those bare and cannot read them back, so they are quoted here.
        let dots_ok = !word.starts_with('.') && !word.ends_with('.') && !word.contains("..");
        if data.is_empty() || is_keyword(word) || !dots_ok {
            mode = Mode::Printable;
        }
    }
    match mode {
        Mode::Simple => s.push_str(std::str::from_utf8(data).unwrap_or("")),
        Mode::Printable => {
            s.push('"');
            for &c in data {
                if c == b'\\' || c == b'"' {
                    s.push('\\');
                }
                s.push(char::from(c));
            }
            s.push('"');
        }
        Mode::Binary => {
            s.push_str("0x");
            s.push_str(&hex(data));
        }
    }
}

fn slot_text(s: &mut String, slot: i32) {
    match slot {
        ANCHOR => s.push_str(" root"),
        LEAF => s.push_str(" leaf"),
        n => {
            let _ = write!(s, " {n}");
        }
    }
}

fn oid_text(s: &mut String, prefix: &str, oid: &[u8]) {
    s.push_str(prefix);
    match super::oid::to_dotted(oid) {
        Some(d) => s.push_str(&d),
        // Not an OID Apple's encoder could have written: show the bytes rather than guess.
        None => {
            s.push_str("0x");
            s.push_str(&hex(oid));
        }
    }
}

fn match_text(s: &mut String, m: &Match) {
    match m {
        Match::Exists => s.push_str(" /* exists */"),
        Match::Absent => s.push_str(" absent "),
        Match::Equal(d) => {
            s.push_str(" = ");
            data_text(s, &d.0, false);
        }
        Match::Contains(d) => {
            s.push_str(" ~ ");
            data_text(s, &d.0, false);
        }
        Match::BeginsWith(d) => {
            s.push_str(" = ");
            data_text(s, &d.0, false);
            s.push('*');
        }
        Match::EndsWith(d) => {
            s.push_str(" = *");
            data_text(s, &d.0, false);
        }
        Match::LessThan(d) => {
            s.push_str(" < ");
            data_text(s, &d.0, false);
        }
        Match::GreaterEqual(d) => {
            s.push_str(" >= ");
            data_text(s, &d.0, false);
        }
        Match::LessEqual(d) => {
            s.push_str(" <= ");
            data_text(s, &d.0, false);
        }
        Match::GreaterThan(d) => {
            s.push_str(" > ");
            data_text(s, &d.0, false);
        }
        Match::On(t) => {
            let _ = write!(s, " = <{}>", dumper_date(*t));
        }
        Match::Before(t) => {
            let _ = write!(s, " < <{}>", dumper_date(*t));
        }
        Match::After(t) => {
            let _ = write!(s, " > <{}>", dumper_date(*t));
        }
        Match::OnOrBefore(t) => {
            let _ = write!(s, " <= <{}>", dumper_date(*t));
        }
        Match::OnOrAfter(t) => {
            let _ = write!(s, " >= <{}>", dumper_date(*t));
        }
        Match::Unknown { op, .. } => {
            let _ = write!(s, "MATCH OPCODE {op} NOT UNDERSTOOD");
        }
    }
}

fn expr(s: &mut String, e: &Expr, level: Level) {
    match e {
        Expr::False => s.push_str("never"),
        Expr::True => s.push_str("always"),
        Expr::Ident { value } => {
            s.push_str("identifier ");
            data_text(s, &value.0, false);
        }
        Expr::AppleAnchor => s.push_str("anchor apple"),
        Expr::AppleGenericAnchor => s.push_str("anchor apple generic"),
        Expr::AnchorHash { slot, hash } => {
            s.push_str("certificate");
            slot_text(s, *slot);
            s.push_str(" = H\"");
            s.push_str(&hex(hash));
            s.push('"');
        }
        Expr::InfoKeyValue { key, value } => {
            s.push_str("info[");
            data_text(s, &key.0, true);
            s.push_str("] = ");
            data_text(s, &value.0, false);
        }
        Expr::And { left, right } => {
            if level < Level::And {
                s.push('(');
            }
            expr(s, left, Level::And);
            s.push_str(" and ");
            expr(s, right, Level::And);
            if level < Level::And {
                s.push(')');
            }
        }
        Expr::Or { left, right } => {
            if level < Level::Or {
                s.push('(');
            }
            expr(s, left, Level::Or);
            s.push_str(" or ");
            expr(s, right, Level::Or);
            if level < Level::Or {
                s.push(')');
            }
        }
        Expr::Not { expr: inner } => {
            s.push_str("! ");
            expr(s, inner, Level::Primary);
        }
        Expr::CdHash { hash } => {
            s.push_str("cdhash H\"");
            s.push_str(&hex(hash));
            s.push('"');
        }
        Expr::InfoKeyField { key, matcher } => {
            s.push_str("info[");
            data_text(s, &key.0, true);
            s.push(']');
            match_text(s, matcher);
        }
        Expr::EntitlementField { key, matcher } => {
            s.push_str("entitlement[");
            data_text(s, &key.0, true);
            s.push(']');
            match_text(s, matcher);
        }
        Expr::CertField { slot, key, matcher } => {
            s.push_str("certificate");
            slot_text(s, *slot);
            s.push('[');
            data_text(s, &key.0, true);
            s.push(']');
            match_text(s, matcher);
        }
        Expr::CertGeneric { slot, oid, matcher } => {
            s.push_str("certificate");
            slot_text(s, *slot);
            s.push('[');
            oid_text(s, "field.", oid);
            s.push(']');
            match_text(s, matcher);
        }
        Expr::CertPolicy { slot, oid, matcher } => {
            s.push_str("certificate");
            slot_text(s, *slot);
            s.push('[');
            oid_text(s, "policy.", oid);
            s.push(']');
            match_text(s, matcher);
        }
        Expr::CertFieldDate { slot, oid, matcher } => {
            s.push_str("certificate");
            slot_text(s, *slot);
            s.push('[');
            oid_text(s, "timestamp.", oid);
            s.push(']');
            match_text(s, matcher);
        }
        Expr::TrustedCert { slot } => {
            s.push_str("certificate");
            slot_text(s, *slot);
            s.push_str(" trusted");
        }
        Expr::TrustedCerts => s.push_str("anchor trusted"),
        Expr::NamedAnchor { name } => {
            s.push_str("anchor apple ");
            data_text(s, &name.0, false);
        }
        Expr::NamedCode { name } => {
            s.push('(');
            data_text(s, &name.0, false);
            s.push(')');
        }
        Expr::Platform { value } => {
            let _ = write!(s, "platform = {value}");
        }
        Expr::Notarized => s.push_str("notarized"),
        Expr::LegacyDevId => s.push_str("legacy"),
        Expr::Unknown { op: word, next, .. } => {
            let code = word & !op::FLAG_MASK;
            if word & op::GENERIC_FALSE != 0 {
                let _ = write!(s, " false /* opcode {code} */");
            } else {
                // Apple's dumper stops here; the expression that stands in is printed too so
                // the text says what the interpreter evaluates.
                let _ = write!(s, " /* opcode {code} */");
                if let Some(n) = next {
                    s.push(' ');
                    expr(s, n, level);
                }
            }
        }
    }
}
