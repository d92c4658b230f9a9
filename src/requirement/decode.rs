//! Apple's binary form → tree, after `Requirement::Reader` and the interpreter's walk.
//!
//! Every read goes through one bounds-checked cursor; nothing is allocated from a length that
//! has not been checked against the bytes left; recursion is bounded by [`super::MAX_DEPTH`].
//! Opcodes carrying Apple's skip flags are kept as [`Expr::Unknown`] with their payload
//! (`0x80000000`: evaluates false; `0x40000000`: skipped, the next expression stands in).
//! Kind-2 (DER "lightweight") blobs are recognised and refused by name.

use super::ast::{op, Data, Expr, Match, Requirement, RequirementSet, RequirementType};
use super::ast::{KIND_EXPRESSION, KIND_LIGHTWEIGHT, REQUIREMENT_MAGIC, REQUIREMENT_SET_MAGIC};
use super::error::DecodeError;
use super::MAX_DEPTH;

/// A blob that may be either form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// `0xfade0c00`.
    Requirement(Requirement),
    /// `0xfade0c01`.
    Set(RequirementSet),
}

/// Read a single requirement blob (`0xfade0c00`). Bytes after the expression are ignored, as
/// Apple does.
pub fn decode(data: &[u8]) -> Result<Requirement, DecodeError> {
    decode_at(data, 0)
}

/// Read either a requirement or a requirement set, by magic.
pub fn decode_any(data: &[u8]) -> Result<Decoded, DecodeError> {
    let magic = Cursor::new(data, 0).u32("magic")?;
    if magic == REQUIREMENT_SET_MAGIC {
        decode_set(data).map(Decoded::Set)
    } else {
        decode(data).map(Decoded::Requirement)
    }
}

fn decode_at(data: &[u8], base: usize) -> Result<Requirement, DecodeError> {
    let mut c = Cursor::new(data, base);
    let magic = c.u32("requirement magic")?;
    if magic != REQUIREMENT_MAGIC {
        return Err(DecodeError::BadMagic {
            offset: base,
            found: magic,
            expected: REQUIREMENT_MAGIC,
        });
    }
    let length = c.u32("requirement length")?;
    let len = usize::try_from(length).map_err(|_| DecodeError::BadLength {
        offset: base,
        length,
        reason: "does not fit in memory",
    })?;
    if len < 12 {
        return Err(DecodeError::BadLength {
            offset: base,
            length,
            reason: "shorter than the 12-byte header",
        });
    }
    let Some(blob) = data.get(..len) else {
        return Err(DecodeError::BadLength {
            offset: base,
            length,
            reason: "longer than the data",
        });
    };
    let mut c = Cursor::new(blob, base);
    c.pos = 8;
    let kind = c.u32("requirement kind")?;
    match kind {
        KIND_EXPRESSION => {}
        KIND_LIGHTWEIGHT => return Err(DecodeError::LightweightUnsupported { offset: base }),
        k => {
            return Err(DecodeError::UnknownKind {
                offset: base,
                kind: k,
            })
        }
    }
    // Bytes after the expression are ignored, as Apple's reader and interpreter ignore them.
    let expr = read_expr(&mut c, 1)?;
    Ok(Requirement { expr })
}

/// Read a requirement set (`0xfade0c01`).
pub fn decode_set(data: &[u8]) -> Result<RequirementSet, DecodeError> {
    let mut c = Cursor::new(data, 0);
    let magic = c.u32("requirement set magic")?;
    if magic != REQUIREMENT_SET_MAGIC {
        return Err(DecodeError::BadMagic {
            offset: 0,
            found: magic,
            expected: REQUIREMENT_SET_MAGIC,
        });
    }
    let length = c.u32("requirement set length")?;
    let len = usize::try_from(length).unwrap_or(usize::MAX);
    let Some(blob) = data.get(..len) else {
        return Err(DecodeError::BadLength {
            offset: 0,
            length,
            reason: "longer than the data",
        });
    };
    let mut c = Cursor::new(blob, 0);
    c.pos = 8;
    let count = c.u32("requirement set count")?;
    // Each index entry takes 8 bytes: a count the blob cannot hold is refused before any
    // allocation.
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count > blob.len().saturating_sub(12) / 8 {
        return Err(DecodeError::Invalid {
            field: "requirement set count",
            offset: 8,
            reason: format!("{count} entries do not fit in {} bytes", blob.len()),
        });
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let ty = c.u32("requirement set entry type")?;
        let offset_pos = c.pos;
        let offset = c.u32("requirement set entry offset")?;
        let off = usize::try_from(offset).unwrap_or(usize::MAX);
        let Some(sub) = blob.get(off..) else {
            return Err(DecodeError::Invalid {
                field: "requirement set entry offset",
                offset: offset_pos,
                reason: format!("{off} is past the end of the set ({} bytes)", blob.len()),
            });
        };
        if off < 12 {
            return Err(DecodeError::Invalid {
                field: "requirement set entry offset",
                offset: offset_pos,
                reason: format!("{off} points into the set header"),
            });
        }
        let req = decode_at(sub, off)?;
        entries.push((RequirementType(ty), req));
    }
    Ok(RequirementSet { entries })
}

/// One bounds-checked cursor over a blob; `base` is the blob's offset in the outer data, so
/// errors name absolute offsets.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], base: usize) -> Self {
        Cursor { data, pos: 0, base }
    }

    fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.data.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(DecodeError::Truncated {
                field,
                offset: self.offset(),
                needed: n,
                available: self.data.len().saturating_sub(self.pos),
            }),
        }
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        self.u32(field).map(|v| v as i32)
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// Length-prefixed data, padded to four bytes (Apple's `getData`).
    fn data(&mut self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        let len = self.u32(field)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let bytes = self.take(len, field)?;
        let pad = (4 - len % 4) % 4;
        // Apple checks only that the data fits; padding may be cut off at the very end.
        self.pos = self.pos.saturating_add(pad).min(self.data.len());
        Ok(bytes.to_vec())
    }
}

fn read_match(c: &mut Cursor<'_>) -> Result<Match, DecodeError> {
    let code = c.u32("match operation")?;
    let d = |c: &mut Cursor<'_>| c.data("match value").map(Data);
    Ok(match code {
        0 => Match::Exists,
        1 => Match::Equal(d(c)?),
        2 => Match::Contains(d(c)?),
        3 => Match::BeginsWith(d(c)?),
        4 => Match::EndsWith(d(c)?),
        5 => Match::LessThan(d(c)?),
        6 => Match::GreaterThan(d(c)?),
        7 => Match::LessEqual(d(c)?),
        8 => Match::GreaterEqual(d(c)?),
        9 => Match::On(c.i64("match date")?),
        10 => Match::Before(c.i64("match date")?),
        11 => Match::After(c.i64("match date")?),
        12 => Match::OnOrBefore(c.i64("match date")?),
        13 => Match::OnOrAfter(c.i64("match date")?),
        14 => Match::Absent,
        op => Match::Unknown { op, data: d(c)? },
    })
}

fn read_expr(c: &mut Cursor<'_>, depth: usize) -> Result<Expr, DecodeError> {
    // Only the operators recurse, and they do it through this small frame; the leaves are read
    // in `read_leaf`, whose frame is large in debug builds, so deep trees stay cheap on the stack.
    let at = c.offset();
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep {
            offset: at,
            limit: MAX_DEPTH,
        });
    }
    let word = c.u32("opcode")?;
    match word & !op::FLAG_MASK {
        op::AND | op::OR => {
            let left = Box::new(read_expr(c, depth + 1)?);
            let right = Box::new(read_expr(c, depth + 1)?);
            Ok(if word & !op::FLAG_MASK == op::AND {
                Expr::And { left, right }
            } else {
                Expr::Or { left, right }
            })
        }
        op::NOT => Ok(Expr::Not {
            expr: Box::new(read_expr(c, depth + 1)?),
        }),
        code if code > op::LEGACY_DEV_ID => {
            if word & (op::GENERIC_FALSE | op::GENERIC_SKIP) == 0 {
                return Err(DecodeError::UnknownOpcode {
                    offset: at,
                    op: word,
                });
            }
            // Apple: `skip(get<uint32_t>())`: a size, then that many bytes, no padding.
            let len = c.u32("skipped opcode size")?;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let payload = c.take(len, "skipped opcode payload")?.to_vec();
            let next = if word & op::GENERIC_FALSE == 0 {
                Some(Box::new(read_expr(c, depth + 1)?))
            } else {
                None
            };
            Ok(Expr::Unknown {
                op: word,
                payload,
                next,
            })
        }
        code => read_leaf(c, code),
    }
}

#[inline(never)]
fn read_leaf(c: &mut Cursor<'_>, code: u32) -> Result<Expr, DecodeError> {
    Ok(match code {
        op::FALSE => Expr::False,
        op::TRUE => Expr::True,
        op::IDENT => Expr::Ident {
            value: Data(c.data("identifier")?),
        },
        op::APPLE_ANCHOR => Expr::AppleAnchor,
        op::ANCHOR_HASH => {
            let slot = c.i32("certificate slot")?;
            let hash_at = c.offset();
            let hash = c.data("certificate hash")?;
            if hash.len() != 20 {
                return Err(DecodeError::Invalid {
                    field: "certificate hash",
                    offset: hash_at,
                    reason: format!("{} bytes, expected 20 (SHA-1)", hash.len()),
                });
            }
            Expr::AnchorHash { slot, hash }
        }
        op::INFO_KEY_VALUE => Expr::InfoKeyValue {
            key: Data(c.data("info key")?),
            value: Data(c.data("info value")?),
        },
        op::CDHASH => Expr::CdHash {
            hash: c.data("cdhash")?,
        },
        op::INFO_KEY_FIELD => Expr::InfoKeyField {
            key: Data(c.data("info key")?),
            matcher: read_match(c)?,
        },
        op::CERT_FIELD => Expr::CertField {
            slot: c.i32("certificate slot")?,
            key: Data(c.data("certificate field")?),
            matcher: read_match(c)?,
        },
        op::TRUSTED_CERT => Expr::TrustedCert {
            slot: c.i32("certificate slot")?,
        },
        op::TRUSTED_CERTS => Expr::TrustedCerts,
        op::CERT_GENERIC => Expr::CertGeneric {
            slot: c.i32("certificate slot")?,
            oid: c.data("certificate field OID")?,
            matcher: read_match(c)?,
        },
        op::APPLE_GENERIC_ANCHOR => Expr::AppleGenericAnchor,
        op::ENTITLEMENT_FIELD => Expr::EntitlementField {
            key: Data(c.data("entitlement key")?),
            matcher: read_match(c)?,
        },
        op::CERT_POLICY => Expr::CertPolicy {
            slot: c.i32("certificate slot")?,
            oid: c.data("certificate policy OID")?,
            matcher: read_match(c)?,
        },
        op::NAMED_ANCHOR => Expr::NamedAnchor {
            name: Data(c.data("anchor name")?),
        },
        op::NAMED_CODE => Expr::NamedCode {
            name: Data(c.data("code name")?),
        },
        op::PLATFORM => Expr::Platform {
            value: c.i32("platform")?,
        },
        op::NOTARIZED => Expr::Notarized,
        op::CERT_FIELD_DATE => Expr::CertFieldDate {
            slot: c.i32("certificate slot")?,
            oid: c.data("certificate date OID")?,
            matcher: read_match(c)?,
        },
        op::LEGACY_DEV_ID => Expr::LegacyDevId,
        other => {
            return Err(DecodeError::UnknownOpcode {
                offset: c.offset().saturating_sub(4),
                op: other,
            })
        }
    })
}
