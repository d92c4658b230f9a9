//! The CMS signature blob (slot 0x10000): Apple's BER SignedData, detached, whose signed
//! attributes bind the CodeDirectories.

use chrono::{DateTime, Utc};
use cryptographic_message_syntax::{SignedData, SignerInfo};
use x509_certificate::{CapturedX509Certificate, DigestAlgorithm};

use super::blob::{BlobEntry, MAGIC_BLOBWRAPPER};
use super::der::{tag, DerReader};
use super::error::SignatureError;
use super::hash::{sha256, HashType};

/// Apple's CDHashes signed attribute: a plist `{cdhashes = [<20-byte data>…]}`.
pub const OID_CDHASHES_PLIST: &str = "1.2.840.113635.100.9.1";
/// Apple's CDHashes2 signed attribute: one `SEQUENCE { hash OID, OCTET STRING }` per CD.
pub const OID_CDHASHES2: &str = "1.2.840.113635.100.9.2";

/// A digest algorithm as a CMS signer names it.
pub fn digest(alg: DigestAlgorithm, data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    match alg {
        DigestAlgorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
        DigestAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
        DigestAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
        DigestAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
    }
}

/// The name of a CMS digest algorithm in reports.
pub fn digest_name(alg: DigestAlgorithm) -> &'static str {
    match alg {
        DigestAlgorithm::Sha1 => "sha1",
        DigestAlgorithm::Sha256 => "sha256",
        DigestAlgorithm::Sha384 => "sha384",
        DigestAlgorithm::Sha512 => "sha512",
    }
}

/// The CDHashes2 attribute as read: `(digest OID, full hash)` pairs, or why it is unreadable.
pub type CdHashes2 = Result<Vec<(String, Vec<u8>)>, String>;

/// An RFC 3161 time-stamp token found as an unsigned attribute of the signer.
#[derive(Clone)]
pub struct Timestamp {
    /// The token's `genTime`.
    pub time: Option<DateTime<Utc>>,
    /// The token as a SignedData (its certificates, its signer).
    pub signed_data: Option<SignedData>,
    /// Why the token could not be read or does not verify; `None` when its signature, its
    /// message digest and its message imprint (over the code signature's signer signature) all
    /// check out. Its certificate chain is judged by [`crate::codesign::trust`].
    pub problem: Option<String>,
}

/// A parsed CMS signature blob.
#[derive(Clone)]
pub struct CmsSignature {
    /// The parsed SignedData.
    pub signed_data: SignedData,
    /// Absolute offset of the blob.
    pub offset: u64,
    /// The certificates in the bag, in order.
    pub certificates: Vec<CapturedX509Certificate>,
    /// The signed `signingTime`.
    pub signing_time: Option<DateTime<Utc>>,
    /// The signed `messageDigest`, if there are signed attributes.
    pub message_digest: Option<Vec<u8>>,
    /// The CDHashes plist attribute: truncated cdhashes in the order listed.
    pub cdhashes_plist: Option<Result<Vec<Vec<u8>>, String>>,
    /// The CDHashes2 attribute: `(digest OID, full hash)` pairs.
    pub cdhashes2: Option<CdHashes2>,
    /// The time-stamp token, if any.
    pub timestamp: Option<Timestamp>,
}

impl CmsSignature {
    /// Parse the CMS blob. `Ok(None)` for the empty blob ad-hoc signatures carry.
    pub fn parse(blob: &BlobEntry<'_>) -> Result<Option<CmsSignature>, SignatureError> {
        if blob.magic != MAGIC_BLOBWRAPPER {
            return Err(SignatureError::BadMagic {
                field: "CMS signature blob",
                offset: blob.offset,
                found: blob.magic,
                expected: MAGIC_BLOBWRAPPER,
            });
        }
        let payload = blob.payload();
        if payload.is_empty() {
            return Ok(None);
        }
        let sd = SignedData::parse_ber(payload).map_err(|e| {
            SignatureError::invalid(
                "CMS signature blob",
                blob.offset,
                format!("not a CMS SignedData: {e}"),
            )
        })?;
        let certificates = stored_certificates(payload)
            .map_err(|m| SignatureError::invalid("CMS signature blob", blob.offset, m))?;
        let mut out = CmsSignature {
            signed_data: sd,
            offset: blob.offset,
            certificates,
            signing_time: None,
            message_digest: None,
            cdhashes_plist: None,
            cdhashes2: None,
            timestamp: None,
        };
        if let Some(signer) = out.signed_data.signers().next() {
            if let Some(attrs) = signer.signed_attributes() {
                out.signing_time = attrs.signing_time().copied();
                out.message_digest = Some(attrs.message_digest().to_vec());
                for attr in attrs.attributes().iter() {
                    let oid = attr.typ.to_string();
                    if oid == OID_CDHASHES_PLIST {
                        out.cdhashes_plist = Some(read_cdhashes_plist(
                            attr.values.iter().map(|v| v.as_slice()),
                        ));
                    } else if oid == OID_CDHASHES2 {
                        out.cdhashes2 =
                            Some(read_cdhashes2(attr.values.iter().map(|v| v.as_slice())));
                    }
                }
            }
            out.timestamp = read_timestamp(signer);
        }
        Ok(Some(out))
    }

    /// The one signer (Apple's signatures have exactly one).
    pub fn signer(&self) -> Option<&SignerInfo> {
        self.signed_data.signers().next()
    }

    /// The number of signers.
    pub fn signer_count(&self) -> usize {
        self.signed_data.signers().count()
    }

    /// The certificate the signer names by issuer and serial number.
    pub fn signer_certificate(&self) -> Option<&CapturedX509Certificate> {
        let signer = self.signer()?;
        let (issuer, serial) = signer.certificate_issuer_and_serial()?;
        self.certificates
            .iter()
            .find(|c| c.issuer_name() == issuer && c.serial_number_asn1() == serial)
    }
}

/// The bag's certificates parsed from the bytes as stored (the CMS parser hands back
/// re-encoded copies, whose hashes can differ from the signature's).
fn stored_certificates(payload: &[u8]) -> Result<Vec<CapturedX509Certificate>, String> {
    let raw = super::ber::cms_certificates(payload)
        .map_err(|e| format!("certificate bag at offset {:#x}: {}", e.offset, e.message))?;
    raw.into_iter()
        .enumerate()
        .map(|(i, der)| {
            CapturedX509Certificate::from_der(der.to_vec())
                .or_else(|_| CapturedX509Certificate::from_ber(der.to_vec()))
                .map_err(|e| {
                    format!("certificate {i} of the bag is not a readable X.509 certificate: {e}")
                })
        })
        .collect()
}

fn read_cdhashes_plist<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<Vec<u8>>, String> {
    let v = values.next().ok_or("the CDHashes attribute has no value")?;
    if values.next().is_some() {
        return Err("the CDHashes attribute has more than one value".into());
    }
    let t = DerReader::new(v)
        .expect(tag::OCTET_STRING, "CDHashes value is not an OCTET STRING")
        .map_err(|e| e.message.to_string())?;
    let start = t
        .value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let p =
        plist::Value::from_reader_xml(std::io::Cursor::new(t.value.get(start..).unwrap_or(&[])))
            .map_err(|e| format!("CDHashes value is not an XML plist: {e}"))?;
    let arr = p
        .as_dictionary()
        .and_then(|d| d.get("cdhashes"))
        .and_then(|v| v.as_array())
        .ok_or("CDHashes plist has no `cdhashes` array")?;
    arr.iter()
        .map(|v| {
            v.as_data()
                .map(<[u8]>::to_vec)
                .ok_or_else(|| "a `cdhashes` entry is not data".to_string())
        })
        .collect()
}

fn read_cdhashes2<'a>(values: impl Iterator<Item = &'a [u8]>) -> CdHashes2 {
    let mut out = Vec::new();
    // Each value is one SEQUENCE, but a parser may hand the whole SET's contents over as a
    // single captured value: read every SEQUENCE in each.
    for v in values {
        let mut r = DerReader::new(v);
        while !r.is_empty() {
            let seq = r
                .expect(tag::SEQUENCE, "CDHashes2 value is not a SEQUENCE")
                .map_err(|e| e.message.to_string())?;
            let mut inner = r.nested(&seq);
            let oid = inner
                .expect(tag::OID, "CDHashes2 entry lacks its hash OID")
                .map_err(|e| e.message.to_string())?;
            let hash = inner
                .expect(
                    tag::OCTET_STRING,
                    "CDHashes2 entry lacks its OCTET STRING hash",
                )
                .map_err(|e| e.message.to_string())?;
            let oid = super::der::oid_to_string(oid.value)
                .ok_or("CDHashes2 entry has a malformed OID")?;
            out.push((oid, hash.value.to_vec()));
        }
    }
    Ok(out)
}

fn read_timestamp(signer: &SignerInfo) -> Option<Timestamp> {
    let sd = match signer.time_stamp_token_signed_data() {
        Ok(Some(sd)) => sd,
        Ok(None) => return None,
        Err(e) => {
            return Some(Timestamp {
                time: None,
                signed_data: None,
                problem: Some(format!("time-stamp token is not a SignedData: {e}")),
            })
        }
    };
    let mut ts = Timestamp {
        time: None,
        signed_data: Some(sd.clone()),
        problem: None,
    };
    let content = match sd.signed_content() {
        Some(c) => c,
        None => {
            ts.problem = Some("time-stamp token has no TSTInfo content".into());
            return Some(ts);
        }
    };
    let tst = bcder::decode::Constructed::decode(content, bcder::Mode::Der, |cons| {
        cryptographic_message_syntax::asn1::rfc3161::TstInfo::take_from(cons)
    });
    let tst = match tst {
        Ok(t) => t,
        Err(e) => {
            ts.problem = Some(format!("time-stamp token TSTInfo is unreadable: {e}"));
            return Some(ts);
        }
    };
    ts.time = Some(tst.gen_time.clone().into());
    let imprint_alg = DigestAlgorithm::try_from(&tst.message_imprint.hash_algorithm);
    let problem = match imprint_alg {
        Err(_) => Some("time-stamp message imprint uses an unknown digest".to_string()),
        Ok(alg) => {
            let expected = digest(alg, signer.signature());
            if tst.message_imprint.hashed_message.to_bytes().as_ref() != expected.as_slice() {
                Some("time-stamp message imprint does not match the signer's signature".to_string())
            } else {
                match signer.verify_time_stamp_token() {
                    Ok(Some(())) => None,
                    Ok(None) => Some("time-stamp token has no signer".to_string()),
                    Err(e) => Some(format!("time-stamp token signature does not verify: {e}")),
                }
            }
        }
    };
    ts.problem = problem;
    Some(ts)
}

/// SHA-256 fingerprint of a certificate's DER.
pub fn fingerprint(cert: &CapturedX509Certificate) -> [u8; 32] {
    sha256(cert.constructed_data())
}

/// Compare the CDHashes attributes with the CodeDirectories present. Returns the problems
/// found (empty when both attributes, where present, list exactly the CDs present).
pub fn check_cdhashes(cms: &CmsSignature, cds: &[(HashType, Vec<u8>, Vec<u8>)]) -> Vec<String> {
    // cds: (hash type, truncated cdhash, full hash) in primary-first order.
    let mut problems = Vec::new();
    match &cms.cdhashes_plist {
        None => {
            if cds.len() > 1 {
                problems.push(format!(
                    "the CMS signature has no CDHashes attribute, so {} alternate CodeDirectories are not bound to it",
                    cds.len() - 1
                ));
            }
        }
        Some(Err(e)) => problems.push(format!("CDHashes attribute: {e}")),
        Some(Ok(list)) => {
            let mut want: Vec<&[u8]> = cds.iter().map(|c| c.1.as_slice()).collect();
            let mut got: Vec<&[u8]> = list.iter().map(|h| h.get(..20).unwrap_or(h)).collect();
            want.sort();
            got.sort();
            if want != got {
                problems.push(format!(
                    "CDHashes attribute lists [{}] but the CodeDirectories present hash to [{}]",
                    list.iter()
                        .map(|h| super::hex(h))
                        .collect::<Vec<_>>()
                        .join(", "),
                    cds.iter()
                        .map(|c| super::hex(&c.1))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    match &cms.cdhashes2 {
        None => {}
        Some(Err(e)) => problems.push(format!("CDHashes2 attribute: {e}")),
        Some(Ok(list)) => {
            let mut ok = list.len() == cds.len();
            for (ht, _, full) in cds {
                let found = list
                    .iter()
                    .any(|(oid, h)| oid == ht.oid() && h.as_slice() == full.as_slice());
                if !found {
                    ok = false;
                    problems.push(format!(
                        "CDHashes2 attribute has no {} entry equal to the {} CodeDirectory's hash {}",
                        ht.oid(),
                        ht,
                        super::hex(full)
                    ));
                }
            }
            if !ok && problems.is_empty() {
                problems.push(format!(
                    "CDHashes2 attribute lists {} hashes for {} CodeDirectories",
                    list.len(),
                    cds.len()
                ));
            }
        }
    }
    problems
}
