//! Certificate chains and trust anchors: Apple's roots (shipped with the library and checked by
//! fingerprint), roots the user trusts, and — for tests only — roots to be treated as Apple's.

use chrono::{DateTime, Utc};
use x509_certificate::CapturedX509Certificate;

use super::der::{integer, oid_to_string, tag, DerReader};
use super::hash::sha256;
use super::reader::hex;

/// Apple Root CA, Apple Root CA - G2, Apple Root CA - G3: (name, DER, SHA-256).
const APPLE_ROOTS: &[(&str, &[u8], &str)] = &[
    (
        "Apple Root CA",
        include_bytes!("anchors/AppleRootCA.cer"),
        "b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024",
    ),
    (
        "Apple Root CA - G2",
        include_bytes!("anchors/AppleRootCA-G2.cer"),
        "c2b9b042dd57830e7d117dac55ac8ae19407d38e41d88f3215bc3a890444a050",
    ),
    (
        "Apple Root CA - G3",
        include_bytes!("anchors/AppleRootCA-G3.cer"),
        "63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179",
    ),
];

/// The longest chain considered (leaf, intermediates, anchor).
pub const MAX_CHAIN_LENGTH: usize = 8;
/// The most certificates a signature's bag may hold before we stop looking through it.
pub const MAX_BAG: usize = 32;

/// EKU codeSigning.
pub const OID_EKU_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
/// EKU timeStamping.
pub const OID_EKU_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
const OID_EKU_ANY: &str = "2.5.29.37.0";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
/// Critical extensions a path may carry without our refusing it: the ones this module
/// enforces, those with no bearing on code signing, and Apple's marker extensions.
const ALLOWED_CRITICAL: &[&str] = &[
    OID_BASIC_CONSTRAINTS,
    OID_KEY_USAGE,
    OID_EXT_KEY_USAGE,
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.17", // subjectAltName
    "2.5.29.32", // certificatePolicies
];
/// The problem code of a certificate used outside its validity dates.
pub const CERTIFICATE_VALIDITY: &str = "certificate-validity";
const APPLE_MARKER_PREFIX: &str = "1.2.840.113635.100.6.";

/// Why a root is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    /// One of Apple's roots shipped with smbless.
    Apple,
    /// A root the caller asked to treat as Apple's (testing only: Apple's own debug builds
    /// have the same switch, `TEST_APPLE_ANCHOR`).
    TestApple,
    /// A root the user trusts (`--anchor`): enterprise or test PKI.
    Custom,
}

impl AnchorKind {
    /// Whether `anchor apple` / `anchor apple generic` should accept this root.
    pub fn is_apple(self) -> bool {
        matches!(self, AnchorKind::Apple | AnchorKind::TestApple)
    }
}

/// A trusted root.
#[derive(Clone)]
pub struct Anchor {
    /// The certificate.
    pub cert: CapturedX509Certificate,
    /// Why it is trusted.
    pub kind: AnchorKind,
    /// SHA-256 of its DER.
    pub sha256: [u8; 32],
}

/// Errors loading anchors.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A shipped Apple root does not have its published fingerprint.
    #[error("shipped anchor {name}: SHA-256 {found}, expected {expected}")]
    Fingerprint {
        /// Which root.
        name: &'static str,
        /// What it hashes to.
        found: String,
        /// What Apple publishes.
        expected: &'static str,
    },
    /// A certificate could not be read.
    #[error("{what}: not a readable X.509 certificate: {message}")]
    Certificate {
        /// Which certificate.
        what: String,
        /// Why.
        message: String,
    },
}

/// The set of roots a verification trusts.
#[derive(Clone)]
pub struct Anchors {
    anchors: Vec<Anchor>,
}

impl Anchors {
    /// Apple's three roots, each checked against its published SHA-256 fingerprint.
    pub fn apple() -> Result<Anchors, TrustError> {
        let mut anchors = Vec::new();
        for (name, der, expected) in APPLE_ROOTS {
            let found = hex(&sha256(der));
            if found != *expected {
                return Err(TrustError::Fingerprint {
                    name,
                    found,
                    expected,
                });
            }
            let cert = CapturedX509Certificate::from_der(der.to_vec()).map_err(|e| {
                TrustError::Certificate {
                    what: (*name).to_string(),
                    message: e.to_string(),
                }
            })?;
            anchors.push(Anchor {
                cert,
                kind: AnchorKind::Apple,
                sha256: sha256(der),
            });
        }
        Ok(Anchors { anchors })
    }

    /// No anchors at all.
    pub fn empty() -> Anchors {
        Anchors {
            anchors: Vec::new(),
        }
    }

    /// Add every certificate in `pem` as a root of `kind`. `what` names the source in errors.
    pub fn add_pem(
        &mut self,
        pem: &[u8],
        kind: AnchorKind,
        what: &str,
    ) -> Result<usize, TrustError> {
        let certs = CapturedX509Certificate::from_pem_multiple(pem).map_err(|e| {
            TrustError::Certificate {
                what: what.to_string(),
                message: e.to_string(),
            }
        })?;
        if certs.is_empty() {
            return Err(TrustError::Certificate {
                what: what.to_string(),
                message: "no CERTIFICATE block found".into(),
            });
        }
        let n = certs.len();
        for cert in certs {
            self.add(cert, kind);
        }
        Ok(n)
    }

    /// Add a root.
    pub fn add(&mut self, cert: CapturedX509Certificate, kind: AnchorKind) {
        let fp = sha256(cert.constructed_data());
        self.anchors.retain(|a| a.sha256 != fp);
        self.anchors.push(Anchor {
            cert,
            kind,
            sha256: fp,
        });
    }

    /// The roots.
    pub fn iter(&self) -> impl Iterator<Item = &Anchor> {
        self.anchors.iter()
    }

    fn find(&self, cert: &CapturedX509Certificate) -> Option<&Anchor> {
        let fp = sha256(cert.constructed_data());
        self.anchors.iter().find(|a| a.sha256 == fp)
    }
}

/// What the leaf must be good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Code signing (EKU 1.3.6.1.5.5.7.3.3).
    CodeSigning,
    /// Time stamping (EKU 1.3.6.1.5.5.7.3.8).
    TimeStamping,
}

/// How far a valid signature is also trusted: what its chain ends at. Validity (macOS's
/// `SecStaticCode` with implicit anchors) does not depend on it; requirements decide trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// The chain ends at one of Apple's roots (or one treated as Apple's).
    Apple,
    /// The chain ends at a root the user trusts (`--anchor`), or at a certificate of the chain
    /// given as one.
    Anchor,
    /// The chain ends at a self-signed certificate nobody named: an implicit anchor, valid
    /// for macOS but trusted by nothing.
    SelfSigned,
    /// No chain (ad-hoc, linker-signed, unsigned) or one that reaches no root.
    None,
}

impl Trust {
    /// The name used in reports (`apple`, `anchor`, `self-signed`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Apple => "apple",
            Trust::Anchor => "anchor",
            Trust::SelfSigned => "self-signed",
            Trust::None => "none",
        }
    }
}

impl std::fmt::Display for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A chain from a leaf towards an anchor, and what is wrong with it.
#[derive(Clone)]
pub struct Chain {
    /// Leaf first; ends with the anchor when one was reached, or with the self-signed
    /// certificate it stopped at.
    pub certs: Vec<CapturedX509Certificate>,
    /// The trusted anchor reached, if any.
    pub anchor: Option<AnchorKind>,
    /// The chain ends at a self-signed certificate that is not a trusted anchor: macOS's
    /// implicit anchor (valid, not trusted).
    pub implicit_anchor: bool,
    /// Policy failures: (problem code, message naming the certificate and the rule).
    pub problems: Vec<(&'static str, String)>,
}

/// Short display of a certificate for messages.
pub fn describe(cert: &CapturedX509Certificate) -> String {
    cert.subject_common_name()
        .unwrap_or_else(|| subject_string(cert))
}

impl Chain {
    /// What the chain ends at.
    pub fn trust(&self) -> Trust {
        match self.anchor {
            Some(k) if k.is_apple() => Trust::Apple,
            Some(_) => Trust::Anchor,
            None if self.implicit_anchor => Trust::SelfSigned,
            None => Trust::None,
        }
    }
}

/// Build the chain from `leaf` through `bag` to an anchor, checking each link's signature,
/// then check the policy at `at`: validity of every certificate, CA basic constraints and
/// path length on issuers, key usage, the purpose's EKU on the leaf, and no critical
/// extension outside the known set (Apple's markers included).
///
/// As macOS's code-signing validation does (`SecStaticCode` without
/// `kSecCSCheckTrustedAnchors`), a chain that ends at a self-signed certificate whose
/// signature verifies is complete: that certificate is an *implicit anchor*
/// ([`Chain::implicit_anchor`], no problem). A chain that stops at a certificate whose issuer
/// is not at hand is incomplete (`chain-untrusted`). Any certificate of the chain, the leaf
/// included, may be a trusted anchor.
pub fn build_chain(
    leaf: &CapturedX509Certificate,
    bag: &[CapturedX509Certificate],
    anchors: &Anchors,
    at: DateTime<Utc>,
    purpose: Purpose,
) -> Chain {
    let bag = bag.get(..MAX_BAG.min(bag.len())).unwrap_or(&[]);
    let mut chain = Chain {
        certs: vec![leaf.clone()],
        anchor: None,
        implicit_anchor: false,
        problems: Vec::new(),
    };
    let mut current = leaf.clone();
    loop {
        if let Some(a) = anchors.find(&current) {
            chain.anchor = Some(a.kind);
            break;
        }
        if chain.certs.len() >= MAX_CHAIN_LENGTH {
            chain.problems.push((
                "chain-untrusted",
                format!("chain is longer than {MAX_CHAIN_LENGTH} certificates"),
            ));
            break;
        }
        let issuer = find_issuer(&current, bag, anchors, &chain.certs);
        match issuer {
            Some(next) => {
                chain.certs.push(next.clone());
                current = next;
            }
            None => {
                if current.subject_is_issuer()
                    && current.verify_signed_by_certificate(&current).is_ok()
                {
                    chain.implicit_anchor = true;
                } else {
                    chain.problems.push(("chain-untrusted", format!(
                        "no issuer found for \"{}\" (issuer \"{}\"): the chain is incomplete (it reaches neither a trusted anchor nor a self-signed root)",
                        describe(&current),
                        current.issuer_common_name().unwrap_or_default()
                    )));
                }
                break;
            }
        }
    }
    check_policy(&mut chain, at, purpose);
    chain
}

fn find_issuer(
    cert: &CapturedX509Certificate,
    bag: &[CapturedX509Certificate],
    anchors: &Anchors,
    seen: &[CapturedX509Certificate],
) -> Option<CapturedX509Certificate> {
    // Anchors first, so a chain stops at the trusted copy of a root rather than at whatever
    // the signature's bag claims.
    let candidates = anchors.iter().map(|a| &a.cert).chain(bag.iter());
    for cand in candidates {
        if cand.subject_name() != cert.issuer_name() {
            continue;
        }
        if seen
            .iter()
            .any(|s| s.constructed_data() == cand.constructed_data())
        {
            continue;
        }
        if cert.verify_signed_by_certificate(cand).is_ok() {
            return Some(cand.clone());
        }
    }
    None
}

/// A certificate's extensions as (dotted OID, critical, value).
pub fn extensions(cert: &CapturedX509Certificate) -> Vec<(String, bool, Vec<u8>)> {
    cert.iter_extensions()
        .map(|e| {
            (
                e.id.to_string(),
                e.critical.unwrap_or(false),
                e.value.to_bytes().to_vec(),
            )
        })
        .collect()
}

/// Whether the certificate carries extension `oid` (dotted).
pub fn has_extension(cert: &CapturedX509Certificate, oid: &str) -> bool {
    cert.iter_extensions().any(|e| e.id.to_string() == oid)
}

/// `basicConstraints`: (cA, pathLenConstraint), or `None` when absent or unreadable.
fn basic_constraints(value: &[u8]) -> Option<(bool, Option<i64>)> {
    let mut r = DerReader::new(value);
    let seq = r.expect(tag::SEQUENCE, "basicConstraints").ok()?;
    let mut inner = r.nested(&seq);
    let mut ca = false;
    let mut path = None;
    while !inner.is_empty() {
        let t = inner.read().ok()?;
        match t.tag {
            tag::BOOLEAN => ca = t.value.first().is_some_and(|b| *b != 0),
            tag::INTEGER => path = integer(t.value),
            _ => return None,
        }
    }
    Some((ca, path))
}

/// `keyUsage` bit `n` (0 = digitalSignature, 5 = keyCertSign).
fn key_usage_bit(value: &[u8], n: usize) -> Option<bool> {
    let t = DerReader::new(value).expect(0x03, "keyUsage").ok()?;
    let bits = t.value.get(1..)?;
    Some(bits.get(n / 8).is_some_and(|b| b & (0x80 >> (n % 8)) != 0))
}

fn eku_oids(value: &[u8]) -> Option<Vec<String>> {
    let mut r = DerReader::new(value);
    let seq = r.expect(tag::SEQUENCE, "extKeyUsage").ok()?;
    let mut inner = r.nested(&seq);
    let mut out = Vec::new();
    while !inner.is_empty() {
        let t = inner.expect(tag::OID, "extKeyUsage OID").ok()?;
        out.push(oid_to_string(t.value)?);
    }
    Some(out)
}

fn check_policy(chain: &mut Chain, at: DateTime<Utc>, purpose: Purpose) {
    let n = chain.certs.len();
    for (i, cert) in chain.certs.iter().enumerate() {
        let name = describe(cert);
        let (nb, na) = (cert.validity_not_before(), cert.validity_not_after());
        if at < nb || at > na {
            chain.problems.push((
                CERTIFICATE_VALIDITY,
                format!(
                    "certificate \"{name}\" is not valid at {}: valid from {} to {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    nb.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    na.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            ));
        }
        let exts = extensions(cert);
        for (oid, critical, _) in &exts {
            if *critical
                && !ALLOWED_CRITICAL.contains(&oid.as_str())
                && !oid.starts_with(APPLE_MARKER_PREFIX)
            {
                chain.problems.push((
                    "critical-extension",
                    format!("certificate \"{name}\" has an unknown critical extension {oid}"),
                ));
            }
        }
        let find = |o: &str| {
            exts.iter()
                .find(|(oid, _, _)| oid == o)
                .map(|(_, _, v)| v.as_slice())
        };
        if i > 0 {
            // An issuer: must be a CA, its path length must allow the CAs below it.
            match find(OID_BASIC_CONSTRAINTS).and_then(basic_constraints) {
                Some((true, path)) => {
                    let below = i.saturating_sub(1) as i64;
                    if let Some(p) = path {
                        if below > p {
                            chain.problems.push((
                                "certificate-path-length",
                                format!("certificate \"{name}\" allows {p} intermediate CAs below it, the chain has {below}"),
                            ));
                        }
                    }
                }
                _ => chain.problems.push((
                    "certificate-not-ca",
                    format!("certificate \"{name}\" issues another certificate but is not a CA (basicConstraints cA is not true)"),
                )),
            }
            if let Some(v) = find(OID_KEY_USAGE) {
                if key_usage_bit(v, 5) != Some(true) {
                    chain.problems.push(("certificate-key-usage", format!("certificate \"{name}\" issues certificates but its keyUsage lacks keyCertSign")));
                }
            }
        } else {
            let (want, label) = match purpose {
                Purpose::CodeSigning => (OID_EKU_CODE_SIGNING, "codeSigning"),
                Purpose::TimeStamping => (OID_EKU_TIME_STAMPING, "timeStamping"),
            };
            match find(OID_EXT_KEY_USAGE).map(eku_oids) {
                Some(Some(list)) if list.iter().any(|o| o == want || o == OID_EKU_ANY) => {}
                Some(_) => chain.problems.push((
                    "leaf-eku",
                    format!("leaf certificate \"{name}\" extendedKeyUsage does not include {label} ({want})"),
                )),
                None => chain.problems.push((
                    "leaf-eku",
                    format!("leaf certificate \"{name}\" has no extendedKeyUsage; {label} ({want}) is required"),
                )),
            }
            if let Some(v) = find(OID_KEY_USAGE) {
                if key_usage_bit(v, 0) != Some(true) {
                    chain.problems.push((
                        "certificate-key-usage",
                        format!("leaf certificate \"{name}\" keyUsage lacks digitalSignature"),
                    ));
                }
            }
            if n > 1 {
                if let Some((true, _)) = find(OID_BASIC_CONSTRAINTS).and_then(basic_constraints) {
                    chain.problems.push((
                        "leaf-is-ca",
                        format!("leaf certificate \"{name}\" is a CA certificate"),
                    ));
                }
            }
        }
    }
}

fn attr_short(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.13" => "D",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

/// A name's attributes as (short name or dotted OID, value), in encoded order.
pub fn name_attributes(name: &x509_certificate::rfc3280::Name) -> Vec<(String, String)> {
    name.iter_attributes()
        .map(|a| {
            let oid = a.typ.to_string();
            let key = attr_short(&oid).map_or(oid, str::to_string);
            let value = a.to_string().unwrap_or_else(|_| "<unreadable>".into());
            (key, value)
        })
        .collect()
}

fn escape_dn(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn name_string(name: &x509_certificate::rfc3280::Name) -> String {
    name_attributes(name)
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_dn(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The subject as `K=V, …` in encoded order, commas in values escaped.
pub fn subject_string(cert: &CapturedX509Certificate) -> String {
    name_string(cert.subject_name())
}

/// The issuer, formatted like [`subject_string`].
pub fn issuer_string(cert: &CapturedX509Certificate) -> String {
    name_string(cert.issuer_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_apple_roots_load_and_match_their_fingerprints() {
        let a = Anchors::apple().unwrap();
        let names: Vec<String> = a.iter().map(|x| describe(&x.cert)).collect();
        assert_eq!(
            names,
            ["Apple Root CA", "Apple Root CA - G2", "Apple Root CA - G3"]
        );
        for x in a.iter() {
            // A self-signed root chains to itself with no problems at a time it is valid.
            let at = x.cert.validity_not_before() + chrono::Duration::days(1);
            let c = build_chain(&x.cert, &[], &a, at, Purpose::CodeSigning);
            assert_eq!(c.anchor, Some(AnchorKind::Apple));
            assert_eq!(c.certs.len(), 1);
        }
    }

    #[test]
    fn extension_readers() {
        assert_eq!(
            basic_constraints(&[0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]),
            Some((true, Some(0)))
        );
        assert_eq!(basic_constraints(&[0x30, 0x00]), Some((false, None)));
        assert_eq!(key_usage_bit(&[0x03, 0x02, 0x01, 0x06], 5), Some(true));
        assert_eq!(key_usage_bit(&[0x03, 0x02, 0x07, 0x80], 0), Some(true));
        assert_eq!(
            eku_oids(&[0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03])
                .unwrap(),
            [OID_EKU_CODE_SIGNING]
        );
    }
}
