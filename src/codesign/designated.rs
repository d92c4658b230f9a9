//! Apple's implicit designated requirement, synthesised from a signature as `codesign` does
//! when the signer gave none (Security's `DRMaker`), and the ad-hoc form.

use x509_certificate::CapturedX509Certificate;

use super::hash::sha1;
use super::reader::hex;
use super::trust::{has_extension, name_attributes};
use super::verify::oids;
use crate::requirement::{Data, Expr, Match, Requirement};

/// The building blocks of an implicit designated requirement, in evaluation order. Each is
/// one clause of a right-nested `and` chain (ad-hoc: a left-nested `or` chain of cdhashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `identifier "X"`.
    Identifier(String),
    /// `anchor apple`.
    AnchorApple,
    /// `anchor apple generic`.
    AnchorAppleGeneric,
    /// `certificate SLOT[field.OID] /* exists */` (slot 0 = leaf, 1 = first intermediate).
    CertFieldExists(i32, String),
    /// `certificate SLOT[subject.KEY] = VALUE`.
    CertSubjectEquals(i32, String, String),
    /// `certificate SLOT = H"sha1"` (slot -1 = root).
    CertHash(i32, Vec<u8>),
    /// `cdhash H"…"`.
    Cdhash(Vec<u8>),
}

/// An implicit designated requirement: `and` of the clauses, or for ad-hoc code `or` of the
/// cdhash clauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImplicitRequirement {
    /// The clauses.
    pub clauses: Vec<Clause>,
    /// `or` (ad-hoc) rather than `and`.
    pub any: bool,
}

fn subject_component(cert: &CapturedX509Certificate, key: &str) -> Option<String> {
    name_attributes(cert.subject_name())
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// The implicit DR of signed code with certificate chain `chain` (leaf first, anchor last, as
/// built), identifier `identifier`, whose anchor is (or is treated as) Apple's when
/// `apple_anchor`. `None` when there are no certificates.
pub fn implicit(
    identifier: &str,
    chain: &[CapturedX509Certificate],
    apple_anchor: bool,
) -> Option<ImplicitRequirement> {
    let leaf = chain.first()?;
    let mut clauses = vec![Clause::Identifier(identifier.to_owned())];
    let intermediate = if chain.len() == 3 { chain.get(1) } else { None };
    if apple_anchor {
        if let Some(int) = intermediate.filter(|c| has_extension(c, oids::WWDR_CA)) {
            let _ = int;
            clauses.push(Clause::AnchorAppleGeneric);
            clauses.push(Clause::CertSubjectEquals(
                0,
                "CN".into(),
                subject_component(leaf, "CN").unwrap_or_default(),
            ));
            clauses.push(Clause::CertFieldExists(1, oids::WWDR_CA.into()));
        } else if intermediate.is_some_and(|c| has_extension(c, oids::DEVELOPER_ID_CA)) {
            clauses.push(Clause::AnchorAppleGeneric);
            clauses.push(Clause::CertFieldExists(1, oids::DEVELOPER_ID_CA.into()));
            clauses.push(Clause::CertFieldExists(
                0,
                oids::DEVELOPER_ID_APPLICATION.into(),
            ));
            clauses.push(Clause::CertSubjectEquals(
                0,
                "OU".into(),
                subject_component(leaf, "OU").unwrap_or_default(),
            ));
        } else {
            clauses.push(Clause::AnchorApple);
        }
    } else {
        // Pin the highest certificate that still carries the leaf's organisation (the root
        // when they all do); without an organisation, the leaf itself.
        let mut slot: usize = 0;
        if let Some(org) = subject_component(leaf, "O") {
            while let Some(ca) = chain.get(slot + 1) {
                if subject_component(ca, "O").as_deref() != Some(org.as_str()) {
                    break;
                }
                slot += 1;
            }
        }
        let cert = chain.get(slot).unwrap_or(leaf);
        let s = if chain.len() > 1 && slot + 1 == chain.len() {
            -1
        } else {
            slot as i32
        };
        clauses.push(Clause::CertHash(s, sha1(cert.constructed_data()).to_vec()));
    }
    Some(ImplicitRequirement {
        clauses,
        any: false,
    })
}

/// The ad-hoc DR: any of the given cdhashes (every CodeDirectory of every architecture).
pub fn adhoc(cdhashes: &[Vec<u8>]) -> Option<ImplicitRequirement> {
    if cdhashes.is_empty() {
        return None;
    }
    Some(ImplicitRequirement {
        clauses: cdhashes.iter().map(|h| Clause::Cdhash(h.clone())).collect(),
        any: true,
    })
}

/// Quote a value as Apple's requirement dumper does: bare when it is a plain word (letters and
/// digits, not starting with a digit), quoted with backslash escapes otherwise.
pub fn quote(v: &str) -> String {
    let simple = !v.is_empty()
        && v.chars().all(|c| c.is_ascii_alphanumeric())
        && !v.starts_with(|c: char| c.is_ascii_digit());
    if simple {
        return v.to_owned();
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

fn slot(s: i32) -> String {
    match s {
        0 => "leaf".into(),
        -1 => "root".into(),
        n => n.to_string(),
    }
}

impl std::fmt::Display for Clause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clause::Identifier(i) => write!(
                f,
                "identifier \"{}\"",
                i.replace('\\', "\\\\").replace('"', "\\\"")
            ),
            Clause::AnchorApple => f.write_str("anchor apple"),
            Clause::AnchorAppleGeneric => f.write_str("anchor apple generic"),
            Clause::CertFieldExists(s, oid) => {
                write!(f, "certificate {}[field.{oid}] /* exists */", slot(*s))
            }
            Clause::CertSubjectEquals(s, k, v) => {
                write!(f, "certificate {}[subject.{k}] = {}", slot(*s), quote(v))
            }
            Clause::CertHash(s, h) => write!(f, "certificate {} = H\"{}\"", slot(*s), hex(h)),
            Clause::Cdhash(h) => write!(f, "cdhash H\"{}\"", hex(h)),
        }
    }
}

impl Clause {
    /// This clause as a requirement-language expression.
    pub fn to_expr(&self) -> Expr {
        match self {
            Clause::Identifier(i) => Expr::Ident {
                value: Data::from(i.as_bytes().to_vec()),
            },
            Clause::AnchorApple => Expr::AppleAnchor,
            Clause::AnchorAppleGeneric => Expr::AppleGenericAnchor,
            Clause::CertFieldExists(slot, oid) => Expr::CertGeneric {
                slot: *slot,
                oid: crate::requirement::oid::from_dotted(oid).unwrap_or_default(),
                matcher: Match::Exists,
            },
            Clause::CertSubjectEquals(slot, key, value) => Expr::CertField {
                slot: *slot,
                key: Data::from(format!("subject.{key}").into_bytes()),
                matcher: Match::Equal(Data::from(value.as_bytes().to_vec())),
            },
            Clause::CertHash(slot, hash) => Expr::AnchorHash {
                slot: *slot,
                hash: hash.clone(),
            },
            Clause::Cdhash(hash) => Expr::CdHash { hash: hash.clone() },
        }
    }
}

impl ImplicitRequirement {
    /// As a requirement the engine can compile, print and evaluate: an `and` chain nested to
    /// the right (as `codesign` builds it), or for ad-hoc code an `or` chain nested to the left
    /// (as Apple's `Maker::Chain` builds it).
    pub fn to_requirement(&self) -> Option<Requirement> {
        let exprs = self.clauses.iter().map(Clause::to_expr);
        let expr = if self.any {
            Expr::or_left(exprs)
        } else {
            Expr::and_right(exprs)
        }?;
        Some(Requirement { expr })
    }
}

impl std::fmt::Display for ImplicitRequirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.any { " or " } else { " and " };
        let text: Vec<String> = self.clauses.iter().map(ToString::to_string).collect();
        f.write_str(&text.join(sep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_apples_dumper() {
        assert_eq!(quote("W38PE5Y733"), "W38PE5Y733");
        assert_eq!(quote("97JCY7859U"), "\"97JCY7859U\"");
        assert_eq!(
            quote("Apple Development: A (B)"),
            "\"Apple Development: A (B)\""
        );
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn adhoc_is_an_or_of_cdhashes() {
        let r = adhoc(&[vec![0xab; 20], vec![0xcd; 20]]).unwrap();
        assert_eq!(
            r.to_string(),
            format!(
                "cdhash H\"{}\" or cdhash H\"{}\"",
                "ab".repeat(20),
                "cd".repeat(20)
            )
        );
    }
}
