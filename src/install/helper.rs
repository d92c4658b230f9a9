//! What an install reads from a helper binary: its embedded Info.plist (identifier, version,
//! `SMAuthorizedClients`) and launchd plist, identical in every architecture.

use std::path::{Path, PathBuf};

use crate::container::Container;
use crate::plists;
use crate::version::{BundleVersion, VersionError};

use super::InstallError;

/// The largest helper smbless installs. Helpers are small daemons; the cap bounds what a root
/// process reads into memory from a path an app provides.
pub const MAX_HELPER_SIZE: u64 = 512 * 1024 * 1024;

/// The embedded plists of a helper binary.
#[derive(Debug, Clone)]
pub struct HelperFacts {
    /// The file read.
    pub path: PathBuf,
    /// `__TEXT,__info_plist`, if present.
    pub info: Option<plist::Dictionary>,
    /// `__TEXT,__launchd_plist`, if present.
    pub launchd: Option<plist::Dictionary>,
}

impl HelperFacts {
    /// Parse the embedded plists of the helper bytes `data` read from `path`. Every slice must
    /// carry the same plists: a fat helper whose slices disagree would install one version and
    /// run another.
    pub fn parse(path: &Path, data: &[u8]) -> Result<HelperFacts, InstallError> {
        let unreadable = |reason: String| InstallError::HelperUnreadable {
            path: path.to_path_buf(),
            reason,
        };
        let container = Container::parse(data).map_err(|e| unreadable(e.to_string()))?;
        let slices = plists::embedded_all(&container).map_err(|e| unreadable(e.to_string()))?;
        let first = slices
            .first()
            .ok_or_else(|| unreadable("no slices; expected a Mach-O executable".into()))?;
        if let Some(other) = slices.iter().find(|s| !s.same_as(first)) {
            return Err(unreadable(format!(
                "the {} slice's embedded plists differ from the first slice's; expected identical plists in every architecture",
                other.arch
            )));
        }
        let info = first.info.as_ref().map(|p| p.dictionary().clone());
        let launchd = first.launchd.as_ref().map(|p| p.dictionary().clone());
        Ok(HelperFacts {
            path: path.to_path_buf(),
            info,
            launchd,
        })
    }

    fn info_string(&self, key: &str) -> Option<&str> {
        self.info.as_ref()?.get(key)?.as_string()
    }

    /// `CFBundleIdentifier` of the embedded Info.plist.
    pub fn identifier(&self) -> Option<&str> {
        self.info_string("CFBundleIdentifier")
    }

    /// `CFBundleVersion` of the embedded Info.plist, parsed.
    pub fn version(&self) -> Result<BundleVersion, FactError> {
        let info = self.info.as_ref().ok_or(FactError::NoInfoPlist)?;
        let value = info
            .get("CFBundleVersion")
            .ok_or(FactError::VersionMissing)?;
        let text = value
            .as_string()
            .ok_or(FactError::VersionNotString(plists::type_name(value)))?;
        BundleVersion::parse(text).map_err(FactError::Version)
    }

    /// `SMAuthorizedClients`: the requirement strings of the apps allowed to install over it.
    pub fn authorized_clients(&self) -> Result<Vec<String>, FactError> {
        let info = self.info.as_ref().ok_or(FactError::NoInfoPlist)?;
        let value = info
            .get("SMAuthorizedClients")
            .ok_or(FactError::ClientsMissing)?;
        let items = value
            .as_array()
            .ok_or(FactError::ClientsNotArray(plists::type_name(value)))?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_string()
                    .map(str::to_owned)
                    .ok_or(FactError::ClientNotString(i, plists::type_name(v)))
            })
            .collect()
    }

    /// `Label` of the embedded launchd plist.
    pub fn launchd_label(&self) -> Option<&str> {
        self.launchd.as_ref()?.get("Label")?.as_string()
    }
}

/// A fact an install needs is missing from the helper's embedded plists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FactError {
    /// No `__TEXT,__info_plist`.
    #[error("no embedded Info.plist (__TEXT,__info_plist)")]
    NoInfoPlist,
    /// No `CFBundleVersion`.
    #[error("embedded Info.plist has no CFBundleVersion; expected a string such as \"1.0\"")]
    VersionMissing,
    /// `CFBundleVersion` is not a string.
    #[error("embedded Info.plist key `CFBundleVersion` is {0}; expected a string")]
    VersionNotString(&'static str),
    /// `CFBundleVersion` is malformed.
    #[error("embedded Info.plist: {0}")]
    Version(VersionError),
    /// No `SMAuthorizedClients`.
    #[error(
        "embedded Info.plist has no SMAuthorizedClients; expected an array of requirement strings"
    )]
    ClientsMissing,
    /// `SMAuthorizedClients` is not an array.
    #[error("embedded Info.plist key `SMAuthorizedClients` is {0}; expected an array of strings")]
    ClientsNotArray(&'static str),
    /// An entry of `SMAuthorizedClients` is not a string.
    #[error("embedded Info.plist key `SMAuthorizedClients` item {0} is {1}; expected a string")]
    ClientNotString(usize, &'static str),
}
