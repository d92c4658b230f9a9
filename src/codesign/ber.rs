//! A bounded BER walker for the outer layers of a CMS SignedData: Apple's `codesign` writes
//! them with indefinite lengths. It finds the certificates of the bag *as stored*, so that
//! fingerprints (`certificate leaf = H"…"`, `--anchor`) are computed over the bytes in the
//! signature, never over a re-encoding.

/// How deep indefinite-length elements may nest while skipping them.
const MAX_DEPTH: usize = 64;

/// One element: its identifier octet, where its contents start and end, and where it ends.
#[derive(Debug, Clone, Copy)]
struct Element {
    tag: u8,
    /// Offset of the identifier octet.
    start: usize,
    /// Offset of the first content octet.
    content: usize,
    /// Offset just past the last content octet (before an end-of-contents marker).
    content_end: usize,
    /// Offset just past the whole element.
    end: usize,
}

/// Why the walk stopped: the offset and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BerError {
    /// Offset within the bytes given.
    pub offset: usize,
    /// What was wrong.
    pub message: &'static str,
}

fn err(offset: usize, message: &'static str) -> BerError {
    BerError { offset, message }
}

/// Read the element at `pos` (definite or indefinite length), within `data[..limit]`.
fn element(data: &[u8], pos: usize, limit: usize, depth: usize) -> Result<Element, BerError> {
    if depth > MAX_DEPTH {
        return Err(err(pos, "elements nested too deeply"));
    }
    let byte = |at: usize| {
        (at < limit)
            .then(|| data.get(at).copied())
            .flatten()
            .ok_or_else(|| err(at, "truncated element"))
    };
    let tag = byte(pos)?;
    if tag & 0x1f == 0x1f {
        return Err(err(
            pos,
            "multi-byte tag numbers are not used in a CMS signature",
        ));
    }
    let first = byte(pos + 1)?;
    let mut at = pos + 2;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return Err(err(pos, "indefinite length on a primitive element"));
        }
        // Contents run until an end-of-contents marker (00 00) at this level.
        let content = at;
        loop {
            if byte(at)? == 0 && byte(at + 1)? == 0 {
                return Ok(Element {
                    tag,
                    start: pos,
                    content,
                    content_end: at,
                    end: at + 2,
                });
            }
            at = element(data, at, limit, depth + 1)?.end;
        }
    }
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 {
            return Err(err(pos, "length of length exceeds 4 bytes"));
        }
        let mut l = 0usize;
        for _ in 0..n {
            l = (l << 8) | usize::from(byte(at)?);
            at += 1;
        }
        l
    };
    let end = at
        .checked_add(len)
        .filter(|e| *e <= limit)
        .ok_or_else(|| err(pos, "length runs past the end of its enclosing element"))?;
    Ok(Element {
        tag,
        start: pos,
        content: at,
        content_end: end,
        end,
    })
}

/// The children of `parent`, in order.
fn children(data: &[u8], parent: &Element) -> Result<Vec<Element>, BerError> {
    let mut out = Vec::new();
    let mut at = parent.content;
    while at < parent.content_end {
        let e = element(data, at, parent.content_end, 1)?;
        at = e.end;
        out.push(e);
    }
    Ok(out)
}

fn expect(
    e: Option<&Element>,
    tag: u8,
    at: usize,
    what: &'static str,
) -> Result<Element, BerError> {
    match e {
        Some(e) if e.tag == tag => Ok(*e),
        Some(e) => Err(err(e.content, what)),
        None => Err(err(at, what)),
    }
}

/// The certificates of a CMS `ContentInfo` holding a `SignedData`, each exactly as stored
/// (identifier, length and contents octets). Empty when the bag is absent.
pub(crate) fn cms_certificates(data: &[u8]) -> Result<Vec<&[u8]>, BerError> {
    let outer = element(data, 0, data.len(), 0)?;
    let outer = expect(Some(&outer), 0x30, 0, "ContentInfo is not a SEQUENCE")?;
    let info = children(data, &outer)?;
    let explicit = expect(
        info.get(1),
        0xa0,
        outer.content,
        "ContentInfo has no [0] content",
    )?;
    let inner = children(data, &explicit)?;
    let sd = expect(
        inner.first(),
        0x30,
        explicit.content,
        "SignedData is not a SEQUENCE",
    )?;
    let fields = children(data, &sd)?;
    // version, digestAlgorithms, encapContentInfo, then [0] IMPLICIT certificates if present.
    let Some(bag) = fields.get(3).filter(|e| e.tag == 0xa0) else {
        return Ok(Vec::new());
    };
    children(data, bag)?
        .iter()
        .map(|c| {
            if c.tag != 0x30 {
                return Err(err(c.content, "a certificate in the bag is not a SEQUENCE"));
            }
            data.get(c.start..c.end)
                .ok_or_else(|| err(c.content, "certificate out of range"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_lengths_and_truncation() {
        // SEQUENCE (indefinite) { [0] (indefinite) { SEQUENCE { INTEGER 1, SET {}, SEQUENCE {},
        // [0] { SEQUENCE { 05 00 } }, SET {} } } }
        let cert = [0x30, 0x02, 0x05, 0x00];
        let mut sd = vec![0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x00, 0xa0, 0x04];
        sd.extend_from_slice(&cert);
        sd.extend_from_slice(&[0x31, 0x00]);
        let mut v = vec![0x30, 0x80, 0x06, 0x00, 0xa0, 0x80, 0x30, sd.len() as u8];
        v.extend_from_slice(&sd);
        v.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(cms_certificates(&v).unwrap(), vec![&cert[..]]);
        for n in 0..v.len() - 1 {
            assert!(cms_certificates(&v[..n]).is_err(), "{n}");
        }
    }
}
