//! Requirement engine speed: parse + compile of Xcode's Developer ID designated requirement,
//! decode + print of its blob, and evaluation against a three-certificate chain (a real
//! Developer ID leaf, Apple's Developer ID CA, Apple Root CA).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use smbless::requirement::{self, StaticIdentity};

const XCODE_DR: &str = "anchor apple generic and identifier \"com.example.app\" and (certificate leaf[field.1.2.840.113635.100.6.1.9] /* exists */ or certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = MK22MZP987)";

fn read(rel: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    c.bench_function("requirement/parse+compile Xcode Developer ID DR", |b| {
        b.iter(|| {
            let req = requirement::parse_requirement(black_box(XCODE_DR)).unwrap();
            requirement::compile(&req).unwrap()
        })
    });
    let blob = requirement::compile(&requirement::parse_requirement(XCODE_DR).unwrap()).unwrap();
    c.bench_function("requirement/decode+print Xcode Developer ID DR", |b| {
        b.iter(|| requirement::to_text(&requirement::decode(black_box(&blob)).unwrap()))
    });
    let code = StaticIdentity {
        identifier: Some("com.example.app".into()),
        certificates: vec![
            read("fixtures/signature/apple-real/apple-signed-developer-id-application.cer"),
            read("fixtures/signature/apple-real/DeveloperIDCA.cer"),
            read("src/codesign/anchors/AppleRootCA.cer"),
        ],
        anchor_apple: true,
        anchor_trusted: true,
        ..StaticIdentity::default()
    };
    let req = requirement::parse_requirement(XCODE_DR).unwrap();
    assert!(requirement::evaluate(&req, &code).satisfied);
    c.bench_function(
        "requirement/evaluate Xcode Developer ID DR, 3-cert chain",
        |b| b.iter(|| requirement::evaluate(black_box(&req), black_box(&code)).satisfied),
    );
    // Baseline: reading the two certificates the DR looks into (leaf and slot 1) with
    // x509-certificate, the floor under any evaluation that parses its chain.
    c.bench_function("requirement/baseline: parse leaf + intermediate DER", |b| {
        b.iter(|| {
            for der in &code.certificates[..2] {
                black_box(x509_certificate::X509Certificate::from_der(black_box(der)).unwrap());
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
