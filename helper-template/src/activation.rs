//! Where the listening sockets come from: launchd, systemd, or `--listen`.
//!
//! A launch-on-demand helper never creates its service socket in production: the service
//! manager owns it, listens while the helper is not running, starts the helper on the first
//! connection and hands the socket over. `--listen` exists for development and benchmarks.

use std::io;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;

use crate::config::{Config, ListenAddr};

/// A listening stream socket, before it is handed to the runtime.
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix-domain stream listener.
    Unix(UnixListener),
}

/// The listeners, and who provided them (for the start-up log line).
pub struct Activation {
    /// `"launchd"`, `"systemd"` or `"--listen"`.
    pub source: &'static str,
    /// One entry per socket, with a description for logs.
    pub listeners: Vec<(String, Listener)>,
}

/// Find the listening sockets: `--listen` if given, else launchd check-in (macOS), else
/// systemd socket activation; an error if none applies.
pub fn activate(config: &Config) -> Result<Activation, String> {
    if !config.listen.is_empty() {
        let listeners = config
            .listen
            .iter()
            .map(|addr| bind(addr).map(|l| (describe(addr), l)))
            .collect::<Result<_, _>>()?;
        return Ok(Activation {
            source: "--listen",
            listeners,
        });
    }
    #[cfg(target_os = "macos")]
    if let Some(activation) = launchd()? {
        return Ok(activation);
    }
    if let Some(activation) = systemd()? {
        return Ok(activation);
    }
    Err(
        "no listening socket: not started by launchd or by systemd socket activation \
         (LISTEN_PID/LISTEN_FDS), and no --listen given"
            .to_owned(),
    )
}

fn describe(addr: &ListenAddr) -> String {
    match addr {
        ListenAddr::Tcp(a) => format!("tcp:{a}"),
        ListenAddr::Unix(p) => format!("unix:{}", p.display()),
    }
}

fn bind(addr: &ListenAddr) -> Result<Listener, String> {
    match addr {
        ListenAddr::Tcp(a) => TcpListener::bind(a)
            .map(Listener::Tcp)
            .map_err(|e| format!("--listen {a}: {e}")),
        ListenAddr::Unix(path) => match UnixListener::bind(path) {
            Ok(l) => Ok(Listener::Unix(l)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                // A socket file left by a previous run: replace it only if nobody answers.
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(format!(
                        "--listen {}: another process is listening there",
                        path.display()
                    ));
                }
                std::fs::remove_file(path)
                    .and_then(|()| UnixListener::bind(path))
                    .map(Listener::Unix)
                    .map_err(|e| format!("--listen {}: {e}", path.display()))
            }
            Err(e) => Err(format!("--listen {}: {e}", path.display())),
        },
    }
}

/// systemd's protocol (`sd_listen_fds(3)`): descriptors from 3 on, `LISTEN_FDS` of them,
/// meant for us only if `LISTEN_PID` is our pid; `LISTEN_FDNAMES` names them, `:`-separated.
fn systemd() -> Result<Option<Activation>, String> {
    let Ok(pid) = std::env::var("LISTEN_PID") else {
        return Ok(None);
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_PID: `{pid}` is not a process id"))?;
    if pid != std::process::id() {
        // Inherited from a parent that was activated: not ours.
        return Ok(None);
    }
    let count = std::env::var("LISTEN_FDS").unwrap_or_default();
    let count: usize = count
        .trim()
        .parse()
        .ok()
        .filter(|&n| (1..=64).contains(&n))
        .ok_or_else(|| format!("LISTEN_FDS: `{count}` is not a socket count in 1..=64"))?;
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|v| v.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let fds = crate::fds::take_inherited(3, count).map_err(|e| format!("LISTEN_FDS: {e}"))?;
    let mut listeners = Vec::with_capacity(fds.len());
    for (i, fd) in fds.into_iter().enumerate() {
        let name = names.get(i).map_or("unnamed", String::as_str);
        let label = format!("fd {} ({name})", i.saturating_add(3));
        let listener = classify(fd).map_err(|e| format!("systemd socket {label}: {e}"))?;
        listeners.push((label, listener));
    }
    Ok(Some(Activation {
        source: "systemd",
        listeners,
    }))
}

/// launchd check-in for every entry of the embedded launchd plist's `Sockets`.
#[cfg(target_os = "macos")]
fn launchd() -> Result<Option<Activation>, String> {
    let names = crate::embedded::socket_names()?;
    let mut listeners = Vec::new();
    for name in names {
        match crate::fds::launch_activate_socket(&name) {
            Ok(fds) => {
                for (i, fd) in fds.into_iter().enumerate() {
                    let label = format!("{name}[{i}]");
                    let listener =
                        classify(fd).map_err(|e| format!("launchd socket {label}: {e}"))?;
                    listeners.push((label, listener));
                }
            }
            // ESRCH: not a launchd job (started from a shell) – fall back to the others.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(e) => return Err(format!("launch_activate_socket({name}): {e}")),
        }
    }
    Ok(Some(Activation {
        source: "launchd",
        listeners,
    }))
}

/// Check that an inherited descriptor is a listening stream socket and wrap it by family.
fn classify(fd: OwnedFd) -> io::Result<Listener> {
    let socket = socket2::Socket::from(fd);
    let invalid = |msg: &str| io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned());
    if socket.r#type()? != socket2::Type::STREAM {
        return Err(invalid("not a stream socket"));
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if !socket.is_listener()? {
        return Err(invalid(
            "not listening (one-process-per-connection `--accept` mode is not supported)",
        ));
    }
    let addr = socket.local_addr()?;
    if addr.is_unix() {
        Ok(Listener::Unix(socket.into()))
    } else if addr.as_socket().is_some() {
        Ok(Listener::Tcp(socket.into()))
    } else {
        Err(invalid("neither a TCP nor a Unix-domain socket"))
    }
}
