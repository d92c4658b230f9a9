//! The asynchronous request server: accept, read framed requests, reply, count transactions,
//! exit when idle, drain on SIGTERM.
//!
//! As in the talk, every open connection is a transaction: the idle timer runs only while the
//! count is zero, and SIGTERM stops accepting, closes connections that are between requests,
//! and lets requests already arriving finish before the process exits.

use std::sync::Arc;
use std::time::Duration;

use smbless::client::{
    decode_payload, encode_frame, error_reply, frame_length, FrameError, PayloadFormat,
    LENGTH_PREFIX,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{timeout, timeout_at, Instant};

use crate::activation::Listener;
use crate::config::Config;

/// Why the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No transaction for the idle timeout.
    Idle,
    /// SIGTERM (or SIGINT), after draining.
    Terminated,
}

struct Shared {
    /// Open connections: the transaction count.
    open: watch::Sender<usize>,
    /// Set once: stop accepting, finish what is in flight.
    draining: watch::Sender<bool>,
    /// One permit per open connection: bounds memory at max_connections × max_request.
    slots: Arc<tokio::sync::Semaphore>,
    max_request: u32,
    read_timeout: Duration,
    version: Result<String, String>,
}

/// One open connection; dropping it closes the transaction and frees its slot.
struct Transaction {
    shared: Arc<Shared>,
    // Held, never read: the slot is released when the connection ends.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Transaction {
    fn begin(shared: &Arc<Shared>, slot: tokio::sync::OwnedSemaphorePermit) -> Self {
        shared.open.send_modify(|n| *n = n.saturating_add(1));
        Transaction {
            shared: Arc::clone(shared),
            _slot: slot,
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.shared.open.send_modify(|n| *n = n.saturating_sub(1));
    }
}

enum AsyncListener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

/// Serve on `listeners` until idle or terminated. Must run inside a tokio runtime with I/O and
/// time enabled. Returns after in-flight requests are answered or the grace time is over.
pub async fn run(listeners: Vec<(String, Listener)>, config: &Config) -> Result<Exit, String> {
    use tokio::signal::unix::{signal, SignalKind};
    // Catch SIGTERM first: until this runs the default action (death by signal) applies.
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;

    let shared = Arc::new(Shared {
        open: watch::Sender::new(0),
        draining: watch::Sender::new(false),
        slots: Arc::new(tokio::sync::Semaphore::new(config.max_connections)),
        max_request: config.max_request,
        read_timeout: config.read_timeout,
        version: crate::embedded::bundle_version(),
    });

    for (label, listener) in listeners {
        let listener = into_async(listener).map_err(|e| format!("{label}: {e}"))?;
        tokio::spawn(accept_loop(listener, label, Arc::clone(&shared)));
    }

    let exit = tokio::select! {
        () = idle(&shared, config.idle_timeout) => Exit::Idle,
        _ = sigterm.recv() => Exit::Terminated,
        _ = sigint.recv() => Exit::Terminated,
    };
    shared.draining.send_replace(true);
    let mut open = shared.open.subscribe();
    let drained = timeout(config.grace, open.wait_for(|n| *n == 0)).await;
    if drained.is_err() {
        let left = *shared.open.borrow();
        eprintln!("smbless-helper: grace time over with {left} connection(s) still open");
    }
    Ok(exit)
}

fn into_async(listener: Listener) -> std::io::Result<AsyncListener> {
    Ok(match listener {
        Listener::Tcp(l) => {
            l.set_nonblocking(true)?;
            AsyncListener::Tcp(tokio::net::TcpListener::from_std(l)?)
        }
        Listener::Unix(l) => {
            l.set_nonblocking(true)?;
            AsyncListener::Unix(tokio::net::UnixListener::from_std(l)?)
        }
    })
}

/// Resolve when the transaction count has stayed zero for `limit`; never if `limit` is None.
async fn idle(shared: &Shared, limit: Option<Duration>) {
    let Some(limit) = limit else {
        return std::future::pending().await;
    };
    let mut open = shared.open.subscribe();
    loop {
        if *open.borrow_and_update() == 0 {
            tokio::select! {
                biased;
                // Any change (new work, even if already finished) re-arms the timer.
                changed = open.changed() => if changed.is_err() { return std::future::pending().await },
                () = tokio::time::sleep(limit) => return,
            }
        } else if open.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

async fn accept_loop(listener: AsyncListener, label: String, shared: Arc<Shared>) {
    let mut draining = shared.draining.subscribe();
    loop {
        // At the connection limit, stop accepting: further clients wait in the listen backlog
        // (which the service manager keeps even if we exit) instead of costing memory here.
        let accepted = tokio::select! {
            biased;
            _ = draining.wait_for(|d| *d) => return,
            accepted = async {
                let slot = Arc::clone(&shared.slots).acquire_owned().await;
                (slot, accept(&listener).await)
            } => accepted,
        };
        let (Ok(slot), accepted) = accepted else {
            return; // the semaphore is never closed; nothing to serve with if it were
        };
        match accepted {
            Ok(Stream::Tcp(s)) => {
                let _ = s.set_nodelay(true);
                let txn = Transaction::begin(&shared, slot);
                tokio::spawn(serve(s, txn));
            }
            Ok(Stream::Unix(s)) => {
                let txn = Transaction::begin(&shared, slot);
                tokio::spawn(serve(s, txn));
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning; the service manager keeps
                // the socket, so clients wait in the backlog.
                eprintln!("smbless-helper: accept on {label}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &AsyncListener) -> std::io::Result<Stream> {
    match listener {
        AsyncListener::Tcp(l) => l.accept().await.map(|(s, _)| Stream::Tcp(s)),
        AsyncListener::Unix(l) => l.accept().await.map(|(s, _)| Stream::Unix(s)),
    }
}

/// Serve requests on one connection until the peer closes it, a request fails, or draining.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, txn: Transaction) {
    let shared = Arc::clone(&txn.shared);
    let mut draining = shared.draining.subscribe();
    loop {
        // The whole request must arrive within read_timeout of starting to wait for it, so a
        // silent or trickling peer cannot hold a transaction (and the process) open.
        let deadline = Instant::now() + shared.read_timeout;
        let mut prefix = [0u8; LENGTH_PREFIX];
        // Between requests the connection is not in flight: draining closes it. Reading is
        // polled first so that bytes which arrived before SIGTERM count as a request.
        let first = tokio::select! {
            biased;
            read = timeout_at(deadline, stream.read(&mut prefix)) => read,
            _ = draining.wait_for(|d| *d) => return,
        };
        let got = match first {
            // Nothing of a next request arrived: close quietly, as an HTTP server closes an
            // idle keep-alive connection, so a client never reads an unsolicited frame.
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => n,
        };
        let rest = prefix.get_mut(got..).unwrap_or_default();
        match timeout_at(deadline, stream.read_exact(rest)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => return timed_out(&mut stream, &shared, "reading the length prefix").await,
        }
        let length = match frame_length(prefix, shared.max_request) {
            Ok(length) => length,
            Err(e) => {
                let code = match e {
                    FrameError::TooLarge { .. } => "too-large",
                    _ => "bad-frame",
                };
                send(
                    &mut stream,
                    &shared,
                    &error_reply(code, &e.to_string()),
                    PayloadFormat::Binary,
                )
                .await;
                // Nothing of the payload is read into memory: discard what the peer already
                // sent so that closing does not reset the connection before it reads the reply.
                return linger(&mut stream).await;
            }
        };
        let mut payload = vec![0u8; length];
        match timeout_at(deadline, stream.read_exact(&mut payload)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => return timed_out(&mut stream, &shared, "reading the request").await,
        }
        let (reply, format) = match decode_payload(&payload) {
            Ok((request, format)) => (crate::commands::dispatch(&request, &shared.version), format),
            Err(e) => (
                error_reply("bad-plist", &e.to_string()),
                PayloadFormat::Binary,
            ),
        };
        drop(payload);
        if !send(&mut stream, &shared, &reply, format).await || *draining.borrow() {
            return;
        }
    }
}

/// Write one reply frame within the read timeout; false if it could not be delivered.
async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    shared: &Shared,
    reply: &plist::Value,
    format: PayloadFormat,
) -> bool {
    let frame = match encode_frame(reply, format, u32::MAX) {
        Ok(frame) => frame,
        Err(e) => match encode_frame(
            &error_reply("internal", &e.to_string()),
            PayloadFormat::Binary,
            u32::MAX,
        ) {
            Ok(frame) => frame,
            Err(_) => return false,
        },
    };
    matches!(
        timeout(shared.read_timeout, async {
            stream.write_all(&frame).await?;
            stream.flush().await
        })
        .await,
        Ok(Ok(()))
    )
}

async fn timed_out<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, shared: &Shared, what: &str) {
    let message = format!(
        "no complete request within {} s ({what}); closing",
        shared.read_timeout.as_secs_f64()
    );
    send(
        stream,
        shared,
        &error_reply("timeout", &message),
        PayloadFormat::Binary,
    )
    .await;
    linger(stream).await;
}

/// Half-close, then read and drop whatever the peer still sends (into a fixed buffer, for at
/// most a second) so that our reply is not destroyed by a reset when the socket closes.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let until = Instant::now() + Duration::from_secs(1);
    while let Ok(Ok(n)) = timeout_at(until, stream.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
}
