//! Requirement evaluation at its edges: the five date operators (on a certificate's date
//! extension and on Info.plist dates), the nesting limit Apple's interpreter enforces, and `!`
//! over a certificate that is not there.

use std::path::Path;

use base64::Engine as _;
use smbless::requirement::ast::{Data, Expr, Match, Requirement};
use smbless::requirement::{self, evaluate, evaluate_expr, parse_requirement, StaticIdentity};
use smbless::requirement::{DecodeError, MAX_DEPTH};

fn pem(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// dated-leaf (extension 1.2.840.113635.100.6.1.33 = 2019-07-01 12:00:00 UTC) ← Developer ID
/// CA ← root of fixtures/src/pki, with a BuildDate of 2020-02-29 12:00:00 UTC in Info.plist.
fn dated() -> StaticIdentity {
    let mut info = plist::Dictionary::new();
    let build: std::time::SystemTime = chrono::DateTime::parse_from_rfc3339("2020-02-29T12:00:00Z")
        .unwrap()
        .into();
    info.insert("BuildDate".into(), plist::Value::Date(build.into()));
    info.insert("CFBundleVersion".into(), "1.0".into());
    StaticIdentity {
        identifier: Some("com.example.smbless.helper".into()),
        certificates: vec![
            pem("fixtures/src/pki-broken/dated-leaf.pem"),
            pem("fixtures/src/pki/devid-ca.pem"),
            pem("fixtures/src/pki/root.pem"),
        ],
        anchor_apple: true,
        anchor_trusted: true,
        info_plist: Some(info),
        ..StaticIdentity::default()
    }
}

#[track_caller]
fn holds(text: &str, code: &StaticIdentity) -> bool {
    let req = parse_requirement(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let ev = evaluate(&req, code);
    assert!(ev.error.is_none(), "{text}: {:?}", ev.error);
    ev.satisfied
}

const CERT_DATE: &str = "certificate leaf[timestamp.1.2.840.113635.100.6.1.33]";

#[test]
fn date_operators_compare_a_certificate_date_to_the_second() {
    let code = dated();
    // (operator, before the date, on it, after it): what each answers for a date one second
    // earlier than, equal to, and one second later than the certificate's.
    let cases = [
        ("=", false, true, false),
        ("<", false, false, true),
        (">", true, false, false),
        ("<=", false, true, true),
        (">=", true, true, false),
    ];
    let dates = [
        "2019-07-01 11:59:59 +0000",
        "2019-07-01 12:00:00 +0000",
        "2019-07-01 12:00:01 +0000",
    ];
    for (op, earlier, same, later) in cases {
        for (date, want) in dates.iter().zip([earlier, same, later]) {
            let text = format!("{CERT_DATE} {op} <{date}>");
            assert_eq!(holds(&text, &code), want, "{text}");
        }
    }
    assert!(holds(&format!("{CERT_DATE} exists"), &code));
    assert!(!holds(&format!("{CERT_DATE} absent"), &code));
}

#[test]
fn a_failed_date_comparison_says_both_dates() {
    let code = dated();
    let req = parse_requirement(&format!("{CERT_DATE} < <2019-01-01 00:00:00 +0000>")).unwrap();
    let ev = evaluate(&req, &code);
    assert!(!ev.satisfied);
    let reason = ev.explanation.reason.unwrap();
    assert!(reason.contains("2019-07-01 12:00:00"), "{reason}");
    assert!(
        reason.contains("required before <2019-01-01 00:00:00 +0000>"),
        "{reason}"
    );
}

#[test]
fn date_operators_on_a_certificate_without_the_date_are_false_and_absent_holds() {
    let mut code = dated();
    // The intermediate has no such extension: no date, so no comparison holds.
    for op in ["=", "<", ">", "<=", ">="] {
        let text = format!(
            "certificate 1[timestamp.1.2.840.113635.100.6.1.33] {op} <2019-07-01 12:00:00 +0000>"
        );
        assert!(!holds(&text, &code), "{text}");
    }
    assert!(holds(
        "certificate 1[timestamp.1.2.840.113635.100.6.1.33] absent",
        &code
    ));
    // A certificate that is not there at all: absent (Apple reads it as null), nothing else.
    assert!(holds(
        "certificate 7[timestamp.1.2.840.113635.100.6.1.33] absent",
        &code
    ));
    code.certificates.truncate(1);
    assert!(!holds(
        "certificate 1[timestamp.1.2.840.113635.100.6.1.33] < <2030-01-01 00:00:00 +0000>",
        &code
    ));
}

#[test]
fn date_operators_on_info_plist_dates() {
    let code = dated();
    assert!(holds(
        "info[BuildDate] > <2020-02-29 11:59:59 +0000>",
        &code
    ));
    assert!(holds(
        "info[BuildDate] = <2020-02-29 12:00:00 +0000>",
        &code
    ));
    assert!(!holds(
        "info[BuildDate] < <2020-02-29 12:00:00 +0000>",
        &code
    ));
    assert!(holds(
        "info[BuildDate] <= <2020-02-29 12:00:00 +0000>",
        &code
    ));
    // A string is not a date: a date operator never holds on it.
    assert!(!holds(
        "info[CFBundleVersion] >= <2001-01-01 00:00:00 +0000>",
        &code
    ));
}

/// `depth` nested `!` around `identifier "com.example.smbless.helper"`.
fn nested_nots(depth: usize) -> Expr {
    let mut e = Expr::Ident {
        value: Data(b"com.example.smbless.helper".to_vec()),
    };
    for _ in 0..depth {
        e = Expr::negate(e);
    }
    e
}

/// A blob of `nots` opNot (9) around `identifier "com.example.smbless.helper"`, by hand.
fn nested_blob(nots: usize) -> Vec<u8> {
    let ident = b"com.example.smbless.helper";
    let mut expr = Vec::new();
    for _ in 0..nots {
        expr.extend_from_slice(&9u32.to_be_bytes());
    }
    expr.extend_from_slice(&2u32.to_be_bytes());
    expr.extend_from_slice(&(ident.len() as u32).to_be_bytes());
    expr.extend_from_slice(ident);
    expr.resize(expr.len().next_multiple_of(4), 0);
    let mut blob = 0xfade_0c00u32.to_be_bytes().to_vec();
    blob.extend_from_slice(&((12 + expr.len()) as u32).to_be_bytes());
    blob.extend_from_slice(&1u32.to_be_bytes());
    blob.extend_from_slice(&expr);
    blob
}

// MAX_DEPTH counts levels of the tree, the leaf included: 255 `!` around a leaf is 256 levels,
// the deepest tree the compiler writes, the decoder reads and the evaluator evaluates.

#[test]
fn evaluation_stops_at_the_depth_limit() {
    let code = dated();
    assert_eq!(MAX_DEPTH, 256);
    // 255 negations: of a true clause false, of a false clause true; either way evaluated.
    let deepest = evaluate_expr(&nested_nots(MAX_DEPTH - 1), &code);
    assert_eq!(deepest.error, None);
    assert!(!deepest.satisfied);
    let mut other = dated();
    other.identifier = Some("com.example.other".into());
    assert!(evaluate_expr(&nested_nots(MAX_DEPTH - 1), &other).satisfied);
    // One level more: an error, and not satisfied whatever the parity says.
    for nots in [MAX_DEPTH, MAX_DEPTH + 1, 1000] {
        for identity in [&code, &other] {
            let ev = evaluate_expr(&nested_nots(nots), identity);
            let err = ev
                .error
                .unwrap_or_else(|| panic!("{nots} negations evaluated"));
            assert!(err.contains("nested deeper than 256 levels"), "{err}");
            assert!(!ev.satisfied, "{nots} negations");
        }
    }
}

#[test]
fn compiler_and_decoder_share_the_depth_limit() {
    let deepest = Requirement {
        expr: nested_nots(MAX_DEPTH - 1),
    };
    let blob = requirement::compile(&deepest).unwrap();
    assert_eq!(blob, nested_blob(MAX_DEPTH - 1));
    assert_eq!(requirement::decode(&blob).unwrap(), deepest);
    let too_deep = Requirement {
        expr: nested_nots(MAX_DEPTH),
    };
    assert!(requirement::compile(&too_deep).is_err());
    match requirement::decode(&nested_blob(MAX_DEPTH)) {
        Err(DecodeError::TooDeep { limit, .. }) => assert_eq!(limit, MAX_DEPTH),
        other => panic!("expected TooDeep, got {other:?}"),
    }
}

#[test]
fn text_past_the_depth_limit_is_refused() {
    // `a and b and c …` nests to the left: n clauses are n levels.
    let chain = |n: usize| vec!["identifier a"; n].join(" and ");
    assert!(parse_requirement(&chain(MAX_DEPTH)).is_ok());
    let err = parse_requirement(&chain(MAX_DEPTH + 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nested deeper than 256 levels"), "{err}");
    // `!` and parentheses have their own, lower limit (128), a guard on the parser's stack.
    assert!(parse_requirement(&format!("{}identifier a", "! ".repeat(128))).is_ok());
    let err = parse_requirement(&format!("{}identifier a", "! ".repeat(129)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nested deeper than 128 levels"), "{err}");
}

#[test]
fn not_over_a_missing_certificate_holds() {
    // Apple's interpreter: a certificate that is not there makes the match false, so its
    // negation is true (an error would make it false). The chain has three certificates.
    let code = dated();
    for inner in [
        "certificate 5[subject.CN] exists",
        "certificate 3 = H\"0123456789abcdef0123456789abcdef01234567\"",
        "certificate -4[field.1.2.840.113635.100.6.2.6] exists",
        "certificate 5 trusted",
    ] {
        assert!(!holds(inner, &code), "{inner}");
        assert!(holds(&format!("! {inner}"), &code), "! {inner}");
        assert!(holds(&format!("!({inner})"), &code), "!({inner})");
    }
    // And with no chain at all (ad-hoc code).
    let adhoc = StaticIdentity::with_identifier("com.example.smbless.helper");
    assert!(holds("! certificate leaf[subject.CN] exists", &adhoc));
    assert!(holds("! anchor apple generic", &adhoc));
    assert!(!holds("!! certificate leaf[subject.CN] exists", &adhoc));
}

#[test]
fn date_matchers_survive_the_binary_round_trip() {
    for op in ["=", "<", ">", "<=", ">="] {
        let text = format!("{CERT_DATE} {op} <2019-07-01 12:00:00 +0000>");
        let req = parse_requirement(&text).unwrap();
        let blob = requirement::compile(&req).unwrap();
        let back = requirement::decode(&blob).unwrap();
        assert_eq!(back, req, "{text}");
        assert!(matches!(
            back.expr,
            Expr::CertFieldDate {
                matcher: Match::On(_)
                    | Match::Before(_)
                    | Match::After(_)
                    | Match::OnOrBefore(_)
                    | Match::OnOrAfter(_),
                ..
            }
        ));
        assert_eq!(requirement::to_text(&back), text);
    }
}
