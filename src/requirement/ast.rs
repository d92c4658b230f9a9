//! The requirement expression tree: one node per Apple opcode, one variant per match operation.
//!
//! The tree mirrors the binary form exactly (`and`/`or` are binary, so a chain's nesting is kept),
//! which is what lets binary → tree → binary be byte-identical.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Opcode numbers of Apple's `ExprOp` (requirement.h).
pub mod op {
    #![allow(missing_docs)]
    pub const FALSE: u32 = 0;
    pub const TRUE: u32 = 1;
    pub const IDENT: u32 = 2;
    pub const APPLE_ANCHOR: u32 = 3;
    pub const ANCHOR_HASH: u32 = 4;
    pub const INFO_KEY_VALUE: u32 = 5;
    pub const AND: u32 = 6;
    pub const OR: u32 = 7;
    pub const CDHASH: u32 = 8;
    pub const NOT: u32 = 9;
    pub const INFO_KEY_FIELD: u32 = 10;
    pub const CERT_FIELD: u32 = 11;
    pub const TRUSTED_CERT: u32 = 12;
    pub const TRUSTED_CERTS: u32 = 13;
    pub const CERT_GENERIC: u32 = 14;
    pub const APPLE_GENERIC_ANCHOR: u32 = 15;
    pub const ENTITLEMENT_FIELD: u32 = 16;
    pub const CERT_POLICY: u32 = 17;
    pub const NAMED_ANCHOR: u32 = 18;
    pub const NAMED_CODE: u32 = 19;
    pub const PLATFORM: u32 = 20;
    pub const NOTARIZED: u32 = 21;
    pub const CERT_FIELD_DATE: u32 = 22;
    pub const LEGACY_DEV_ID: u32 = 23;
    /// The flag bits of an opcode word.
    pub const FLAG_MASK: u32 = 0xff00_0000;
    /// Unknown opcode with a size field: skip it and evaluate as false.
    pub const GENERIC_FALSE: u32 = 0x8000_0000;
    /// Unknown opcode with a size field: skip it and evaluate the next expression instead.
    pub const GENERIC_SKIP: u32 = 0x4000_0000;
}

/// Certificate slot meaning the leaf.
pub const LEAF: i32 = 0;
/// Certificate slot meaning the anchor (root).
pub const ANCHOR: i32 = -1;

/// Magic of a single requirement blob.
pub const REQUIREMENT_MAGIC: u32 = 0xfade_0c00;
/// Magic of a requirement set.
pub const REQUIREMENT_SET_MAGIC: u32 = 0xfade_0c01;
/// `kind` of the prefix-expression form.
pub const KIND_EXPRESSION: u32 = 1;
/// `kind` of the DER "lightweight code requirement" form (not supported).
pub const KIND_LIGHTWEIGHT: u32 = 2;

/// A byte string as the binary form stores it (not necessarily UTF-8). Serialised to JSON as a
/// string when it is UTF-8, else as `{"hex": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Data(pub Vec<u8>);

impl Data {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as text, when they are UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl From<&str> for Data {
    fn from(s: &str) -> Self {
        Data(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Data {
    fn from(v: Vec<u8>) -> Self {
        Data(v)
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(text) => s.serialize_str(text),
            None => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("hex", &hex(&self.0))?;
                map.end()
            }
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// How a value is matched (`MatchOperation` in requirement.h).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "op", content = "value", rename_all = "snake_case")]
pub enum Match {
    /// 0: present and not boolean false (`/* exists */`).
    Exists,
    /// 1: equal (`= v`).
    Equal(Data),
    /// 2: substring (`~ v`, `= *v*`).
    Contains(Data),
    /// 3: prefix (`= v*`).
    BeginsWith(Data),
    /// 4: suffix (`= *v`).
    EndsWith(Data),
    /// 5: `< v`, numerically aware string order.
    LessThan(Data),
    /// 6: `> v`.
    GreaterThan(Data),
    /// 7: `<= v`.
    LessEqual(Data),
    /// 8: `>= v`.
    GreaterEqual(Data),
    /// 9: date equal; seconds since 2001-01-01 00:00:00 UTC.
    On(i64),
    /// 10: date before.
    Before(i64),
    /// 11: date after.
    After(i64),
    /// 12: date on or before.
    OnOrBefore(i64),
    /// 13: date on or after.
    OnOrAfter(i64),
    /// 14: not present (`absent`).
    Absent,
    /// A match operation this implementation does not know; Apple assumes one data argument
    /// and never matches.
    Unknown {
        /// The operation number.
        op: u32,
        /// Its data argument.
        data: Data,
    },
}

impl Match {
    /// The operation number in the binary form.
    pub fn code(&self) -> u32 {
        match self {
            Match::Exists => 0,
            Match::Equal(_) => 1,
            Match::Contains(_) => 2,
            Match::BeginsWith(_) => 3,
            Match::EndsWith(_) => 4,
            Match::LessThan(_) => 5,
            Match::GreaterThan(_) => 6,
            Match::LessEqual(_) => 7,
            Match::GreaterEqual(_) => 8,
            Match::On(_) => 9,
            Match::Before(_) => 10,
            Match::After(_) => 11,
            Match::OnOrBefore(_) => 12,
            Match::OnOrAfter(_) => 13,
            Match::Absent => 14,
            Match::Unknown { op, .. } => *op,
        }
    }
}

/// One requirement expression (`ExprOp` in requirement.h); the binary form is its prefix
/// serialisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expr {
    /// 0: `never` / `false`.
    False,
    /// 1: `always` / `true`.
    True,
    /// 2: `identifier "X"`.
    Ident {
        /// The identifier.
        value: Data,
    },
    /// 3: `anchor apple` (Apple's own code).
    AppleAnchor,
    /// 4: `certificate SLOT = H"sha1"`.
    AnchorHash {
        /// Certificate slot.
        slot: i32,
        /// SHA-1 of the certificate's DER (20 bytes).
        #[serde(serialize_with = "ser_hex")]
        hash: Vec<u8>,
    },
    /// 5: legacy `info[key] = value` (written by old tools; the parser writes 10).
    InfoKeyValue {
        /// Info.plist key.
        key: Data,
        /// Required string value.
        value: Data,
    },
    /// 6: `a and b`.
    And {
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// 7: `a or b`.
    Or {
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// 8: `cdhash H"…"`.
    CdHash {
        /// The hash.
        #[serde(serialize_with = "ser_hex")]
        hash: Vec<u8>,
    },
    /// 9: `! a`.
    Not {
        /// The negated expression.
        expr: Box<Expr>,
    },
    /// 10: `info[key] match`.
    InfoKeyField {
        /// Info.plist key.
        key: Data,
        /// The test.
        #[serde(rename = "match")]
        matcher: Match,
    },
    /// 11: `certificate SLOT[subject.X] match` (also `email`).
    CertField {
        /// Certificate slot.
        slot: i32,
        /// The field name as stored (`subject.OU`).
        key: Data,
        /// The test.
        #[serde(rename = "match")]
        matcher: Match,
    },
    /// 12: `certificate SLOT trusted`.
    TrustedCert {
        /// Certificate slot.
        slot: i32,
    },
    /// 13: `anchor trusted`.
    TrustedCerts,
    /// 14: `certificate SLOT[field.OID] match`.
    CertGeneric {
        /// Certificate slot.
        slot: i32,
        /// The OID as DER content bytes.
        #[serde(serialize_with = "ser_oid")]
        oid: Vec<u8>,
        /// The test.
        #[serde(rename = "match")]
        matcher: Match,
    },
    /// 15: `anchor apple generic`.
    AppleGenericAnchor,
    /// 16: `entitlement[key] match`.
    EntitlementField {
        /// Entitlement key.
        key: Data,
        /// The test.
        #[serde(rename = "match")]
        matcher: Match,
    },
    /// 17: `certificate SLOT[policy.OID] match`.
    CertPolicy {
        /// Certificate slot.
        slot: i32,
        /// The OID as DER content bytes.
        #[serde(serialize_with = "ser_oid")]
        oid: Vec<u8>,
        /// The test.
        #[serde(rename = "match")]
        matcher: Match,
    },
    /// 18: `anchor apple NAME`.
    NamedAnchor {
        /// The name.
        name: Data,
    },
    /// 19: `(NAME)`.
    NamedCode {
        /// The name.
        name: Data,
    },
    /// 20: `platform = N`.
    Platform {
        /// The platform number.
        value: i32,
    },
    /// 21: `notarized`.
    Notarized,
    /// 22: `certificate SLOT[timestamp.OID] match`.
    CertFieldDate {
        /// Certificate slot.
        slot: i32,
        /// The OID as DER content bytes.
        #[serde(serialize_with = "ser_oid")]
        oid: Vec<u8>,
        /// The test.
        #[serde(rename = "match")]
        matcher: Match,
    },
    /// 23: `legacy`.
    LegacyDevId,
    /// An opcode this implementation does not know, carrying one of the skip flags and a size
    /// field (Apple's `opGenericFalse` / `opGenericSkip`).
    Unknown {
        /// The whole opcode word, flags included.
        op: u32,
        /// The skipped payload.
        #[serde(serialize_with = "ser_hex")]
        payload: Vec<u8>,
        /// With `opGenericSkip`: the expression evaluated in its place.
        next: Option<Box<Expr>>,
    },
}

fn ser_hex<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(v))
}

fn ser_oid<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    match super::oid::to_dotted(v) {
        Some(d) => s.serialize_str(&d),
        None => s.serialize_str(&hex(v)),
    }
}

impl Expr {
    /// `left and right`.
    pub fn and(left: Expr, right: Expr) -> Expr {
        Expr::And {
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    /// `left or right`.
    pub fn or(left: Expr, right: Expr) -> Expr {
        Expr::Or {
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    /// `! expr`.
    pub fn negate(expr: Expr) -> Expr {
        Expr::Not {
            expr: Box::new(expr),
        }
    }

    /// `a and b and c …` nested to the left, as Apple's parser builds a chain. `None` if empty.
    pub fn and_left(items: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        items.into_iter().reduce(Expr::and)
    }

    /// `a and (b and (c …))` nested to the right, as `codesign` builds implicit designated
    /// requirements. `None` if empty.
    pub fn and_right(items: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        let mut v: Vec<Expr> = items.into_iter().collect();
        let mut acc = v.pop()?;
        while let Some(e) = v.pop() {
            acc = Expr::and(e, acc);
        }
        Some(acc)
    }

    /// `a or b or c …` nested to the left. `None` if empty.
    pub fn or_left(items: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        items.into_iter().reduce(Expr::or)
    }

    /// The opcode number of this node (flags excluded).
    pub fn opcode(&self) -> u32 {
        match self {
            Expr::False => op::FALSE,
            Expr::True => op::TRUE,
            Expr::Ident { .. } => op::IDENT,
            Expr::AppleAnchor => op::APPLE_ANCHOR,
            Expr::AnchorHash { .. } => op::ANCHOR_HASH,
            Expr::InfoKeyValue { .. } => op::INFO_KEY_VALUE,
            Expr::And { .. } => op::AND,
            Expr::Or { .. } => op::OR,
            Expr::CdHash { .. } => op::CDHASH,
            Expr::Not { .. } => op::NOT,
            Expr::InfoKeyField { .. } => op::INFO_KEY_FIELD,
            Expr::CertField { .. } => op::CERT_FIELD,
            Expr::TrustedCert { .. } => op::TRUSTED_CERT,
            Expr::TrustedCerts => op::TRUSTED_CERTS,
            Expr::CertGeneric { .. } => op::CERT_GENERIC,
            Expr::AppleGenericAnchor => op::APPLE_GENERIC_ANCHOR,
            Expr::EntitlementField { .. } => op::ENTITLEMENT_FIELD,
            Expr::CertPolicy { .. } => op::CERT_POLICY,
            Expr::NamedAnchor { .. } => op::NAMED_ANCHOR,
            Expr::NamedCode { .. } => op::NAMED_CODE,
            Expr::Platform { .. } => op::PLATFORM,
            Expr::Notarized => op::NOTARIZED,
            Expr::CertFieldDate { .. } => op::CERT_FIELD_DATE,
            Expr::LegacyDevId => op::LEGACY_DEV_ID,
            Expr::Unknown { op, .. } => *op & !op::FLAG_MASK,
        }
    }

    /// The clauses of a chain of one operator (`and` when `and`, else `or`), flattened in
    /// order whatever the nesting. Non-recursive, so any depth is safe.
    pub fn flatten(&self, and: bool) -> Vec<&Expr> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match (e, and) {
                (Expr::And { left, right }, true) | (Expr::Or { left, right }, false) => {
                    stack.push(right);
                    stack.push(left);
                }
                _ => out.push(e),
            }
        }
        out
    }
}

/// A requirement type in a requirement set (`SecRequirementType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RequirementType(pub u32);

impl RequirementType {
    /// `host` (1).
    pub const HOST: RequirementType = RequirementType(1);
    /// `guest` (2).
    pub const GUEST: RequirementType = RequirementType(2);
    /// `designated` (3).
    pub const DESIGNATED: RequirementType = RequirementType(3);
    /// `library` (4).
    pub const LIBRARY: RequirementType = RequirementType(4);
    /// `plugin` (5).
    pub const PLUGIN: RequirementType = RequirementType(5);

    /// Apple's name for the type (`Requirement::typeNames`), `None` past `plugin`.
    pub fn name(self) -> Option<&'static str> {
        [
            "invalid",
            "host",
            "guest",
            "designated",
            "library",
            "plugin",
        ]
        .get(usize::try_from(self.0).ok()?)
        .copied()
    }
}

/// A single requirement (`0xfade0c00`, kind 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Requirement {
    /// The expression.
    pub expr: Expr,
}

/// A requirement set (`0xfade0c01`): requirements by type, in ascending type order as Apple's
/// `SuperBlob::Maker` writes them.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RequirementSet {
    /// (type, requirement) pairs.
    pub entries: Vec<(RequirementType, Requirement)>,
}

impl RequirementSet {
    /// The requirement of type `ty`, if present.
    pub fn get(&self, ty: RequirementType) -> Option<&Requirement> {
        self.entries.iter().find(|(t, _)| *t == ty).map(|(_, r)| r)
    }

    /// The designated requirement, if present.
    pub fn designated(&self) -> Option<&Requirement> {
        self.get(RequirementType::DESIGNATED)
    }
}

/// What text may hold: one requirement or a set (Apple's `autosense`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum Parsed {
    /// A single requirement.
    Requirement(Requirement),
    /// A requirement set.
    Set(RequirementSet),
}
