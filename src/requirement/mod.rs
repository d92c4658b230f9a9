//! Apple's code-signing requirement language: parse, compile, decompile and evaluate.
//!
//! Requirements are how both sides of the SMJobBless contract name each other (`SMPrivilegedExecutables`
//! in the app, `SMAuthorizedClients` in the helper). This module reads the text form
//! (`csreq`'s grammar), writes and reads Apple's binary blobs (`0xfade0c00` single requirements,
//! `0xfade0c01` requirement sets) byte for byte, prints the text `codesign -d -r-` prints, and
//! evaluates a requirement against a [`CodeIdentity`]. It depends on nothing above the container
//! and plist layers.

pub mod identity;

pub use identity::{CodeIdentity, Notarization, StaticIdentity};
pub mod ast;
pub mod compile;
pub mod decode;
pub mod display;
pub mod error;
pub mod eval;
pub mod lexer;
pub mod oid;
pub mod parser;
pub mod time;
mod x509;

pub use ast::{Data, Expr, Match, Parsed, Requirement, RequirementSet, RequirementType};
pub use compile::{compile, compile_set};
pub use decode::{decode, decode_any, decode_set, Decoded};
pub use display::{set_to_text, to_text};
pub use error::{CompileError, DecodeError, ParseError, RequirementError};
pub use eval::{evaluate, evaluate_expr, Clause, Evaluation};
pub use parser::{parse, parse_requirement, parse_set};

/// How deeply expressions may nest, in text, in a blob or in a tree. Apple's interpreter stops at
/// 999 levels (`stackLimit` in reqinterp); real requirements nest fewer than a dozen. 256 keeps
/// every recursive walk here (read, write, print, evaluate, drop) well inside a 2 MiB thread stack
/// even in debug builds; a deeper blob is refused with [`DecodeError::TooDeep`].
pub const MAX_DEPTH: usize = 256;
