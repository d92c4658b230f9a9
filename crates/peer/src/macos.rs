//! macOS: the peer's code identity and Authorization Services rights.
//!
//! Identity is the audit token the kernel attached to the connection, never a pid: the
//! `SecCode` for that token is the process instance that connected, even if it has exited and
//! its pid was reused. Its signature is checked dynamically (`SecCodeCheckValidity`) against a
//! code requirement in Apple's language.

use std::ffi::CString;
use std::os::fd::AsFd;
use std::str::FromStr;

use core_foundation::base::TCFType;
use core_foundation::data::CFData;
use security_framework::os::macos::code_signing::{
    Flags, GuestAttributes, SecCode, SecRequirement,
};

use crate::{sys, PeerError};

/// A compiled code requirement. Compiling checks the text once, at start-up.
#[derive(Debug, Clone)]
pub struct Requirement {
    text: String,
}

impl Requirement {
    /// Compile `text` (Apple's requirement language), failing if the Security framework does.
    pub fn parse(text: &str) -> Result<Requirement, PeerError> {
        compile(text)?;
        Ok(Requirement {
            text: text.to_owned(),
        })
    }

    /// The requirement's text, as given.
    pub fn text(&self) -> &str {
        &self.text
    }
}

fn compile(text: &str) -> Result<SecRequirement, PeerError> {
    SecRequirement::from_str(text).map_err(|e| PeerError::Requirement {
        text: text.to_owned(),
        status: e.code(),
    })
}

/// The audit token of the process at the other end of a connected Unix-domain socket.
pub fn audit_token(socket: impl AsFd) -> Result<[u8; sys::AUDIT_TOKEN_LEN], PeerError> {
    sys::audit_token(socket.as_fd()).map_err(|source| PeerError::Socket {
        what: "audit token",
        source,
    })
}

/// Check that the code of the process named by `token` is validly signed and satisfies
/// `requirement`: `SecCodeCopyGuestWithAttributes(kSecGuestAttributeAudit)`, then
/// `SecCodeCheckValidity`.
pub fn check_token(token: &[u8], requirement: &Requirement) -> Result<(), PeerError> {
    let compiled = compile(&requirement.text)?;
    let data = CFData::from_buffer(token);
    let mut attributes = GuestAttributes::new();
    attributes.set_audit_token(data.as_concrete_TypeRef());
    let code = SecCode::copy_guest_with_attribues(None, &attributes, Flags::NONE)
        .map_err(|e| PeerError::Code { status: e.code() })?;
    code.check_validity(Flags::NONE, &compiled)
        .map_err(|e| PeerError::Code { status: e.code() })
}

/// [`audit_token`] then [`check_token`]: does the peer on `socket` satisfy `requirement`?
pub fn check_peer(socket: impl AsFd, requirement: &Requirement) -> Result<(), PeerError> {
    check_token(&audit_token(socket)?, requirement)
}

/// Check that the `AuthorizationExternalForm` a client sent grants `right`, asking the user
/// (authentication dialog) when `interactive` and the right's rule requires it.
pub fn check_right(external_form: &[u8], right: &str, interactive: bool) -> Result<(), PeerError> {
    let form: &[u8; 32] = external_form
        .try_into()
        .map_err(|_| PeerError::ExternalForm {
            length: external_form.len(),
        })?;
    let name = CString::new(right).map_err(|_| PeerError::Right {
        right: right.to_owned(),
        status: security_framework_sys::authorization::errAuthorizationInvalidPointer,
    })?;
    match sys::copy_right(form, &name, interactive) {
        0 => Ok(()),
        status => Err(PeerError::Right {
            right: right.to_owned(),
            status,
        }),
    }
}
