//! Cross-check against an independent implementation: apple-codesign's decoder (`rcodesign
//! parse-code-signing-requirement`) reads the blobs smbless compiles for every designated
//! requirement shape in the reference, and its fully parenthesised text, parsed and compiled
//! by smbless, gives back exactly the same bytes. Skipped (with a note) when `rcodesign` is not
//! installed (`scripts/install-fixture-tools` installs it).

use std::process::Command;

use smbless::requirement;

const SHAPES: &[&str] = &[
    // Xcode's Developer ID DR with the Mac App Store alternative.
    "anchor apple generic and identifier \"com.example.app\" and (certificate leaf[field.1.2.840.113635.100.6.1.9] /* exists */ or certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = W38PE5Y733)",
    // codesign's implicit Developer ID DR.
    "identifier \"com.example.tool\" and anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = \"97JCY7859U\"",
    // Apple Development.
    "identifier \"com.example.app\" and anchor apple generic and certificate leaf[subject.CN] = \"Apple Development: Jane Doe (ABCDE12345)\" and certificate 1[field.1.2.840.113635.100.6.2.1] /* exists */",
    // Ad-hoc.
    "cdhash H\"0123456789abcdef0123456789abcdef01234567\"",
    // Apple's own code; a non-Apple root pinned by hash.
    "identifier \"com.apple.foo\" and anchor apple",
    "identifier \"com.example.helper\" and certificate root = H\"0123456789abcdef0123456789abcdef01234567\"",
    // A client requirement with downgrade protection.
    "anchor apple generic and identifier \"com.example.app\" and certificate leaf[subject.OU] = W38PE5Y733 and info[CFBundleVersion] >= \"1.2\"",
];

#[test]
fn rcodesign_reads_our_blobs_and_we_read_its_text() {
    if Command::new("rcodesign").arg("--version").output().is_err() {
        eprintln!("rcodesign not installed: cross-check skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in SHAPES.iter().enumerate() {
        let ours = requirement::compile(&requirement::parse_requirement(text).unwrap()).unwrap();
        let path = dir.path().join(format!("r{i}.bin"));
        std::fs::write(&path, &ours).unwrap();
        let out = Command::new("rcodesign")
            .arg("parse-code-signing-requirement")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{text}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = String::from_utf8(out.stdout).unwrap();
        let back = requirement::parse_requirement(theirs.trim())
            .unwrap_or_else(|e| panic!("rcodesign's text {theirs:?}: {e}"));
        assert_eq!(
            requirement::compile(&back).unwrap(),
            ours,
            "{text}\nrcodesign: {theirs}"
        );
        assert_eq!(requirement::to_text(&back), *text);
    }
}
