//! Who is on the other end of a connected Unix-domain socket, as the kernel attests it, and
//! what that peer may do: the identity checks shared by the smbless helper template (which
//! checks its clients) and `smbless::client` (which checks the helper).
//!
//! - [`credentials`]: the peer's uid and gid — `SO_PEERCRED` on Linux, `getpeereid` on macOS
//!   and the BSDs. Recorded by the kernel when the connection was made; never a PID lookup.
//! - macOS only (`macos`): the peer's audit token (`LOCAL_PEERTOKEN`), the code signature of
//!   the process it names checked against a code requirement (`SecCodeCopyGuestWithAttributes`
//!   with `kSecGuestAttributeAudit`, then `SecCodeCheckValidity`), and Authorization Services
//!   rights from an `AuthorizationExternalForm` the peer sent.
//!
//! All `unsafe` code (the system calls and the Authorization Services calls) is in one private
//! module, `sys`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::os::fd::AsFd;

mod sys;

#[cfg(target_os = "macos")]
pub mod macos;

/// The peer's user and group, as the kernel recorded them when it connected (or, for the
/// client's view of a server, when the server called `listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// Effective user id.
    pub uid: u32,
    /// Effective (primary) group id.
    pub gid: u32,
    /// Process id at connect time, where the system reports one. For log lines only: a pid
    /// can be reused by another process and must never decide anything.
    pub pid: Option<i32>,
}

/// Why the peer's identity could not be established or was refused.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The socket option or system call failed.
    #[error("cannot read the peer's {what} from the socket")]
    Socket {
        /// `"credentials"` or `"audit token"`.
        what: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
    /// The code requirement text does not compile.
    #[error("the code requirement does not compile (OSStatus {status}): {text}")]
    Requirement {
        /// The requirement as given.
        text: String,
        /// The Security framework's status code.
        status: i32,
    },
    /// The peer's code could not be found or does not satisfy the requirement.
    #[error("the peer's code does not satisfy the requirement (OSStatus {status}{})", describe(*.status))]
    Code {
        /// The Security framework's status code, e.g. -67050 (`errSecCSReqFailed`).
        status: i32,
    },
    /// An `AuthorizationExternalForm` must be exactly 32 bytes.
    #[error("authorization is {length} bytes, expected a 32-byte AuthorizationExternalForm")]
    ExternalForm {
        /// The length that was sent.
        length: usize,
    },
    /// Authorization Services did not grant the right.
    #[error("right `{right}` not granted (OSStatus {status}{})", describe(*.status))]
    Right {
        /// The right that was asked for.
        right: String,
        /// The status, e.g. -60005 (`errAuthorizationDenied`).
        status: i32,
    },
}

fn describe(status: i32) -> &'static str {
    match status {
        -67050 => ": errSecCSReqFailed",
        -67062 => ": errSecCSUnsigned",
        -67061 => ": errSecCSSignatureFailed",
        -67065 => ": errSecCSNoSuchCode",
        -60005 => ": errAuthorizationDenied",
        -60006 => ": errAuthorizationCanceled",
        -60007 => ": errAuthorizationInteractionNotAllowed",
        -60010 => ": errAuthorizationInternalizeNotAllowed",
        _ => "",
    }
}

/// The uid and gid of the process at the other end of a connected Unix-domain stream socket.
///
/// One `getsockopt`/`getpeereid` call: no allocation, no file access. Fails on sockets that
/// carry no credentials (TCP).
pub fn credentials(socket: impl AsFd) -> Result<Credentials, PeerError> {
    sys::credentials(socket.as_fd()).map_err(|source| PeerError::Socket {
        what: "credentials",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_socket_pair_reports_our_own_uid_and_gid() {
        let (a, b) = UnixStream::pair().unwrap();
        let uid = std::fs::metadata("/proc/self").map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.uid(), m.gid())
        });
        let seen = credentials(&a).unwrap();
        assert_eq!(credentials(&b).unwrap().uid, seen.uid);
        if let Ok((u, g)) = uid {
            assert_eq!((seen.uid, seen.gid), (u, g));
        }
        #[cfg(target_os = "linux")]
        assert_eq!(seen.pid, Some(std::process::id() as i32));
    }

    #[test]
    fn a_tcp_socket_has_no_credentials_to_trust() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(matches!(
            credentials(&client),
            Err(PeerError::Socket {
                what: "credentials",
                ..
            })
        ));
    }
}
