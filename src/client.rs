//! Talking to a launch-on-demand helper: one request/reply exchange, and optionally a check of
//! who is serving the socket.
//!
//! The wire format (4-byte big-endian length, then a binary or XML plist; requests are
//! `{command: …}` dictionaries, failures `{error: {code, message}}`) lives in the
//! `smbless-wire` crate, which the helper template shares; it is re-exported here.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use smbless_wire::{
    decode_payload, encode_frame, error_reply, frame_length, reply_error, request, FrameError,
    PayloadFormat, AUTHORIZATION_KEY, COMMAND_KEY, DEFAULT_MAX_FRAME, ERROR_KEY, LENGTH_PREFIX,
    MAX_NESTING, UNAUTHORIZED,
};

/// Where a helper listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix-domain stream socket at this path (what a blessed helper's `SockPathName` gives).
    Unix(PathBuf),
    /// A TCP address, `HOST:PORT`.
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            Endpoint::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

/// Limits of one exchange.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// How long to wait for the connection (TCP only; a Unix connect does not wait).
    pub connect_timeout: Duration,
    /// Deadline for sending the request and receiving the whole reply, from connect on.
    pub timeout: Duration,
    /// Largest reply accepted; a larger length prefix fails without allocating.
    pub max_reply: u32,
    /// Encoding of the request.
    pub format: PayloadFormat,
    /// Who must be serving the socket; checked after connecting, before anything is sent.
    pub server: ServerCheck,
}

/// The identity a helper must prove before it is sent a request (its peer credentials as the
/// kernel attests them; never a pid). The default checks nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerCheck {
    /// The uid the server socket must belong to: on Linux `SO_PEERCRED` of the connection,
    /// which names the process that called `listen` (launchd/systemd, or the helper itself);
    /// on macOS `getpeereid`.
    pub uid: Option<u32>,
    /// macOS: a code requirement the serving process must satisfy, checked on its audit token
    /// (`LOCAL_PEERTOKEN`) — for a blessed helper, the app's `SMPrivilegedExecutables` entry.
    /// Elsewhere asking for it is an error ([`CallError::ServerCheckUnsupported`]).
    pub requirement: Option<String>,
}

impl ServerCheck {
    fn is_empty(&self) -> bool {
        self.uid.is_none() && self.requirement.is_none()
    }
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_reply: DEFAULT_MAX_FRAME,
            format: PayloadFormat::Binary,
            server: ServerCheck::default(),
        }
    }
}

/// macOS: an authorization this client holds, to lend a helper for one request.
///
/// The helper receives [`ClientAuthorization::external_form`] as the request's
/// [`AUTHORIZATION_KEY`] data and asks Authorization Services for the right its command
/// declares in this client's name (which may show the user a dialog). Keep this value alive until
/// the reply has arrived: dropping it frees the authorization the external form refers to.
#[cfg(target_os = "macos")]
pub struct ClientAuthorization {
    _authorization: crate::macos::ffi::Authorization,
    form: Vec<u8>,
}

#[cfg(target_os = "macos")]
impl ClientAuthorization {
    /// Create an empty authorization (no rights yet) and its 32-byte external form.
    pub fn new() -> Result<ClientAuthorization, CallError> {
        let (authorization, form) = crate::macos::ffi::lendable_authorization()
            .map_err(|status| CallError::Authorization { status })?;
        Ok(ClientAuthorization {
            _authorization: authorization,
            form,
        })
    }

    /// The `AuthorizationExternalForm` bytes to send as [`AUTHORIZATION_KEY`].
    pub fn external_form(&self) -> &[u8] {
        &self.form
    }
}

/// Why an exchange with a helper failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Could not connect.
    #[error("cannot connect to {endpoint}")]
    Connect {
        /// Where we tried.
        endpoint: String,
        /// The system's error.
        source: io::Error,
    },
    /// The request could not be encoded.
    #[error("cannot encode the request")]
    Encode(#[source] FrameError),
    /// The server's identity could not be read or its code does not satisfy the requirement.
    #[error("cannot verify the server at {endpoint}")]
    ServerIdentity {
        /// The peer.
        endpoint: String,
        /// What failed.
        source: smbless_peer::PeerError,
    },
    /// The server socket belongs to another uid than the one required.
    #[error("the server at {endpoint} runs as uid {found}, not the required uid {expected}")]
    ServerUid {
        /// The peer.
        endpoint: String,
        /// The required uid.
        expected: u32,
        /// The uid the kernel reports.
        found: u32,
    },
    /// The requested server check cannot be made on this endpoint or system.
    #[error("cannot check {what} of the server at {endpoint}: {why}")]
    ServerCheckUnsupported {
        /// The peer.
        endpoint: String,
        /// `"the uid"` or `"the code requirement"`.
        what: &'static str,
        /// Why not (TCP carries no identity; code requirements are a macOS facility).
        why: &'static str,
    },
    /// Authorization Services could not create an authorization to lend the helper.
    #[error("cannot create an authorization for the helper (OSStatus {status})")]
    Authorization {
        /// The status Authorization Services returned.
        status: i32,
    },
    /// Sending failed.
    #[error("cannot send the request to {endpoint}")]
    Send {
        /// The peer.
        endpoint: String,
        /// The system's error.
        source: io::Error,
    },
    /// Reading the reply failed, or the helper closed the connection early.
    #[error("no complete reply from {endpoint} (reading the {stage})")]
    Receive {
        /// The peer.
        endpoint: String,
        /// `"length prefix"` or `"payload"`.
        stage: &'static str,
        /// The system's error (`TimedOut`/`WouldBlock` for a timeout, `UnexpectedEof`).
        source: io::Error,
    },
    /// The reply's frame is unacceptable.
    #[error("bad reply from {endpoint}")]
    Reply {
        /// The peer.
        endpoint: String,
        /// What was wrong.
        source: FrameError,
    },
}

enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn set_timeouts(&self, left: Duration) -> io::Result<()> {
        // A zero timeout means "block forever" to the OS; never ask for it.
        let left = left.max(Duration::from_millis(1));
        match self {
            Conn::Unix(s) => {
                s.set_read_timeout(Some(left))?;
                s.set_write_timeout(Some(left))
            }
            Conn::Tcp(s) => {
                s.set_read_timeout(Some(left))?;
                s.set_write_timeout(Some(left))
            }
        }
    }

    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Unix(s) => s,
            Conn::Tcp(s) => s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn connect(endpoint: &Endpoint, options: &CallOptions) -> Result<Conn, CallError> {
    let err = |source| CallError::Connect {
        endpoint: endpoint.to_string(),
        source,
    };
    match endpoint {
        Endpoint::Unix(path) => UnixStream::connect(path).map(Conn::Unix).map_err(err),
        Endpoint::Tcp(addr) => {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
            for candidate in addr.to_socket_addrs().map_err(err)? {
                match TcpStream::connect_timeout(&candidate, options.connect_timeout) {
                    Ok(stream) => {
                        // Requests are small and latency-bound; do not let Nagle hold them.
                        stream.set_nodelay(true).map_err(err)?;
                        return Ok(Conn::Tcp(stream));
                    }
                    Err(e) => last = e,
                }
            }
            Err(err(last))
        }
    }
}

/// Read exactly `buf.len()` bytes before `deadline`, re-arming the socket timeout before each
/// read so that a peer trickling bytes cannot stretch the exchange past the deadline.
fn read_until(conn: &mut Conn, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        conn.set_timeouts(left)?;
        let rest = buf.get_mut(filled..).unwrap_or_default();
        match conn.stream().read(rest) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("connection closed after {filled} of {} bytes", buf.len()),
                ))
            }
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Send one request and wait for its reply.
///
/// An error *reply* is not an `Err`: it is returned as the value, see [`reply_error`]. Costs
/// one connection; the reply is bounded by [`CallOptions::max_reply`].
pub fn call(
    endpoint: &Endpoint,
    request: &plist::Value,
    options: &CallOptions,
) -> Result<plist::Value, CallError> {
    let frame =
        encode_frame(request, options.format, DEFAULT_MAX_FRAME).map_err(CallError::Encode)?;
    // A caller's "practically forever" (Duration::MAX) must not overflow the clock.
    let now = Instant::now();
    let deadline = now
        .checked_add(options.timeout)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
    let mut conn = connect(endpoint, options)?;
    let name = endpoint.to_string();
    check_server(&conn, &options.server, &name)?;
    let sent = conn
        .set_timeouts(deadline.saturating_duration_since(Instant::now()))
        .and_then(|()| conn.stream().write_all(&frame))
        .and_then(|()| conn.stream().flush());
    if let Err(source) = sent {
        // A helper that refuses a client answers on accept and closes without reading: the
        // write may fail while its reply is already waiting to be read.
        if matches!(
            source.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ) {
            if let Ok(reply) = read_reply(&mut conn, deadline, options.max_reply, &name) {
                return Ok(reply);
            }
        }
        return Err(CallError::Send {
            endpoint: name,
            source,
        });
    }
    read_reply(&mut conn, deadline, options.max_reply, &name)
}

/// Check the server's kernel-attested identity against `check` before anything is sent.
fn check_server(conn: &Conn, check: &ServerCheck, name: &str) -> Result<(), CallError> {
    if check.is_empty() {
        return Ok(());
    }
    let unsupported = |what, why| CallError::ServerCheckUnsupported {
        endpoint: name.to_owned(),
        what,
        why,
    };
    let identity = |source| CallError::ServerIdentity {
        endpoint: name.to_owned(),
        source,
    };
    let Conn::Unix(stream) = conn else {
        let what = if check.uid.is_some() {
            "the uid"
        } else {
            "the code requirement"
        };
        return Err(unsupported(
            what,
            "a TCP connection carries no peer identity",
        ));
    };
    if let Some(expected) = check.uid {
        let found = smbless_peer::credentials(stream).map_err(identity)?.uid;
        if found != expected {
            return Err(CallError::ServerUid {
                endpoint: name.to_owned(),
                expected,
                found,
            });
        }
    }
    #[cfg(target_os = "macos")]
    if let Some(text) = &check.requirement {
        let requirement = smbless_peer::macos::Requirement::parse(text).map_err(identity)?;
        smbless_peer::macos::check_peer(stream, &requirement).map_err(identity)?;
    }
    #[cfg(not(target_os = "macos"))]
    if check.requirement.is_some() {
        return Err(unsupported(
            "the code requirement",
            "code requirements are checked on macOS only; check the uid here",
        ));
    }
    Ok(())
}

fn read_reply(
    conn: &mut Conn,
    deadline: Instant,
    max_reply: u32,
    name: &str,
) -> Result<plist::Value, CallError> {
    let mut prefix = [0u8; LENGTH_PREFIX];
    read_until(conn, &mut prefix, deadline).map_err(|source| CallError::Receive {
        endpoint: name.to_owned(),
        stage: "length prefix",
        source,
    })?;
    let length = frame_length(prefix, max_reply).map_err(|source| CallError::Reply {
        endpoint: name.to_owned(),
        source,
    })?;
    let mut payload = vec![0u8; length];
    read_until(conn, &mut payload, deadline).map_err(|source| CallError::Receive {
        endpoint: name.to_owned(),
        stage: "payload",
        source,
    })?;
    let (value, _) = decode_payload(&payload).map_err(|source| CallError::Reply {
        endpoint: name.to_owned(),
        source,
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unbounded_timeout_does_not_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::Unix(dir.path().join("none.sock"));
        let options = CallOptions {
            timeout: Duration::MAX,
            connect_timeout: Duration::MAX,
            ..CallOptions::default()
        };
        let err = call(&endpoint, &request("ping", []), &options).unwrap_err();
        assert!(matches!(err, CallError::Connect { .. }), "{err}");
    }

    #[cfg(target_os = "linux")]
    fn serve_once(path: &std::path::Path) -> std::thread::JoinHandle<()> {
        let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            let mut prefix = [0u8; 4];
            if peer.read_exact(&mut prefix).is_ok() {
                let mut payload = vec![0; u32::from_be_bytes(prefix) as usize];
                peer.read_exact(&mut payload).unwrap();
                let reply = encode_frame(&request("pong", []), PayloadFormat::Binary, 100);
                peer.write_all(&reply.unwrap()).unwrap();
            }
        })
    }

    #[cfg(target_os = "linux")]
    fn our_uid() -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").unwrap().uid()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_server_uid_is_checked_before_the_request_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let server = serve_once(&path);
        let endpoint = Endpoint::Unix(path.clone());
        let mut options = CallOptions::default();
        options.server.uid = Some(our_uid().wrapping_add(1));
        let err = call(&endpoint, &request("ping", []), &options).unwrap_err();
        match err {
            CallError::ServerUid {
                expected, found, ..
            } => assert_eq!((expected, found), (our_uid().wrapping_add(1), our_uid())),
            other => panic!("expected ServerUid, got {other}"),
        }
        server.join().unwrap();

        let server = serve_once(&path.with_extension("2"));
        let endpoint = Endpoint::Unix(path.with_extension("2"));
        options.server.uid = Some(our_uid());
        let reply = call(&endpoint, &request("ping", []), &options).unwrap();
        assert_eq!(reply, request("pong", []));
        server.join().unwrap();

        options.server.requirement = Some("anchor apple".to_owned());
        let server = serve_once(&path.with_extension("3"));
        let err = call(
            &Endpoint::Unix(path.with_extension("3")),
            &request("ping", []),
            &options,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                CallError::ServerCheckUnsupported {
                    what: "the code requirement",
                    ..
                }
            ),
            "{err}"
        );
        server.join().unwrap();
    }

    #[test]
    fn a_server_check_over_tcp_is_refused_not_skipped() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = Endpoint::Tcp(listener.local_addr().unwrap().to_string());
        let mut options = CallOptions::default();
        options.server.uid = Some(0);
        let err = call(&endpoint, &request("ping", []), &options).unwrap_err();
        assert!(
            matches!(
                err,
                CallError::ServerCheckUnsupported {
                    what: "the uid",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_reply_sent_before_the_request_is_read_is_still_returned() {
        // A helper that refuses on accept: reply, then close without reading anything.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refuse.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            let refusal = error_reply(UNAUTHORIZED, "no");
            peer.write_all(&encode_frame(&refusal, PayloadFormat::Binary, 100).unwrap())
                .unwrap();
        });
        // A request far larger than the socket buffer: the write fails with EPIPE/ECONNRESET
        // once the server has closed.
        let big = request("echo", [("x".into(), plist::Value::Data(vec![1; 900_000]))]);
        let reply = call(&Endpoint::Unix(path), &big, &CallOptions::default()).unwrap();
        assert_eq!(reply_error(&reply), Some((UNAUTHORIZED, "no")));
        server.join().unwrap();
    }

    #[test]
    fn call_reports_refused_connections() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::Unix(dir.path().join("nobody-listens.sock"));
        let err = call(&endpoint, &request("ping", []), &CallOptions::default()).unwrap_err();
        assert!(matches!(err, CallError::Connect { .. }), "{err}");
    }

    #[test]
    fn call_caps_the_reply_and_times_out_on_silence() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            // First peer: announce 4 GiB. Second: say nothing until the client gives up.
            let (mut a, _) = listener.accept().unwrap();
            let mut sink = [0u8; 64];
            let _ = a.read(&mut sink);
            a.write_all(&[0xff, 0xff, 0xff, 0xff]).unwrap();
            let (mut b, _) = listener.accept().unwrap();
            let _ = b.read(&mut sink);
            let _ = b.read(&mut sink);
        });
        let endpoint = Endpoint::Unix(path);
        let err = call(&endpoint, &request("ping", []), &CallOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                CallError::Reply {
                    source: FrameError::TooLarge {
                        length: u32::MAX,
                        ..
                    },
                    ..
                }
            ),
            "{err}"
        );
        let options = CallOptions {
            timeout: Duration::from_millis(200),
            ..CallOptions::default()
        };
        let err = call(&endpoint, &request("ping", []), &options).unwrap_err();
        match err {
            CallError::Receive { source, .. } => assert!(
                matches!(
                    source.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ),
                "{source}"
            ),
            other => panic!("expected a receive timeout, got {other}"),
        }
        server.join().unwrap();
    }
}
