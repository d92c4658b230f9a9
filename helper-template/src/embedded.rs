//! The Info.plist and launchd plist, embedded in the executable at build time.
//!
//! Blessing reads them from the binary, not from files beside it, and the code signature covers
//! them: `__TEXT,__info_plist` and `__TEXT,__launchd_plist` on Mach-O (what `ld -sectcreate`
//! makes), `.info_plist` and `.launchd_plist` on ELF (so Linux builds can be inspected and
//! tested the same way). `#[used]` keeps them even though nothing reads them on the hot path.

#[cfg_attr(target_vendor = "apple", link_section = "__TEXT,__info_plist")]
#[cfg_attr(all(unix, not(target_vendor = "apple")), link_section = ".info_plist")]
#[used]
// `link_section` is linted as unsafe code because a wrong section can break the binary;
// these two are read-only byte arrays in sections only smbless and codesign look at.
#[allow(unsafe_code)]
static INFO_PLIST: [u8; include_bytes!("../Info.plist").len()] = *include_bytes!("../Info.plist");

#[cfg_attr(target_vendor = "apple", link_section = "__TEXT,__launchd_plist")]
#[cfg_attr(
    all(unix, not(target_vendor = "apple")),
    link_section = ".launchd_plist"
)]
#[used]
#[allow(unsafe_code)]
static LAUNCHD_PLIST: [u8; include_bytes!("../launchd.plist").len()] =
    *include_bytes!("../launchd.plist");

/// The embedded Info.plist, read through the section itself so that what the helper reports
/// (`version`) is what `smbless inspect` and the code signature see.
pub fn info_plist() -> &'static [u8] {
    // black_box keeps the compiler from answering from the initializer, so the section is
    // referenced (and kept by the linker's section GC) and is the bytes actually read.
    std::hint::black_box(&INFO_PLIST)
}

/// The embedded launchd plist.
pub fn launchd_plist() -> &'static [u8] {
    std::hint::black_box(&LAUNCHD_PLIST)
}

/// `CFBundleVersion` of the embedded Info.plist.
pub fn bundle_version() -> Result<String, String> {
    let value = plist::Value::from_reader_xml(std::io::Cursor::new(info_plist()))
        .map_err(|e| format!("embedded Info.plist: {e}"))?;
    match value.as_dictionary().and_then(|d| d.get("CFBundleVersion")) {
        Some(plist::Value::String(version)) => Ok(version.clone()),
        Some(other) => Err(format!(
            "embedded Info.plist: CFBundleVersion is {}, expected a string",
            smbless::plists::type_name(other)
        )),
        None => Err("embedded Info.plist has no CFBundleVersion".to_owned()),
    }
}

/// The names of the launchd plist's `Sockets` entries: what to check in with launchd.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub fn socket_names() -> Result<Vec<String>, String> {
    let value = plist::Value::from_reader_xml(std::io::Cursor::new(launchd_plist()))
        .map_err(|e| format!("embedded launchd plist: {e}"))?;
    match value.as_dictionary().and_then(|d| d.get("Sockets")) {
        Some(plist::Value::Dictionary(sockets)) => Ok(sockets.keys().cloned().collect()),
        Some(other) => Err(format!(
            "embedded launchd plist: Sockets is {}, expected a dictionary",
            smbless::plists::type_name(other)
        )),
        None => Err("embedded launchd plist has no Sockets".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &[u8] = include_bytes!("../Info.plist");
    const LAUNCHD: &[u8] = include_bytes!("../launchd.plist");

    #[test]
    fn embedded_plists_are_the_files() {
        assert_eq!(info_plist(), INFO);
        assert_eq!(launchd_plist(), LAUNCHD);
        assert_eq!(bundle_version().unwrap(), "1.0.0");
        assert_eq!(socket_names().unwrap(), ["Listeners"]);
    }

    #[test]
    fn launchd_plist_declares_sockets_and_no_keepalive() {
        let value = plist::Value::from_reader_xml(std::io::Cursor::new(LAUNCHD)).unwrap();
        let dict = value.as_dictionary().unwrap();
        assert!(
            dict.get("KeepAlive").is_none(),
            "a launch-on-demand job has no KeepAlive"
        );
        assert!(dict.get("RunAtLoad").is_none());
        let info = plist::Value::from_reader_xml(std::io::Cursor::new(INFO)).unwrap();
        assert_eq!(
            dict.get("Label").and_then(plist::Value::as_string),
            info.as_dictionary()
                .and_then(|d| d.get("CFBundleIdentifier"))
                .and_then(plist::Value::as_string),
            "SMJobBless wants Label == CFBundleIdentifier"
        );
    }
}
