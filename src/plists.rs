//! Property lists: the Info.plist and launchd plist embedded in a binary, and bundle plists.
//!
//! A [`Plist`] keeps the exact bytes it was parsed from, because code signatures hash those bytes
//! (special slot -1 of a single-file tool is the raw `__TEXT,__info_plist` section), next to the
//! parsed dictionary that the contract checks read.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use thiserror::Error;

use crate::container::Slice;

/// Which embedded property list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedKind {
    /// The helper's Info.plist: Mach-O `__TEXT,__info_plist`, ELF `.info_plist`.
    Info,
    /// The helper's launchd job plist: Mach-O `__TEXT,__launchd_plist`, ELF `.launchd_plist`.
    Launchd,
}

impl EmbeddedKind {
    /// The Mach-O section name (in segment `__TEXT`).
    pub fn macho_section(self) -> &'static str {
        match self {
            EmbeddedKind::Info => "__info_plist",
            EmbeddedKind::Launchd => "__launchd_plist",
        }
    }

    /// The ELF section name.
    pub fn elf_section(self) -> &'static str {
        match self {
            EmbeddedKind::Info => ".info_plist",
            EmbeddedKind::Launchd => ".launchd_plist",
        }
    }
}

/// The encoding a plist was stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlistFormat {
    /// `<?xml …><plist>` text.
    Xml,
    /// `bplist00`.
    Binary,
}

impl PlistFormat {
    /// `xml` or `binary`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlistFormat::Xml => "xml",
            PlistFormat::Binary => "binary",
        }
    }
}

/// Where a plist came from, for error messages: "section __TEXT,__info_plist at offset 0x4000"
/// or "Contents/Info.plist".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlistSource(pub String);

impl fmt::Display for PlistSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plist that is unreadable or not shaped as expected.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum PlistError {
    /// The bytes are not an XML or binary property list.
    #[error("{origin}: not a property list ({reason}); expected an XML or binary plist")]
    NotAPlist {
        /// Where the bytes came from.
        origin: PlistSource,
        /// What the plist reader said.
        reason: String,
    },
    /// The top-level object is not a dictionary.
    #[error("{origin}: the top-level object is {found}; expected a dictionary")]
    NotADictionary {
        /// Where the bytes came from.
        origin: PlistSource,
        /// The type found instead.
        found: &'static str,
    },
    /// A key holds a value of the wrong type.
    #[error("{origin}: key `{key}` is {found}; expected {expected}")]
    WrongType {
        /// Where the plist came from.
        origin: PlistSource,
        /// The key.
        key: String,
        /// The type found.
        found: &'static str,
        /// The type required.
        expected: &'static str,
    },
}

/// A parsed plist dictionary with the bytes it came from.
#[derive(Debug, Clone)]
pub struct Plist<'data> {
    raw: Cow<'data, [u8]>,
    offset: Option<u64>,
    format: PlistFormat,
    dictionary: plist::Dictionary,
    source: PlistSource,
}

impl<'data> Plist<'data> {
    /// Parse `raw` as an XML or binary plist whose top level is a dictionary. Trailing NUL bytes
    /// (linkers pad sections) are ignored for parsing but kept in [`Plist::raw`]. ASCII/OpenStep
    /// plists are refused: neither launchd nor `codesign` reads them here.
    pub fn parse(
        raw: impl Into<Cow<'data, [u8]>>,
        source: PlistSource,
    ) -> Result<Plist<'data>, PlistError> {
        let raw = raw.into();
        let (value, format) = parse_value(&raw, &source)?;
        let dictionary = match value {
            plist::Value::Dictionary(d) => d,
            other => {
                return Err(PlistError::NotADictionary {
                    origin: source,
                    found: type_name(&other),
                })
            }
        };
        Ok(Plist {
            raw,
            offset: None,
            format,
            dictionary,
            source,
        })
    }

    /// The exact bytes the plist was read from (for a section: the whole section).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// For an embedded plist, the section's offset from the start of the file.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// XML or binary.
    pub fn format(&self) -> PlistFormat {
        self.format
    }

    /// The parsed dictionary.
    pub fn dictionary(&self) -> &plist::Dictionary {
        &self.dictionary
    }

    /// Where it came from.
    pub fn source(&self) -> &PlistSource {
        &self.source
    }

    /// A string value; `Ok(None)` when the key is absent, an error naming the key when it holds
    /// another type.
    pub fn string(&self, key: &str) -> Result<Option<&str>, PlistError> {
        match self.dictionary.get(key) {
            None => Ok(None),
            Some(plist::Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, other, "a string")),
        }
    }

    /// A dictionary value; `Ok(None)` when absent.
    pub fn dict(&self, key: &str) -> Result<Option<&plist::Dictionary>, PlistError> {
        match self.dictionary.get(key) {
            None => Ok(None),
            Some(plist::Value::Dictionary(d)) => Ok(Some(d)),
            Some(other) => Err(self.wrong_type(key, other, "a dictionary")),
        }
    }

    /// An array value; `Ok(None)` when absent.
    pub fn array(&self, key: &str) -> Result<Option<&[plist::Value]>, PlistError> {
        match self.dictionary.get(key) {
            None => Ok(None),
            Some(plist::Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(self.wrong_type(key, other, "an array")),
        }
    }

    fn wrong_type(&self, key: &str, value: &plist::Value, expected: &'static str) -> PlistError {
        PlistError::WrongType {
            origin: self.source.clone(),
            key: key.to_string(),
            found: type_name(value),
            expected,
        }
    }

    /// Detach from the borrowed bytes.
    pub fn into_owned(self) -> Plist<'static> {
        Plist {
            raw: Cow::Owned(self.raw.into_owned()),
            offset: self.offset,
            format: self.format,
            dictionary: self.dictionary,
            source: self.source,
        }
    }
}

fn parse_value(
    raw: &[u8],
    source: &PlistSource,
) -> Result<(plist::Value, PlistFormat), PlistError> {
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let trimmed = raw.get(..end).unwrap_or_default();
    let not_a_plist = |reason: String| PlistError::NotAPlist {
        origin: source.clone(),
        reason,
    };
    if trimmed.is_empty() {
        return Err(not_a_plist("it is empty".into()));
    }
    if trimmed.starts_with(b"bplist00") {
        plist::Value::from_reader(std::io::Cursor::new(trimmed))
            .map(|v| (v, PlistFormat::Binary))
            .map_err(|e| not_a_plist(e.to_string()))
    } else {
        plist::Value::from_reader_xml(trimmed)
            .map(|v| (v, PlistFormat::Xml))
            .map_err(|e| not_a_plist(e.to_string()))
    }
}

/// The plist type name of a value, as error messages say it ("a dictionary", "an integer",
/// …): one wording for the library, the helper template and the wire protocol.
pub use smbless_wire::type_name;

/// Read the embedded plist of `kind` from a slice; `Ok(None)` when the section is absent.
pub fn embedded<'data>(
    slice: &Slice<'data>,
    kind: EmbeddedKind,
) -> Result<Option<Plist<'data>>, PlistError> {
    let (segment, name) = if slice.is_macho() {
        ("__TEXT", kind.macho_section())
    } else {
        ("", kind.elf_section())
    };
    let Some(section) = slice.section(segment, name) else {
        return Ok(None);
    };
    let offset = slice.file_offset().saturating_add(section.offset);
    let label = if slice.is_macho() {
        format!("section __TEXT,{name} at offset {offset:#x}")
    } else {
        format!("section {name} at offset {offset:#x}")
    };
    let mut plist = Plist::parse(section.data, PlistSource(label))?;
    plist.offset = Some(offset);
    Ok(Some(plist))
}

/// The two plists a helper embeds, read from one slice.
#[derive(Debug, Clone)]
pub struct EmbeddedPlists<'data> {
    /// The slice's architecture name.
    pub arch: String,
    /// `__TEXT,__info_plist` (ELF `.info_plist`), if present.
    pub info: Option<Plist<'data>>,
    /// `__TEXT,__launchd_plist` (ELF `.launchd_plist`), if present.
    pub launchd: Option<Plist<'data>>,
}

impl EmbeddedPlists<'_> {
    /// Whether two slices embed the same plists (compared as parsed dictionaries).
    pub fn same_as(&self, other: &EmbeddedPlists<'_>) -> bool {
        self.info.as_ref().map(Plist::dictionary) == other.info.as_ref().map(Plist::dictionary)
            && self.launchd.as_ref().map(Plist::dictionary)
                == other.launchd.as_ref().map(Plist::dictionary)
    }
}

/// The embedded Info.plist and launchd plist of one slice.
pub fn embedded_pair<'data>(slice: &Slice<'data>) -> Result<EmbeddedPlists<'data>, PlistError> {
    Ok(EmbeddedPlists {
        arch: slice.arch().name.clone(),
        info: embedded(slice, EmbeddedKind::Info)?,
        launchd: embedded(slice, EmbeddedKind::Launchd)?,
    })
}

/// The embedded plists of every slice of `container`, in slice order.
pub fn embedded_all<'data>(
    container: &crate::container::Container<'data>,
) -> Result<Vec<EmbeddedPlists<'data>>, PlistError> {
    container.slices().iter().map(embedded_pair).collect()
}

/// Convert a plist value to JSON: dates become RFC 3339 strings, data becomes base64, UIDs
/// become `{"uid": n}`, non-finite reals become `null`.
pub fn to_json(value: &plist::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        plist::Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        plist::Value::Dictionary(dict) => {
            J::Object(dict.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        plist::Value::Boolean(b) => J::Bool(*b),
        plist::Value::Data(bytes) => {
            J::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        plist::Value::Date(date) => J::String(date.to_xml_format()),
        plist::Value::Real(r) => serde_json::Number::from_f64(*r).map_or(J::Null, J::Number),
        plist::Value::Integer(i) => match (i.as_signed(), i.as_unsigned()) {
            (Some(s), _) => J::from(s),
            (None, Some(u)) => J::from(u),
            (None, None) => J::Null,
        },
        plist::Value::String(s) => J::String(s.clone()),
        plist::Value::Uid(uid) => serde_json::json!({ "uid": uid.get() }),
        _ => J::Null,
    }
}

/// [`to_json`] for a whole dictionary.
pub fn dictionary_to_json(dict: &plist::Dictionary) -> serde_json::Value {
    to_json(&plist::Value::Dictionary(dict.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> PlistSource {
        PlistSource("test".into())
    }

    const XML: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>Label</key><string>com.example.helper</string>
<key>Stamp</key><date>2001-01-01T00:00:00Z</date><key>Blob</key><data>AAEC</data></dict></plist>"#;

    #[test]
    fn xml_with_trailing_nuls_keeps_raw_bytes() {
        let mut raw = XML.to_vec();
        raw.extend_from_slice(&[0, 0, 0, 0]);
        let p = Plist::parse(raw.clone(), src()).unwrap();
        assert_eq!(p.raw(), &raw[..]);
        assert_eq!(p.format(), PlistFormat::Xml);
        assert_eq!(p.string("Label").unwrap(), Some("com.example.helper"));
        let json = dictionary_to_json(p.dictionary());
        assert_eq!(json["Stamp"], "2001-01-01T00:00:00Z");
        assert_eq!(json["Blob"], "AAEC");
    }

    #[test]
    fn ascii_plists_are_refused() {
        let err = Plist::parse(&b"{ CFBundleVersion = 1; }"[..], src()).unwrap_err();
        assert!(matches!(err, PlistError::NotAPlist { .. }), "{err}");
    }

    #[test]
    fn top_level_must_be_a_dictionary() {
        let xml = br#"<?xml version="1.0"?><plist version="1.0"><array/></plist>"#;
        let err = Plist::parse(&xml[..], src()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test: the top-level object is an array; expected a dictionary"
        );
    }

    #[test]
    fn wrong_key_type_names_the_key() {
        let xml = br#"<?xml version="1.0"?><plist version="1.0"><dict><key>CFBundleVersion</key><integer>3</integer></dict></plist>"#;
        let p = Plist::parse(&xml[..], src()).unwrap();
        let err = p.string("CFBundleVersion").unwrap_err();
        assert_eq!(
            err.to_string(),
            "test: key `CFBundleVersion` is an integer; expected a string"
        );
    }

    #[test]
    fn binary_plists_are_read() {
        let mut dict = plist::Dictionary::new();
        dict.insert("CFBundleVersion".into(), "1.2".into());
        let mut raw = Vec::new();
        plist::Value::Dictionary(dict)
            .to_writer_binary(&mut raw)
            .unwrap();
        let p = Plist::parse(raw, src()).unwrap();
        assert_eq!(p.format(), PlistFormat::Binary);
        assert_eq!(p.string("CFBundleVersion").unwrap(), Some("1.2"));
    }

    #[test]
    fn empty_and_all_nul_sections_are_not_plists() {
        assert!(Plist::parse(&[0u8; 16][..], src()).is_err());
        assert!(Plist::parse(&[][..], src()).is_err());
    }
}
