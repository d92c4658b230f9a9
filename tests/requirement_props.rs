//! Property tests: for generated trees, binary → tree is the inverse of tree → binary, and text
//! is a fixed point of print ∘ parse whose compilation equals the tree's (once chains are
//! nested to the left as the parser nests them).

use proptest::prelude::*;
use smbless::requirement::ast::{Data, Expr, Match, Requirement};
use smbless::requirement::{self, oid, DecodeError, StaticIdentity};

fn data() -> impl Strategy<Value = Data> {
    prop_oneof![
        "[A-Za-z][A-Za-z0-9]{0,8}".prop_map(|s| Data(s.into_bytes())),
        "[ -~]{0,12}".prop_map(|s| Data(s.into_bytes())),
        "[a-z]{1,5}(\\.[a-z0-9]{1,5}){0,3}".prop_map(|s| Data(s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Data),
        Just(Data(b"apple".to_vec())),
        Just(Data(Vec::new())),
    ]
}

fn date() -> impl Strategy<Value = i64> {
    // 1970 … 2100, in seconds since 2001.
    -978_307_200i64..3_124_137_600i64
}

fn matcher() -> impl Strategy<Value = Match> {
    prop_oneof![
        Just(Match::Exists),
        Just(Match::Absent),
        data().prop_map(Match::Equal),
        data().prop_map(Match::Contains),
        data().prop_map(Match::BeginsWith),
        data().prop_map(Match::EndsWith),
        data().prop_map(Match::LessThan),
        data().prop_map(Match::GreaterThan),
        data().prop_map(Match::LessEqual),
        data().prop_map(Match::GreaterEqual),
        date().prop_map(Match::On),
        date().prop_map(Match::Before),
        date().prop_map(Match::After),
        date().prop_map(Match::OnOrBefore),
        date().prop_map(Match::OnOrAfter),
    ]
}

fn slot() -> impl Strategy<Value = i32> {
    -5i32..6
}

fn oid_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        0u64..3,
        0u64..40,
        proptest::collection::vec(0u64..200_000, 0..6),
    )
        .prop_map(|(a, b, rest)| {
            let mut s = format!("{a}.{b}");
            for r in rest {
                s.push_str(&format!(".{r}"));
            }
            oid::from_dotted(&s).unwrap()
        })
}

fn subject_key() -> impl Strategy<Value = Data> {
    prop_oneof![
        prop::sample::select(vec![
            "C", "CN", "D", "L", "O", "OU", "ST", "STREET", "UID", "C-OU"
        ])
        .prop_map(|k| Data(format!("subject.{k}").into_bytes())),
        Just(Data(b"email".to_vec())),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(Expr::True),
        Just(Expr::False),
        Just(Expr::AppleAnchor),
        Just(Expr::AppleGenericAnchor),
        Just(Expr::TrustedCerts),
        Just(Expr::Notarized),
        Just(Expr::LegacyDevId),
        data().prop_map(|value| Expr::Ident { value }),
        (slot(), proptest::collection::vec(any::<u8>(), 20..=20))
            .prop_map(|(slot, hash)| Expr::AnchorHash { slot, hash }),
        // Text can only say 20-byte cdhashes (Apple's grammar); other lengths are covered by
        // `binary_round_trip_any_cdhash_length`.
        proptest::collection::vec(any::<u8>(), 20..=20).prop_map(|hash| Expr::CdHash { hash }),
        (data(), matcher()).prop_map(|(key, matcher)| Expr::InfoKeyField { key, matcher }),
        (data(), matcher()).prop_map(|(key, matcher)| Expr::EntitlementField { key, matcher }),
        (slot(), subject_key(), matcher()).prop_map(|(slot, key, matcher)| Expr::CertField {
            slot,
            key,
            matcher
        }),
        slot().prop_map(|slot| Expr::TrustedCert { slot }),
        (slot(), oid_bytes(), matcher()).prop_map(|(slot, oid, matcher)| Expr::CertGeneric {
            slot,
            oid,
            matcher
        }),
        (slot(), oid_bytes(), matcher()).prop_map(|(slot, oid, matcher)| Expr::CertPolicy {
            slot,
            oid,
            matcher
        }),
        (slot(), oid_bytes(), matcher()).prop_map(|(slot, oid, matcher)| Expr::CertFieldDate {
            slot,
            oid,
            matcher
        }),
        data().prop_map(|name| Expr::NamedAnchor { name }),
        data().prop_map(|name| Expr::NamedCode { name }),
        (0i32..100).prop_map(|value| Expr::Platform { value }),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::or(a, b)),
            inner.prop_map(Expr::negate),
        ]
    })
}

/// The tree the parser builds for this tree's text: every chain of one operator nested left.
fn left_nested(e: &Expr) -> Expr {
    match e {
        Expr::And { .. } => Expr::and_left(e.flatten(true).into_iter().map(left_nested)).unwrap(),
        Expr::Or { .. } => Expr::or_left(e.flatten(false).into_iter().map(left_nested)).unwrap(),
        Expr::Not { expr } => Expr::negate(left_nested(expr)),
        other => other.clone(),
    }
}

/// One edit to a compiled requirement blob, past its 12-byte header (magic, length, kind), so
/// that decoding goes on into the expression: random bytes alone almost never get past the
/// magic number.
#[derive(Debug, Clone)]
enum Edit {
    /// Set the byte at (index modulo the expression length).
    Byte(usize, u8),
    /// Set the 4-byte word at (index modulo the number of words): opcodes, lengths, flags.
    Word(usize, u32),
    /// Keep (n modulo the number of words) words of the expression.
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let word = prop_oneof![
        0u32..=0x20,                                   // every opcode, and a few past them
        (0u32..=0x20).prop_map(|op| op | 0x4000_0000), // with the skip flag
        (0u32..=0x20).prop_map(|op| op | 0x8000_0000), // with the generic flag
        Just(0x7fff_ffff),
        Just(u32::MAX),
        0u32..64, // small lengths and slot numbers
        any::<u32>(),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Byte(i, b)),
        (any::<usize>(), word).prop_map(|(i, w)| Edit::Word(i, w)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// Apply `e` to a blob, then make the header's length field agree with the new size.
fn apply(blob: &mut Vec<u8>, e: &Edit) {
    let body = blob.len() - 12;
    let words = body / 4;
    match *e {
        Edit::Byte(i, b) if body > 0 => blob[12 + i % body] = b,
        Edit::Word(i, w) if words > 0 => {
            let at = 12 + 4 * (i % words);
            blob[at..at + 4].copy_from_slice(&w.to_be_bytes());
        }
        Edit::Truncate(n) if words > 0 => blob.truncate(12 + 4 * (n % words)),
        _ => {}
    }
    let len = blob.len() as u32;
    blob[4..8].copy_from_slice(&len.to_be_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Structure-aware mutation: a real blob, a few edits inside its expression. Decoding never
    /// stops at the header; what decodes also evaluates without panicking and, re-encoded,
    /// decodes to the same tree.
    #[test]
    fn edited_blobs_are_read_past_the_header(e in expr(), edits in proptest::collection::vec(edit(), 1..4)) {
        let mut blob = requirement::compile(&Requirement { expr: e }).unwrap();
        for ed in &edits {
            apply(&mut blob, ed);
        }
        match requirement::decode(&blob) {
            Ok(req) => {
                let ev = requirement::evaluate(&req, &StaticIdentity::with_identifier("a"));
                prop_assert!(!(ev.satisfied && ev.error.is_some()));
                if let Ok(again) = requirement::compile(&req) {
                    prop_assert_eq!(requirement::decode(&again).unwrap(), req);
                }
            }
            Err(err) => prop_assert!(
                !matches!(err, DecodeError::BadMagic { .. } | DecodeError::BadLength { .. }),
                "{}: stopped at the header", err
            ),
        }
    }


    #[test]
    fn binary_round_trip(e in expr()) {
        let req = Requirement { expr: e };
        let bytes = requirement::compile(&req).unwrap();
        let back = requirement::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &req);
        prop_assert_eq!(requirement::compile(&back).unwrap(), bytes);
    }

    #[test]
    fn text_round_trip(e in expr()) {
        let req = Requirement { expr: e };
        let text = requirement::to_text(&req);
        let parsed = requirement::parse_requirement(&text)
            .map_err(|err| TestCaseError::fail(format!("{text:?}: {err}")))?;
        prop_assert_eq!(requirement::to_text(&parsed), text.clone());
        let expected = Requirement { expr: left_nested(&req.expr) };
        prop_assert_eq!(
            requirement::compile(&parsed).unwrap(),
            requirement::compile(&expected).unwrap(),
            "{}", text
        );
    }

    #[test]
    fn binary_round_trip_any_cdhash_length(
        hash in proptest::collection::vec(any::<u8>(), 0..65),
        e in expr(),
    ) {
        let req = Requirement { expr: Expr::or(e, Expr::CdHash { hash }) };
        let bytes = requirement::compile(&req).unwrap();
        prop_assert_eq!(&requirement::decode(&bytes).unwrap(), &req);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = requirement::decode_any(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if !text.contains('/') {
                let _ = requirement::parse(text);
            }
        }
    }
}
