//! Cross-check against an independent implementation: apple-codesign's decoder (`rcodesign
//! parse-code-signing-requirement`, version 0.29.0) reads the blobs smbless compiles for every
//! designated requirement shape in the reference, and its fully parenthesised text, parsed and
//! compiled by smbless, gives back exactly the same bytes.
//!
//! Two tests, so that nothing passes without running:
//! - `committed_rcodesign_text_reads_back_to_our_bytes` always runs: it compares with what
//!   rcodesign printed for each shape, committed in `tests/data/requirements/rcodesign/`.
//! - `rcodesign_decodes_our_blobs_to_the_committed_text` runs the tool. It is `#[ignore]`d, so a
//!   plain `cargo test` reports it as *ignored* (never as passed); `.ci/run` runs it with
//!   `-- --ignored`, where a missing or wrong-version rcodesign is a failure.
//!   `SMBLESS_UPDATE_GOLDEN=1 cargo test --test requirement_rcodesign -- --ignored` rewrites the
//!   committed text (refused under CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use smbless::requirement;

mod golden_support;

const RCODESIGN_VERSION: &str = "apple-codesign 0.29.0";

/// (golden file name, requirement text in Apple's form).
const SHAPES: &[(&str, &str)] = &[
    // Xcode's Developer ID DR with the Mac App Store alternative.
    ("developer-id-xcode", "anchor apple generic and identifier \"com.example.app\" and (certificate leaf[field.1.2.840.113635.100.6.1.9] /* exists */ or certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = W38PE5Y733)"),
    // codesign's implicit Developer ID DR.
    ("developer-id-implicit", "identifier \"com.example.tool\" and anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = \"97JCY7859U\""),
    // Apple Development.
    ("apple-development", "identifier \"com.example.app\" and anchor apple generic and certificate leaf[subject.CN] = \"Apple Development: Jane Doe (ABCDE12345)\" and certificate 1[field.1.2.840.113635.100.6.2.1] /* exists */"),
    // Ad-hoc.
    ("adhoc-cdhash", "cdhash H\"0123456789abcdef0123456789abcdef01234567\""),
    // Apple's own code; a non-Apple root pinned by hash.
    ("apple-anchor", "identifier \"com.apple.foo\" and anchor apple"),
    ("root-hash", "identifier \"com.example.helper\" and certificate root = H\"0123456789abcdef0123456789abcdef01234567\""),
    // A client requirement with downgrade protection.
    ("client-downgrade-protection", "anchor apple generic and identifier \"com.example.app\" and certificate leaf[subject.OU] = W38PE5Y733 and info[CFBundleVersion] >= \"1.2\""),
];

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/requirements/rcodesign")
        .join(format!("{name}.txt"))
}

fn compile(text: &str) -> Vec<u8> {
    let ast = requirement::parse_requirement(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    requirement::compile(&ast).unwrap()
}

/// rcodesign's text parsed and compiled by smbless must be our blob, and print as our text.
#[track_caller]
fn assert_reads_back(text: &str, ours: &[u8], theirs: &str) {
    let back = requirement::parse_requirement(theirs.trim())
        .unwrap_or_else(|e| panic!("rcodesign's text {theirs:?}: {e}"));
    assert_eq!(
        requirement::compile(&back).unwrap(),
        ours,
        "{text}\nrcodesign: {theirs}"
    );
    assert_eq!(requirement::to_text(&back), text);
}

#[test]
fn committed_rcodesign_text_reads_back_to_our_bytes() {
    for (name, text) in SHAPES {
        let path = golden_path(name);
        let theirs = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; regenerate with SMBLESS_UPDATE_GOLDEN=1 cargo test --test \
                 requirement_rcodesign -- --ignored",
                path.display()
            )
        });
        assert_reads_back(text, &compile(text), &theirs);
    }
}

/// The rcodesign to run: `$RCODESIGN`, else `rcodesign` on `PATH`, else `~/.cargo/bin/rcodesign`
/// (where `cargo install` puts it); it must be version 0.29.0.
fn rcodesign() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = std::env::var_os("RCODESIGN")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::var_os("PATH").into_iter().flat_map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("rcodesign"))
                .collect::<Vec<_>>()
        }))
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/rcodesign")))
        .collect();
    let tool = candidates.into_iter().find(|p| p.is_file()).ok_or(
        "rcodesign not found ($RCODESIGN, PATH, ~/.cargo/bin); install it with `cargo install \
         apple-codesign --version 0.29.0 --no-default-features --locked`",
    )?;
    let out = Command::new(&tool)
        .arg("--version")
        .output()
        .map_err(|e| format!("{}: {e}", tool.display()))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if version != RCODESIGN_VERSION {
        return Err(format!(
            "{}: version {version:?}, the committed text comes from {RCODESIGN_VERSION:?}",
            tool.display()
        ));
    }
    Ok(tool)
}

#[test]
#[ignore = "runs rcodesign 0.29.0; .ci/run runs it with `-- --ignored`"]
fn rcodesign_decodes_our_blobs_to_the_committed_text() {
    let tool = rcodesign().unwrap_or_else(|e| panic!("{e}"));
    let update = golden_support::update_golden();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in SHAPES {
        let ours = compile(text);
        let blob = dir.path().join(format!("{name}.bin"));
        std::fs::write(&blob, &ours).unwrap();
        let out = Command::new(&tool)
            .arg("parse-code-signing-requirement")
            .arg(&blob)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{text}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = String::from_utf8(out.stdout).unwrap();
        assert_reads_back(text, &ours, &theirs);
        let path = golden_path(name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &theirs).unwrap();
            continue;
        }
        let committed =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(theirs, committed, "{name}: rcodesign's text changed");
    }
}
