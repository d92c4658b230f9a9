//! Tree → Apple's binary form, byte for byte what `csreq -b` writes.
//!
//! Layout (all big-endian): a blob header (magic `0xfade0c00`, total length, kind 1) and the
//! expression in prefix order. Variable data is a u32 length, the bytes, and zero padding to a
//! multiple of four (padding not counted in the length), as `Requirement::Maker::putData` does.
//! A set (`0xfade0c01`) is Apple's SuperBlob: count, `(type, offset)` index in type order, blobs.

use super::ast::{op, Expr, Match, Requirement, RequirementSet, KIND_EXPRESSION};
use super::ast::{REQUIREMENT_MAGIC, REQUIREMENT_SET_MAGIC};
use super::error::CompileError;
use super::MAX_DEPTH;

/// Compile one requirement to a `0xfade0c00` blob.
pub fn compile(req: &Requirement) -> Result<Vec<u8>, CompileError> {
    let mut out = Vec::with_capacity(64);
    put_u32(&mut out, REQUIREMENT_MAGIC);
    put_u32(&mut out, 0); // length, patched below
    put_u32(&mut out, KIND_EXPRESSION);
    expr(&mut out, &req.expr, 1)?;
    patch_length(&mut out, 0)?;
    Ok(out)
}

/// Compile a requirement set to a `0xfade0c01` blob. Entries are written in ascending type
/// order, one per type (the last given wins), as Apple's `SuperBlob::Maker` does.
pub fn compile_set(set: &RequirementSet) -> Result<Vec<u8>, CompileError> {
    let mut entries: Vec<_> = Vec::new();
    for (ty, req) in &set.entries {
        entries.retain(|(t, _)| t != ty);
        entries.push((*ty, req));
    }
    entries.sort_by_key(|(t, _)| *t);
    let blobs = entries
        .iter()
        .map(|(_, r)| compile(r))
        .collect::<Result<Vec<_>, _>>()?;
    let count =
        u32::try_from(entries.len()).map_err(|_| CompileError::TooLarge("requirement set"))?;
    let header = 12usize
        .checked_add(
            entries
                .len()
                .checked_mul(8)
                .ok_or(CompileError::TooLarge("requirement set"))?,
        )
        .ok_or(CompileError::TooLarge("requirement set"))?;
    let mut out = Vec::new();
    put_u32(&mut out, REQUIREMENT_SET_MAGIC);
    put_u32(&mut out, 0);
    put_u32(&mut out, count);
    let mut offset = header;
    for ((ty, _), blob) in entries.iter().zip(&blobs) {
        put_u32(&mut out, ty.0);
        put_u32(
            &mut out,
            u32::try_from(offset).map_err(|_| CompileError::TooLarge("requirement set"))?,
        );
        offset = offset
            .checked_add(blob.len())
            .ok_or(CompileError::TooLarge("requirement set"))?;
    }
    for blob in &blobs {
        out.extend_from_slice(blob);
    }
    patch_length(&mut out, 0)?;
    Ok(out)
}

fn patch_length(out: &mut [u8], at: usize) -> Result<(), CompileError> {
    let len = u32::try_from(out.len()).map_err(|_| CompileError::TooLarge("requirement"))?;
    if let Some(slot) = out.get_mut(at + 4..at + 8) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_data(out: &mut Vec<u8>, data: &[u8], what: &'static str) -> Result<(), CompileError> {
    let len = u32::try_from(data.len()).map_err(|_| CompileError::TooLarge(what))?;
    put_u32(out, len);
    out.extend_from_slice(data);
    let pad = (4 - data.len() % 4) % 4;
    out.extend(std::iter::repeat_n(0u8, pad));
    Ok(())
}

fn put_match(out: &mut Vec<u8>, m: &Match) -> Result<(), CompileError> {
    put_u32(out, m.code());
    match m {
        Match::Exists | Match::Absent => Ok(()),
        Match::Equal(d)
        | Match::Contains(d)
        | Match::BeginsWith(d)
        | Match::EndsWith(d)
        | Match::LessThan(d)
        | Match::GreaterThan(d)
        | Match::LessEqual(d)
        | Match::GreaterEqual(d)
        | Match::Unknown { data: d, .. } => put_data(out, &d.0, "match value"),
        Match::On(t)
        | Match::Before(t)
        | Match::After(t)
        | Match::OnOrBefore(t)
        | Match::OnOrAfter(t) => {
            out.extend_from_slice(&t.to_be_bytes());
            Ok(())
        }
    }
}

fn expr(out: &mut Vec<u8>, e: &Expr, depth: usize) -> Result<(), CompileError> {
    if depth > MAX_DEPTH {
        return Err(CompileError::TooDeep(MAX_DEPTH));
    }
    if let Expr::Unknown {
        op: word,
        payload,
        next,
    } = e
    {
        if word & (op::GENERIC_FALSE | op::GENERIC_SKIP) == 0 {
            return Err(CompileError::UnknownOpcode(*word));
        }
        put_u32(out, *word);
        let len = u32::try_from(payload.len()).map_err(|_| CompileError::TooLarge("payload"))?;
        put_u32(out, len);
        out.extend_from_slice(payload);
        if word & op::GENERIC_FALSE == 0 {
            if let Some(n) = next {
                expr(out, n, depth + 1)?;
            }
        }
        return Ok(());
    }
    put_u32(out, e.opcode());
    match e {
        Expr::False
        | Expr::True
        | Expr::AppleAnchor
        | Expr::TrustedCerts
        | Expr::AppleGenericAnchor
        | Expr::Notarized
        | Expr::LegacyDevId
        | Expr::Unknown { .. } => Ok(()),
        Expr::Ident { value } => put_data(out, &value.0, "identifier"),
        Expr::AnchorHash { slot, hash } => {
            if hash.len() != 20 {
                return Err(CompileError::BadHashLength(hash.len()));
            }
            put_i32(out, *slot);
            put_data(out, hash, "certificate hash")
        }
        Expr::InfoKeyValue { key, value } => {
            put_data(out, &key.0, "info key")?;
            put_data(out, &value.0, "info value")
        }
        Expr::And { left, right } | Expr::Or { left, right } => {
            expr(out, left, depth + 1)?;
            expr(out, right, depth + 1)
        }
        Expr::CdHash { hash } => put_data(out, hash, "cdhash"),
        Expr::Not { expr: inner } => expr(out, inner, depth + 1),
        Expr::InfoKeyField { key, matcher } | Expr::EntitlementField { key, matcher } => {
            put_data(out, &key.0, "key")?;
            put_match(out, matcher)
        }
        Expr::CertField { slot, key, matcher } => {
            put_i32(out, *slot);
            put_data(out, &key.0, "certificate field")?;
            put_match(out, matcher)
        }
        Expr::CertGeneric { slot, oid, matcher }
        | Expr::CertPolicy { slot, oid, matcher }
        | Expr::CertFieldDate { slot, oid, matcher } => {
            put_i32(out, *slot);
            put_data(out, oid, "OID")?;
            put_match(out, matcher)
        }
        Expr::TrustedCert { slot } => {
            put_i32(out, *slot);
            Ok(())
        }
        Expr::NamedAnchor { name } | Expr::NamedCode { name } => put_data(out, &name.0, "name"),
        Expr::Platform { value } => {
            put_i32(out, *value);
            Ok(())
        }
    }
}
