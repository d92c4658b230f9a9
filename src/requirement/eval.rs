//! Judging code against a requirement, as Apple's `Requirement::Interpreter` (reqinterp.cpp)
//! does, with an explanation of every clause.
//!
//! Semantics kept from reqinterp: a missing Info.plist/entitlement key is `kCFNull`, which only
//! `absent` matches; an array matches when any element does; `exists` is "present and not boolean
//! false"; `=` is type-exact equality with the (string) value; substring and ordering tests apply
//! to strings only, ordering numerically aware ("10" > "9"); a missing certificate makes a
//! certificate clause false; `anchor apple generic` checks only that the anchor is an Apple root;
//! `anchor apple` also requires Apple's own code-signing intermediate ("Apple Code Signing
//! Certification Authority", "Apple Inc.") and the macOS software-signing marker on the leaf
//! (Apple first accepts any cdhash in the kernel's trust cache, which exists only on a running
//! Mac and is not consulted here);
//! both sides of `and`/`or` are evaluated (Apple does not short-circuit). Named anchors and named
//! code refer to requirement fragments inside Security.framework; where those are not present
//! (anywhere but macOS) Apple's interpreter evaluates them as false, and so does this one.

use std::cell::OnceCell;
use std::cmp::Ordering;

use serde::Serialize;

use super::ast::{op, Expr, Match, Requirement, ANCHOR, LEAF};
use super::display::value_text;
use super::identity::CodeIdentity;
use super::x509::{subject_oid, CertView};
use super::MAX_DEPTH;

/// The outcome of evaluating a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Whether the code satisfies the requirement.
    pub satisfied: bool,
    /// Why: one node per clause.
    pub explanation: Clause,
    /// Set when the requirement could not be evaluated at all (Apple: `errSecCSReqInvalid` /
    /// `errSecCSUnimplemented`); `satisfied` is then false.
    pub error: Option<String>,
}

/// One clause of the explanation tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clause {
    /// The clause in Apple's text form (`all of` / `any of` / `not` for combinators).
    pub text: String,
    /// Whether it held.
    pub held: bool,
    /// Why it held or not, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Sub-clauses of `and`, `or`, `!`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Clause>,
}

impl Evaluation {
    /// One line saying why the requirement is not satisfied: the evaluation error, else the
    /// clause that decided it ([`Clause::deciding_failure`]): never a failed branch of an `or`
    /// that held overall.
    pub fn reason(&self) -> String {
        if let Some(error) = &self.error {
            return error.clone();
        }
        if self.satisfied {
            return "satisfied".into();
        }
        match self.explanation.deciding_failure() {
            Some(Clause {
                text,
                reason: Some(reason),
                ..
            }) => format!("{text}: {reason}"),
            Some(clause) => clause.text.clone(),
            None => "not satisfied".into(),
        }
    }
}

impl Clause {
    fn leaf(e: &Expr, held: bool, reason: impl Into<Option<String>>) -> Clause {
        Clause {
            text: e.to_string(),
            held,
            reason: reason.into(),
            children: Vec::new(),
        }
    }

    /// The leaf that made this clause fail, following only failed sub-clauses: in an `and`,
    /// its last failed operand; in an `or` (all of whose alternatives failed), the last
    /// alternative — usually the team or version check rather than a marker of the first;
    /// `not` is itself the reason when its operand held. `None` when the clause held.
    pub fn deciding_failure(&self) -> Option<&Clause> {
        let mut c = self;
        if c.held {
            return None;
        }
        loop {
            match c.children.iter().rev().find(|k| !k.held) {
                Some(k) => c = k,
                None => return Some(c),
            }
        }
    }

    /// The clauses that did not hold, depth first (leaves only), for short reports.
    pub fn failures(&self) -> Vec<&Clause> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(c) = stack.pop() {
            if c.children.is_empty() {
                if !c.held {
                    out.push(c);
                }
            } else {
                stack.extend(c.children.iter().rev());
            }
        }
        out
    }
}

impl std::fmt::Display for Clause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut stack = vec![(self, 0usize)];
        while let Some((c, depth)) = stack.pop() {
            let mark = if c.held { "ok  " } else { "FAIL" };
            write!(f, "{mark} {}{}", "  ".repeat(depth), c.text)?;
            if let Some(r) = &c.reason {
                write!(f, " — {r}")?;
            }
            writeln!(f)?;
            for child in c.children.iter().rev() {
                stack.push((child, depth + 1));
            }
        }
        Ok(())
    }
}

/// Evaluate `req` against `code`.
pub fn evaluate(req: &Requirement, code: &impl CodeIdentity) -> Evaluation {
    evaluate_expr(&req.expr, code)
}

/// Evaluate one expression against `code`.
pub fn evaluate_expr(expr: &Expr, code: &impl CodeIdentity) -> Evaluation {
    let certs = code.certificates();
    let views = certs.iter().map(|_| OnceCell::new()).collect();
    let ctx = Ctx { code, certs, views };
    match ctx.eval(expr, 1) {
        Ok(explanation) => Evaluation {
            satisfied: explanation.held,
            explanation,
            error: None,
        },
        Err(message) => Evaluation {
            satisfied: false,
            explanation: Clause {
                text: expr.to_string(),
                held: false,
                reason: Some(message.clone()),
                children: Vec::new(),
            },
            error: Some(message),
        },
    }
}

/// Subject of Apple's code-signing intermediate (`appleIntermediateCN`, `appleIntermediateO`).
const APPLE_INTERMEDIATE_CN: &str = "Apple Code Signing Certification Authority";
const APPLE_INTERMEDIATE_O: &str = "Apple Inc.";
/// 1.2.840.113635.100.6.22: macOS software-signing leaf marker.
const MACOS_SW_SIGNING: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x16];

struct Ctx<'a, I: CodeIdentity> {
    code: &'a I,
    certs: Vec<&'a [u8]>,
    views: Vec<OnceCell<Option<CertView<'a>>>>,
}

/// A value as the interpreter sees it (a CFTypeRef, reduced to what matching distinguishes).
#[derive(Debug)]
enum Val<'v> {
    Null,
    Bool(bool),
    Str(&'v str),
    Date(i64),
    Array(&'v [plist::Value]),
    Other,
}

impl<'v> Val<'v> {
    fn from_plist(v: &'v plist::Value) -> Val<'v> {
        match v {
            plist::Value::String(s) => Val::Str(s),
            plist::Value::Boolean(b) => Val::Bool(*b),
            plist::Value::Array(a) => Val::Array(a),
            plist::Value::Date(d) => {
                let t: std::time::SystemTime = (*d).into();
                let secs = match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
                };
                Val::Date(secs.saturating_sub(super::time::CF_EPOCH_UNIX))
            }
            _ => Val::Other,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Val::Null => "absent".into(),
            Val::Bool(b) => format!("boolean {b}"),
            Val::Str(s) => quote(s),
            Val::Date(t) => format!("<{}>", super::time::dumper_date(*t)),
            Val::Array(a) => format!("an array of {} values", a.len()),
            Val::Other => "a non-string value".into(),
        }
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// CFStringCompare with kCFCompareNumerically: runs of digits compare by numeric value.
pub fn compare_numeric(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ca, cb) = (a[i], b[j]);
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&a[si..i]);
            let nb = trim_zeros(&b[sj..j]);
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            if ca != cb {
                return ca.cmp(&cb);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    d.get(n..).unwrap_or_default()
}

/// Whether `m` accepts candidate `v` (reqinterp's `Match::operator()`).
fn matches(m: &Match, v: &Val<'_>, depth: usize) -> bool {
    if let Val::Null = v {
        return matches!(m, Match::Absent);
    }
    if let Val::Array(items) = v {
        if depth < 16
            && items
                .iter()
                .any(|item| matches(m, &Val::from_plist(item), depth + 1))
        {
            return true;
        }
    }
    let text = v.text();
    let value = |d: &super::ast::Data| d.as_str().map(str::to_owned);
    match m {
        Match::Absent => false,
        Match::Exists => !matches!(v, Val::Bool(false)),
        Match::Equal(d) => matches!((text, value(d)), (Some(t), Some(want)) if t == want),
        Match::Contains(d) => {
            matches!((text, value(d)), (Some(t), Some(want)) if t.contains(want.as_str()))
        }
        Match::BeginsWith(d) => {
            matches!((text, value(d)), (Some(t), Some(want)) if t.starts_with(want.as_str()))
        }
        Match::EndsWith(d) => {
            matches!((text, value(d)), (Some(t), Some(want)) if t.ends_with(want.as_str()))
        }
        Match::LessThan(d)
        | Match::GreaterThan(d)
        | Match::LessEqual(d)
        | Match::GreaterEqual(d) => {
            let (Some(t), Some(want)) = (text, value(d)) else {
                return false;
            };
            let ord = compare_numeric(t, &want);
            match m {
                Match::LessThan(_) => ord == Ordering::Less,
                Match::GreaterThan(_) => ord == Ordering::Greater,
                Match::LessEqual(_) => ord != Ordering::Greater,
                _ => ord != Ordering::Less,
            }
        }
        Match::On(t)
        | Match::Before(t)
        | Match::After(t)
        | Match::OnOrBefore(t)
        | Match::OnOrAfter(t) => {
            let Val::Date(have) = v else {
                return false;
            };
            let ord = have.cmp(t);
            match m {
                Match::On(_) => ord == Ordering::Equal,
                Match::Before(_) => ord == Ordering::Less,
                Match::After(_) => ord == Ordering::Greater,
                Match::OnOrBefore(_) => ord != Ordering::Greater,
                _ => ord != Ordering::Less,
            }
        }
        Match::Unknown { .. } => false,
    }
}

/// "required …" for a failed match.
fn requirement_text(m: &Match) -> String {
    // Quoted as the value found is, so the two read alike ("is \"A\", required \"B\"").
    let v = |d: &super::ast::Data| match d.as_str() {
        Some(text) => quote(text),
        None => value_text(&d.0, false),
    };
    let date = |t: &i64| format!("<{}>", super::time::dumper_date(*t));
    match m {
        Match::Exists => "required to exist".into(),
        Match::Absent => "required to be absent".into(),
        Match::Equal(d) => format!("required {}", v(d)),
        Match::Contains(d) => format!("required to contain {}", v(d)),
        Match::BeginsWith(d) => format!("required to begin with {}", v(d)),
        Match::EndsWith(d) => format!("required to end with {}", v(d)),
        Match::LessThan(d) => format!("required < {}", v(d)),
        Match::GreaterThan(d) => format!("required > {}", v(d)),
        Match::LessEqual(d) => format!("required <= {}", v(d)),
        Match::GreaterEqual(d) => format!("required >= {}", v(d)),
        Match::On(t) => format!("required on {}", date(t)),
        Match::Before(t) => format!("required before {}", date(t)),
        Match::After(t) => format!("required after {}", date(t)),
        Match::OnOrBefore(t) => format!("required on or before {}", date(t)),
        Match::OnOrAfter(t) => format!("required on or after {}", date(t)),
        Match::Unknown { op, .. } => format!("match operation {op} is not understood"),
    }
}

fn slot_name(slot: i32) -> String {
    match slot {
        LEAF => "leaf".into(),
        ANCHOR => "root".into(),
        n => n.to_string(),
    }
}

impl<I: CodeIdentity> Ctx<'_, I> {
    /// Chain index of `slot` (Apple's `Context::cert`: negative counts back from the anchor).
    fn index(&self, slot: i32) -> Option<usize> {
        let count = i64::try_from(self.certs.len()).ok()?;
        let mut ix = i64::from(slot);
        if ix < 0 {
            ix += count;
        }
        if ix < 0 || ix >= count {
            return None;
        }
        usize::try_from(ix).ok()
    }

    fn view(&self, index: usize) -> Option<&CertView<'_>> {
        let cell = self.views.get(index)?;
        cell.get_or_init(|| self.certs.get(index).and_then(|der| CertView::parse(der)))
            .as_ref()
    }

    fn cert(&self, slot: i32) -> Result<&CertView<'_>, String> {
        let Some(ix) = self.index(slot) else {
            return Err(format!(
                "there is no certificate {} (the chain has {})",
                slot_name(slot),
                self.certs.len()
            ));
        };
        self.view(ix).ok_or_else(|| {
            format!(
                "certificate {} is not a readable X.509 certificate",
                slot_name(slot)
            )
        })
    }

    fn key_match(
        &self,
        e: &Expr,
        what: &str,
        dict: Option<&plist::Dictionary>,
        key: &super::ast::Data,
        m: &Match,
    ) -> Clause {
        let v = key
            .as_str()
            .and_then(|k| dict?.get(k))
            .map_or(Val::Null, Val::from_plist);
        let held = matches(m, &v, 0);
        let reason = if held {
            None
        } else {
            let name = value_text(&key.0, true);
            Some(match (&v, dict) {
                (Val::Null, None) => format!("the code has no {what}; {}", requirement_text(m)),
                (Val::Null, Some(_)) => {
                    format!("{what} has no key {name}; {}", requirement_text(m))
                }
                _ => format!(
                    "{what}[{name}] is {}, {}",
                    v.describe(),
                    requirement_text(m)
                ),
            })
        };
        Clause::leaf(e, held, reason)
    }

    fn has_field(
        &self,
        e: &Expr,
        slot: i32,
        field: &str,
        m: &Match,
        present: bool,
        dotted: &str,
    ) -> Clause {
        let v = if present { Val::Bool(true) } else { Val::Null };
        let held = matches(m, &v, 0);
        let reason = (!held).then(|| {
            format!(
                "certificate {} {} {field} {dotted}; {}",
                slot_name(slot),
                if present { "has" } else { "has no" },
                requirement_text(m)
            )
        });
        Clause::leaf(e, held, reason)
    }

    fn apple_anchored(&self) -> bool {
        !self.certs.is_empty() && self.code.anchor_is_apple()
    }

    fn eval(&self, e: &Expr, depth: usize) -> Result<Clause, String> {
        if depth > MAX_DEPTH {
            return Err(format!("requirement nested deeper than {MAX_DEPTH} levels"));
        }
        let code = self.code;
        Ok(match e {
            Expr::False => Clause::leaf(e, false, "`never` never holds".to_owned()),
            Expr::True => Clause::leaf(e, true, None),
            Expr::Ident { value } => {
                let want = value.as_str();
                let have = code.identifier();
                let held = matches!((have, want), (Some(h), Some(w)) if h == w);
                let reason = (!held).then(|| match have {
                    Some(h) => format!("identifier is {}, required {}", quote(h), value_text(&value.0, false)),
                    None => "the code has no identifier".to_owned(),
                });
                Clause::leaf(e, held, reason)
            }
            Expr::AppleGenericAnchor => {
                let held = self.apple_anchored();
                let reason = (!held).then(|| {
                    if self.certs.is_empty() {
                        "the code has no certificates (ad-hoc or unsigned)".to_owned()
                    } else {
                        "the chain does not end at an Apple root".to_owned()
                    }
                });
                Clause::leaf(e, held, reason)
            }
            Expr::AppleAnchor => {
                let reason = if !self.apple_anchored() {
                    Some("the chain does not end at an Apple root".to_owned())
                } else {
                    let inter = self.index(-2).and_then(|i| self.view(i));
                    let leaf = self.index(LEAF).and_then(|i| self.view(i));
                    match (inter, leaf) {
                        (Some(i), Some(l)) => {
                            let cn = i.subject_value(&[0x55, 0x04, 0x03]);
                            let o = i.subject_value(&[0x55, 0x04, 0x0a]);
                            if cn.as_deref() != Some(APPLE_INTERMEDIATE_CN)
                                || o.as_deref() != Some(APPLE_INTERMEDIATE_O)
                            {
                                Some(format!(
                                    "the intermediate is {} / {}, not Apple's code-signing CA ({APPLE_INTERMEDIATE_CN:?} / {APPLE_INTERMEDIATE_O:?})",
                                    cn.as_deref().map_or("(no CN)".into(), quote),
                                    o.as_deref().map_or("(no O)".into(), quote)
                                ))
                            } else if l.extension(MACOS_SW_SIGNING).is_none() {
                                Some("the leaf lacks Apple's software-signing marker 1.2.840.113635.100.6.22".to_owned())
                            } else {
                                None
                            }
                        }
                        _ => Some("the chain has no intermediate below the Apple root".to_owned()),
                    }
                };
                Clause::leaf(e, reason.is_none(), reason)
            }
            Expr::AnchorHash { slot, hash } => match self.cert(*slot) {
                Err(r) => Clause::leaf(e, false, r),
                Ok(c) => {
                    let sha1 = c.sha1();
                    let held = sha1.as_slice() == hash.as_slice();
                    let reason = (!held).then(|| {
                        format!(
                            "certificate {} has SHA-1 {}, required {}",
                            slot_name(*slot),
                            super::ast::hex(&sha1),
                            super::ast::hex(hash)
                        )
                    });
                    Clause::leaf(e, held, reason)
                }
            },
            Expr::InfoKeyValue { key, value } => {
                let m = Match::Equal(value.clone());
                self.key_match(e, "Info.plist", code.info_plist(), key, &m)
            }
            Expr::And { .. } | Expr::Or { .. } => {
                let and = matches!(e, Expr::And { .. });
                let mut children = Vec::new();
                // Walk the chain of this operator without recursing on it, whatever its nesting.
                let items = e.flatten(and);
                for item in items {
                    children.push(self.eval(item, depth + 1)?);
                }
                let held = if and {
                    children.iter().all(|c| c.held)
                } else {
                    children.iter().any(|c| c.held)
                };
                Clause {
                    text: if and { "all of" } else { "any of" }.to_owned(),
                    held,
                    reason: None,
                    children,
                }
            }
            Expr::CdHash { hash } => {
                let have = code.cdhashes();
                let held = have.contains(&hash.as_slice());
                let reason = (!held).then(|| {
                    if have.is_empty() {
                        "the code has no cdhash".to_owned()
                    } else {
                        format!(
                            "cdhash is {}, required {}",
                            have.iter().map(|h| super::ast::hex(h)).collect::<Vec<_>>().join(" / "),
                            super::ast::hex(hash)
                        )
                    }
                });
                Clause::leaf(e, held, reason)
            }
            Expr::Not { expr } => {
                let inner = self.eval(expr, depth + 1)?;
                Clause {
                    text: "not".to_owned(),
                    held: !inner.held,
                    reason: inner.held.then(|| format!("the negated clause held ({})", inner.text)),
                    children: vec![inner],
                }
            }
            Expr::InfoKeyField { key, matcher } => {
                self.key_match(e, "Info.plist", code.info_plist(), key, matcher)
            }
            Expr::EntitlementField { key, matcher } => {
                self.key_match(e, "entitlements", code.entitlements(), key, matcher)
            }
            Expr::CertField { slot, key, matcher } => match self.cert(*slot) {
                Err(r) => Clause::leaf(e, false, r),
                Ok(c) => {
                    let field = value_text(&key.0, true);
                    if key.0 == b"email" {
                        let emails = c.emails();
                        if emails.is_empty() {
                            return Ok(Clause::leaf(
                                e,
                                false,
                                format!("certificate {} has no e-mail address", slot_name(*slot)),
                            ));
                        }
                        let held = emails.iter().any(|m| matches(matcher, &Val::Str(m), 0));
                        let reason = (!held).then(|| {
                            format!(
                                "certificate {}[email] is {}, {}",
                                slot_name(*slot),
                                emails.iter().map(|m| quote(m)).collect::<Vec<_>>().join(", "),
                                requirement_text(matcher)
                            )
                        });
                        return Ok(Clause::leaf(e, held, reason));
                    }
                    let Some(oid) = subject_oid(&key.0) else {
                        return Ok(Clause::leaf(
                            e,
                            false,
                            format!("certificate field {field} is not understood (false, as Apple does)"),
                        ));
                    };
                    match c.subject_value(oid) {
                        None => Clause::leaf(
                            e,
                            false,
                            format!("certificate {} has no {field}", slot_name(*slot)),
                        ),
                        Some(v) => {
                            let held = matches(matcher, &Val::Str(&v), 0);
                            let reason = (!held).then(|| {
                                format!(
                                    "certificate {}[{field}] is {}, {}",
                                    slot_name(*slot),
                                    quote(&v),
                                    requirement_text(matcher)
                                )
                            });
                            Clause::leaf(e, held, reason)
                        }
                    }
                }
            },
            Expr::CertGeneric { slot, oid, matcher } | Expr::CertPolicy { slot, oid, matcher } => {
                let policy = matches!(e, Expr::CertPolicy { .. });
                match self.cert(*slot) {
                    Err(r) => Clause::leaf(e, false, r),
                    Ok(c) => {
                        let present = if policy {
                            c.has_policy(oid)
                        } else {
                            c.extension(oid).is_some()
                        };
                        let dotted = super::oid::to_dotted(oid).unwrap_or_else(|| super::ast::hex(oid));
                        let what = if policy { "policy" } else { "extension" };
                        self.has_field(e, *slot, what, matcher, present, &dotted)
                    }
                }
            }
            Expr::CertFieldDate { slot, oid, matcher } => {
                // Apple: no certificate is kCFNull here (so `absent` holds), unlike other fields.
                let value = self
                    .index(*slot)
                    .and_then(|i| self.view(i))
                    .and_then(|c| c.field_date(oid));
                let v = value.map_or(Val::Null, Val::Date);
                let held = matches(matcher, &v, 0);
                let reason = (!held).then(|| {
                    format!(
                        "certificate {}[timestamp.{}] is {}, {}",
                        slot_name(*slot),
                        super::oid::to_dotted(oid).unwrap_or_else(|| super::ast::hex(oid)),
                        v.describe(),
                        requirement_text(matcher)
                    )
                });
                Clause::leaf(e, held, reason)
            }
            Expr::TrustedCert { slot } => match self.index(*slot) {
                None => Clause::leaf(
                    e,
                    false,
                    format!("there is no certificate {} (the chain has {})", slot_name(*slot), self.certs.len()),
                ),
                Some(ix) => {
                    let held = code.certificate_is_trusted(ix);
                    let reason = (!held).then(|| {
                        format!("certificate {} is not trusted by trust settings", slot_name(*slot))
                    });
                    Clause::leaf(e, held, reason)
                }
            },
            Expr::TrustedCerts => {
                let held = (0..self.certs.len()).any(|i| code.certificate_is_trusted(i));
                let reason = (!held).then(|| "no certificate of the chain is trusted".to_owned());
                Clause::leaf(e, held, reason)
            }
            Expr::NamedAnchor { .. } | Expr::NamedCode { .. } => Clause::leaf(
                e,
                false,
                "named requirement fragments live in macOS's Security.framework and are not available; evaluates as false, as Apple does when a fragment is missing".to_owned(),
            ),
            Expr::Platform { value } => {
                let have = i32::from(code.platform());
                let held = have == *value;
                let reason = (!held).then(|| format!("platform is {have}, required {value}"));
                Clause::leaf(e, held, reason)
            }
            Expr::Notarized => {
                // Unknown (offline, no ticket that can be checked) does not satisfy the clause,
                // and the reason says it is unknown rather than "not notarized".
                let n = code.notarization();
                let reason = match &n {
                    super::identity::Notarization::Notarized => None,
                    super::identity::Notarization::NotNotarized(r) => Some(r.clone()),
                    super::identity::Notarization::Unknown(r) => {
                        Some(format!("notarization is unknown offline: {r}"))
                    }
                };
                Clause::leaf(e, reason.is_none(), reason)
            }
            Expr::LegacyDevId => {
                let held = code.legacy_developer_id();
                Clause::leaf(
                    e,
                    held,
                    (!held).then(|| "the code does not meet the legacy Developer ID policy".to_owned()),
                )
            }
            Expr::Unknown { op: word, next, .. } => {
                let code_no = word & !op::FLAG_MASK;
                if word & op::GENERIC_FALSE != 0 {
                    Clause::leaf(e, false, format!("opcode {code_no} is not understood; it evaluates as false"))
                } else if word & op::GENERIC_SKIP != 0 {
                    match next {
                        Some(n) => self.eval(n, depth + 1)?,
                        None => return Err(format!("opcode {code_no} is skipped but nothing follows it")),
                    }
                } else {
                    return Err(format!("opcode {code_no} is not understood and cannot be skipped"));
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_order() {
        assert_eq!(compare_numeric("10", "9"), Ordering::Greater);
        assert_eq!(compare_numeric("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare_numeric("1.2", "1.2"), Ordering::Equal);
        assert_eq!(compare_numeric("1.02", "1.2"), Ordering::Equal);
        assert_eq!(compare_numeric("a", "b"), Ordering::Less);
        assert_eq!(compare_numeric("1.2", "1.2.1"), Ordering::Less);
    }

    fn reason_of(req: &str, code: &super::super::StaticIdentity) -> String {
        let r = super::super::parse_requirement(req).unwrap();
        evaluate(&r, code).reason()
    }

    #[test]
    fn the_reason_is_the_clause_that_decided_not_a_failed_branch_of_a_held_or() {
        let mut code = super::super::StaticIdentity::with_identifier("com.example.app");
        code.set_info("CFBundleVersion", plist::Value::String("2.0".into()));
        // The `or` holds through its second branch; what fails is the identifier.
        let why = reason_of(
            "(info[CFBundleVersion] = \"1.0\" or info[CFBundleVersion] = \"2.0\") and identifier \"com.example.other\"",
            &code,
        );
        assert!(why.starts_with("identifier \"com.example.other\""), "{why}");
        // Identifier first, then the held `or`: still the identifier.
        let why = reason_of(
            "identifier \"com.example.other\" and (info[CFBundleVersion] = \"1.0\" or info[CFBundleVersion] exists)",
            &code,
        );
        assert!(why.starts_with("identifier \"com.example.other\""), "{why}");
        // Every alternative failed: the last one is named.
        let why = reason_of("identifier \"a\" or info[CFBundleVersion] = \"3.0\"", &code);
        assert!(why.starts_with("info[CFBundleVersion] = \"3.0\""), "{why}");
        // A `not` whose operand held is its own reason.
        let why = reason_of("! identifier \"com.example.app\"", &code);
        assert!(why.contains("negated clause held"), "{why}");
        assert_eq!(
            reason_of("identifier \"com.example.app\"", &code),
            "satisfied"
        );
    }
}
