//! The template helper's Info.plist and launchd plist are embedded at build time, and
//! `smbless inspect` reads both from the built executable.

mod helper_support;

use std::process::Command;

use helper_support::{helper_bin, smbless_bin};

fn template_file(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("helper-template")
            .join(name),
    )
    .expect("template plist")
}

#[test]
fn inspect_json_shows_both_embedded_plists() {
    let out = Command::new(smbless_bin())
        .args(["inspect", "--json"])
        .arg(helper_bin())
        .output()
        .expect("run smbless inspect");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let slice = &report["slices"][0];
    let info = &slice["info_plist"];
    let launchd = &slice["launchd_plist"];
    assert_eq!(info["CFBundleVersion"], "1.0.0", "{report:#}");
    assert_eq!(info["CFBundleIdentifier"], "com.example.smbless-helper");
    assert!(info["SMAuthorizedClients"][0]
        .as_str()
        .is_some_and(|r| r.contains("com.example.app")));
    assert_eq!(
        launchd["Label"], info["CFBundleIdentifier"],
        "Label must equal the identifier"
    );
    assert!(
        launchd["Sockets"]["Listeners"]["SockPathName"].is_string(),
        "{launchd:#}"
    );
    assert!(
        launchd.get("KeepAlive").is_none(),
        "launch on demand: no KeepAlive"
    );
    assert!(launchd.get("RunAtLoad").is_none());
}

#[test]
fn inspect_text_names_both_plists() {
    let out = Command::new(smbless_bin())
        .arg("inspect")
        .arg(helper_bin())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Info.plist: CFBundleIdentifier=com.example.smbless-helper"),
        "{text}"
    );
    assert!(
        text.contains("launchd plist: Label=com.example.smbless-helper"),
        "{text}"
    );
}

#[test]
fn embedded_bytes_are_the_template_files() {
    for (flag, file) in [
        ("--print-info-plist", "Info.plist"),
        ("--print-launchd-plist", "launchd.plist"),
    ] {
        let out = Command::new(helper_bin()).arg(flag).output().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, template_file(file), "{flag}");
    }
    let out = Command::new(helper_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "smbless-helper 1.0.0\n"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn elf_sections_carry_the_plists_byte_for_byte() {
    // Read the sections with the library's container reader, independent of `inspect`.
    let bytes = std::fs::read(helper_bin()).unwrap();
    let file = smbless::container::Container::parse(&bytes).expect("ELF");
    let slice = file.slices().first().expect("one slice");
    for (section, name) in [
        (".info_plist", "Info.plist"),
        (".launchd_plist", "launchd.plist"),
    ] {
        let found = slice
            .section("", section)
            .unwrap_or_else(|| panic!("no {section}"));
        assert_eq!(found.data, &template_file(name)[..], "{section}");
    }
}
