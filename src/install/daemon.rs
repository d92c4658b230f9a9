//! The installed daemon plist, derived from the helper's embedded launchd plist the way
//! SMJobBless derives it: the system sets `ProgramArguments` to the installed path alone (your
//! own `Program`/`ProgramArguments` are ignored), and smbless adds
//! `AssociatedBundleIdentifiers` so System Settings names the app that owns the daemon.

use std::path::Path;

/// Build the daemon plist dictionary: `embedded` with `Program` removed, `ProgramArguments =
/// [installed]` and `AssociatedBundleIdentifiers = [app_id]`. Every other key (Label,
/// MachServices, Sockets, …) is kept as the developer wrote it.
pub fn daemon_plist(
    embedded: &plist::Dictionary,
    installed: &Path,
    app_id: &str,
) -> plist::Dictionary {
    let mut dict = embedded.clone();
    dict.remove("Program");
    dict.insert(
        "ProgramArguments".into(),
        plist::Value::Array(vec![plist::Value::String(
            installed.to_string_lossy().into_owned(),
        )]),
    );
    dict.insert(
        "AssociatedBundleIdentifiers".into(),
        plist::Value::Array(vec![plist::Value::String(app_id.to_owned())]),
    );
    dict
}

/// The job file for the helper installed at `installed`: [`daemon_plist`] as XML.
pub fn render(
    embedded: &plist::Dictionary,
    installed: &Path,
    app_id: &str,
) -> Result<Vec<u8>, Vec<super::Refusal>> {
    let dict = daemon_plist(embedded, installed, app_id);
    to_xml(&dict).map_err(|e| {
        vec![super::Refusal::new(
            super::RefusalId::LaunchdKeyRefused,
            format!("the daemon plist cannot be written: {e}"),
            "keep the embedded launchd plist to plain property-list values",
        )]
    })
}

/// What an installed job file runs: `ProgramArguments[0]`, else `Program`; `Err` when it is
/// not a property-list dictionary.
pub fn program_of(job: &[u8]) -> Result<Option<String>, String> {
    let value: plist::Value = plist::from_bytes(job).map_err(|e| e.to_string())?;
    let dict = value
        .as_dictionary()
        .ok_or_else(|| "not a dictionary".to_string())?;
    Ok(dict
        .get("ProgramArguments")
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|v| v.as_string())
        .or_else(|| dict.get("Program").and_then(|v| v.as_string()))
        .map(str::to_owned))
}

/// Serialise a plist dictionary as XML, the format of hand-written `/Library/LaunchDaemons`
/// plists (and the one `plutil -lint` and humans read).
pub fn to_xml(dict: &plist::Dictionary) -> Result<Vec<u8>, plist::Error> {
    let mut out = Vec::new();
    plist::Value::Dictionary(dict.clone()).to_writer_xml(&mut out)?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_is_dropped_and_arguments_replaced() {
        let mut embedded = plist::Dictionary::new();
        embedded.insert("Label".into(), "com.example.helper".into());
        embedded.insert("Program".into(), "/usr/local/bin/evil".into());
        embedded.insert(
            "ProgramArguments".into(),
            plist::Value::Array(vec!["/bin/sh".into(), "-c".into()]),
        );
        let mut services = plist::Dictionary::new();
        services.insert("com.example.helper".into(), true.into());
        embedded.insert("MachServices".into(), services.clone().into());

        let dict = daemon_plist(
            &embedded,
            Path::new("/Library/PrivilegedHelperTools/com.example.helper"),
            "com.example.app",
        );
        assert!(dict.get("Program").is_none());
        assert_eq!(
            dict.get("ProgramArguments"),
            Some(&plist::Value::Array(vec![
                "/Library/PrivilegedHelperTools/com.example.helper".into()
            ]))
        );
        assert_eq!(
            dict.get("AssociatedBundleIdentifiers"),
            Some(&plist::Value::Array(vec!["com.example.app".into()]))
        );
        assert_eq!(dict.get("Label"), Some(&"com.example.helper".into()));
        assert_eq!(dict.get("MachServices"), Some(&services.into()));
        assert_eq!(dict.len(), 4);
    }

    #[test]
    fn xml_round_trips() {
        let mut d = plist::Dictionary::new();
        d.insert("Label".into(), "x".into());
        let xml = to_xml(&d).unwrap();
        assert!(xml.starts_with(b"<?xml"));
        let back: plist::Value = plist::from_bytes(&xml).unwrap();
        assert_eq!(back, plist::Value::Dictionary(d));
    }
}
