//! `smbless inspect` over the fixtures built by real toolchains (scripts/make-fixtures):
//! every slice of thin, fat and fat64 helpers, ELF helpers and the example bundle.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn inspect_json(rel: &str, extra: &[&str]) -> Value {
    let output = Command::cargo_bin("smbless")
        .unwrap()
        .arg("inspect")
        .arg("--json")
        .args(extra)
        .arg(fixture(rel))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "inspect {rel} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

const LABEL: &str = "com.example.smbless.helper";

/// Both plists present and as written in fixtures/src/plists.
fn assert_helper_plists(slice: &Value) {
    assert_eq!(slice["info_plist"]["CFBundleIdentifier"], LABEL, "{slice}");
    assert_eq!(slice["info_plist"]["CFBundleVersion"], "1.0");
    assert_eq!(slice["info_plist"]["CFBundleInfoDictionaryVersion"], "6.0");
    let clients = slice["info_plist"]["SMAuthorizedClients"]
        .as_array()
        .unwrap();
    assert!(clients[0]
        .as_str()
        .unwrap()
        .contains("identifier \"com.example.smbless.app\""));
    assert_eq!(slice["launchd_plist"]["Label"], LABEL);
    assert_eq!(slice["launchd_plist"]["MachServices"][LABEL], true);
}

#[test]
fn thin_helpers() {
    let arm = inspect_json("macho/helper-arm64", &[]);
    assert_eq!(arm["kind"], "macho");
    assert_eq!(arm["slices_disagree"], false);
    assert_eq!(arm["bundle"], Value::Null);
    let slice = &arm["slices"][0];
    assert_eq!(slice["arch"], "arm64");
    assert_eq!(slice["offset"], 0);
    assert_eq!(slice["filetype"], "execute");
    assert_helper_plists(slice);
    // ld64.lld signs arm64 output (linker-signed): the signature sits at the end of the file.
    let sig = &slice["code_signature"];
    let size = std::fs::metadata(fixture("macho/helper-arm64"))
        .unwrap()
        .len();
    assert_eq!(
        sig["offset"].as_u64().unwrap() + sig["size"].as_u64().unwrap(),
        size
    );

    let x86 = inspect_json("macho/helper-x86_64", &[]);
    assert_eq!(x86["slices"][0]["arch"], "x86_64");
    assert_eq!(x86["slices"][0]["code_signature"], Value::Null);
    assert_helper_plists(&x86["slices"][0]);
}

#[test]
fn fat_and_fat64_show_every_slice() {
    for (rel, kind) in [
        ("macho/helper-fat", "macho-fat"),
        ("macho/helper-fat64", "macho-fat"),
    ] {
        let report = inspect_json(rel, &[]);
        assert_eq!(report["kind"], kind);
        let slices = report["slices"].as_array().unwrap();
        let archs: Vec<&str> = slices.iter().map(|s| s["arch"].as_str().unwrap()).collect();
        assert_eq!(archs, ["x86_64", "arm64"], "{rel}");
        for slice in slices {
            assert_helper_plists(slice);
            assert!(slice["offset"].as_u64().unwrap() > 0);
        }
        assert_eq!(report["slices_disagree"], false);
    }
    // The two headers differ, the slices are the same bytes at the same offsets.
    let fat = inspect_json("macho/helper-fat", &[]);
    let fat64 = inspect_json("macho/helper-fat64", &[]);
    assert_eq!(fat["slices"], fat64["slices"]);
}

#[test]
fn arch_filter_selects_one_slice() {
    let report = inspect_json("macho/helper-fat64", &["--arch", "arm64"]);
    let slices = report["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 1);
    assert_eq!(slices[0]["arch"], "arm64");
    assert_eq!(slices[0]["offset"], 32768);
}

#[test]
fn binary_plist_and_info_only() {
    let binary = inspect_json("macho/helper-binary-plist", &[]);
    assert_helper_plists(&binary["slices"][0]);
    let info_only = inspect_json("macho/helper-info-only", &[]);
    assert_eq!(
        info_only["slices"][0]["info_plist"]["CFBundleVersion"],
        "1.0"
    );
    assert_eq!(info_only["slices"][0]["launchd_plist"], Value::Null);
}

#[test]
fn slices_that_embed_different_plists_are_flagged() {
    let report = inspect_json("macho/helper-slices-disagree", &[]);
    assert_eq!(report["slices_disagree"], true);
    assert_eq!(report["slices"][0]["info_plist"]["CFBundleVersion"], "1.0");
    assert_eq!(report["slices"][1]["info_plist"]["CFBundleVersion"], "1.1");
    Command::cargo_bin("smbless")
        .unwrap()
        .arg("inspect")
        .arg(fixture("macho/helper-slices-disagree"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "the slices embed different plists",
        ));
}

#[test]
fn malformed_plist_section_names_file_section_and_offset() {
    let path = fixture("macho/helper-malformed-plist");
    Command::cargo_bin("smbless")
        .unwrap()
        .arg("inspect")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(path.display().to_string()))
        .stderr(predicate::str::contains(
            "section __TEXT,__info_plist at offset 0x",
        ))
        .stderr(predicate::str::contains("not a property list"))
        .stderr(predicate::str::contains("expected an XML or binary plist"));
}

#[test]
fn elf_helpers() {
    for (rel, arch) in [
        ("elf/helper-x86_64", "x86_64"),
        ("elf/helper-aarch64", "aarch64"),
    ] {
        let report = inspect_json(rel, &[]);
        assert_eq!(report["kind"], "elf");
        let slice = &report["slices"][0];
        assert_eq!(slice["arch"], arch);
        assert_eq!(slice["code_signature"], Value::Null);
        assert_helper_plists(slice);
    }
}

#[test]
fn human_output_summarises_each_slice() {
    Command::cargo_bin("smbless")
        .unwrap()
        .arg("inspect")
        .arg(fixture("macho/helper-fat"))
        .assert()
        .success()
        .stdout(predicate::str::contains("(macho-fat, 2 slices)"))
        .stdout(predicate::str::contains("x86_64: offset 0x1000"))
        .stdout(predicate::str::contains("arm64: offset 0x8000"))
        .stdout(predicate::str::contains(
            "Info.plist: CFBundleIdentifier=com.example.smbless.helper, CFBundleVersion=1.0",
        ));
}

#[test]
fn the_example_bundle_shows_app_and_helper() {
    let report = inspect_json("apps/Example.app", &[]);
    assert_eq!(report["kind"], "bundle");
    assert_eq!(report["slices"], Value::Array(vec![]));
    let bundle = &report["bundle"];
    assert_eq!(
        bundle["info_plist"]["CFBundleIdentifier"],
        "com.example.smbless.app"
    );
    assert!(bundle["info_plist"]["SMPrivilegedExecutables"][LABEL]
        .as_str()
        .unwrap()
        .contains("identifier \"com.example.smbless.helper\""));
    let executable = &bundle["executable"];
    assert!(executable["path"]
        .as_str()
        .unwrap()
        .ends_with("Contents/MacOS/Example"));
    assert_eq!(executable["kind"], "macho-fat");
    let helpers = bundle["helpers"].as_array().unwrap();
    assert_eq!(helpers.len(), 1);
    assert!(helpers[0]["path"].as_str().unwrap().ends_with(LABEL));
    let slices = helpers[0]["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 2);
    for slice in slices {
        assert_helper_plists(slice);
        assert!(
            slice["code_signature"]["size"].as_u64().unwrap() > 0,
            "signed: {slice}"
        );
    }
}
