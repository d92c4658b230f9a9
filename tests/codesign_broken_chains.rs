//! Certificates and time-stamps broken on purpose (fixtures/broken-chain, signed by
//! scripts/fixtures/sign-broken-chains with the certificates of fixtures/src/pki-broken): each
//! breaks one rule of the chain check, and verification names exactly that rule's problem id.
//! Every chain ends at the Example Corp test root, trusted here as Apple's, so the only thing
//! wrong with each is the broken certificate (macOS rejects each of them too: a chain through a
//! non-CA, a leaf that may not sign code, an unknown critical extension).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use smbless::codesign::trust::{AnchorKind, Anchors, MAX_BAG, MAX_CHAIN_LENGTH};
use smbless::codesign::{examine, ExamineOptions, SignedSlice, VerifyOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/broken-chain")
        .join(name)
}

fn options(at: Option<&str>) -> ExamineOptions {
    let mut anchors = Anchors::apple().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/src/pki/root.pem");
    anchors
        .add_pem(
            &std::fs::read(root).unwrap(),
            AnchorKind::TestApple,
            "root.pem",
        )
        .unwrap();
    ExamineOptions {
        verify: VerifyOptions {
            anchors,
            at: at.map(time),
            threads: 1,
        },
        integrity: true,
        arch: None,
    }
}

fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().into()
}

/// The one slice of a broken-chain fixture, verified now (or at `at`).
fn slice_at(name: &str, at: Option<&str>) -> SignedSlice {
    let ex = examine(&fixture(name), &options(at)).unwrap();
    assert!(ex.problems.is_empty(), "{name}: {:?}", ex.problems);
    assert_eq!(ex.slices.len(), 1, "{name}");
    ex.slices.into_iter().next().unwrap()
}

fn slice(name: &str) -> SignedSlice {
    slice_at(name, None)
}

fn codes(s: &SignedSlice) -> BTreeSet<&'static str> {
    s.problems.iter().map(|p| p.code).collect()
}

/// `name` is invalid, with exactly the problem id `code`, whose message contains `says`.
#[track_caller]
fn assert_only(name: &str, code: &str, says: &str) -> SignedSlice {
    let s = slice(name);
    assert!(!s.is_valid(), "{name} should be invalid");
    assert_eq!(
        codes(&s),
        BTreeSet::from([code]),
        "{name}: {:?}",
        s.problems
    );
    assert!(
        s.problems.iter().any(|p| p.message.contains(says)),
        "{name}: no {code} message mentions {says:?}: {:?}",
        s.problems
    );
    s
}

#[test]
fn an_intermediate_that_is_not_a_ca_is_refused() {
    assert_only(
        "not-ca",
        "certificate-not-ca",
        "\"Broken Test CA: not a CA\" issues another certificate but is not a CA",
    );
}

#[test]
fn a_path_length_constraint_is_enforced() {
    let s = assert_only(
        "path-length",
        "certificate-path-length",
        "\"Broken Test CA: path length 0\" allows 0 intermediate CAs below it, the chain has 1",
    );
    // The chain itself was built to the anchor: the constraint is what fails it.
    assert_eq!(s.chain_length, 4);
    assert_eq!(s.anchor, Some(AnchorKind::TestApple));
}

#[test]
fn an_issuer_without_key_cert_sign_is_refused() {
    assert_only(
        "no-keycertsign",
        "certificate-key-usage",
        "\"Broken Test CA: no keyCertSign\" issues certificates but its keyUsage lacks keyCertSign",
    );
}

#[test]
fn a_leaf_without_digital_signature_is_refused() {
    assert_only(
        "leaf-no-digsig",
        "certificate-key-usage",
        "keyUsage lacks digitalSignature",
    );
}

#[test]
fn a_leaf_without_the_code_signing_eku_is_refused() {
    assert_only(
        "leaf-wrong-eku",
        "leaf-eku",
        "extendedKeyUsage does not include codeSigning (1.3.6.1.5.5.7.3.3)",
    );
    assert_only(
        "leaf-no-eku",
        "leaf-eku",
        "has no extendedKeyUsage; codeSigning (1.3.6.1.5.5.7.3.3) is required",
    );
}

#[test]
fn a_leaf_that_is_a_ca_is_refused() {
    assert_only("leaf-is-ca", "leaf-is-ca", "is a CA certificate");
}

#[test]
fn an_unknown_critical_extension_is_refused() {
    assert_only(
        "critical-extension",
        "critical-extension",
        "unknown critical extension 1.3.6.1.4.1.55555.1.1",
    );
}

#[test]
fn chains_longer_than_the_limit_are_refused_and_the_limit_itself_is_accepted() {
    assert_eq!(MAX_CHAIN_LENGTH, 8, "the fixtures are built around 8");
    let long = assert_only(
        "chain-too-long",
        "chain-untrusted",
        "chain is longer than 8 certificates",
    );
    assert_eq!(long.anchor, None);
    let edge = slice("chain-at-limit");
    assert!(edge.is_valid(), "{:?}", edge.problems);
    assert_eq!(edge.chain_length, MAX_CHAIN_LENGTH);
    assert_eq!(edge.anchor, Some(AnchorKind::TestApple));
}

#[test]
fn an_issuer_past_the_bag_limit_is_not_looked_for() {
    assert_eq!(MAX_BAG, 32, "the fixtures are built around 32");
    let over = assert_only(
        "bag-oversized",
        "chain-untrusted",
        "no issuer found for \"Developer ID Application: Example Corp (EXAMPLE123)\"",
    );
    assert_eq!(over.anchor, None);
    let at = slice("bag-at-limit");
    assert!(at.is_valid(), "{:?}", at.problems);
    assert_eq!(at.chain_length, 3);
}

const STAMP: &str = "2025-06-01T12:00:00Z";

#[test]
fn a_clean_timestamp_fixes_the_time_of_judgement() {
    let s = slice("ts-clean");
    assert!(s.is_valid(), "{:?}", s.problems);
    assert_eq!(s.timestamp, Some(time(STAMP)));
    // Long after every certificate expired, the authority still vouches for 2025.
    let late = slice_at("ts-clean", Some("2099-01-01T00:00:00Z"));
    assert!(late.is_valid(), "{:?}", late.problems);
}

#[test]
fn an_intermediate_expired_at_the_stamped_time_is_refused() {
    let s = assert_only(
        "ts-expired-ca",
        "certificate-validity",
        "\"Broken Test CA: expired 2020\" is not valid at 2025-06-01T12:00:00Z",
    );
    assert_eq!(s.timestamp, Some(time(STAMP)));
}

/// The tokens below say 2041-01-01, after the leaf expired (2039): had their time been adopted,
/// the leaf would be reported expired as well (`certificate-validity`).
#[track_caller]
fn assert_time_not_adopted(s: &SignedSlice) {
    assert_eq!(s.timestamp, None, "{:?}", s.problems);
    assert!(
        !codes(s).contains("certificate-validity"),
        "{:?}",
        s.problems
    );
}

#[test]
fn a_time_stamp_authority_without_the_timestamping_eku_is_refused_and_its_time_ignored() {
    let s = assert_only(
        "ts-no-eku",
        "timestamp-chain",
        "time-stamp authority: leaf certificate \"Test Timestamp Authority without timeStamping\" extendedKeyUsage does not include timeStamping",
    );
    assert_time_not_adopted(&s);
}

#[test]
fn a_time_stamp_authority_under_a_foreign_root_is_refused_and_its_time_ignored() {
    let s = assert_only(
        "ts-foreign-root",
        "timestamp-chain",
        "time-stamp authority: chain ends at the self-signed \"Other Test Root CA\"",
    );
    assert_time_not_adopted(&s);
}

#[test]
fn a_forged_time_stamp_is_refused_and_its_time_ignored() {
    let s = assert_only(
        "ts-forged",
        "timestamp",
        "time-stamp token signature does not verify",
    );
    assert_time_not_adopted(&s);
}
