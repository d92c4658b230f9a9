//! Checks of a helper's embedded Info.plist and launchd plist: the parts of the contract that
//! need no signature.

use crate::launchd_policy::{self, KeyRule};
use crate::plists::Plist;
use crate::version::BundleVersion;

use super::findings::{Finding, FindingId};

/// What the embedded Info.plist says, once checked.
#[derive(Debug, Default)]
pub(crate) struct HelperInfo {
    /// `CFBundleVersion`, when present and well formed.
    pub version: Option<BundleVersion>,
    /// `SMAuthorizedClients` entries that are strings.
    pub authorized_clients: Vec<String>,
}

/// Check the helper's embedded Info.plist against its label (file name).
pub(crate) fn check_info_plist(
    label: &str,
    path: &str,
    info: Option<&Plist<'_>>,
    findings: &mut Vec<Finding>,
) -> HelperInfo {
    let mut result = HelperInfo::default();
    let Some(info) = info else {
        findings.push(Finding::new(
            FindingId::InfoPlistMissing,
            path,
            "the helper has no embedded Info.plist (__TEXT,__info_plist section)",
            "link the helper with -sectcreate __TEXT __info_plist Info.plist (Xcode: \
             CREATE_INFOPLIST_SECTION_IN_BINARY = YES)",
        ));
        return result;
    };
    let wrong_type = |err: crate::plists::PlistError, id: FindingId, hint: &str| {
        Finding::new(id, path, err.to_string(), hint)
    };

    match info.string("CFBundleInfoDictionaryVersion") {
        Ok(Some("6.0")) => {}
        Ok(found) => findings.push(Finding::new(
            FindingId::InfoDictionaryVersion,
            path,
            format!(
                "CFBundleInfoDictionaryVersion is {}; expected \"6.0\"",
                found.map_or("missing".to_string(), |v| format!("{v:?}"))
            ),
            "add <key>CFBundleInfoDictionaryVersion</key><string>6.0</string> to the helper's Info.plist",
        )),
        Err(e) => findings.push(wrong_type(
            e,
            FindingId::InfoDictionaryVersion,
            "CFBundleInfoDictionaryVersion must be the string \"6.0\"",
        )),
    }

    match info.string("CFBundleIdentifier") {
        Ok(Some(id)) if id == label => {}
        Ok(found) => findings.push(Finding::new(
            FindingId::BundleIdentifierMismatch,
            path,
            format!(
                "CFBundleIdentifier is {}; expected {label:?}, the helper's file name",
                found.map_or("missing".to_string(), |v| format!("{v:?}"))
            ),
            format!("set CFBundleIdentifier to {label:?} in the helper's Info.plist, or rename the helper"),
        )),
        Err(e) => findings.push(wrong_type(
            e,
            FindingId::BundleIdentifierMismatch,
            "CFBundleIdentifier must be a string equal to the helper's file name",
        )),
    }

    match info.string("CFBundleVersion") {
        Ok(Some(text)) => match BundleVersion::parse(text) {
            Ok(v) => result.version = Some(v),
            Err(e) => findings.push(Finding::new(
                FindingId::BundleVersionInvalid,
                path,
                e.to_string(),
                "SMJobBless compares versions as up to three dot-separated integers; use e.g. \"1.2.3\"",
            )),
        },
        Ok(None) => findings.push(Finding::new(
            FindingId::BundleVersionInvalid,
            path,
            "CFBundleVersion is missing from the helper's Info.plist",
            "add <key>CFBundleVersion</key><string>1.0</string>; SMJobBless refuses helpers without \
             a version and replaces an installed helper only with a greater one",
        )),
        Err(e) => findings.push(wrong_type(
            e,
            FindingId::BundleVersionInvalid,
            "CFBundleVersion must be a string such as \"1.2.3\"",
        )),
    }

    match info.array("SMAuthorizedClients") {
        Ok(Some(entries)) => {
            let mut non_strings = 0;
            for entry in entries {
                match entry.as_string() {
                    Some(s) => result.authorized_clients.push(s.to_string()),
                    None => non_strings += 1,
                }
            }
            if entries.is_empty() || non_strings > 0 {
                findings.push(Finding::new(
                    FindingId::AuthorizedClientsMissing,
                    path,
                    if entries.is_empty() {
                        "SMAuthorizedClients is an empty array; no app may install this helper"
                            .to_string()
                    } else {
                        format!(
                            "SMAuthorizedClients has {non_strings} entries that are not strings"
                        )
                    },
                    "list the requirement strings of the apps allowed to install the helper \
                     (`smbless setreq` writes them)",
                ));
            } else if entries.len() > 1 {
                findings.push(Finding::new(
                    FindingId::MultipleAuthorizedClients,
                    path,
                    format!(
                        "SMAuthorizedClients has {} entries; the app must satisfy one of them",
                        entries.len()
                    ),
                    "fine for SMJobBless; SMJobBlessUtil.py's check expects exactly one",
                ));
            }
        }
        Ok(None) => findings.push(Finding::new(
            FindingId::AuthorizedClientsMissing,
            path,
            "SMAuthorizedClients is missing from the helper's Info.plist",
            "add an SMAuthorizedClients array with the app's designated requirement \
             (`smbless setreq` writes it)",
        )),
        Err(e) => findings.push(wrong_type(
            e,
            FindingId::AuthorizedClientsMissing,
            "SMAuthorizedClients must be an array of requirement strings",
        )),
    }
    result
}

/// Check the helper's embedded launchd plist.
pub(crate) fn check_launchd_plist(
    label: &str,
    path: &str,
    launchd: Option<&Plist<'_>>,
    findings: &mut Vec<Finding>,
) {
    let Some(launchd) = launchd else {
        findings.push(Finding::new(
            FindingId::LaunchdPlistMissing,
            path,
            "the helper has no embedded launchd plist (__TEXT,__launchd_plist section)",
            "link the helper with -sectcreate __TEXT __launchd_plist launchd.plist; it needs at \
             least a Label equal to the helper's file name",
        ));
        return;
    };
    match launchd.string("Label") {
        Ok(Some(l)) if l == label => {}
        Ok(found) => findings.push(Finding::new(
            FindingId::LabelMismatch,
            path,
            format!(
                "the launchd plist's Label is {}; expected {label:?}, the helper's file name",
                found.map_or("missing".to_string(), |v| format!("{v:?}"))
            ),
            format!("set Label to {label:?} in the embedded launchd plist"),
        )),
        Err(e) => findings.push(Finding::new(
            FindingId::LabelMismatch,
            path,
            e.to_string(),
            "Label must be a string equal to the helper's file name",
        )),
    }
    let dict = launchd.dictionary();
    let judgements = launchd_policy::judge(dict, label);
    // launchd matches keys in any case, so the policy finds every spelling of these.
    let ignored: Vec<&str> = judgements
        .iter()
        .filter(|j| matches!(j.rule, KeyRule::Program | KeyRule::ProgramArguments))
        .map(|j| j.key.as_str())
        .collect();
    if !ignored.is_empty() {
        findings.push(Finding::new(
            FindingId::ProgramKeyIgnored,
            path,
            format!(
                "the launchd plist sets {}; SMJobBless ignores it and runs the installed copy \
                 (/Library/PrivilegedHelperTools/{label}) with no arguments",
                ignored.join(" and ")
            ),
            "remove Program/ProgramArguments from the embedded launchd plist",
        ));
    }
    let always_on: Vec<&str> = ["KeepAlive", "RunAtLoad"]
        .into_iter()
        .filter(|k| !matches!(dict.get(k), None | Some(plist::Value::Boolean(false))))
        .collect();
    if !always_on.is_empty() {
        findings.push(Finding::new(
            FindingId::NotOnDemand,
            path,
            format!(
                "the launchd plist sets {}; the helper runs as root all the time instead of on demand",
                always_on.join(" and ")
            ),
            "drop KeepAlive/RunAtLoad and let launchd start the helper when a client connects",
        ));
    }
    if !dict.contains_key("MachServices") && !dict.contains_key("Sockets") {
        findings.push(Finding::new(
            FindingId::Unreachable,
            path,
            "the launchd plist has neither MachServices nor Sockets; no client can reach the helper",
            "declare a MachServices entry (XPC) or a Sockets entry in the embedded launchd plist",
        ));
    }
    for judgement in judgements {
        if let Some(id) = policy_finding(judgement.rule) {
            findings.push(Finding::new(id, path, judgement.message, judgement.hint));
        }
    }
}

/// The finding a rule of the launchd key policy is reported as: refusals are errors (the
/// installer would refuse the helper), warnings warnings. `None` for the rules reported above
/// in their own words (`Label`, `Program`/`ProgramArguments`) and for
/// `AssociatedBundleIdentifiers`, which smbless sets and nothing is wrong with.
pub(super) fn policy_finding(rule: KeyRule) -> Option<FindingId> {
    Some(match rule {
        KeyRule::Program
        | KeyRule::ProgramArguments
        | KeyRule::AssociatedBundleIdentifiers
        | KeyRule::LabelMismatch => return None,
        KeyRule::BundleProgram => FindingId::LaunchdBundleProgram,
        KeyRule::LoaderEnvironment => FindingId::LaunchdLoaderEnvironment,
        KeyRule::RootDirectory => FindingId::LaunchdRootDirectory,
        KeyRule::WorkingDirectory => FindingId::LaunchdWorkingDirectory,
        KeyRule::EnableGlobbing => FindingId::LaunchdEnableGlobbing,
        KeyRule::UserName => FindingId::LaunchdUserName,
        KeyRule::GroupName => FindingId::LaunchdGroupName,
        KeyRule::StandardIoPath => FindingId::LaunchdStandardIoPath,
        KeyRule::LaunchOnPath => FindingId::LaunchdLaunchOnPath,
        KeyRule::MachServiceName => FindingId::LaunchdMachServiceName,
        KeyRule::SocketPath => FindingId::LaunchdSocketPath,
        KeyRule::NetworkSocket => FindingId::LaunchdNetworkSocket,
        KeyRule::Umask => FindingId::LaunchdUmask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plists::PlistSource;

    fn plist(body: &str) -> Plist<'static> {
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>{body}</dict></plist>"#
        );
        Plist::parse(xml.into_bytes(), PlistSource("test".into())).unwrap()
    }

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.id.as_str()).collect()
    }

    const GOOD_INFO: &str = "<key>CFBundleIdentifier</key><string>com.x.helper</string>\
        <key>CFBundleInfoDictionaryVersion</key><string>6.0</string>\
        <key>CFBundleVersion</key><string>1.2</string>\
        <key>SMAuthorizedClients</key><array><string>identifier app</string></array>";

    #[test]
    fn a_good_info_plist_has_no_findings() {
        let mut findings = Vec::new();
        let info = check_info_plist("com.x.helper", "h", Some(&plist(GOOD_INFO)), &mut findings);
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(info.version.unwrap().as_str(), "1.2");
        assert_eq!(info.authorized_clients, ["identifier app"]);
    }

    #[test]
    fn each_info_plist_rule() {
        let mut findings = Vec::new();
        let bad = "<key>CFBundleIdentifier</key><string>other</string>\
            <key>CFBundleInfoDictionaryVersion</key><string>5.0</string>\
            <key>CFBundleVersion</key><string>1.x</string>";
        check_info_plist("com.x.helper", "h", Some(&plist(bad)), &mut findings);
        assert_eq!(
            ids(&findings),
            [
                "info-dictionary-version",
                "bundle-identifier-mismatch",
                "bundle-version-invalid",
                "authorized-clients-missing"
            ]
        );
        let mut findings = Vec::new();
        check_info_plist("com.x.helper", "h", None, &mut findings);
        assert_eq!(ids(&findings), ["info-plist-missing"]);
        let mut findings = Vec::new();
        let typed = "<key>CFBundleIdentifier</key><string>com.x.helper</string>\
            <key>CFBundleInfoDictionaryVersion</key><string>6.0</string>\
            <key>CFBundleVersion</key><integer>3</integer>\
            <key>SMAuthorizedClients</key><string>identifier app</string>";
        check_info_plist("com.x.helper", "h", Some(&plist(typed)), &mut findings);
        assert_eq!(
            ids(&findings),
            ["bundle-version-invalid", "authorized-clients-missing"]
        );
        assert!(findings[0]
            .message
            .contains("is an integer; expected a string"));
    }

    #[test]
    fn each_launchd_rule() {
        let mut findings = Vec::new();
        let good = "<key>Label</key><string>com.x.helper</string>\
            <key>MachServices</key><dict><key>com.x.helper</key><true/></dict>";
        check_launchd_plist("com.x.helper", "h", Some(&plist(good)), &mut findings);
        assert!(findings.is_empty(), "{findings:?}");

        let bad = "<key>Label</key><string>com.x.other</string>\
            <key>ProgramArguments</key><array><string>/bin/sh</string></array>\
            <key>KeepAlive</key><true/><key>RunAtLoad</key><false/>";
        check_launchd_plist("com.x.helper", "h", Some(&plist(bad)), &mut findings);
        assert_eq!(
            ids(&findings),
            [
                "label-mismatch",
                "program-key-ignored",
                "not-on-demand",
                "unreachable"
            ]
        );
        assert!(findings[1].message.contains("sets ProgramArguments;"));
        assert!(findings[2].message.contains("KeepAlive"));
        assert!(!findings[2].message.contains("RunAtLoad"));

        let mut findings = Vec::new();
        check_launchd_plist("com.x.helper", "h", None, &mut findings);
        assert_eq!(ids(&findings), ["launchd-plist-missing"]);
    }

    #[test]
    fn launchd_policy_refusals_are_errors_and_warnings_warnings() {
        use crate::contract::Severity;
        use crate::launchd_policy::KeyClass;
        let mut reported = std::collections::HashSet::new();
        for &rule in KeyRule::ALL {
            let Some(id) = policy_finding(rule) else {
                continue;
            };
            assert!(reported.insert(id), "{id} reports two rules");
            let expected = match rule.class() {
                KeyClass::Refuse => Severity::Error,
                KeyClass::Warn => Severity::Warning,
                KeyClass::SetBySmbless => panic!("{rule} is set by smbless, not a finding"),
            };
            assert_eq!(id.severity(), expected, "{rule}");
            assert_eq!(id.as_str(), format!("launchd-{rule}"));
        }
        // Every refusal and every warning of the policy has its finding.
        let judged = KeyRule::ALL
            .iter()
            .filter(|r| r.class() != KeyClass::SetBySmbless && **r != KeyRule::LabelMismatch)
            .count();
        assert_eq!(reported.len(), judged);
    }

    #[test]
    fn program_keys_in_any_case_are_reported() {
        let mut findings = Vec::new();
        let body = "<key>Label</key><string>com.x.helper</string>\
            <key>MachServices</key><dict><key>com.x.helper</key><true/></dict>\
            <key>program</key><string>/tmp/x</string>";
        check_launchd_plist("com.x.helper", "h", Some(&plist(body)), &mut findings);
        assert_eq!(ids(&findings), ["program-key-ignored"]);
        assert!(findings[0].message.contains("sets program;"));
    }

    #[test]
    fn launchd_policy_judgements_become_findings() {
        let mut findings = Vec::new();
        let risky = "<key>Label</key><string>com.x.helper</string>\
            <key>MachServices</key><dict><key>com.x.helper</key><true/></dict>\
            <key>RootDirectory</key><string>/tmp</string>\
            <key>UserName</key><string>nobody</string>\
            <key>AssociatedBundleIdentifiers</key><string>com.x.app</string>";
        check_launchd_plist("com.x.helper", "h", Some(&plist(risky)), &mut findings);
        assert_eq!(
            ids(&findings),
            ["launchd-root-directory", "launchd-user-name"]
        );
        assert_eq!(findings[0].severity, crate::contract::Severity::Error);
        assert!(findings[0].message.contains("RootDirectory is \"/tmp\""));
        assert_eq!(findings[1].path, "h");
    }
}
