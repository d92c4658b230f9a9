//! A small bounded DER/BER TLV reader for the few structures read by hand: DER entitlements,
//! certificate extensions and the CDHashes2 attribute. Definite lengths only (these are all
//! DER in practice); no length is trusted before it is checked against the data.

/// One TLV element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet (class, constructed bit, tag number < 31).
    pub tag: u8,
    /// The contents.
    pub value: &'a [u8],
}

/// Why a TLV could not be read (the caller adds which structure it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DerError {
    /// Offset within the bytes given to [`DerReader::new`].
    pub offset: usize,
    /// What went wrong.
    pub message: &'static str,
}

/// A cursor over consecutive TLVs.
pub(crate) struct DerReader<'a> {
    data: &'a [u8],
    pos: usize,
    origin: usize,
}

impl<'a> DerReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        DerReader {
            data,
            pos: 0,
            origin: 0,
        }
    }

    /// A reader over `tlv`'s contents that reports offsets relative to the outer data.
    pub(crate) fn nested(&self, tlv: &Tlv<'a>) -> DerReader<'a> {
        let inner = (tlv.value.as_ptr() as usize).saturating_sub(self.data.as_ptr() as usize);
        DerReader {
            data: tlv.value,
            pos: 0,
            origin: self.origin.saturating_add(inner),
        }
    }

    pub(crate) fn offset(&self) -> usize {
        self.origin.saturating_add(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn err(&self, message: &'static str) -> DerError {
        DerError {
            offset: self.offset(),
            message,
        }
    }

    fn byte(&mut self) -> Result<u8, DerError> {
        let b = self
            .data
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err("truncated element"))?;
        self.pos += 1;
        Ok(b)
    }

    /// Read the next element.
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            return Err(self.err("multi-byte tag numbers are not used here"));
        }
        let first = self.byte()?;
        let len: usize = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err(self.err("indefinite length where a definite one is required"));
        } else {
            let n = usize::from(first & 0x7f);
            if n > 4 {
                return Err(self.err("length of length exceeds 4 bytes"));
            }
            let mut l: usize = 0;
            for _ in 0..n {
                l = (l << 8) | usize::from(self.byte()?);
            }
            l
        };
        let end = self
            .pos
            .checked_add(len)
            .ok_or_else(|| self.err("length overflows"))?;
        let value = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| self.err("length runs past the end"))?;
        self.pos = end;
        Ok(Tlv { tag, value })
    }

    /// Read the next element and require `tag`.
    pub(crate) fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
        let at = self.offset();
        let t = self.read()?;
        if t.tag != tag {
            return Err(DerError {
                offset: at,
                message: what,
            });
        }
        Ok(t)
    }
}

/// Tags used here.
pub(crate) mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
}

/// Decode OID contents into dotted text.
pub(crate) fn oid_to_string(content: &[u8]) -> Option<String> {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    let mut started = false;
    for &b in content {
        if acc > (u64::MAX >> 7) {
            return None;
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        started = true;
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let (a, b) = if acc < 40 {
                    (0, acc)
                } else if acc < 80 {
                    (1, acc - 40)
                } else {
                    (2, acc - 80)
                };
                parts.push(a);
                parts.push(b);
            } else {
                parts.push(acc);
            }
            acc = 0;
            started = false;
        }
    }
    if started || parts.is_empty() {
        return None;
    }
    Some(
        parts
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// Decode a two's-complement INTEGER that fits in an i64.
pub(crate) fn integer(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let neg = content.first().is_some_and(|b| b & 0x80 != 0);
    let mut v: i64 = if neg { -1 } else { 0 };
    for &b in content {
        v = (v << 8) | i64::from(b);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_integers() {
        assert_eq!(
            oid_to_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x01, 0x0d]).unwrap(),
            "1.2.840.113635.100.6.1.13"
        );
        assert_eq!(
            oid_to_string(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]).unwrap(),
            "1.3.6.1.5.5.7.3.3"
        );
        assert!(oid_to_string(&[0x86]).is_none());
        assert_eq!(integer(&[0x01]), Some(1));
        assert_eq!(integer(&[0xff]), Some(-1));
        assert_eq!(integer(&[0x00, 0x80]), Some(128));
    }

    #[test]
    fn lengths_are_checked() {
        assert!(DerReader::new(&[0x30, 0x05, 0x01]).read().is_err());
        assert!(DerReader::new(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff])
            .read()
            .is_err());
        assert!(DerReader::new(&[0x30, 0x80, 0, 0]).read().is_err());
        let t = DerReader::new(&[0x30, 0x81, 0x01, 0x05]).read().unwrap();
        assert_eq!(t.value, &[5]);
    }
}
