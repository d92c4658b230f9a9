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
            smbless_wire::type_name(other)
        )),
        None => Err("embedded Info.plist has no CFBundleVersion".to_owned()),
    }
}

/// Info.plist key of a client requirement that overrides `SMAuthorizedClients`.
pub const CLIENT_REQUIREMENT_KEY: &str = "SmblessClientRequirement";

/// Info.plist key of a client requirement used instead by debug builds only (builds with
/// `debug_assertions`); release builds never read it.
pub const DEBUG_CLIENT_REQUIREMENT_KEY: &str = "SmblessDebugClientRequirement";

/// The code requirements a client must satisfy (any one of them), from the embedded
/// Info.plist: in a debug build `SmblessDebugClientRequirement` if present; then
/// `SmblessClientRequirement` if present; else every entry of `SMAuthorizedClients` — the code
/// that may install the helper is the code that may talk to it.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub fn client_requirements() -> Result<Vec<String>, String> {
    client_requirements_in(info_plist(), cfg!(debug_assertions))
}

fn client_requirements_in(info: &[u8], debug: bool) -> Result<Vec<String>, String> {
    let value = plist::Value::from_reader_xml(std::io::Cursor::new(info))
        .map_err(|e| format!("embedded Info.plist: {e}"))?;
    let dict = value
        .as_dictionary()
        .ok_or("embedded Info.plist is not a dictionary")?;
    let keys = [
        (debug, DEBUG_CLIENT_REQUIREMENT_KEY),
        (true, CLIENT_REQUIREMENT_KEY),
    ];
    for (_, key) in keys.iter().filter(|(wanted, _)| *wanted) {
        match dict.get(key) {
            Some(plist::Value::String(text)) if !text.trim().is_empty() => {
                return Ok(vec![text.clone()])
            }
            Some(other) => {
                return Err(format!(
                    "embedded Info.plist: {key} is {}, expected a non-empty string",
                    smbless_wire::type_name(other)
                ))
            }
            None => {}
        }
    }
    let Some(clients) = dict.get("SMAuthorizedClients") else {
        return Err(format!(
            "embedded Info.plist has no SMAuthorizedClients or {CLIENT_REQUIREMENT_KEY}: no \
             client could be authenticated"
        ));
    };
    let entries = clients.as_array().ok_or_else(|| {
        format!(
            "embedded Info.plist: SMAuthorizedClients is {}, expected an array of strings",
            smbless_wire::type_name(clients)
        )
    })?;
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        match entry.as_string() {
            Some(text) if !text.trim().is_empty() => out.push(text.to_owned()),
            _ => {
                return Err(format!(
                    "embedded Info.plist: SMAuthorizedClients[{i}] is {}, expected a \
                     non-empty requirement string",
                    smbless_wire::type_name(entry)
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("embedded Info.plist: SMAuthorizedClients is empty".to_owned());
    }
    Ok(out)
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
            smbless_wire::type_name(other)
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

    fn info(extra: &str) -> Vec<u8> {
        format!("<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>{extra}</dict></plist>")
            .into_bytes()
    }

    #[test]
    fn client_requirement_defaults_to_sm_authorized_clients() {
        let embedded = client_requirements_in(INFO, false).unwrap();
        assert_eq!(embedded.len(), 1);
        assert!(embedded[0].starts_with("identifier \"com.example.app\" and anchor apple generic"));
        let two = info(
            "<key>SMAuthorizedClients</key><array><string>A</string><string>B</string></array>",
        );
        assert_eq!(client_requirements_in(&two, false).unwrap(), ["A", "B"]);
    }

    #[test]
    fn the_override_key_wins_and_the_debug_key_only_in_debug_builds() {
        let plist = info(
            "<key>SMAuthorizedClients</key><array><string>A</string></array>\
             <key>SmblessClientRequirement</key><string>R</string>\
             <key>SmblessDebugClientRequirement</key><string>D</string>",
        );
        assert_eq!(client_requirements_in(&plist, false).unwrap(), ["R"]);
        assert_eq!(client_requirements_in(&plist, true).unwrap(), ["D"]);
        let release_only = info("<key>SmblessDebugClientRequirement</key><string>D</string>");
        let err = client_requirements_in(&release_only, false).unwrap_err();
        assert!(err.contains("no SMAuthorizedClients"), "{err}");
    }

    #[test]
    fn malformed_requirement_keys_are_errors_not_open_doors() {
        for (extra, needle) in [
            ("<key>SMAuthorizedClients</key><array/>", "is empty"),
            (
                "<key>SMAuthorizedClients</key><string>A</string>",
                "expected an array",
            ),
            (
                "<key>SMAuthorizedClients</key><array><integer>1</integer></array>",
                "SMAuthorizedClients[0] is an integer",
            ),
            (
                "<key>SmblessClientRequirement</key><string> </string>",
                "non-empty",
            ),
        ] {
            let err = client_requirements_in(&info(extra), false).unwrap_err();
            assert!(err.contains(needle), "{extra}: {err}");
        }
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
