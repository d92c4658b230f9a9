//! The installed daemon plist, derived from the helper's embedded launchd plist the way
//! SMJobBless derives it: the system sets `ProgramArguments` to the installed path alone (your
//! own `Program`/`ProgramArguments` are ignored), and smbless adds
//! `AssociatedBundleIdentifiers` so System Settings names the app that owns the daemon.

use std::path::Path;

/// The job file for the helper `label` installed at `installed`: the launchd key policy's
/// rendering ([`crate::launchd_policy::render_daemon_plist`]) as XML. Every key the policy
/// refuses (`BundleProgram`, `DYLD_`/`LD_` environment, `RootDirectory`, a `WorkingDirectory`
/// outside root-owned places, …) becomes a `launchd-key-refused` refusal naming the key.
pub fn render(
    embedded: &plist::Dictionary,
    label: &str,
    installed: &Path,
    app_id: &str,
) -> Result<Vec<u8>, Vec<super::Refusal>> {
    let refusal = |key: &str, message: String, hint: String| {
        super::Refusal::new(super::RefusalId::LaunchdKeyRefused, message, hint)
            .with_details(vec![format!("key: {key}")])
    };
    let dict = crate::launchd_policy::render_daemon_plist(embedded, label, installed, app_id)
        .map_err(|judgements| {
            judgements
                .into_iter()
                .map(|j| refusal(&j.key, format!("[{}] {}", j.rule, j.message), j.hint))
                .collect::<Vec<_>>()
        })?;
    to_xml(&dict).map_err(|e| {
        vec![refusal(
            "",
            format!("the daemon plist cannot be written: {e}"),
            "keep the embedded launchd plist to plain property-list values".into(),
        )]
    })
}

/// What an installed job file runs ([`crate::launchd_policy::launched_program`]); `Err` when
/// it is not a property-list dictionary.
pub fn program_of(job: &[u8]) -> Result<Option<String>, String> {
    let value: plist::Value = plist::from_bytes(job).map_err(|e| e.to_string())?;
    let dict = value
        .as_dictionary()
        .ok_or_else(|| "not a dictionary".to_string())?;
    Ok(crate::launchd_policy::launched_program(dict).map(str::to_owned))
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
    fn xml_round_trips() {
        let mut d = plist::Dictionary::new();
        d.insert("Label".into(), "x".into());
        let xml = to_xml(&d).unwrap();
        assert!(xml.starts_with(b"<?xml"));
        let back: plist::Value = plist::from_bytes(&xml).unwrap();
        assert_eq!(back, plist::Value::Dictionary(d));
    }
}
