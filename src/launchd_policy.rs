//! What smbless does with each key of a helper's embedded launchd plist before it becomes a root
//! daemon: set it itself, refuse to install, or warn.
//!
//! SMJobBless copies the embedded `__TEXT,__launchd_plist` into
//! `/Library/LaunchDaemons/LABEL.plist`, setting only `ProgramArguments`; every other key reaches
//! launchd as the developer wrote it, and launchd acts on it as root. This module is the one
//! policy over those keys, shared by the installer ([`render_daemon_plist`]) and `verify`
//! ([`judge`], reported as findings), so a helper the installer would refuse also fails `verify`.
//! It is pure: a [`plist::Dictionary`] in, judgements out, no file system and no platform code.
//!
//! The classes ([`KeyClass`]):
//! - **set by smbless**: `Program` (removed), `ProgramArguments` (the installed path alone, as
//!   SMJobBless does), `AssociatedBundleIdentifiers` (the installing app's identifier);
//! - **refuse**: keys that change what runs or how it is found — `Label` other than the
//!   helper's, `BundleProgram`, `EnvironmentVariables` naming a `DYLD_`/`LD_` variable,
//!   `RootDirectory`, `WorkingDirectory` outside [`ROOT_OWNED_DIRS`], `EnableGlobbing`;
//! - **warn**: keys that work but hand part of a root process to other users — `UserName`
//!   other than root, `GroupName` other than wheel, standard I/O paths and socket paths outside
//!   [`ROOT_OWNED_DIRS`], socket and Mach service names not derived from the label, network
//!   sockets, launch-on-path triggers, a `Umask` that lets group or others write.
//!
//! Keys are matched as launchd matches them, ASCII case-insensitively (`strcasecmp` in its
//! open-source releases): `rootdirectory` is `RootDirectory`, and every spelling present is
//! judged (and, for the keys smbless sets, removed).
//!
//! Paths are judged lexically (the installer cannot see the target system's file system when it
//! stages a volume): a path is acceptable only when absolute, normalised and inside a directory
//! that only root can change on a stock macOS.

use std::fmt;
use std::path::Path;

use plist::{Dictionary, Value};

use crate::plists::type_name;

/// What smbless does with a key of the embedded launchd plist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyClass {
    /// smbless writes this key itself; the developer's value is dropped.
    SetBySmbless,
    /// The installer refuses the helper (and `verify` reports an error).
    Refuse,
    /// The helper installs, and `verify` warns.
    Warn,
}

impl fmt::Display for KeyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyClass::SetBySmbless => "set",
            KeyClass::Refuse => "refuse",
            KeyClass::Warn => "warn",
        })
    }
}

macro_rules! key_rules {
    ($(#[doc = $doc:literal] $variant:ident = $id:literal, $class:ident;)*) => {
        /// The stable identifier of a rule of the launchd key policy (kebab-case).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KeyRule {
            $(#[doc = $doc] $variant,)*
        }

        impl KeyRule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [KeyRule] = &[$(KeyRule::$variant,)*];

            /// The kebab-case id.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(KeyRule::$variant => $id,)*
                }
            }

            /// One sentence saying what the rule is about.
            pub fn description(self) -> &'static str {
                match self {
                    $(KeyRule::$variant => $doc.trim_start(),)*
                }
            }

            /// What smbless does when the rule applies.
            pub fn class(self) -> KeyClass {
                match self {
                    $(KeyRule::$variant => KeyClass::$class,)*
                }
            }
        }
    };
}

key_rules! {
    /// `Program` is removed: launchd runs `ProgramArguments[0]`, the installed helper.
    Program = "program", SetBySmbless;
    /// `ProgramArguments` is replaced by the installed helper's path alone, as SMJobBless does.
    ProgramArguments = "program-arguments", SetBySmbless;
    /// `AssociatedBundleIdentifiers` is replaced by the installing app's bundle identifier.
    AssociatedBundleIdentifiers = "associated-bundle-identifiers", SetBySmbless;
    /// `Label` is missing, not a string, or not the helper's label: the job would be another one.
    LabelMismatch = "label-mismatch", Refuse;
    /// `BundleProgram` names an executable inside an app bundle, which other users may replace.
    BundleProgram = "bundle-program", Refuse;
    /// `EnvironmentVariables` sets a `DYLD_`/`LD_` variable: code injected into the root helper.
    LoaderEnvironment = "loader-environment", Refuse;
    /// `RootDirectory` makes launchd chroot first, so another file runs as the helper.
    RootDirectory = "root-directory", Refuse;
    /// `WorkingDirectory` is not a normalised absolute path inside a root-owned directory.
    WorkingDirectory = "working-directory", Refuse;
    /// `EnableGlobbing` makes launchd glob(3)-expand the program arguments smbless sets.
    EnableGlobbing = "enable-globbing", Refuse;
    /// `UserName` is not root: that user controls the running helper.
    UserName = "user-name", Warn;
    /// `GroupName` is not wheel: that group shares the helper's files and credentials.
    GroupName = "group-name", Warn;
    /// `StandardOutPath`/`StandardErrorPath`/`StandardInPath` outside a root-owned directory.
    StandardIoPath = "standard-io-path", Warn;
    /// `WatchPaths`/`QueueDirectories`: file-system events start the root helper.
    LaunchOnPath = "launch-on-path", Warn;
    /// A `MachServices` name is neither the label nor `LABEL.something`.
    MachServiceName = "mach-service-name", Warn;
    /// A socket's `SockPathName` is outside a root-owned directory or not named after the label.
    SocketPath = "socket-path", Warn;
    /// A socket listens on a network port: no kernel-attested identity for its peers.
    NetworkSocket = "network-socket", Warn;
    /// `Umask` lets group or others write the files the root helper creates.
    Umask = "umask", Warn;
}

impl fmt::Display for KeyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One judgement of the policy over one key (or one entry of a key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyJudgement {
    /// Which rule applies.
    pub rule: KeyRule,
    /// The key path, `/`-separated into dictionaries with `[N]` for array entries, e.g.
    /// `EnvironmentVariables/DYLD_INSERT_LIBRARIES` or `Sockets/Listeners/SockPathName`.
    pub key: String,
    /// What is wrong or what smbless does, naming the key and the value (shortened when long).
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl KeyJudgement {
    fn new(rule: KeyRule, key: impl Into<String>, message: String, hint: &str) -> KeyJudgement {
        KeyJudgement {
            rule,
            key: key.into(),
            message,
            hint: hint.to_string(),
        }
    }

    /// What smbless does about it: the rule's class.
    pub fn class(&self) -> KeyClass {
        self.rule.class()
    }
}

/// Directories that only root can change on a stock macOS: the sealed system volume, and
/// data-volume directories owned by root and writable by no user account (`root:wheel`;
/// `/var/run` is `root:daemon 0775`, and the daemon group holds only system accounts). A path is
/// inside one when it equals it or lies below it. `/` itself counts as a directory but not as a
/// prefix.
pub const ROOT_OWNED_DIRS: &[&str] = &[
    "/Library/PrivilegedHelperTools",
    "/System",
    "/usr",
    "/bin",
    "/sbin",
    "/private/var/root",
    "/var/root",
    "/private/var/log",
    "/var/log",
    "/private/var/run",
    "/var/run",
];

/// Exceptions inside [`ROOT_OWNED_DIRS`]: `/usr/local` (Homebrew hands it to a user) and
/// `/System/Volumes` (the data volume's firmlinks, `/System/Volumes/Data/private/tmp` among them).
pub const NOT_ROOT_OWNED_DIRS: &[&str] = &["/usr/local", "/System/Volumes"];

/// Judge every key of `embedded` (a helper's embedded launchd plist) that the policy names,
/// for the helper whose label is `label`. The order is the order of the rules, then of the
/// entries in the plist. Keys the policy does not name are not judged.
pub fn judge(embedded: &Dictionary, label: &str) -> Vec<KeyJudgement> {
    let mut out = Vec::new();
    set_by_smbless(embedded, &mut out);
    refusals(embedded, label, &mut out);
    warnings(embedded, label, &mut out);
    out
}

/// The daemon plist to install for the helper `label`: `embedded` with `Program` removed,
/// `ProgramArguments = [installed_path]` and `AssociatedBundleIdentifiers = [app_id]` (every
/// spelling of those three keys replaced, since launchd matches keys in any case), every other
/// key as the developer wrote it.
///
/// `installed_path` is the path launchd will run, as seen by the target system (for a staged
/// volume, `/Library/PrivilegedHelperTools/LABEL`, not the staging path).
///
/// # Errors
/// Every [`KeyClass::Refuse`] judgement of [`judge`], when there is any; or one
/// [`KeyRule::ProgramArguments`] judgement when `installed_path` is not UTF-8 (a plist string
/// could not name it).
pub fn render_daemon_plist(
    embedded: &Dictionary,
    label: &str,
    installed_path: &Path,
    app_id: &str,
) -> Result<Dictionary, Vec<KeyJudgement>> {
    let refused: Vec<KeyJudgement> = judge(embedded, label)
        .into_iter()
        .filter(|j| j.class() == KeyClass::Refuse)
        .collect();
    if !refused.is_empty() {
        return Err(refused);
    }
    let Some(program) = installed_path.to_str() else {
        return Err(vec![KeyJudgement::new(
            KeyRule::ProgramArguments,
            "ProgramArguments",
            format!(
                "the installed path {} is not UTF-8; ProgramArguments cannot name it",
                installed_path.display()
            ),
            "install under a UTF-8 path",
        )]);
    };
    let mut dict = embedded.clone();
    // launchd matches keys in any case: drop every spelling of the keys smbless sets.
    dict.retain(|key, _| !SET_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k)));
    dict.insert(
        "ProgramArguments".into(),
        Value::Array(vec![Value::String(program.to_owned())]),
    );
    dict.insert(
        "AssociatedBundleIdentifiers".into(),
        Value::Array(vec![Value::String(app_id.to_owned())]),
    );
    Ok(dict)
}

// --- set by smbless ------------------------------------------------------------------------------

/// The keys smbless sets, as launchd spells them.
const SET_KEYS: &[&str] = &["Program", "ProgramArguments", "AssociatedBundleIdentifiers"];

/// Every entry of `dict` whose key is `key` in any ASCII case, as launchd matches keys.
/// The program launchd runs for a job plist: `Program` when present (then
/// `ProgramArguments` is only its argv), else `ProgramArguments[0]`; keys matched in any case,
/// as launchd matches them. `BundleProgram` (relative to an app, SMAppService) is not resolved
/// here. Shared by the installer (foreign-job detection, `status`) and `audit`.
pub fn launched_program(dict: &Dictionary) -> Option<&str> {
    fn first<'a>(dict: &'a Dictionary, key: &'static str) -> Option<&'a Value> {
        entries(dict, key).next().map(|(_, v)| v)
    }
    if let Some(p) = first(dict, "Program").and_then(Value::as_string) {
        return Some(p);
    }
    first(dict, "ProgramArguments")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_string)
}

fn entries<'a>(dict: &'a Dictionary, key: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
    dict.iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(k, v)| (k.as_str(), v))
}

fn set_by_smbless(dict: &Dictionary, out: &mut Vec<KeyJudgement>) {
    for (key, value) in entries(dict, "Program") {
        out.push(KeyJudgement::new(
            KeyRule::Program,
            key,
            format!(
                "{key} is {}; smbless removes it and launchd runs the installed helper",
                show(value)
            ),
            "remove Program from the embedded launchd plist; SMJobBless ignores it too",
        ));
    }
    for (key, value) in entries(dict, "ProgramArguments") {
        out.push(KeyJudgement::new(
            KeyRule::ProgramArguments,
            key,
            format!(
                "{key} is {}; smbless replaces it with the installed helper's path \
                 alone, as SMJobBless does",
                show(value)
            ),
            "remove ProgramArguments; the helper is started with no arguments",
        ));
    }
    for (key, value) in entries(dict, "AssociatedBundleIdentifiers") {
        out.push(KeyJudgement::new(
            KeyRule::AssociatedBundleIdentifiers,
            key,
            format!(
                "{key} is {}; smbless replaces it with the installing \
                 app's bundle identifier",
                show(value)
            ),
            "remove AssociatedBundleIdentifiers from the embedded launchd plist",
        ));
    }
}

// --- refusals ------------------------------------------------------------------------------------

fn refusals(dict: &Dictionary, label: &str, out: &mut Vec<KeyJudgement>) {
    let label_hint = "set Label to the helper's file name";
    if entries(dict, "Label").next().is_none() {
        out.push(KeyJudgement::new(
            KeyRule::LabelMismatch,
            "Label",
            format!("Label is missing; expected {label:?}"),
            label_hint,
        ));
    }
    for (key, value) in entries(dict, "Label") {
        if !matches!(value, Value::String(found) if found == label) {
            out.push(KeyJudgement::new(
                KeyRule::LabelMismatch,
                key,
                format!(
                    "{key} is {}; expected {label:?}: the daemon plist would define another job",
                    show(value)
                ),
                label_hint,
            ));
        }
    }
    for (key, value) in entries(dict, "BundleProgram") {
        out.push(KeyJudgement::new(
            KeyRule::BundleProgram,
            key,
            format!(
                "{key} is {}; launchd would run that file inside the app bundle, which \
                 its owner can replace, as root",
                show(value)
            ),
            "remove BundleProgram (an SMAppService key); an SMJobBless helper runs from \
             /Library/PrivilegedHelperTools",
        ));
    }
    loader_environment(dict, out);
    for (key, value) in entries(dict, "RootDirectory") {
        out.push(KeyJudgement::new(
            KeyRule::RootDirectory,
            key,
            format!(
                "{key} is {}; launchd would chroot there and run whatever file that \
                 tree holds at the helper's path",
                show(value)
            ),
            "remove RootDirectory; a helper that wants a sandbox can chroot itself after start",
        ));
    }
    for (key, value) in entries(dict, "WorkingDirectory") {
        let problem = match value {
            Value::String(dir) => dir_problem(dir),
            other => Some(format!("is {}; expected a string", type_name(other))),
        };
        if let Some(problem) = problem {
            out.push(KeyJudgement::new(
                KeyRule::WorkingDirectory,
                key,
                format!("{key} {} {problem}", show(value)),
                "remove WorkingDirectory (launchd starts daemons in /), or name a root-owned \
                 directory such as /Library/PrivilegedHelperTools",
            ));
        }
    }
    for (key, value) in entries(dict, "EnableGlobbing") {
        if !matches!(value, Value::Boolean(false)) {
            out.push(KeyJudgement::new(
                KeyRule::EnableGlobbing,
                key,
                format!(
                    "{key} is {}; launchd would glob(3)-expand the program arguments, \
                     so the path that runs is no longer the installed helper's alone",
                    show(value)
                ),
                "remove EnableGlobbing",
            ));
        }
    }
}

/// Prefixes of the variables the dynamic loaders read (dyld's `DYLD_*`; `LD_*` for ELF loaders
/// and a future systemd backend), compared ASCII case-insensitively.
const LOADER_PREFIXES: &[&str] = &["DYLD_", "LD_"];

fn loader_environment(dict: &Dictionary, out: &mut Vec<KeyJudgement>) {
    let hint = "remove loader variables from EnvironmentVariables; link the helper against what \
                it needs instead";
    for (key, value) in entries(dict, "EnvironmentVariables") {
        let Value::Dictionary(vars) = value else {
            out.push(KeyJudgement::new(
                KeyRule::LoaderEnvironment,
                key,
                format!(
                    "{key} is {}; expected a dictionary of strings, so smbless cannot tell which \
                     variables launchd would set",
                    type_name(value)
                ),
                hint,
            ));
            continue;
        };
        for (name, value) in vars {
            let upper = name.to_ascii_uppercase();
            if LOADER_PREFIXES.iter().any(|p| upper.starts_with(p)) {
                out.push(KeyJudgement::new(
                    KeyRule::LoaderEnvironment,
                    format!("{key}/{name}"),
                    format!(
                        "{key} sets {} to {}; the loader would read it and could load other \
                         code into the root helper",
                        shorten(name),
                        show(value)
                    ),
                    hint,
                ));
            }
        }
    }
}

// --- warnings ------------------------------------------------------------------------------------

fn warnings(dict: &Dictionary, label: &str, out: &mut Vec<KeyJudgement>) {
    identity(dict, out);
    standard_io(dict, out);
    launch_on_path(dict, out);
    mach_services(dict, label, out);
    sockets(dict, label, out);
    umask(dict, out);
}

fn identity(dict: &Dictionary, out: &mut Vec<KeyJudgement>) {
    let keys = [
        (
            "UserName",
            KeyRule::UserName,
            "root",
            "the helper runs as that user instead of root, and whoever is that user can debug or \
             signal it and read its memory",
        ),
        (
            "GroupName",
            KeyRule::GroupName,
            "wheel",
            "the helper runs with that group instead of wheel, and the group's members can read \
             (with a loose umask, write) what it creates",
        ),
    ];
    for (name, rule, expected, effect) in keys {
        for (key, value) in entries(dict, name) {
            if matches!(value, Value::String(v) if v == expected) {
                continue;
            }
            out.push(KeyJudgement::new(
                rule,
                key,
                format!("{key} is {}; {effect}", show(value)),
                &format!(
                    "remove {name} (a daemon runs as {expected}), or drop privileges inside the \
                     helper once it has done its root work"
                ),
            ));
        }
    }
}

fn standard_io(dict: &Dictionary, out: &mut Vec<KeyJudgement>) {
    for name in ["StandardInPath", "StandardOutPath", "StandardErrorPath"] {
        for (key, value) in entries(dict, name) {
            let problem = match value {
                Value::String(path) => file_problem(path),
                other => Some(format!("is {}; expected a string", type_name(other))),
            };
            let Some(problem) = problem else { continue };
            out.push(KeyJudgement::new(
                KeyRule::StandardIoPath,
                key,
                format!(
                    "{key} {} {problem}; launchd opens it as root before the helper starts, \
                     following symbolic links another user may plant",
                    show(value)
                ),
                "log with os_log instead, or put the file in /var/log or \
                 /Library/PrivilegedHelperTools",
            ));
        }
    }
}

fn launch_on_path(dict: &Dictionary, out: &mut Vec<KeyJudgement>) {
    for name in ["WatchPaths", "QueueDirectories"] {
        for (key, value) in entries(dict, name) {
            out.push(KeyJudgement::new(
                KeyRule::LaunchOnPath,
                key,
                format!(
                    "{key} is {}; launchd starts the root helper when those paths change, so \
                     whoever can write there decides when it runs and what it finds",
                    show(value)
                ),
                "let clients start the helper through MachServices or Sockets, and check each \
                 client's identity",
            ));
        }
    }
}

fn mach_services(dict: &Dictionary, label: &str, out: &mut Vec<KeyJudgement>) {
    let hint = format!("name each Mach service {label:?} or \"{label}.something\"");
    for (key, value) in entries(dict, "MachServices") {
        let Value::Dictionary(services) = value else {
            out.push(KeyJudgement::new(
                KeyRule::MachServiceName,
                key,
                format!(
                    "{key} is {}; expected a dictionary of service names",
                    type_name(value)
                ),
                &hint,
            ));
            continue;
        };
        for name in services.keys().filter(|n| !derived_from(n, label)) {
            out.push(KeyJudgement::new(
                KeyRule::MachServiceName,
                format!("{key}/{name}"),
                format!(
                    "{key} registers {}, not derived from the label {label:?}; it may take \
                     another program's service name, and its clients with it",
                    shorten(name)
                ),
                &hint,
            ));
        }
    }
}

fn sockets(dict: &Dictionary, label: &str, out: &mut Vec<KeyJudgement>) {
    for (key, value) in entries(dict, "Sockets") {
        let Value::Dictionary(sockets) = value else {
            out.push(KeyJudgement::new(
                KeyRule::SocketPath,
                key,
                format!(
                    "{key} is {}; expected a dictionary of socket names",
                    type_name(value)
                ),
                "declare Sockets as a dictionary: name → socket dictionary (or array of them)",
            ));
            continue;
        };
        for (name, entry) in sockets {
            match entry {
                Value::Array(list) => {
                    for (i, socket) in list.iter().enumerate() {
                        socket_entry(&format!("{key}/{name}[{i}]"), socket, label, out);
                    }
                }
                socket => socket_entry(&format!("{key}/{name}"), socket, label, out),
            }
        }
    }
}

fn socket_entry(at: &str, socket: &Value, label: &str, out: &mut Vec<KeyJudgement>) {
    let path_hint = format!("use a Unix socket at /var/run/{label}.sock");
    let Value::Dictionary(socket) = socket else {
        out.push(KeyJudgement::new(
            KeyRule::SocketPath,
            at,
            format!("{at} is {}; expected a dictionary", type_name(socket)),
            &path_hint,
        ));
        return;
    };
    let mut paths = entries(socket, "SockPathName").peekable();
    if paths.peek().is_some() {
        for (name, path) in paths {
            let key = format!("{at}/{name}");
            let Some(problem) = socket_path_problem(path, label) else {
                continue;
            };
            out.push(KeyJudgement::new(
                KeyRule::SocketPath,
                &key,
                format!(
                    "{key} {} {problem}; launchd creates it as root, and a path another user \
                     controls or another program expects can be taken over",
                    show(path)
                ),
                &path_hint,
            ));
        }
        return;
    }
    let is_unix = entries(socket, "SockFamily")
        .any(|(_, f)| matches!(f, Value::String(f) if f.eq_ignore_ascii_case("Unix")));
    if !is_unix {
        let port = entries(socket, "SockServiceName")
            .next()
            .map_or_else(|| "any port".to_string(), |(_, v)| show(v));
        let node = entries(socket, "SockNodeName")
            .next()
            .map_or_else(|| "every interface".to_string(), |(_, v)| show(v));
        out.push(KeyJudgement::new(
            KeyRule::NetworkSocket,
            at,
            format!(
                "{at} listens on the network ({port} on {node}); peers of a network socket have \
                 no kernel-attested identity the helper could check"
            ),
            &path_hint,
        ));
    }
}

/// Why a `SockPathName` value is risky: `None` when it is a root-owned path named after the label.
fn socket_path_problem(path: &Value, label: &str) -> Option<String> {
    let Value::String(p) = path else {
        return Some(format!("is {}; expected a string", type_name(path)));
    };
    file_problem(p).or_else(|| {
        let file = p.rsplit('/').next().unwrap_or(p);
        (!derived_from(file, label)).then(|| format!("is not named after the label {label:?}"))
    })
}

fn umask(dict: &Dictionary, out: &mut Vec<KeyJudgement>) {
    for (key, value) in entries(dict, "Umask") {
        let mask = match value {
            Value::Integer(i) => i.as_unsigned(),
            Value::String(s) => parse_strtoul(s),
            _ => None,
        };
        let message = match mask {
            Some(mask) if mask & 0o022 == 0o022 => continue,
            Some(mask) => format!(
                "{key} is {} (0{:03o}); files the root helper creates are writable by {}",
                show(value),
                mask & 0o777,
                if mask & 0o002 == 0 {
                    "everyone"
                } else {
                    "its group"
                }
            ),
            None => format!(
                "{key} is {}; expected a number (an integer, or a string strtoul(3) reads)",
                show(value)
            ),
        };
        out.push(KeyJudgement::new(
            KeyRule::Umask,
            key,
            message,
            "remove Umask (launchd's default 022 is right), or use one that masks 022",
        ));
    }
}

/// What launchd's strtoul(3) with base 0 reads: `0x` hexadecimal, leading `0` octal, else
/// decimal (surrounding whitespace allowed, nothing else).
fn parse_strtoul(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(octal) = t.strip_prefix('0').filter(|rest| !rest.is_empty()) {
        u64::from_str_radix(octal, 8).ok()
    } else {
        t.parse().ok()
    }
}

// --- names and paths -----------------------------------------------------------------------------

/// `name` is the label, or the label followed by `.` and more.
fn derived_from(name: &str, label: &str) -> bool {
    name.strip_prefix(label)
        .is_some_and(|rest| rest.is_empty() || (rest.len() > 1 && rest.starts_with('.')))
}

/// Why `path` is not a normalised absolute path: `None` when it is. Normalised: starts with
/// `/`, no empty, `.` or `..` component, no trailing `/` (except `/` itself), no NUL.
fn not_normalised(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("is not an absolute path");
    }
    if path == "/" {
        return None;
    }
    let bad = path.contains('\0')
        || path[1..]
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    bad.then_some("is not a normalised path (empty, . or .. components)")
}

/// `dir` (normalised) is `/` or inside [`ROOT_OWNED_DIRS`] and not [`NOT_ROOT_OWNED_DIRS`].
fn root_owned(dir: &str) -> bool {
    let inside = |base: &&str| {
        dir.strip_prefix(*base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    dir == "/" || (ROOT_OWNED_DIRS.iter().any(inside) && !NOT_ROOT_OWNED_DIRS.iter().any(inside))
}

/// Why `dir` is not an acceptable directory: `None` when it is.
fn dir_problem(dir: &str) -> Option<String> {
    if let Some(problem) = not_normalised(dir) {
        return Some(problem.to_string());
    }
    (!root_owned(dir)).then(|| "is not inside a directory only root can change".to_string())
}

/// Why `path` is not an acceptable file path (its directory root-owned): `None` when it is.
fn file_problem(path: &str) -> Option<String> {
    if let Some(problem) = not_normalised(path) {
        return Some(problem.to_string());
    }
    if path == "/" {
        return Some("is a directory, not a file".to_string());
    }
    let parent = match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    };
    (!root_owned(parent)).then(|| format!("is in {parent}, a directory other users may change"))
}

// --- showing values ------------------------------------------------------------------------------

/// Longest string shown in a message, in characters.
const SHOWN_CHARS: usize = 120;

/// A string, quoted and cut to [`SHOWN_CHARS`].
fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{:?}…", &text[..end]),
        None => format!("{text:?}"),
    }
}

/// A value as a message shows it: scalars themselves, containers by size.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => shorten(s),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Array(a) => match a.as_slice() {
            [only] => format!("[{}]", show(only)),
            _ => format!("an array of {}", a.len()),
        },
        Value::Dictionary(d) => format!("a dictionary of {} keys", d.len()),
        other => type_name(other).to_string(),
    }
}

#[cfg(test)]
mod tests;
