//! Entitlements blobs: XML (`0xfade7171`) and DER (`0xfade7172`), read as macOS reads them.

use super::blob::{BlobEntry, MAGIC_DER_ENTITLEMENTS, MAGIC_ENTITLEMENTS};
use super::der::{integer, tag, DerError, DerReader, Tlv};
use super::error::SignatureError;

/// How deep DER entitlement containers may nest before we refuse (macOS's own limit is lower
/// than any real entitlement file needs; this one only bounds recursion).
const MAX_DEPTH: usize = 32;

/// Read an XML entitlements blob into a plist dictionary. Leading whitespace before `<?xml`
/// and trailing NULs are accepted, as macOS accepts them.
pub fn parse_xml(blob: &BlobEntry<'_>) -> Result<plist::Value, SignatureError> {
    if blob.magic != MAGIC_ENTITLEMENTS {
        return Err(SignatureError::BadMagic {
            field: "Entitlements blob",
            offset: blob.offset,
            found: blob.magic,
            expected: MAGIC_ENTITLEMENTS,
        });
    }
    parse_xml_bytes(blob.payload())
        .map_err(|m| SignatureError::invalid("Entitlements blob", blob.offset, m))
}

/// Parse entitlements XML text (without the blob header): the one reader `signature show`,
/// `signature verify` and the requirement engine share.
///
/// As strict as Apple's property-list parser about the first top-level element, as lenient
/// about what follows it: CoreFoundation stops once `</plist>` closes the document, so stray
/// text after it (seen in real Developer ID binaries) is ignored. The special slot still
/// seals every byte of the blob.
pub fn parse_xml_bytes(payload: &[u8]) -> Result<plist::Value, String> {
    let start = payload
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(payload.len());
    let end = payload
        .iter()
        .rposition(|&b| b != 0 && !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    let text = payload.get(start..end.max(start)).unwrap_or(&[]);
    let document = text.get(..root_element_end(text)).unwrap_or(text);
    parse_dictionary(document)
}

/// Where the document's first top-level element ends (just past its closing tag), skipping
/// the XML declaration, comments, processing instructions, the DOCTYPE, CDATA sections and
/// quoted attribute values; the whole text when it does not close.
fn root_element_end(text: &[u8]) -> usize {
    let find = |from: usize, pat: &[u8]| {
        text.get(from..)
            .and_then(|t| t.windows(pat.len()).position(|w| w == pat))
            .map(|p| from + p + pat.len())
    };
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(lt) = text
        .get(i..)
        .and_then(|t| t.iter().position(|&b| b == b'<'))
    {
        let at = i + lt;
        let rest = text.get(at..).unwrap_or(&[]);
        let skip_to = if rest.starts_with(b"<!--") {
            find(at, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            find(at, b"]]>")
        } else if rest.starts_with(b"<?") {
            find(at, b"?>")
        } else if rest.starts_with(b"<!") {
            // DOCTYPE, with an internal subset in brackets if any (looked for only before the
            // first `>`, so that many declarations cost one pass, not one pass each).
            let close = find(at, b">");
            let bracket = close.and_then(|c| {
                text.get(at..c)?
                    .iter()
                    .position(|&b| b == b'[')
                    .map(|p| at + p)
            });
            match bracket {
                Some(open) => find(open, b"]").and_then(|e| find(e, b">")),
                None => close,
            }
        } else {
            let end = tag_end(text, at);
            if let Some(e) = end {
                let closing = rest.starts_with(b"</");
                let empty = text.get(e.saturating_sub(2)) == Some(&b'/');
                if closing {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return e;
                    }
                } else if !empty {
                    depth += 1;
                } else if depth == 0 {
                    return e;
                }
            }
            end
        };
        match skip_to {
            Some(next) => i = next,
            None => break,
        }
    }
    text.len()
}

/// Just past the `>` that ends the tag starting at `at`, outside quoted attribute values.
fn tag_end(text: &[u8], at: usize) -> Option<usize> {
    let mut quote = None;
    for (k, &b) in text.get(at..)?.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return Some(at + k + 1),
            _ => {}
        }
    }
    None
}

fn parse_dictionary(text: &[u8]) -> Result<plist::Value, String> {
    let v = plist::Value::from_reader_xml(std::io::Cursor::new(text))
        .map_err(|e| format!("not an XML property list: {e}"))?;
    if v.as_dictionary().is_none() {
        return Err("the property list is not a dictionary".into());
    }
    Ok(v)
}

/// Read a DER entitlements blob into a plist dictionary. Accepts Apple's
/// `[APPLICATION 16] { INTEGER 1, [CONTEXT 16] {...} }` form and a bare dictionary, with
/// dictionaries tagged `[CONTEXT 16]` or `SET`, and BER booleans (any non-zero octet is true).
pub fn parse_der(blob: &BlobEntry<'_>) -> Result<plist::Value, SignatureError> {
    if blob.magic != MAGIC_DER_ENTITLEMENTS {
        return Err(SignatureError::BadMagic {
            field: "DER entitlements blob",
            offset: blob.offset,
            found: blob.magic,
            expected: MAGIC_DER_ENTITLEMENTS,
        });
    }
    let base = blob.offset.saturating_add(8);
    parse_der_bytes(blob.payload()).map_err(|e| {
        SignatureError::invalid(
            "DER entitlements blob",
            base.saturating_add(e.offset as u64),
            e.message,
        )
    })
}

const APPLICATION_16: u8 = 0x70;
const CONTEXT_16: u8 = 0xb0;

/// Parse DER entitlements (without the blob header).
pub fn parse_der_bytes(payload: &[u8]) -> Result<plist::Value, DerErrorPublic> {
    let mut top = DerReader::new(payload);
    let first = top.read().map_err(DerErrorPublic::from)?;
    let dict = if first.tag == APPLICATION_16 {
        let mut inner = top.nested(&first);
        let version = inner
            .expect(tag::INTEGER, "expected the INTEGER version")
            .map_err(DerErrorPublic::from)?;
        if integer(version.value) != Some(1) {
            return Err(DerErrorPublic {
                offset: 0,
                message: "DER entitlements version is not 1",
            });
        }
        let d = inner.read().map_err(DerErrorPublic::from)?;
        if !inner.is_empty() {
            return Err(DerErrorPublic {
                offset: inner.offset(),
                message: "trailing data after the dictionary",
            });
        }
        value(&inner, d, 0)?
    } else {
        value(&top, first, 0)?
    };
    if !top.is_empty() {
        return Err(DerErrorPublic {
            offset: top.offset(),
            message: "trailing data after the entitlements",
        });
    }
    if dict.as_dictionary().is_none() {
        return Err(DerErrorPublic {
            offset: 0,
            message: "the entitlements are not a dictionary",
        });
    }
    Ok(dict)
}

/// Where and why DER entitlements could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerErrorPublic {
    /// Offset within the payload.
    pub offset: usize,
    /// What was wrong.
    pub message: &'static str,
}

impl From<DerError> for DerErrorPublic {
    fn from(e: DerError) -> Self {
        DerErrorPublic {
            offset: e.offset,
            message: e.message,
        }
    }
}

fn value(parent: &DerReader<'_>, t: Tlv<'_>, depth: usize) -> Result<plist::Value, DerErrorPublic> {
    let at = parent.offset();
    let fail = |message: &'static str| DerErrorPublic {
        offset: at,
        message,
    };
    if depth > MAX_DEPTH {
        return Err(fail("entitlements nest too deeply"));
    }
    match t.tag {
        tag::BOOLEAN => match t.value {
            [b] => Ok(plist::Value::Boolean(*b != 0)),
            _ => Err(fail("a BOOLEAN must be one octet")),
        },
        tag::INTEGER => integer(t.value)
            .map(|i| plist::Value::Integer(i.into()))
            .ok_or_else(|| fail("INTEGER does not fit in 64 bits")),
        tag::UTF8_STRING => std::str::from_utf8(t.value)
            .map(|s| plist::Value::String(s.to_owned()))
            .map_err(|_| fail("UTF8String is not UTF-8")),
        tag::OCTET_STRING => Ok(plist::Value::Data(t.value.to_vec())),
        tag::SEQUENCE => {
            let mut r = parent.nested(&t);
            let mut items = Vec::new();
            while !r.is_empty() {
                let e = r.read().map_err(DerErrorPublic::from)?;
                items.push(value(&r, e, depth + 1)?);
            }
            Ok(plist::Value::Array(items))
        }
        CONTEXT_16 | tag::SET => {
            let mut r = parent.nested(&t);
            let mut dict = plist::Dictionary::new();
            while !r.is_empty() {
                let pair = r
                    .expect(tag::SEQUENCE, "a dictionary entry must be a SEQUENCE")
                    .map_err(DerErrorPublic::from)?;
                let mut pr = r.nested(&pair);
                let k = pr
                    .expect(tag::UTF8_STRING, "a dictionary key must be a UTF8String")
                    .map_err(DerErrorPublic::from)?;
                let key = std::str::from_utf8(k.value)
                    .map_err(|_| fail("dictionary key is not UTF-8"))?;
                let v = pr.read().map_err(DerErrorPublic::from)?;
                let val = value(&pr, v, depth + 1)?;
                if !pr.is_empty() {
                    return Err(fail("a dictionary entry has more than a key and a value"));
                }
                dict.insert(key.to_owned(), val);
            }
            Ok(plist::Value::Dictionary(dict))
        }
        _ => Err(fail("unsupported element type in DER entitlements")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(t: u8, v: &[u8]) -> Vec<u8> {
        let mut o = vec![t];
        if v.len() < 128 {
            o.push(v.len() as u8);
        } else {
            o.push(0x82);
            o.extend_from_slice(&(v.len() as u16).to_be_bytes());
        }
        o.extend_from_slice(v);
        o
    }

    fn pair(k: &str, v: Vec<u8>) -> Vec<u8> {
        let mut c = tlv(tag::UTF8_STRING, k.as_bytes());
        c.extend(v);
        tlv(tag::SEQUENCE, &c)
    }

    #[test]
    fn apple_form_and_bare_set_with_ber_booleans() {
        let mut entries = pair("com.apple.security.app-sandbox", tlv(tag::BOOLEAN, &[0xff]));
        entries.extend(pair("n", tlv(tag::INTEGER, &[0x05])));
        entries.extend(pair(
            "groups",
            tlv(tag::SEQUENCE, &tlv(tag::UTF8_STRING, b"g1")),
        ));
        let mut body = tlv(tag::INTEGER, &[1]);
        body.extend(tlv(CONTEXT_16, &entries));
        let apple = tlv(APPLICATION_16, &body);
        let v = parse_der_bytes(&apple).unwrap();
        let d = v.as_dictionary().unwrap();
        assert_eq!(
            d.get("com.apple.security.app-sandbox"),
            Some(&plist::Value::Boolean(true))
        );
        assert_eq!(d.get("n").and_then(|v| v.as_signed_integer()), Some(5));

        let bare = tlv(
            tag::SET,
            &pair("get-task-allow", tlv(tag::BOOLEAN, &[0x01])),
        );
        let v = parse_der_bytes(&bare).unwrap();
        assert_eq!(
            v.as_dictionary().unwrap().get("get-task-allow"),
            Some(&plist::Value::Boolean(true))
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut v = tlv(tag::BOOLEAN, &[0]);
        for _ in 0..100 {
            v = tlv(tag::SEQUENCE, &v);
        }
        let d = tlv(tag::SET, &pair("k", v));
        assert!(parse_der_bytes(&d).is_err());
    }

    #[test]
    fn xml_with_leading_whitespace() {
        let x = b"\n  <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict><key>a</key><true/></dict></plist>\n\0";
        let v = parse_xml_bytes(x).unwrap();
        assert_eq!(
            v.as_dictionary().unwrap().get("a"),
            Some(&plist::Value::Boolean(true))
        );
        assert!(parse_xml_bytes(b"{ a = 1; }").is_err());
    }

    #[test]
    fn xml_reading_stops_after_the_first_element() {
        let doc = "<?xml version=\"1.0\"?>\n<!-- </plist> --><plist version=\"1.0\"><dict><key>a</key><string>&lt;/plist></string></dict></plist>";
        assert!(parse_xml_bytes(doc.as_bytes()).is_ok());
        for tail in [
            "\nstray text",
            "</plist>",
            "<dict>",
            "\n<plist><dict/></plist>",
        ] {
            let x = format!("{doc}{tail}");
            let v = parse_xml_bytes(x.as_bytes()).unwrap_or_else(|e| panic!("{tail:?}: {e}"));
            assert_eq!(
                v.as_dictionary().unwrap().get("a"),
                Some(&plist::Value::String("</plist>".into())),
                "{tail:?}"
            );
        }
        // The element itself is held to the parser's rules.
        for bad in [
            "<plist version=\"1.0\"><dict><key>a</key></plist> trailing",
            "<plist version=\"1.0\"><array/></plist> trailing",
            "stray <plist version=\"1.0\"><dict/></plist>",
        ] {
            assert!(parse_xml_bytes(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn root_element_end_skips_cdata_comments_and_quoted_attributes() {
        let doc = b"<?xml version='1.0'?><!DOCTYPE plist [<!ENTITY x '>'>]><plist a='>'><s><![CDATA[</plist>]]></s><e/></plist>tail";
        let end = root_element_end(doc);
        assert_eq!(&doc[end..], b"tail");
        assert_eq!(root_element_end(b"<plist><dict>"), 13);
        assert_eq!(root_element_end(b"<plist/>x"), 8);
    }

    #[test]
    fn hostile_markup_is_read_in_linear_time() {
        // 200k declarations and unclosed constructs must not make the scan quadratic.
        let mut doc = "<!x>".repeat(200_000).into_bytes();
        doc.extend_from_slice(b"<plist><dict/></plist>");
        assert_eq!(root_element_end(&doc), doc.len());
        let open = "<!-- ".repeat(100_000);
        assert_eq!(root_element_end(open.as_bytes()), open.len());
    }
}
