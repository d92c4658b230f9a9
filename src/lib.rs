//! smbless: what Apple's `SMJobBless` does, done openly and portably.
//!
//! The library is layered; each layer imports only the ones below it:
//!
//! 1. [`container`]: Mach-O (thin, fat, fat64) and ELF files, slices, sections, the location of
//!    the code signature. Zero-copy, bounds-checked, every error carries a file offset.
//! 2. [`plists`]: the Info.plist and launchd plist embedded in a binary (`__TEXT,__info_plist`,
//!    `__TEXT,__launchd_plist`, or ELF `.info_plist` / `.launchd_plist`) and bundle plists.
//! 3. [`bundle`]: an app bundle's layout (`Contents/Info.plist`, the main executable, the helpers
//!    in `Contents/Library/LaunchServices`).
//! 4. [`inspect`]: a serialisable report of all of the above for one path.
//!
//! Beside the layers, [`client`] speaks a launch-on-demand helper's wire protocol (a 4-byte
//! length and a plist), shared with `helper-template/`.
//!
//! No function in this library panics on malformed input or allocates from an unchecked
//! length field.

#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(unix)]
pub mod audit;
pub mod bundle;
#[cfg(unix)]
pub mod client;
pub mod codesign;
pub mod container;
pub mod contract;
pub mod inspect;
#[cfg(unix)]
pub mod install;
pub mod launchd_policy;
pub mod mapped;
pub mod plists;
pub mod requirement;
#[cfg(unix)]
pub mod service_management;
pub mod version;

#[cfg(target_os = "macos")]
pub mod macos;
