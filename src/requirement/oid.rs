//! Object identifiers: dotted text ↔ DER content bytes (what `field.`, `policy.` and
//! `timestamp.` keys store).

/// Encode dotted `1.2.840.113635.100.6.2.6` as DER content bytes. `None` when it is not a valid
/// OID (fewer than two arcs, a non-numeric arc, a first arc above 2, a second arc above 39 under
/// arcs 0 and 1, an arc beyond `u64`).
pub fn from_dotted(text: &str) -> Option<Vec<u8>> {
    let mut arcs = text.split('.').map(|a| {
        if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            a.parse::<u64>().ok()
        }
    });
    let first = arcs.next()??;
    let second = arcs.next()??;
    if first > 2 || (first < 2 && second > 39) {
        return None;
    }
    let mut out = Vec::new();
    push_base128(&mut out, first.checked_mul(40)?.checked_add(second)?);
    for arc in arcs {
        push_base128(&mut out, arc?);
    }
    Some(out)
}

fn push_base128(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 10];
    let mut n = 0;
    loop {
        if let Some(slot) = tmp.get_mut(n) {
            *slot = (v & 0x7f) as u8;
        }
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        let b = tmp.get(i).copied().unwrap_or(0);
        out.push(if i == 0 { b } else { b | 0x80 });
    }
}

/// Decode DER content bytes to dotted text. `None` when empty, truncated, or an arc overflows
/// `u64`.
pub fn to_dotted(der: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    let mut in_arc = false;
    for &b in der {
        if !in_arc && b == 0x80 {
            return None; // non-minimal encoding
        }
        v = v.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        in_arc = true;
        if b & 0x80 == 0 {
            arcs.push(v);
            v = 0;
            in_arc = false;
        }
    }
    if in_arc || arcs.is_empty() {
        return None;
    }
    let first = arcs.first().copied()?;
    let (a, b) = if first < 80 {
        (first / 40, first % 40)
    } else {
        (2, first - 80)
    };
    let mut s = format!("{a}.{b}");
    for arc in arcs.iter().skip(1) {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_developer_id_marker_round_trips() {
        let der = from_dotted("1.2.840.113635.100.6.2.6").unwrap();
        assert_eq!(
            der,
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x02, 0x06]
        );
        assert_eq!(to_dotted(&der).unwrap(), "1.2.840.113635.100.6.2.6");
    }

    #[test]
    fn rejects_malformed() {
        assert!(from_dotted("1").is_none());
        assert!(from_dotted("3.1").is_none());
        assert!(from_dotted("1.40").is_none());
        assert!(from_dotted("1..2").is_none());
        assert!(from_dotted("1.2.x").is_none());
        assert!(to_dotted(&[0x86]).is_none());
        assert!(to_dotted(&[]).is_none());
        assert_eq!(to_dotted(&[0x88, 0x37]).unwrap(), "2.999");
    }
}
