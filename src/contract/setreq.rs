//! `setreq`: write the two halves of the contract — the app's `SMPrivilegedExecutables` and
//! each helper's `SMAuthorizedClients` — either from the designated requirements of built,
//! signed products (what Apple's SMJobBlessUtil.py `setreq` does), or, before anything is
//! built, from the Developer ID requirement shape Xcode signs with, so there is no two-pass
//! build.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::bundle::{self, Bundle, BundleError};
use crate::codesign::{self, examine, ExamineOptions};
use crate::plists::{Plist, PlistError, PlistFormat};
use crate::requirement::{self, ParseError};
use crate::version::{BundleVersion, VersionError};

/// What `setreq` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractRequirements {
    /// The app's `SMPrivilegedExecutables`: (helper label, requirement the helper satisfies).
    pub privileged_executables: Vec<(String, String)>,
    /// Each helper's `SMAuthorizedClients`: requirements the installing app satisfies.
    pub authorized_clients: Vec<String>,
}

/// Why `setreq` could not do its job.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SetreqError {
    /// The app bundle is unreadable.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A plist is unreadable or not a dictionary.
    #[error(transparent)]
    Plist(#[from] PlistError),
    /// Code that should be signed could not be examined.
    #[error("{path}: {message}")]
    Signature {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Signed code has no designated requirement to copy (unsigned).
    #[error("{path}: no designated requirement (is it signed?); sign it first, or use --team-id/--app-id/--helper-id")]
    NoDesignatedRequirement {
        /// The file.
        path: PathBuf,
    },
    /// The app has no helpers to name.
    #[error("{path}: no helpers in Contents/Library/LaunchServices")]
    NoHelpers {
        /// The bundle.
        path: PathBuf,
    },
    /// A team, identifier or version given on the command line is not usable.
    #[error("{what} {value:?}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The requirement built from the arguments does not parse (a quoting problem).
    #[error("the requirement built for {what} does not parse: {source}")]
    Requirement {
        /// For which identifier.
        what: String,
        /// The parse error.
        source: ParseError,
    },
    /// A helper plist names a helper `setreq` does not know.
    #[error("{path}: CFBundleIdentifier is {found}; expected one of the helpers: {known}")]
    UnknownHelperPlist {
        /// The plist.
        path: PathBuf,
        /// Its identifier, or "missing".
        found: String,
        /// The labels known.
        known: String,
    },
    /// Reading or writing a plist failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The designated requirements of a built, signed app and its helpers.
pub fn from_products(
    app: &Path,
    signature: &codesign::VerifyOptions,
) -> Result<ContractRequirements, SetreqError> {
    let bundle = Bundle::open(app)?;
    let app_dr = designated(app, signature)?;
    let helpers = bundle.helpers().unwrap_or_default();
    if helpers.is_empty() {
        return Err(SetreqError::NoHelpers {
            path: app.to_path_buf(),
        });
    }
    let mut privileged = Vec::new();
    for helper in helpers {
        let label = helper
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        privileged.push((label, designated(helper, signature)?));
    }
    Ok(ContractRequirements {
        privileged_executables: privileged,
        authorized_clients: vec![app_dr],
    })
}

fn designated(path: &Path, signature: &codesign::VerifyOptions) -> Result<String, SetreqError> {
    let options = ExamineOptions {
        verify: signature.clone(),
        integrity: false,
        arch: None,
    };
    let exam = examine(path, &options).map_err(|e| SetreqError::Signature {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    exam.slices
        .first()
        .and_then(|first| codesign::designated_requirement_text(first, &exam.slices))
        .ok_or_else(|| SetreqError::NoDesignatedRequirement {
            path: path.to_path_buf(),
        })
}

/// The Developer ID designated requirement Xcode signs with, for `identifier` and `team`.
pub fn developer_id_requirement(identifier: &str, team: &str) -> Result<String, SetreqError> {
    check_word("--team-id", team, |c| c.is_ascii_alphanumeric())?;
    check_word("identifier", identifier, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
    })?;
    // Built as text and normalised through the parser and Apple's printer, so quoting follows
    // Apple's rules (a team ID starting with a digit is quoted).
    let text = format!(
        "anchor apple generic and identifier \"{identifier}\" and \
         (certificate leaf[field.1.2.840.113635.100.6.1.9] /* exists */ or \
         certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and \
         certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and \
         certificate leaf[subject.OU] = \"{team}\")"
    );
    normalise(identifier, &text)
}

fn normalise(what: &str, text: &str) -> Result<String, SetreqError> {
    requirement::parse_requirement(text)
        .map(|r| requirement::to_text(&r))
        .map_err(|source| SetreqError::Requirement {
            what: what.to_string(),
            source,
        })
}

fn check_word(
    what: &'static str,
    value: &str,
    ok: impl Fn(char) -> bool,
) -> Result<(), SetreqError> {
    if value.is_empty() || !value.chars().all(ok) {
        return Err(SetreqError::InvalidArgument {
            what,
            value: value.to_string(),
            reason: "expected letters, digits (and for identifiers `.`, `-`, `_`)".into(),
        });
    }
    Ok(())
}

/// The contract for a team's app and helpers before anything is built: Developer ID
/// requirements, the client one with `info[CFBundleVersion] >= MIN` when asked.
pub fn from_team(
    team: &str,
    app_id: &str,
    helper_ids: &[String],
    min_client_version: Option<&str>,
) -> Result<ContractRequirements, SetreqError> {
    let mut client = developer_id_requirement(app_id, team)?;
    if let Some(min) = min_client_version {
        BundleVersion::parse(min).map_err(|e: VersionError| SetreqError::InvalidArgument {
            what: "--min-client-version",
            value: min.to_string(),
            reason: e.to_string(),
        })?;
        client = normalise(
            app_id,
            &format!("{client} and info[CFBundleVersion] >= \"{min}\""),
        )?;
    }
    let privileged = helper_ids
        .iter()
        .map(|id| Ok((id.clone(), developer_id_requirement(id, team)?)))
        .collect::<Result<Vec<_>, SetreqError>>()?;
    Ok(ContractRequirements {
        privileged_executables: privileged,
        authorized_clients: vec![client],
    })
}

/// What happened to one plist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteOutcome {
    /// The plist.
    pub path: String,
    /// `updated` or `unchanged`.
    pub status: &'static str,
}

/// Write `reqs` into the app's Info.plist and the helpers' Info.plists (matched to helpers by
/// their `CFBundleIdentifier`). Each file keeps its format (XML or binary) and its other keys,
/// is replaced atomically, and is not touched at all when nothing differs.
pub fn write(
    reqs: &ContractRequirements,
    app_plist: &Path,
    helper_plists: &[PathBuf],
) -> Result<Vec<WriteOutcome>, SetreqError> {
    let mut outcomes = Vec::new();
    let privileged: plist::Dictionary = reqs
        .privileged_executables
        .iter()
        .map(|(label, req)| (label.clone(), plist::Value::String(req.clone())))
        .collect();
    outcomes.push(update(
        app_plist,
        "SMPrivilegedExecutables",
        plist::Value::Dictionary(privileged),
    )?);
    let clients = plist::Value::Array(
        reqs.authorized_clients
            .iter()
            .map(|r| plist::Value::String(r.clone()))
            .collect(),
    );
    let labels: Vec<&str> = reqs
        .privileged_executables
        .iter()
        .map(|(l, _)| l.as_str())
        .collect();
    for path in helper_plists {
        let plist = bundle::read_plist_file(path)?;
        let id = plist.string("CFBundleIdentifier")?;
        if !id.is_some_and(|id| labels.contains(&id)) {
            return Err(SetreqError::UnknownHelperPlist {
                path: path.clone(),
                found: id.map_or("missing".into(), |i| format!("{i:?}")),
                known: labels.join(", "),
            });
        }
        outcomes.push(update(path, "SMAuthorizedClients", clients.clone())?);
    }
    Ok(outcomes)
}

fn update(path: &Path, key: &str, value: plist::Value) -> Result<WriteOutcome, SetreqError> {
    let plist: Plist<'static> = bundle::read_plist_file(path)?;
    let shown = path.display().to_string();
    if plist.dictionary().get(key) == Some(&value) {
        return Ok(WriteOutcome {
            path: shown,
            status: "unchanged",
        });
    }
    let mut dict = plist.dictionary().clone();
    // Replacing in place keeps the key where it was; a new key goes last.
    dict.insert(key.to_string(), value);
    let mut bytes = Vec::new();
    let value = plist::Value::Dictionary(dict);
    let written = match plist.format() {
        PlistFormat::Binary => value.to_writer_binary(&mut bytes),
        PlistFormat::Xml => value.to_writer_xml(&mut bytes),
    };
    written.map_err(|e| SetreqError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    if plist.format() == PlistFormat::Xml {
        bytes.push(b'\n');
    }
    replace_file(path, &bytes).map_err(|source| SetreqError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(WriteOutcome {
        path: shown,
        status: "updated",
    })
}

/// Write `bytes` to a temporary file beside `path`, flush it to disk, and rename it over `path`,
/// so a crash leaves the old or the new plist, never half of one.
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.smbless-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn developer_id_shape_and_quoting() {
        let dr = developer_id_requirement("com.x.helper", "EXAMPLE123").unwrap();
        assert_eq!(
            dr,
            "anchor apple generic and identifier \"com.x.helper\" and (certificate leaf[field.1.2.840.113635.100.6.1.9] /* exists */ or certificate 1[field.1.2.840.113635.100.6.2.6] /* exists */ and certificate leaf[field.1.2.840.113635.100.6.1.13] /* exists */ and certificate leaf[subject.OU] = EXAMPLE123)"
        );
        // Apple's printer quotes a value that starts with a digit.
        let dr = developer_id_requirement("com.x", "97JCY7859U").unwrap();
        assert!(
            dr.ends_with("certificate leaf[subject.OU] = \"97JCY7859U\")"),
            "{dr}"
        );
    }

    #[test]
    fn arguments_are_checked() {
        assert!(developer_id_requirement("com.x\" or always", "T").is_err());
        assert!(developer_id_requirement("com.x", "").is_err());
        assert!(from_team("T", "com.x", &["com.h".into()], Some("1.x")).is_err());
        let reqs = from_team("T", "com.x", &["com.h".into()], Some("2.1")).unwrap();
        assert!(reqs.authorized_clients[0].ends_with(" and info[CFBundleVersion] >= \"2.1\""));
    }
}
