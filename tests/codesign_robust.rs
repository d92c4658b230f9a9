//! Hostile signatures. Every byte inside a CodeDirectory, the requirement set, the entitlements
//! or the CMS signed attributes of a valid signature, mutated, must make the verdict invalid
//! with the problem id that names what was broken (or make the signature unreadable, an error
//! naming the offset); mutations elsewhere and truncations must never panic or allocate without
//! bound. The baselines are verified valid first, so no assertion holds by accident.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use smbless::codesign::trust::{AnchorKind, Anchors};
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

/// Apple's roots plus the root fixtures/signature is signed under, treated as Apple's: the
/// unmutated fixtures are valid, so every problem below comes from the mutation.
fn test_options() -> VerifyOptions {
    let mut anchors = Anchors::apple().unwrap();
    anchors
        .add_pem(&load("root.pem"), AnchorKind::TestApple, "root.pem")
        .unwrap();
    VerifyOptions {
        anchors,
        at: None,
        threads: 1,
    }
}

/// (start, end) of the first slice's LC_CODE_SIGNATURE data in the file.
fn signature_range(data: &[u8]) -> (usize, usize) {
    let c = Container::parse(data).unwrap();
    let s = &c.slices()[0];
    let loc = s.code_signature().unwrap();
    let start = (s.file_offset() + loc.offset) as usize;
    (start, start + loc.size as usize)
}

/// What verifying a (possibly mutated) single-slice file gives.
#[derive(Debug)]
enum Outcome {
    /// The container or the signature could not be read (message names an offset).
    Unreadable(String),
    /// A verdict: the problem ids found (empty = valid).
    Verdict(BTreeSet<&'static str>),
}

fn judge(data: &[u8], opts: &VerifyOptions) -> Outcome {
    let c = match Container::parse(data) {
        Ok(c) => c,
        Err(e) => return Outcome::Unreadable(e.to_string()),
    };
    let mut ids = BTreeSet::new();
    for slice in c.slices() {
        let ctx = SealContext {
            info_plist: slice.section("__TEXT", "__info_plist").map(|s| s.data),
            info_plist_source: "__TEXT,__info_plist",
            code_resources: None,
            release: None,
        };
        match SliceSignature::read(slice) {
            Ok(Some(sig)) => {
                let v = verify_slice(slice, &sig, &ctx, opts);
                assert_eq!(v.is_valid(), v.problems.is_empty());
                ids.extend(v.problems.iter().map(|p| p.code));
            }
            Ok(None) => {
                ids.insert("unsigned");
            }
            Err(e) => return Outcome::Unreadable(e.to_string()),
        };
    }
    Outcome::Verdict(ids)
}

/// The byte ranges (absolute) of the blobs in the first slice's SuperBlob, by slot, and of the
/// CMS signer's signed attributes.
struct Regions {
    blobs: Vec<(u32, Range<usize>)>,
    signed_attributes: Range<usize>,
}

fn regions(data: &[u8]) -> Regions {
    let c = Container::parse(data).unwrap();
    let sig = SliceSignature::read(&c.slices()[0]).unwrap().unwrap();
    let blobs: Vec<(u32, Range<usize>)> = sig
        .superblob
        .entries
        .iter()
        .map(|e| (e.slot, e.offset as usize..e.offset as usize + e.data.len()))
        .collect();
    let cms = sig
        .superblob
        .entries
        .iter()
        .find(|e| e.slot == 0x10000)
        .unwrap();
    let signed_attributes = signed_attributes(cms.payload());
    let base = cms.offset as usize + 8;
    Regions {
        blobs,
        signed_attributes: base + signed_attributes.start..base + signed_attributes.end,
    }
}

/// One DER element at `pos`: (tag, content range, end). Definite lengths only (rcodesign's CMS).
fn tlv(d: &[u8], pos: usize) -> (u8, Range<usize>, usize) {
    let tag = d[pos];
    let first = d[pos + 1] as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        assert!(n > 0, "indefinite length at {pos}");
        let len = d[pos + 2..pos + 2 + n]
            .iter()
            .fold(0usize, |a, b| a << 8 | *b as usize);
        (len, 2 + n)
    };
    let start = pos + head;
    (tag, start..start + len, start + len)
}

fn children(d: &[u8], content: Range<usize>) -> Vec<(u8, Range<usize>, Range<usize>)> {
    let mut out = Vec::new();
    let mut pos = content.start;
    while pos < content.end {
        let (tag, inner, end) = tlv(d, pos);
        out.push((tag, inner, pos..end));
        pos = end;
    }
    out
}

/// The whole `[0] signedAttrs` element of the first SignerInfo of a ContentInfo(SignedData).
fn signed_attributes(cms: &[u8]) -> Range<usize> {
    let (_, content_info, _) = tlv(cms, 0);
    let explicit = children(cms, content_info)
        .into_iter()
        .find(|c| c.0 == 0xa0)
        .unwrap();
    let (_, signed_data, _) = tlv(cms, explicit.1.start);
    let signer_infos = children(cms, signed_data)
        .into_iter()
        .rfind(|c| c.0 == 0x31)
        .unwrap();
    let (_, signer_info, _) = tlv(cms, signer_infos.1.start);
    children(cms, signer_info)
        .into_iter()
        .find(|c| c.0 == 0xa0)
        .unwrap()
        .2
}

/// The ids a mutation at `pos` must produce (any one of them), or `None` outside the regions
/// whose every byte is sealed.
fn expected_ids(r: &Regions, pos: usize) -> Option<(&'static str, &'static [&'static str])> {
    if r.signed_attributes.contains(&pos) {
        // Covered by the signer's signature; unparseable attributes make the CMS unreadable.
        return Some((
            "CMS signed attributes",
            &["cms-signature", "cms-unreadable"],
        ));
    }
    let (slot, _) = r.blobs.iter().find(|(_, range)| range.contains(&pos))?;
    Some(match *slot {
        0 => ("primary CodeDirectory", &["cms-message-digest"]),
        0x1000..=0x1004 => ("alternate CodeDirectory", &["cdhashes"]),
        2 => ("requirement set", &["requirements-hash"]),
        5 => ("entitlements", &["entitlements-hash"]),
        7 => ("DER entitlements", &["der-entitlements-hash"]),
        _ => return None,
    })
}

#[test]
fn every_sealed_byte_mutated_is_rejected_with_its_id() {
    let opts = test_options();
    let everything: &[&str] = &[
        "primary CodeDirectory",
        "alternate CodeDirectory",
        "requirement set",
        "entitlements",
        "DER entitlements",
        "CMS signed attributes",
    ];
    // The time-stamped fixture has one CodeDirectory and no entitlements.
    let timestamped: &[&str] = &[
        "primary CodeDirectory",
        "requirement set",
        "CMS signed attributes",
    ];
    for (name, regions_present) in [("thin", everything), ("timestamped", timestamped)] {
        let orig = load(name);
        match judge(&orig, &opts) {
            Outcome::Verdict(ids) => assert!(ids.is_empty(), "{name} baseline: {ids:?}"),
            o => panic!("{name} baseline: {o:?}"),
        }
        let r = regions(&orig);
        assert!(!r.signed_attributes.is_empty());
        let mut data = orig.clone();
        let (mut verdicts, mut unreadable) = (0usize, 0usize);
        let mut seen = BTreeSet::new();
        for pos in 0..orig.len() {
            let Some((what, ids)) = expected_ids(&r, pos) else {
                continue;
            };
            seen.insert(what);
            for v in [0x00u8, 0xff, orig[pos] ^ 0x01] {
                if v == orig[pos] {
                    continue;
                }
                data[pos] = v;
                match judge(&data, &opts) {
                    Outcome::Unreadable(e) => {
                        assert!(e.contains("offset 0x"), "{name} {what} @{pos:#x}: {e}");
                        unreadable += 1;
                    }
                    Outcome::Verdict(found) => {
                        assert!(
                            ids.iter().any(|id| found.contains(id)),
                            "{name}: {what} byte {pos:#x} set to {v:#04x}: expected one of \
                             {ids:?}, got {found:?}"
                        );
                        verdicts += 1;
                    }
                }
            }
            data[pos] = orig[pos];
        }
        assert_eq!(
            seen,
            regions_present.iter().copied().collect::<BTreeSet<_>>(),
            "{name}"
        );
        // Most mutations are judged, not merely unreadable.
        assert!(
            verdicts > 4 * unreadable,
            "{name}: {verdicts} verdicts, {unreadable} errors"
        );
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
                if let Outcome::Unreadable(e) = judge(&data, &opts) {
                    // Errors name a field and an offset.
                    assert!(e.contains("offset 0x"), "{name} @{pos:#x}: {e}");
                }
            }
            data[pos] = orig[pos];
            // Every byte of the SuperBlob index and CodeDirectory headers, then a sample.
            pos += if pos < start + 700 { 1 } else { stride };
        }
    }
}

/// The first slice's blob in `slot` of `data`: its absolute range.
fn blob(data: &[u8], slot: u32) -> Range<usize> {
    regions(data)
        .blobs
        .into_iter()
        .find(|(s, _)| *s == slot)
        .unwrap()
        .1
}

fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(data[at..at + 4].try_into().unwrap())
}

#[track_caller]
fn verdict(data: &[u8]) -> BTreeSet<&'static str> {
    match judge(data, &test_options()) {
        Outcome::Verdict(ids) => ids,
        o => panic!("expected a verdict, got {o:?}"),
    }
}

#[test]
fn a_code_limit_short_of_the_signature_is_code_limit() {
    let mut data = load("thin");
    let cd = blob(&data, 0);
    let limit = be32(&data, cd.start + 32);
    data[cd.start + 32..cd.start + 36].copy_from_slice(&(limit - 1).to_be_bytes());
    let ids = verdict(&data);
    assert!(ids.contains("code-limit"), "{ids:?}");
    // Changing the CodeDirectory also breaks its binding to the CMS signature.
    assert!(ids.contains("cms-message-digest"), "{ids:?}");
}

#[test]
fn one_code_slot_too_few_is_code_slot_count() {
    let mut data = load("thin");
    let cd = blob(&data, 0);
    let slots = be32(&data, cd.start + 28);
    data[cd.start + 28..cd.start + 32].copy_from_slice(&(slots - 1).to_be_bytes());
    let ids = verdict(&data);
    assert!(ids.contains("code-slot-count"), "{ids:?}");
    assert!(!ids.contains("code-limit"), "{ids:?}");
}

/// Change one ASCII byte inside `slot`'s blob (the first occurrence of `from` in it).
fn edit_blob(name: &str, slot: u32, from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut data = load(name);
    let r = blob(&data, slot);
    let at = data[r.clone()]
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{from:?} not in slot {slot}"))
        + r.start;
    data[at..at + to.len()].copy_from_slice(to);
    data
}

#[test]
fn a_changed_requirement_set_is_requirements_hash() {
    // The designated requirement's identifier, one letter changed.
    let data = edit_blob("thin", 2, b"com.example.helper", b"com.example.helpes");
    assert_eq!(verdict(&data), BTreeSet::from(["requirements-hash"]));
}

#[test]
fn changed_entitlements_are_entitlements_hash() {
    // Still a well-formed plist: only the seal can tell.
    let data = edit_blob("thin", 5, b"allow-jit", b"allow-jix");
    assert_eq!(verdict(&data), BTreeSet::from(["entitlements-hash"]));
    let data = edit_blob("thin", 7, b"allow-jit", b"allow-jix");
    assert_eq!(verdict(&data), BTreeSet::from(["der-entitlements-hash"]));
}

#[test]
fn changed_signed_attributes_are_cms_signature() {
    let orig = load("thin");
    let attrs = regions(&orig).signed_attributes;
    // The signingTime (UTCTime "260102030405Z"): one digit changed.
    let at = orig[attrs.clone()]
        .windows(12)
        .position(|w| w == b"260102030405")
        .unwrap()
        + attrs.start;
    let mut data = orig.clone();
    data[at] = b'1';
    assert_eq!(verdict(&data), BTreeSet::from(["cms-signature"]));
}

#[test]
fn an_emptied_cms_blob_on_a_non_adhoc_signature_is_cms_missing() {
    let mut data = load("thin");
    let cms = blob(&data, 0x10000);
    // The blob wrapper's length cut to its 8-byte header: present, but empty.
    data[cms.start + 4..cms.start + 8].copy_from_slice(&8u32.to_be_bytes());
    assert_eq!(verdict(&data), BTreeSet::from(["cms-missing"]));
}

#[test]
fn a_signer_naming_a_certificate_not_in_the_bag_is_cms_signer_certificate() {
    let mut data = load("thin");
    let cms = blob(&data, 0x10000);
    let d = &data[cms.start + 8..cms.end];
    // ContentInfo → [0] → SignedData → last SET (signerInfos) → SignerInfo → sid → serial.
    let (_, content_info, _) = tlv(d, 0);
    let explicit = children(d, content_info)
        .into_iter()
        .find(|c| c.0 == 0xa0)
        .unwrap();
    let (_, signed_data, _) = tlv(d, explicit.1.start);
    let infos = children(d, signed_data)
        .into_iter()
        .rfind(|c| c.0 == 0x31)
        .unwrap();
    let (_, info, _) = tlv(d, infos.1.start);
    let sid = children(d, info)[1].1.clone();
    let serial = children(d, sid).pop().unwrap();
    assert_eq!(serial.0, 0x02, "sid ends with the serial INTEGER");
    let at = cms.start + 8 + serial.1.end - 1;
    data[at] ^= 0x01;
    let ids = verdict(&data);
    assert!(ids.contains("cms-signer-certificate"), "{ids:?}");
    assert!(!ids.contains("cms-message-digest"), "{ids:?}");
}

#[test]
fn a_scatter_vector_is_refused() {
    let mut data = load("thin");
    let cd = blob(&data, 0);
    assert!(
        be32(&data, cd.start + 8) >= 0x20100,
        "CodeDirectory has scatterOffset"
    );
    data[cd.start + 44..cd.start + 48].copy_from_slice(&0x40u32.to_be_bytes());
    let ids = verdict(&data);
    assert!(ids.contains("scatter"), "{ids:?}");
}

#[test]
fn unreadable_entitlements_are_entitlements_unreadable() {
    use smbless::codesign::{examine, ExamineOptions};
    // Still sealed-looking bytes, but no longer a plist: the seal and the reader both object.
    let data = edit_blob("thin", 5, b"<dict>", b"<dicx>");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("helper");
    std::fs::write(&path, &data).unwrap();
    let opts = ExamineOptions {
        verify: test_options(),
        integrity: true,
        arch: None,
    };
    let ex = examine(&path, &opts).unwrap();
    let ids: BTreeSet<&str> = ex
        .problems
        .iter()
        .chain(ex.slices.iter().flat_map(|s| s.problems.iter()))
        .map(|p| p.code)
        .collect();
    assert!(!ex.is_valid());
    assert_eq!(
        ids,
        BTreeSet::from(["entitlements-hash", "entitlements-unreadable"]),
        "{:?}",
        ex.all_problems()
    );
}

#[test]
fn a_claimed_launch_constraint_seal_without_the_blob_is_launch_constraint_hash() {
    let mut data = load("thin");
    let cd = blob(&data, 0);
    // nSpecialSlots 7 → 8: slot -8 (the launch constraint on the process itself) now claims
    // the 20 non-zero bytes before slot -7, and there is no such blob.
    let special = be32(&data, cd.start + 24);
    assert_eq!(special, 7);
    data[cd.start + 24..cd.start + 28].copy_from_slice(&8u32.to_be_bytes());
    let ids = verdict(&data);
    assert!(ids.contains("launch-constraint-hash"), "{ids:?}");
}

#[test]
fn an_unsealed_blob_in_another_special_slot_is_special_slot_hash() {
    let mut data = load("thin");
    let (start, _) = signature_range(&data);
    // Re-file the requirement set under slot 4 (CSSLOT_APPLICATION) in the SuperBlob index: a
    // blob the CodeDirectories do not seal (their slot -4 is empty), and slot -2 loses its blob.
    let count = be32(&data, start + 8) as usize;
    let entry = (0..count)
        .map(|i| start + 12 + 8 * i)
        .find(|&e| be32(&data, e) == 2)
        .unwrap();
    data[entry..entry + 4].copy_from_slice(&4u32.to_be_bytes());
    assert_eq!(
        verdict(&data),
        BTreeSet::from(["requirements-hash", "special-slot-hash"])
    );
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
