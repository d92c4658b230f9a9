//! One test per rule of the launchd key policy: the rule fires on the risky value, stays quiet
//! on the safe one, and names the key and the value.

use super::*;

const LABEL: &str = "com.example.helper";

/// A launchd plist dictionary: `Label` = [`LABEL`] plus `body` (XML key/value pairs).
fn plist(body: &str) -> Dictionary {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>
        <key>Label</key><string>{LABEL}</string>{body}</dict></plist>"#
    );
    match plist::from_bytes::<Value>(xml.as_bytes()) {
        Ok(Value::Dictionary(d)) => d,
        other => panic!("test plist does not parse: {other:?}"),
    }
}

fn rules(judgements: &[KeyJudgement]) -> Vec<KeyRule> {
    judgements.iter().map(|j| j.rule).collect()
}

/// The judgements of `body` under `rule`.
fn of(rule: KeyRule, body: &str) -> Vec<KeyJudgement> {
    judge(&plist(body), LABEL)
        .into_iter()
        .filter(|j| j.rule == rule)
        .collect()
}

/// `body` gets exactly one judgement, under `rule`, about `key`; its message contains `shown`.
fn one(rule: KeyRule, body: &str, key: &str, shown: &str) -> KeyJudgement {
    let all = judge(&plist(body), LABEL);
    assert_eq!(rules(&all), [rule], "{body}: {all:#?}");
    let j = all.into_iter().next().unwrap();
    assert_eq!(j.key, key);
    assert!(
        j.message.contains(shown),
        "{shown:?} not in {:?}",
        j.message
    );
    assert!(!j.hint.is_empty());
    j
}

#[test]
fn ids_are_unique_kebab_case_and_classes_as_documented() {
    let mut seen = std::collections::HashSet::new();
    for rule in KeyRule::ALL {
        let s = rule.as_str();
        assert!(seen.insert(s), "duplicate id {s}");
        assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{s}");
        assert!(!rule.description().is_empty());
    }
    assert_eq!(KeyRule::Program.class(), KeyClass::SetBySmbless);
    assert_eq!(KeyRule::LoaderEnvironment.class(), KeyClass::Refuse);
    assert_eq!(KeyRule::Umask.class(), KeyClass::Warn);
    assert_eq!(KeyRule::BundleProgram.to_string(), "bundle-program");
}

#[test]
fn a_plain_on_demand_helper_has_no_judgements() {
    let good = plist(
        "<key>MachServices</key><dict><key>com.example.helper</key><true/>\
         <key>com.example.helper.xpc</key><dict/></dict>\
         <key>Sockets</key><dict><key>Listeners</key><dict>\
         <key>SockPathName</key><string>/var/run/com.example.helper.sock</string>\
         <key>SockPathMode</key><integer>438</integer></dict></dict>\
         <key>UserName</key><string>root</string><key>GroupName</key><string>wheel</string>\
         <key>WorkingDirectory</key><string>/Library/PrivilegedHelperTools</string>\
         <key>StandardErrorPath</key><string>/var/log/com.example.helper.log</string>\
         <key>EnvironmentVariables</key><dict><key>PATH</key><string>/usr/bin</string></dict>\
         <key>EnableGlobbing</key><false/><key>Umask</key><integer>18</integer>",
    );
    assert_eq!(judge(&good, LABEL), []);
}

#[test]
fn program_keys_are_set_by_smbless() {
    let all = judge(
        &plist(
            "<key>Program</key><string>/usr/local/bin/evil</string>\
             <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string></array>\
             <key>AssociatedBundleIdentifiers</key><string>com.other</string>",
        ),
        LABEL,
    );
    assert_eq!(
        rules(&all),
        [
            KeyRule::Program,
            KeyRule::ProgramArguments,
            KeyRule::AssociatedBundleIdentifiers
        ]
    );
    assert!(all.iter().all(|j| j.class() == KeyClass::SetBySmbless));
    assert!(all[0].message.contains("\"/usr/local/bin/evil\""));
    assert!(all[1].message.contains("an array of 2"));
    assert!(all[2].message.contains("\"com.other\""));
}

#[test]
fn a_label_other_than_the_helpers_is_refused() {
    let mut dict = plist("");
    assert_eq!(judge(&dict, LABEL), []);
    dict.insert("Label".into(), "com.apple.sshd".into());
    let all = judge(&dict, LABEL);
    assert_eq!(rules(&all), [KeyRule::LabelMismatch]);
    assert!(all[0].message.contains("\"com.apple.sshd\""));
    dict.remove("Label");
    assert!(judge(&dict, LABEL)[0].message.contains("missing"));
    dict.insert("Label".into(), 3.into());
    assert_eq!(rules(&judge(&dict, LABEL)), [KeyRule::LabelMismatch]);
}

#[test]
fn bundle_program_is_refused() {
    let j = one(
        KeyRule::BundleProgram,
        "<key>BundleProgram</key><string>Contents/MacOS/helper</string>",
        "BundleProgram",
        "\"Contents/MacOS/helper\"",
    );
    assert_eq!(j.class(), KeyClass::Refuse);
}

#[test]
fn loader_variables_are_refused_other_variables_pass() {
    let j = one(
        KeyRule::LoaderEnvironment,
        "<key>EnvironmentVariables</key><dict><key>HOME</key><string>/var/root</string>\
         <key>DYLD_INSERT_LIBRARIES</key><string>/tmp/x.dylib</string></dict>",
        "EnvironmentVariables/DYLD_INSERT_LIBRARIES",
        "\"/tmp/x.dylib\"",
    );
    assert!(j.message.contains("\"DYLD_INSERT_LIBRARIES\""));
    let found = of(
        KeyRule::LoaderEnvironment,
        "<key>EnvironmentVariables</key><dict><key>LD_PRELOAD</key><string>x</string>\
         <key>dyld_library_path</key><string>y</string><key>OLD_PATH</key><string>z</string></dict>",
    );
    let keys: Vec<&str> = found.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "EnvironmentVariables/LD_PRELOAD",
            "EnvironmentVariables/dyld_library_path"
        ]
    );
    one(
        KeyRule::LoaderEnvironment,
        "<key>EnvironmentVariables</key><string>DYLD_INSERT_LIBRARIES=/tmp/x</string>",
        "EnvironmentVariables",
        "a string",
    );
}

#[test]
fn root_directory_is_refused() {
    one(
        KeyRule::RootDirectory,
        "<key>RootDirectory</key><string>/Users/Shared/jail</string>",
        "RootDirectory",
        "\"/Users/Shared/jail\"",
    );
}

#[test]
fn working_directory_must_be_root_owned_absolute_and_normalised() {
    for ok in [
        "/",
        "/Library/PrivilegedHelperTools",
        "/usr/libexec",
        "/private/var/root",
        "/System/Library",
    ] {
        let body = format!("<key>WorkingDirectory</key><string>{ok}</string>");
        assert_eq!(of(KeyRule::WorkingDirectory, &body), [], "{ok}");
    }
    for (bad, why) in [
        ("/tmp", "only root"),
        ("/Users/Shared", "only root"),
        ("/usr/local/var", "only root"),
        ("/usrlocal", "only root"),
        ("/System/Volumes/Data/private/tmp", "only root"),
        ("/Library", "only root"),
        ("tmp", "absolute"),
        ("/usr/../tmp", "normalised"),
        ("/usr/./lib", "normalised"),
        ("/usr//lib", "normalised"),
        ("/usr/", "normalised"),
    ] {
        let body = format!("<key>WorkingDirectory</key><string>{bad}</string>");
        let j = one(KeyRule::WorkingDirectory, &body, "WorkingDirectory", bad);
        assert!(j.message.contains(why), "{bad}: {}", j.message);
        assert_eq!(j.class(), KeyClass::Refuse);
    }
    one(
        KeyRule::WorkingDirectory,
        "<key>WorkingDirectory</key><integer>1</integer>",
        "WorkingDirectory",
        "expected a string",
    );
}

#[test]
fn enable_globbing_is_refused_unless_false() {
    one(
        KeyRule::EnableGlobbing,
        "<key>EnableGlobbing</key><true/>",
        "EnableGlobbing",
        "true",
    );
    assert_eq!(
        of(KeyRule::EnableGlobbing, "<key>EnableGlobbing</key><false/>"),
        []
    );
}

#[test]
fn users_and_groups_other_than_root_and_wheel_warn() {
    let j = one(
        KeyRule::UserName,
        "<key>UserName</key><string>alice</string>",
        "UserName",
        "\"alice\"",
    );
    assert_eq!(j.class(), KeyClass::Warn);
    one(
        KeyRule::GroupName,
        "<key>GroupName</key><string>staff</string>",
        "GroupName",
        "\"staff\"",
    );
    one(
        KeyRule::UserName,
        "<key>UserName</key><integer>0</integer>",
        "UserName",
        "0",
    );
}

#[test]
fn standard_io_paths_outside_root_owned_directories_warn() {
    for key in ["StandardInPath", "StandardOutPath", "StandardErrorPath"] {
        let body = format!("<key>{key}</key><string>/tmp/helper.log</string>");
        let j = one(KeyRule::StandardIoPath, &body, key, "\"/tmp/helper.log\"");
        assert!(j.message.contains("is in /tmp"), "{}", j.message);
    }
    for ok in [
        "/var/log/helper.log",
        "/helper.log",
        "/private/var/log/x/y.log",
    ] {
        let body = format!("<key>StandardOutPath</key><string>{ok}</string>");
        assert_eq!(of(KeyRule::StandardIoPath, &body), [], "{ok}");
    }
    for bad in ["/", "log.txt", "/var/log/../../tmp/x"] {
        let body = format!("<key>StandardOutPath</key><string>{bad}</string>");
        assert_eq!(of(KeyRule::StandardIoPath, &body).len(), 1, "{bad}");
    }
}

#[test]
fn launch_on_path_triggers_warn() {
    let all = judge(
        &plist(
            "<key>WatchPaths</key><array><string>/Users/Shared/trigger</string></array>\
             <key>QueueDirectories</key><array><string>/tmp/q</string><string>/tmp/r</string></array>",
        ),
        LABEL,
    );
    assert_eq!(rules(&all), [KeyRule::LaunchOnPath, KeyRule::LaunchOnPath]);
    assert_eq!(all[0].key, "WatchPaths");
    assert!(all[0].message.contains("[\"/Users/Shared/trigger\"]"));
    assert_eq!(all[1].key, "QueueDirectories");
    assert!(all[1].message.contains("an array of 2"));
}

#[test]
fn mach_service_names_must_derive_from_the_label() {
    let found = of(
        KeyRule::MachServiceName,
        "<key>MachServices</key><dict><key>com.example.helper</key><true/>\
         <key>com.example.helper.sub</key><true/><key>com.apple.securityd</key><true/>\
         <key>com.example.helperx</key><true/><key>com.example.helper.</key><true/></dict>",
    );
    let keys: Vec<&str> = found.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "MachServices/com.apple.securityd",
            "MachServices/com.example.helperx",
            "MachServices/com.example.helper."
        ]
    );
    assert!(found[0].message.contains("\"com.apple.securityd\""));
    one(
        KeyRule::MachServiceName,
        "<key>MachServices</key><array/>",
        "MachServices",
        "an array",
    );
}

#[test]
fn socket_paths_must_be_root_owned_and_named_after_the_label() {
    let sock = |path: &str| {
        format!(
            "<key>Sockets</key><dict><key>L</key><dict><key>SockPathName</key>\
             <string>{path}</string></dict></dict>"
        )
    };
    assert_eq!(
        of(
            KeyRule::SocketPath,
            &sock("/var/run/com.example.helper.sock")
        ),
        []
    );
    assert_eq!(
        of(KeyRule::SocketPath, &sock("/var/run/com.example.helper")),
        []
    );
    let j = one(
        KeyRule::SocketPath,
        &sock("/tmp/com.example.helper.sock"),
        "Sockets/L/SockPathName",
        "\"/tmp/com.example.helper.sock\"",
    );
    assert!(j.message.contains("is in /tmp"));
    let j = one(
        KeyRule::SocketPath,
        &sock("/var/run/mDNSResponder"),
        "Sockets/L/SockPathName",
        "not named after the label",
    );
    assert_eq!(j.class(), KeyClass::Warn);
    // An array of socket dictionaries under one name: each entry judged, indexed.
    let found = of(
        KeyRule::SocketPath,
        "<key>Sockets</key><dict><key>L</key><array>\
         <dict><key>SockPathName</key><string>/var/run/com.example.helper.sock</string></dict>\
         <dict><key>SockPathName</key><string>/tmp/x</string></dict></array></dict>",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key, "Sockets/L[1]/SockPathName");
    one(
        KeyRule::SocketPath,
        "<key>Sockets</key><string>x</string>",
        "Sockets",
        "a string",
    );
}

#[test]
fn network_sockets_warn() {
    let j = one(
        KeyRule::NetworkSocket,
        "<key>Sockets</key><dict><key>L</key><dict>\
         <key>SockServiceName</key><string>8080</string></dict></dict>",
        "Sockets/L",
        "\"8080\" on every interface",
    );
    assert_eq!(j.class(), KeyClass::Warn);
    one(
        KeyRule::NetworkSocket,
        "<key>Sockets</key><dict><key>L</key><dict><key>SockNodeName</key>\
         <string>localhost</string><key>SockServiceName</key><integer>99</integer></dict></dict>",
        "Sockets/L",
        "99 on \"localhost\"",
    );
    // A Unix socket without a path (SecureSocketWithKey) is not a network socket.
    let unix = "<key>Sockets</key><dict><key>L</key><dict><key>SockFamily</key>\
                <string>Unix</string><key>SecureSocketWithKey</key><string>K</string></dict></dict>";
    assert_eq!(judge(&plist(unix), LABEL), []);
}

#[test]
fn a_umask_letting_group_or_others_write_warns() {
    let j = one(
        KeyRule::Umask,
        "<key>Umask</key><integer>0</integer>",
        "Umask",
        "0 (0000)",
    );
    assert!(j.message.contains("everyone"));
    let j = one(
        KeyRule::Umask,
        "<key>Umask</key><string>002</string>",
        "Umask",
        "(0002)",
    );
    assert!(j.message.contains("its group"), "{}", j.message);
    for ok in [
        "<integer>18</integer>",
        "<integer>63</integer>",
        "<string>022</string>",
        "<string>0x12</string>",
        "<string>18</string>",
    ] {
        let body = format!("<key>Umask</key>{ok}");
        assert_eq!(of(KeyRule::Umask, &body), [], "{ok}");
    }
    one(
        KeyRule::Umask,
        "<key>Umask</key><string>rw-</string>",
        "Umask",
        "expected a number",
    );
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = "a".repeat(10_000);
    let body = format!("<key>BundleProgram</key><string>{long}</string>");
    let j = one(KeyRule::BundleProgram, &body, "BundleProgram", "aaa\"…");
    assert!(j.message.len() < 400, "{}", j.message.len());
}

#[test]
fn render_sets_the_program_and_the_app_and_keeps_the_rest() {
    let embedded = plist(
        "<key>Program</key><string>/usr/local/bin/evil</string>\
         <key>ProgramArguments</key><array><string>/bin/sh</string></array>\
         <key>AssociatedBundleIdentifiers</key><array><string>com.other</string></array>\
         <key>MachServices</key><dict><key>com.example.helper</key><true/></dict>\
         <key>UserName</key><string>nobody</string>",
    );
    let installed = Path::new("/Library/PrivilegedHelperTools/com.example.helper");
    let dict = render_daemon_plist(&embedded, LABEL, installed, "com.example.app").unwrap();
    assert!(dict.get("Program").is_none());
    assert_eq!(
        dict.get("ProgramArguments"),
        Some(&Value::Array(vec![installed.to_str().unwrap().into()]))
    );
    assert_eq!(
        dict.get("AssociatedBundleIdentifiers"),
        Some(&Value::Array(vec!["com.example.app".into()]))
    );
    // Warnings do not stop rendering; those keys pass through unchanged.
    assert_eq!(dict.get("UserName"), embedded.get("UserName"));
    assert_eq!(dict.get("MachServices"), embedded.get("MachServices"));
    assert_eq!(dict.get("Label"), Some(&LABEL.into()));
    assert_eq!(dict.len(), 5);
}

#[test]
fn render_refuses_with_every_refusal() {
    let embedded = plist(
        "<key>BundleProgram</key><string>Contents/MacOS/x</string>\
         <key>RootDirectory</key><string>/tmp</string>\
         <key>UserName</key><string>nobody</string>",
    );
    let installed = Path::new("/Library/PrivilegedHelperTools/com.example.helper");
    let refused = render_daemon_plist(&embedded, LABEL, installed, "a").unwrap_err();
    assert_eq!(
        rules(&refused),
        [KeyRule::BundleProgram, KeyRule::RootDirectory]
    );
    let refused = render_daemon_plist(&plist(""), "com.other", installed, "a").unwrap_err();
    assert_eq!(rules(&refused), [KeyRule::LabelMismatch]);
}

#[cfg(unix)]
#[test]
fn render_refuses_a_path_plists_cannot_name() {
    use std::os::unix::ffi::OsStrExt;
    let installed = Path::new(std::ffi::OsStr::from_bytes(b"/Library/\xff"));
    let refused = render_daemon_plist(&plist(""), LABEL, installed, "a").unwrap_err();
    assert_eq!(rules(&refused), [KeyRule::ProgramArguments]);
}

#[test]
fn strtoul_base_zero() {
    assert_eq!(parse_strtoul("022"), Some(0o22));
    assert_eq!(parse_strtoul("0x1F"), Some(31));
    assert_eq!(parse_strtoul(" 18 "), Some(18));
    assert_eq!(parse_strtoul("0"), Some(0));
    assert_eq!(parse_strtoul("08"), None);
    assert_eq!(parse_strtoul(""), None);
}

#[test]
fn the_helper_templates_plist_passes_the_policy() {
    // The template's world-connectable socket in /var/run, named after the label, is the design
    // the policy recommends: no judgement at all.
    let bytes = include_bytes!("../../helper-template/launchd.plist");
    let Ok(Value::Dictionary(dict)) = plist::from_bytes::<Value>(bytes) else {
        panic!("helper-template/launchd.plist does not parse");
    };
    assert_eq!(judge(&dict, "com.example.smbless-helper"), []);
    assert_eq!(
        rules(&judge(&dict, "com.example.other")),
        [KeyRule::LabelMismatch, KeyRule::SocketPath]
    );
}

#[test]
fn keys_match_in_any_case_as_launchd_matches_them() {
    let all = judge(
        &plist(
            "<key>label</key><string>com.apple.sshd</string>\
             <key>rootdirectory</key><string>/tmp</string>\
             <key>ENVIRONMENTVARIABLES</key><dict><key>DYLD_INSERT_LIBRARIES</key><string>x</string></dict>\
             <key>username</key><string>nobody</string>\
             <key>sockets</key><dict><key>L</key><dict><key>sockpathname</key><string>/tmp/s</string></dict></dict>",
        ),
        LABEL,
    );
    assert_eq!(
        rules(&all),
        [
            KeyRule::LabelMismatch,
            KeyRule::LoaderEnvironment,
            KeyRule::RootDirectory,
            KeyRule::UserName,
            KeyRule::SocketPath
        ]
    );
    let keys: Vec<&str> = all.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "label",
            "ENVIRONMENTVARIABLES/DYLD_INSERT_LIBRARIES",
            "rootdirectory",
            "username",
            "sockets/L/sockpathname"
        ]
    );
    assert!(all[2].message.starts_with("rootdirectory is \"/tmp\""));
}

#[test]
fn render_drops_every_spelling_of_the_keys_it_sets() {
    let embedded = plist(
        "<key>PROGRAM</key><string>/tmp/evil</string>\
         <key>programarguments</key><array><string>/tmp/evil</string></array>\
         <key>associatedBundleIdentifiers</key><array><string>com.other</string></array>",
    );
    let installed = Path::new("/Library/PrivilegedHelperTools/com.example.helper");
    let dict = render_daemon_plist(&embedded, LABEL, installed, "com.example.app").unwrap();
    let keys: Vec<&str> = dict.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["Label", "ProgramArguments", "AssociatedBundleIdentifiers"]
    );
}

#[test]
fn launchd_runs_program_before_program_arguments_in_any_case() {
    let mut d = Dictionary::new();
    d.insert(
        "ProgramArguments".into(),
        Value::Array(vec!["/Library/PrivilegedHelperTools/x".into()]),
    );
    assert_eq!(
        launched_program(&d),
        Some("/Library/PrivilegedHelperTools/x")
    );
    // With Program, ProgramArguments is only its argv: the job runs Program.
    d.insert("program".into(), "/usr/local/bin/other".into());
    assert_eq!(launched_program(&d), Some("/usr/local/bin/other"));
    assert_eq!(launched_program(&Dictionary::new()), None);
}
