//! The few certificate facts the interpreter consults: subject components, extensions by OID,
//! certificate policies, date extensions, e-mail addresses and the SHA-1 of the DER.

use sha1::{Digest, Sha1};
use x509_certificate::X509Certificate;

/// A certificate, read once per evaluation; each fact is looked up only when a clause asks.
pub struct CertView<'a> {
    der: &'a [u8],
    cert: X509Certificate,
}

/// OID content bytes of the subject keys `certificate[subject.X]` understands (reqinterp's
/// `certFields` table).
pub fn subject_oid(key: &[u8]) -> Option<&'static [u8]> {
    Some(match key {
        b"subject.C" => &[0x55, 0x04, 0x06],
        b"subject.CN" => &[0x55, 0x04, 0x03],
        b"subject.D" => &[0x55, 0x04, 0x0d],
        b"subject.L" => &[0x55, 0x04, 0x07],
        b"subject.O" => &[0x55, 0x04, 0x0a],
        b"subject.C-O" => &[0x55, 0x04, 0x0a, 0x01],
        b"subject.OU" => &[0x55, 0x04, 0x0b],
        b"subject.C-OU" => &[0x55, 0x04, 0x0b, 0x01],
        b"subject.ST" => &[0x55, 0x04, 0x08],
        b"subject.C-ST" => &[0x55, 0x04, 0x08, 0x01],
        b"subject.STREET" => &[0x55, 0x04, 0x09],
        b"subject.C-STREET" => &[0x55, 0x04, 0x09, 0x01],
        b"subject.UID" => &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        _ => return None,
    })
}

const EMAIL_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];
const POLICIES_OID: &[u8] = &[0x55, 0x1d, 0x20];

impl<'a> CertView<'a> {
    /// Read `der`; `None` when it is not a certificate.
    pub fn parse(der: &'a [u8]) -> Option<CertView<'a>> {
        let cert = X509Certificate::from_der(der).ok()?;
        Some(CertView { der, cert })
    }

    /// SHA-1 of the DER (`certificate N = H"…"`).
    pub fn sha1(&self) -> [u8; 20] {
        Sha1::digest(self.der).into()
    }

    /// The first value of subject attribute `oid` (Apple's
    /// `SecCertificateCopySubjectAttributeValue`); `None` when absent or not text.
    pub fn subject_value(&self, oid: &[u8]) -> Option<String> {
        self.cert
            .subject_name()
            .iter_attributes()
            .find(|a| a.typ.as_ref() == oid)
            .and_then(|a| a.to_string().ok())
    }

    /// The value of extension `oid`, if present.
    pub fn extension(&self, oid: &[u8]) -> Option<Vec<u8>> {
        self.cert
            .iter_extensions()
            .find(|e| e.id.as_ref() == oid)
            .map(|e| e.value.to_bytes().to_vec())
    }

    /// E-mail addresses: subject `emailAddress` attributes and `rfc822Name`s of the subject
    /// alternative name.
    pub fn emails(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .cert
            .subject_name()
            .iter_attributes()
            .filter(|a| a.typ.as_ref() == EMAIL_OID)
            .filter_map(|a| a.to_string().ok())
            .collect();
        if let Some(san) = self.extension(SAN_OID) {
            if let Some((0x30, body, _)) = tlv(&san) {
                let mut rest = body;
                while let Some((tag, value, next)) = tlv(rest) {
                    if tag == 0x81 {
                        out.push(String::from_utf8_lossy(value).into_owned());
                    }
                    rest = next;
                }
            }
        }
        out
    }

    /// Whether the certificate-policies extension names policy `oid`.
    pub fn has_policy(&self, oid: &[u8]) -> bool {
        let Some(ext) = self.extension(POLICIES_OID) else {
            return false;
        };
        let Some((0x30, body, _)) = tlv(&ext) else {
            return false;
        };
        let mut rest = body;
        while let Some((tag, info, next)) = tlv(rest) {
            if tag == 0x30 {
                if let Some((0x06, id, _)) = tlv(info) {
                    if id == oid {
                        return true;
                    }
                }
            }
            rest = next;
        }
        false
    }

    /// A date extension: a UTF8String holding GeneralizedTime content
    /// (`certificateCopyFieldDate`), as seconds since 2001.
    pub fn field_date(&self, oid: &[u8]) -> Option<i64> {
        let ext = self.extension(oid)?;
        let (tag, value, _) = tlv(&ext)?;
        if tag != 0x0c {
            return None;
        }
        super::time::parse_generalized(std::str::from_utf8(value).ok()?)
    }
}

/// One DER TLV with a single-byte tag: (tag, value, rest). Definite lengths only.
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *data.first()?;
    let first = *data.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2usize)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = len
                .checked_mul(256)?
                .checked_add(usize::from(*data.get(2 + i)?))?;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, data.get(header..end)?, data.get(end..)?))
}
