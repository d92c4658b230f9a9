//! Hostile signatures: every byte of real signatures mutated and every length truncated must
//! give a typed error or a problem list, never a panic or a runaway allocation.

use std::path::Path;

use smbless::codesign::trust::Anchors;
use smbless::codesign::{verify_slice, SealContext, SliceSignature, VerifyOptions};
use smbless::container::Container;

fn load(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/signature")
            .join(name),
    )
    .unwrap()
}

/// (start, end) of the first slice's LC_CODE_SIGNATURE data in the file.
fn signature_range(data: &[u8]) -> (usize, usize) {
    let c = Container::parse(data).unwrap();
    let s = &c.slices()[0];
    let loc = s.code_signature().unwrap();
    let start = (s.file_offset() + loc.offset) as usize;
    (start, start + loc.size as usize)
}

fn check(data: &[u8], opts: &VerifyOptions) {
    let Ok(c) = Container::parse(data) else {
        return;
    };
    for slice in c.slices() {
        match SliceSignature::read(slice) {
            Ok(Some(sig)) => {
                let v = verify_slice(slice, &sig, &SealContext::default(), opts);
                let _ = v.is_valid();
            }
            Ok(None) => {}
            Err(e) => {
                // Errors name a field and an offset.
                assert!(e.to_string().contains("offset 0x"), "{e}");
            }
        }
    }
}

#[test]
fn mutated_signatures_never_panic() {
    let opts = VerifyOptions {
        anchors: Anchors::apple().unwrap(),
        at: None,
        threads: 1,
    };
    // SMBLESS_MUTATE_STRIDE=1 mutates every byte (slow; for local runs).
    let stride: usize = std::env::var("SMBLESS_MUTATE_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(13);
    for name in ["thin", "timestamped", "adhoc", "linker-signed"] {
        let orig = load(name);
        let (start, end) = signature_range(&orig);
        let sb_len = u32::from_be_bytes(orig[start + 4..start + 8].try_into().unwrap()) as usize;
        let end = end.min(start + sb_len);
        let mut data = orig.clone();
        let mut pos = start;
        while pos < end {
            for v in [0x00u8, 0xff, orig[pos] ^ 0x80] {
                data[pos] = v;
                check(&data, &opts);
            }
            data[pos] = orig[pos];
            // Every byte of the SuperBlob index and CodeDirectory headers, then a sample.
            pos += if pos < start + 700 { 1 } else { stride };
        }
    }
}

#[test]
fn truncated_signatures_are_errors() {
    let orig = load("thin");
    let (start, _) = signature_range(&orig);
    // Cut inside the SuperBlob (what follows it is padding and may go).
    let sb_len = u32::from_be_bytes(orig[start + 4..start + 8].try_into().unwrap()) as usize;
    for cut in (0..sb_len).step_by(3) {
        let r = SliceSignature::from_bytes(&orig[start..start + cut], start as u64, start as u64);
        assert!(r.is_err(), "a signature cut to {cut} bytes parsed");
    }
}

#[test]
fn huge_counts_and_lengths_do_not_allocate() {
    let orig = load("thin");
    let (start, _) = signature_range(&orig);
    let mut data = orig.clone();
    // SuperBlob count = u32::MAX.
    data[start + 8..start + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = SliceSignature::from_bytes(&data[start..], start as u64, 0)
        .err()
        .unwrap();
    assert!(e.to_string().contains("SuperBlob count"), "{e}");
}
