//! Text → tree, after Apple's `RequirementParser` (requirements.grammar).
//!
//! Recursive descent over the grammar's productions; a chain of one operator is nested to the
//! left exactly as Apple's `Maker::insert` does (`a and b and c` → `and(and(a, b), c)`), which is
//! what makes the compiled bytes equal `csreq -b`'s. Nesting is bounded: parentheses and `!` by
//! [`MAX_PAREN_DEPTH`], the tree as a whole by [`super::MAX_DEPTH`] (Apple's interpreter limit).

use sha1::{Digest, Sha1};

use super::ast::{
    Data, Expr, Match, Parsed, Requirement, RequirementSet, RequirementType, ANCHOR, LEAF,
};
use super::error::{ParseError, Span};
use super::lexer::{is_keyword, tokenize, Tok, Token};
use super::MAX_DEPTH;

/// How deeply parentheses and `!` may nest in text.
pub const MAX_PAREN_DEPTH: usize = 128;

/// Parse text holding one requirement or a requirement set (Apple's `autosense`).
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let mut p = Parser::new(text)?;
    if p.starts_set() {
        p.set().map(Parsed::Set)
    } else {
        p.requirement().map(Parsed::Requirement)
    }
}

/// Parse text holding exactly one requirement.
pub fn parse_requirement(text: &str) -> Result<Requirement, ParseError> {
    let mut p = Parser::new(text)?;
    if p.starts_set() {
        return Err(p.error_here("expected a single requirement, found a requirement set"));
    }
    p.requirement()
}

/// Parse text holding a requirement set (`designated => … host => …`).
pub fn parse_set(text: &str) -> Result<RequirementSet, ParseError> {
    let mut p = Parser::new(text)?;
    p.set()
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    parens: usize,
}

/// A subtree and its depth (computed as it is built, so no recursive walk is needed).
type Node = (Expr, usize);

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, ParseError> {
        Ok(Parser {
            src,
            toks: tokenize(src)?,
            pos: 0,
            parens: 0,
        })
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks
            .get(self.pos + n)
            .or_else(|| self.toks.last())
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn span(&self) -> Span {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .map_or(Span::new(self.src.len(), self.src.len()), |t| t.span)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, self.span(), message)
    }

    fn describe(&self) -> String {
        match self.peek() {
            Tok::Eof => "end of input".into(),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Str(_) => "a quoted string".into(),
            Tok::Int(i) => format!("`{i}`"),
            Tok::Hash(_) => "a hash constant".into(),
            Tok::HexData(_) => "hex data".into(),
            Tok::Path(p) => format!("path `{p}`"),
            Tok::Date(_) => "a date".into(),
            _ => {
                let s = self.span();
                format!("`{}`", self.src.get(s.start..s.end).unwrap_or("?"))
            }
        }
    }

    fn expected(&self, what: &str) -> ParseError {
        self.error_here(format!("expected {what}, found {}", self.describe()))
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == t {
            self.bump();
            true
        } else {
            false
        }
    }

    fn starts_set(&self) -> bool {
        let typed = match self.peek() {
            Tok::Word(w) => matches!(
                w.as_str(),
                "guest" | "host" | "designated" | "library" | "plugin"
            ),
            Tok::Int(_) => true,
            _ => false,
        };
        typed && self.peek_at(1) == &Tok::Arrow
    }

    fn requirement(&mut self) -> Result<Requirement, ParseError> {
        let expr = self.element()?;
        if self.peek() != &Tok::Eof {
            return Err(self.expected("`and`, `or` or the end of the requirement"));
        }
        Ok(Requirement { expr })
    }

    fn element(&mut self) -> Result<Expr, ParseError> {
        let (expr, _) = self.expr()?;
        while self.eat(&Tok::Semi) {}
        Ok(expr)
    }

    fn set(&mut self) -> Result<RequirementSet, ParseError> {
        let mut set = RequirementSet::default();
        loop {
            let span = self.span();
            let ty = match self.bump() {
                Tok::Word(w) => match w.as_str() {
                    "host" => RequirementType::HOST,
                    "guest" => RequirementType::GUEST,
                    "designated" => RequirementType::DESIGNATED,
                    "library" => RequirementType::LIBRARY,
                    "plugin" => RequirementType::PLUGIN,
                    _ => {
                        return Err(ParseError::at(
                            self.src,
                            span,
                            "expected a requirement type (`host`, `guest`, `designated`, `library`, `plugin` or a number)",
                        ))
                    }
                },
                Tok::Int(n) => RequirementType(n.parse::<u32>().map_err(|_| {
                    ParseError::at(self.src, span, "requirement type number out of range")
                })?),
                _ => {
                    return Err(ParseError::at(
                        self.src,
                        span,
                        "expected a requirement type (`host`, `guest`, `designated`, `library`, `plugin` or a number)",
                    ))
                }
            };
            if !self.eat(&Tok::Arrow) {
                return Err(self.expected("`=>` after the requirement type"));
            }
            let expr = self.element()?;
            // Apple's SuperBlob::Maker keeps one blob per type (the last) in type order.
            set.entries.retain(|(t, _)| *t != ty);
            set.entries.push((ty, Requirement { expr }));
            if self.peek() == &Tok::Eof {
                break;
            }
            if !self.starts_set() {
                return Err(self.expected("`and`, `or`, or the next `TYPE =>`"));
            }
        }
        set.entries.sort_by_key(|(t, _)| *t);
        Ok(set)
    }

    fn join(&self, op_span: Span, left: Node, right: Node, and: bool) -> Result<Node, ParseError> {
        let depth = left.1.max(right.1) + 1;
        if depth > MAX_DEPTH {
            return Err(ParseError::at(
                self.src,
                op_span,
                format!("requirement nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let e = if and {
            Expr::and(left.0, right.0)
        } else {
            Expr::or(left.0, right.0)
        };
        Ok((e, depth))
    }

    fn expr(&mut self) -> Result<Node, ParseError> {
        let mut left = self.term()?;
        while self.is_kw("or") {
            let s = self.span();
            self.bump();
            let right = self.term()?;
            left = self.join(s, left, right, false)?;
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Node, ParseError> {
        let mut left = self.primary()?;
        while self.is_kw("and") {
            let s = self.span();
            self.bump();
            let right = self.primary()?;
            left = self.join(s, left, right, true)?;
        }
        Ok(left)
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        self.parens += 1;
        if self.parens > MAX_PAREN_DEPTH {
            return Err(self.error_here(format!(
                "parentheses and `!` nested deeper than {MAX_PAREN_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let leaf = |e: Expr| Ok((e, 1));
        match self.peek().clone() {
            Tok::LParen => {
                let open = self.span();
                self.bump();
                // `( name )` is named code; a bare word or string cannot start an expression.
                let named = match self.peek() {
                    Tok::Word(w) => !is_keyword(w),
                    Tok::Str(_) | Tok::HexData(_) => true,
                    _ => false,
                };
                if named {
                    let name = self.data_value("a code name")?;
                    if !self.eat(&Tok::RParen) {
                        return Err(self.expected("`)` after the code name"));
                    }
                    return leaf(Expr::NamedCode { name });
                }
                self.nest()?;
                let inner = self.expr()?;
                self.parens -= 1;
                if !self.eat(&Tok::RParen) {
                    let mut e = self.expected("`)`");
                    e.message
                        .push_str(&format!(" (to close the `(` at byte {})", open.start));
                    return Err(e);
                }
                Ok(inner)
            }
            Tok::Not => {
                let s = self.span();
                self.bump();
                self.nest()?;
                let (inner, depth) = self.primary()?;
                self.parens -= 1;
                if depth + 1 > MAX_DEPTH {
                    return Err(ParseError::at(
                        self.src,
                        s,
                        format!("requirement nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                Ok((Expr::negate(inner), depth + 1))
            }
            Tok::Word(w) => match w.as_str() {
                "always" | "true" => {
                    self.bump();
                    leaf(Expr::True)
                }
                "never" | "false" => {
                    self.bump();
                    leaf(Expr::False)
                }
                "anchor" | "certificate" | "cert" => self.certspec().map(|e| (e, 1)),
                "info" => {
                    self.bump();
                    let key = self.bracket_key()?;
                    let matcher = self.match_suffix()?;
                    leaf(Expr::InfoKeyField { key, matcher })
                }
                "entitlement" => {
                    self.bump();
                    let key = self.bracket_key()?;
                    let matcher = self.match_suffix()?;
                    leaf(Expr::EntitlementField { key, matcher })
                }
                "identifier" => {
                    self.bump();
                    self.eql();
                    let value = self.data_value("a quoted string after `identifier`")?;
                    leaf(Expr::Ident { value })
                }
                "cdhash" => {
                    self.bump();
                    self.eql();
                    let span = self.span();
                    match self.bump() {
                        Tok::Hash(h) => {
                            let hash = self.hex_bytes(&h, span)?;
                            // Apple's grammar reads a cdhash into a SHA-1 sized digest
                            // (`hashString`), so csreq refuses any other length; blobs may
                            // still carry one (`Maker::cdhash(CFDataRef)`), and the reader
                            // accepts those.
                            if hash.len() != 20 {
                                return Err(ParseError::at(
                                    self.src,
                                    span,
                                    format!(
                                        "invalid hash length: a cdhash is 20 bytes (40 hex digits), got {}",
                                        hash.len()
                                    ),
                                ));
                            }
                            leaf(Expr::CdHash { hash })
                        }
                        _ => Err(ParseError::at(
                            self.src,
                            span,
                            "expected a hash constant `H\"…\"` after `cdhash`",
                        )),
                    }
                }
                "platform" => {
                    self.bump();
                    self.eql();
                    let value = self.integer("a platform number after `platform`")?;
                    leaf(Expr::Platform { value })
                }
                "notarized" => {
                    self.bump();
                    leaf(Expr::Notarized)
                }
                "legacy" => {
                    self.bump();
                    leaf(Expr::LegacyDevId)
                }
                _ => Err(self.expected("a requirement (`anchor`, `identifier`, `certificate`, `info`, `entitlement`, `cdhash`, `(`, `!`, …)")),
            },
            _ => Err(self.expected("a requirement (`anchor`, `identifier`, `certificate`, `info`, `entitlement`, `cdhash`, `(`, `!`, …)")),
        }
    }

    fn eql(&mut self) {
        if matches!(self.peek(), Tok::Eql | Tok::Eqql) {
            self.bump();
        }
    }

    fn integer(&mut self, what: &str) -> Result<i32, ParseError> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Int(n) => {
                self.bump();
                n.parse::<i32>()
                    .map_err(|_| ParseError::at(self.src, span, "integer out of range (32-bit)"))
            }
            _ => Err(self.expected(what)),
        }
    }

    fn hex_bytes(&self, hex: &str, span: Span) -> Result<Vec<u8>, ParseError> {
        if !hex.len().is_multiple_of(2) {
            return Err(ParseError::at(self.src, span, "odd number of hex digits"));
        }
        let mut out = Vec::with_capacity(hex.len() / 2);
        let b = hex.as_bytes();
        for pair in b.chunks(2) {
            let s = std::str::from_utf8(pair).unwrap_or("");
            let v = u8::from_str_radix(s, 16)
                .map_err(|_| ParseError::at(self.src, span, "invalid hex digit"))?;
            out.push(v);
        }
        Ok(out)
    }

    fn certspec(&mut self) -> Result<Expr, ParseError> {
        let word_span = self.span();
        let Tok::Word(first) = self.bump() else {
            return Err(ParseError::at(
                self.src,
                word_span,
                "expected `anchor` or `certificate`",
            ));
        };
        if first == "anchor" {
            if self.eat_kw("apple") {
                if self.eat_kw("generic") {
                    return Ok(Expr::AppleGenericAnchor);
                }
                let named = match self.peek() {
                    Tok::Word(w) => !is_keyword(w),
                    Tok::Str(_) | Tok::HexData(_) => true,
                    _ => false,
                };
                if named {
                    let name = self.data_value("an anchor name")?;
                    return Ok(Expr::NamedAnchor { name });
                }
                return Ok(Expr::AppleAnchor);
            }
            if self.eat_kw("generic") {
                if !self.eat_kw("apple") {
                    return Err(self.expected("`apple` after `anchor generic`"));
                }
                return Ok(Expr::AppleGenericAnchor);
            }
            if self.eat_kw("trusted") {
                return Ok(Expr::TrustedCerts);
            }
            return self.certslotspec(ANCHOR, "after `anchor`");
        }
        if self.eat_kw("trusted") {
            return Ok(Expr::TrustedCerts);
        }
        let slot = self.cert_slot()?;
        if self.eat_kw("trusted") {
            return Ok(Expr::TrustedCert { slot });
        }
        self.certslotspec(slot, "after the certificate slot")
    }

    fn cert_slot(&mut self) -> Result<i32, ParseError> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Int(_) => self.integer("a certificate slot"),
            Tok::Neg => {
                self.bump();
                let n = self.integer("a number after `-` in a certificate slot")?;
                n.checked_neg()
                    .ok_or_else(|| ParseError::at(self.src, span, "certificate slot out of range"))
            }
            Tok::Word(w) if w == "leaf" => {
                self.bump();
                Ok(LEAF)
            }
            Tok::Word(w) if w == "root" => {
                self.bump();
                Ok(ANCHOR)
            }
            _ => Err(self.expected(
                "a certificate slot (`leaf`, `root`, a number or `-`number) or `trusted`",
            )),
        }
    }

    fn certslotspec(&mut self, slot: i32, context: &str) -> Result<Expr, ParseError> {
        if self.peek() == &Tok::LBrack {
            let key_span = self.span();
            let key = self.bracket_key()?;
            let text = key.as_str().unwrap_or_default().to_owned();
            let key_span = Span::new(
                key_span.start,
                self.toks
                    .get(self.pos.saturating_sub(1))
                    .map_or(key_span.end, |t| t.span.end),
            );
            let oid = |prefix: &str| -> Result<Option<Vec<u8>>, ParseError> {
                match text.strip_prefix(prefix) {
                    None => Ok(None),
                    Some(dotted) => super::oid::from_dotted(dotted).map(Some).ok_or_else(|| {
                        ParseError::at(
                            self.src,
                            key_span,
                            format!("`{dotted}` is not a valid OID in `{text}`"),
                        )
                    }),
                }
            };
            if let Some(oid) = oid("timestamp.")? {
                let matcher = self.match_suffix()?;
                return Ok(Expr::CertFieldDate { slot, oid, matcher });
            }
            if key.0.starts_with(b"subject.") || key.0 == b"email" {
                let matcher = self.match_suffix()?;
                return Ok(Expr::CertField { slot, key, matcher });
            }
            if let Some(oid) = oid("field.")? {
                let matcher = self.match_suffix()?;
                return Ok(Expr::CertGeneric { slot, oid, matcher });
            }
            if let Some(oid) = oid("extension.")? {
                let matcher = self.match_suffix()?;
                return Ok(Expr::CertGeneric { slot, oid, matcher });
            }
            if let Some(oid) = oid("policy.")? {
                let matcher = self.match_suffix()?;
                return Ok(Expr::CertPolicy { slot, oid, matcher });
            }
            return Err(ParseError::at(
                self.src,
                key_span,
                format!("`{text}`: unrecognized certificate field (expected `subject.*`, `field.OID`, `extension.OID`, `policy.OID` or `timestamp.OID`)"),
            ));
        }
        self.eql();
        let span = self.span();
        let hash = match self.peek().clone() {
            Tok::Hash(h) => {
                self.bump();
                self.hex_bytes(&h, span)?
            }
            Tok::Path(p) => {
                self.bump();
                self.file_digest(&p, span)?
            }
            Tok::Str(s) => {
                self.bump();
                let p = String::from_utf8_lossy(&s).into_owned();
                self.file_digest(&p, span)?
            }
            Tok::Word(w) if !is_keyword(&w) => {
                self.bump();
                self.file_digest(&w, span)?
            }
            _ => {
                return Err(self.expected(&format!(
                    "`[field]`, `= H\"sha1\"` or a certificate file {context}"
                )))
            }
        };
        if hash.len() != 20 {
            return Err(ParseError::at(
                self.src,
                span,
                format!(
                    "invalid hash length: a certificate hash is 20 bytes (40 hex digits), got {}",
                    hash.len()
                ),
            ));
        }
        Ok(Expr::AnchorHash { slot, hash })
    }

    fn file_digest(&self, path: &str, span: Span) -> Result<Vec<u8>, ParseError> {
        match std::fs::read(path) {
            Ok(der) => Ok(Sha1::digest(&der).to_vec()),
            Err(e) => Err(ParseError::at(
                self.src,
                span,
                format!("{path}: cannot read certificate file: {e}"),
            )),
        }
    }

    fn bracket_key(&mut self) -> Result<Data, ParseError> {
        if !self.eat(&Tok::LBrack) {
            return Err(self.expected("`[` and a key"));
        }
        let span = self.span();
        let key = match self.bump() {
            Tok::Word(w) => Data(w.into_bytes()),
            Tok::Str(s) => Data(s),
            Tok::HexData(h) => Data(self.hex_bytes(&h, span)?),
            _ => {
                return Err(ParseError::at(
                    self.src,
                    span,
                    "expected a key (a word or a quoted string) inside `[…]`",
                ))
            }
        };
        if !self.eat(&Tok::RBrack) {
            return Err(self.expected("`]` after the key"));
        }
        Ok(key)
    }

    /// A word, quoted string or hex data: values, identifiers and names all take this form
    /// (the dumper prints binary names as hex data, so they must read back).
    fn data_value(&mut self, what: &str) -> Result<Data, ParseError> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Word(w) if !is_keyword(&w) => {
                self.bump();
                Ok(Data(w.into_bytes()))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Data(s))
            }
            Tok::HexData(h) => {
                self.bump();
                Ok(Data(self.hex_bytes(&h, span)?))
            }
            _ => Err(self.expected(what)),
        }
    }

    fn timestamp(&mut self) -> Result<Option<i64>, ParseError> {
        match self.peek().clone() {
            Tok::Date(secs) => {
                self.bump();
                Ok(Some(secs))
            }
            Tok::Word(w) if w == "timestamp" => {
                self.bump();
                let span = self.span();
                match self.bump() {
                    Tok::Str(s) => {
                        let text = String::from_utf8_lossy(&s).into_owned();
                        super::time::parse_generalized(&text).map(Some).ok_or_else(|| {
                            ParseError::at(
                                self.src,
                                span,
                                "expected a GeneralizedTime like \"20190101000000Z\" after `timestamp`",
                            )
                        })
                    }
                    _ => Err(ParseError::at(
                        self.src,
                        span,
                        "expected a quoted GeneralizedTime after `timestamp`",
                    )),
                }
            }
            _ => Ok(None),
        }
    }

    fn match_suffix(&mut self) -> Result<Match, ParseError> {
        const VALUE: &str = "a value (a word, a quoted string, 0x hex data or a timestamp)";
        match self.peek().clone() {
            Tok::Word(w) if w == "exists" => {
                self.bump();
                Ok(Match::Exists)
            }
            Tok::Word(w) if w == "absent" => {
                self.bump();
                Ok(Match::Absent)
            }
            Tok::Eql | Tok::Eqql => {
                self.bump();
                if let Some(t) = self.timestamp()? {
                    return Ok(Match::On(t));
                }
                let star_front = self.eat(&Tok::Star);
                let value = self.data_value(VALUE)?;
                let star_back = self.eat(&Tok::Star);
                Ok(match (star_front, star_back) {
                    (false, false) => Match::Equal(value),
                    (true, false) => Match::EndsWith(value),
                    (false, true) => Match::BeginsWith(value),
                    (true, true) => Match::Contains(value),
                })
            }
            Tok::Subs => {
                self.bump();
                Ok(Match::Contains(self.data_value(VALUE)?))
            }
            t @ (Tok::Less | Tok::Gt | Tok::Le | Tok::Ge) => {
                self.bump();
                if let Some(d) = self.timestamp()? {
                    return Ok(match t {
                        Tok::Less => Match::Before(d),
                        Tok::Gt => Match::After(d),
                        Tok::Le => Match::OnOrBefore(d),
                        _ => Match::OnOrAfter(d),
                    });
                }
                let v = self.data_value(VALUE)?;
                Ok(match t {
                    Tok::Less => Match::LessThan(v),
                    Tok::Gt => Match::GreaterThan(v),
                    Tok::Le => Match::LessEqual(v),
                    _ => Match::GreaterEqual(v),
                })
            }
            _ => Ok(Match::Exists),
        }
    }
}
