//! Apple's code-signing requirement language: parse, compile, decompile and evaluate.
//!
//! Requirements are how both sides of the SMJobBless contract name each other (`SMPrivilegedExecutables`
//! in the app, `SMAuthorizedClients` in the helper). This module reads the text form
//! (`csreq`'s grammar), writes and reads Apple's binary blobs (`0xfade0c00` single requirements,
//! `0xfade0c01` requirement sets) byte for byte, prints the text `codesign -d -r-` prints, and
//! evaluates a requirement against a [`CodeIdentity`]. It depends on nothing above the container
//! and plist layers.

pub mod identity;

pub use identity::{CodeIdentity, StaticIdentity};
