//! Every kind of bad input to `smbless inspect` exits 2 with a message naming the file, the
//! offset or key, and what was expected.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn smbless() -> Command {
    Command::cargo_bin("smbless").expect("binary built")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Run inspect on `path` and check exit code 2 plus every fragment in stderr.
fn fails_with(path: &Path, fragments: &[&str]) {
    let mut assert = smbless()
        .arg("inspect")
        .arg(path)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(path.display().to_string()));
    for fragment in fragments {
        assert = assert.stderr(predicate::str::contains(*fragment));
    }
    let _ = assert;
}

#[test]
fn not_a_binary() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "script.sh", b"#!/bin/sh\necho hi\n");
    fails_with(
        &path,
        &[
            "at offset 0x0",
            "unknown magic 0x23212f62",
            "expected a Mach-O",
        ],
    );
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty", b"");
    fails_with(&path, &["magic number needs 4 bytes but only 0 remain"]);
}

#[test]
fn truncated_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "short",
        &[0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 1, 0, 0],
    );
    fails_with(&path, &["at offset 0x0", "Mach-O header needs 32 bytes"]);
}

#[test]
fn fat_slice_past_eof() {
    let dir = tempfile::tempdir().unwrap();
    let mut fat = Vec::new();
    for word in [0xcafe_babeu32, 1, 0x0100_000c, 0, 0x4000, 0x1000, 14] {
        fat.extend_from_slice(&word.to_be_bytes());
    }
    let path = write(dir.path(), "fat", &fat);
    fails_with(
        &path,
        &["at offset 0x8", "fat slice 0 (arm64)", "outside the file"],
    );
}

#[test]
fn missing_file_and_directory_without_contents() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    fails_with(&missing, &["No such file"]);
    let plain_dir = dir.path().join("NotAnApp.app");
    std::fs::create_dir(&plain_dir).unwrap();
    fails_with(&plain_dir, &["not an app bundle", "Contents/Info.plist"]);
}

#[test]
fn bundle_without_info_plist() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("X.app");
    std::fs::create_dir_all(app.join("Contents/MacOS")).unwrap();
    fails_with(&app, &["Contents/Info.plist", "missing"]);
}

#[test]
fn bundle_info_plist_problems() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("X.app");
    let plist = |body: &str| {
        format!(r#"<?xml version="1.0"?><plist version="1.0"><dict>{body}</dict></plist>"#)
    };
    write(&app, "Contents/Info.plist", b"not a plist at all");
    fails_with(&app, &["Contents/Info.plist", "not a property list"]);

    write(&app, "Contents/Info.plist", plist("").as_bytes());
    fails_with(&app, &["CFBundleExecutable", "is missing"]);

    write(
        &app,
        "Contents/Info.plist",
        plist("<key>CFBundleExecutable</key><string>../../../bin/sh</string>").as_bytes(),
    );
    fails_with(&app, &["CFBundleExecutable", "plain file name"]);

    write(
        &app,
        "Contents/Info.plist",
        plist("<key>CFBundleExecutable</key><string>X</string>").as_bytes(),
    );
    fails_with(&app, &["Contents/MacOS/X", "missing"]);
}

#[test]
fn unknown_arch_lists_the_available_ones() {
    let dir = tempfile::tempdir().unwrap();
    // A minimal valid x86_64 image: header only, no load commands.
    let mut image = vec![0xcf, 0xfa, 0xed, 0xfe];
    for word in [0x0100_0007u32, 3, 2, 0, 0, 0, 0] {
        image.extend_from_slice(&word.to_le_bytes());
    }
    let path = write(dir.path(), "tiny", &image);
    smbless()
        .args(["inspect", "--arch", "arm64"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no slice for architecture arm64; the file contains: x86_64",
        ));
    smbless()
        .args(["inspect", "--json"])
        .arg(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"arch\": \"x86_64\""));
}

#[test]
fn bad_arguments_exit_2() {
    smbless().args(["inspect"]).assert().code(2);
    smbless().args(["no-such-command"]).assert().code(2);
}

/// A real fixture with one field overwritten, written to a temp dir.
fn mutated(dir: &Path, fixture: &str, edit: impl FnOnce(&mut Vec<u8>)) -> std::path::PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    let mut data = std::fs::read(source).unwrap();
    edit(&mut data);
    write(dir, fixture.rsplit('/').next().unwrap(), &data)
}

#[test]
fn load_command_of_size_zero_in_a_real_helper() {
    let dir = tempfile::tempdir().unwrap();
    // The first load command starts right after the 32-byte header; cmdsize is its 2nd word.
    let path = mutated(dir.path(), "macho/helper-arm64", |d| {
        d[36..40].copy_from_slice(&0u32.to_le_bytes())
    });
    fails_with(
        &path,
        &[
            "at offset 0x20",
            "load command 0",
            "has size 0; expected at least",
        ],
    );
}

#[test]
fn section_past_eof_in_a_real_helper() {
    let dir = tempfile::tempdir().unwrap();
    let path = mutated(dir.path(), "macho/helper-arm64", |d| {
        let name = b"__info_plist\0\0\0\0__TEXT";
        let at = d.windows(name.len()).position(|w| w == name).unwrap();
        // section_64: sectname[16] segname[16] addr u64 size u64 offset u32
        d[at + 48..at + 52].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    });
    fails_with(
        &path,
        &[
            "section __TEXT,__info_plist file range 0x7fff0000",
            "extends past the end",
        ],
    );
}

#[test]
fn overlapping_fat_slices_in_a_real_helper() {
    let dir = tempfile::tempdir().unwrap();
    let path = mutated(dir.path(), "macho/helper-fat", |d| {
        // fat_arch[1].offset (big-endian) = fat_arch[0].offset + 16
        let first = u32::from_be_bytes(d[16..20].try_into().unwrap());
        d[36..40].copy_from_slice(&(first + 16).to_be_bytes());
    });
    fails_with(&path, &["at offset 0x1c", "fat slices 0 and 1 overlap"]);
}
