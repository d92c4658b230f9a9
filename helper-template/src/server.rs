//! The asynchronous request server: accept and identify peers, read framed requests,
//! authorize and reply, count transactions, exit when idle, drain on SIGTERM.
//!
//! A transaction is a request in flight, from its first byte to its reply: the idle timer runs
//! only while there is none, so connected-but-silent clients do not keep the helper alive.
//! Idle exit and SIGTERM both stop accepting, close connections that are between requests,
//! and let requests already arriving finish before the process exits.
//!
//! Every accepted peer is identified before anything it sends is read (see `access`); a
//! refused peer gets `{error: {code: "unauthorized"}}` and is closed, and never holds a
//! connection slot or its uid's share of them.

use std::sync::Arc;
use std::time::Duration;

use smbless_wire::{
    decode_payload, encode_frame, error_reply, frame_length, FrameError, PayloadFormat,
    LENGTH_PREFIX, UNAUTHORIZED,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout, timeout_at, Instant};

use crate::access::{Peer, Policy, UidSlot, UidSlots};
use crate::activation::Listener;
use crate::commands::{Context, Effect};
use crate::config::{Config, Fairness};

/// Why the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No transaction for the idle timeout.
    Idle,
    /// SIGTERM (or SIGINT), after draining.
    Terminated,
    /// An authorized `stop` command, after draining.
    Stopped,
}

/// Refusal replies being written at once; more refused peers are closed without one.
const MAX_REFUSING: usize = 64;

struct Shared {
    /// Requests in flight: the transaction count.
    in_flight: watch::Sender<usize>,
    /// Set once: stop accepting, finish what is in flight.
    draining: watch::Sender<bool>,
    /// Set by a `stop` command.
    stop: watch::Sender<bool>,
    /// One permit per served connection: bounds memory at max_connections × max_request.
    slots: Arc<Semaphore>,
    /// Connections per peer uid.
    per_uid: Arc<UidSlots>,
    /// Refusals being written.
    refusing: Arc<Semaphore>,
    policy: Policy,
    fairness: Fairness,
    max_request: u32,
    read_timeout: Duration,
    version: Result<String, String>,
}

/// One request in flight; dropping it ends the transaction.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn begin(shared: &'a Shared) -> Self {
        shared.in_flight.send_modify(|n| *n = n.saturating_add(1));
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// What a served connection holds until it closes.
struct Served {
    peer: Peer,
    _slot: OwnedSemaphorePermit,
    _uid: UidSlot,
}

enum AsyncListener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

/// Serve on `listeners` until idle, stopped or terminated. Must run inside a tokio runtime
/// with I/O and time enabled. Returns after in-flight requests are answered or the grace time
/// is over.
pub async fn run(listeners: Vec<(String, Listener)>, config: &Config) -> Result<Exit, String> {
    use tokio::signal::unix::{signal, SignalKind};
    // Catch SIGTERM first: until this runs the default action (death by signal) applies.
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;

    let policy = Policy::new(&config.access)?;
    for warning in policy.warnings() {
        eprintln!("smbless-helper: {warning}");
    }
    let shared = Arc::new(Shared {
        in_flight: watch::Sender::new(0),
        draining: watch::Sender::new(false),
        stop: watch::Sender::new(false),
        slots: Arc::new(Semaphore::new(config.max_connections)),
        per_uid: UidSlots::new(config.fairness.per_uid),
        refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
        policy,
        fairness: config.fairness.clone(),
        max_request: config.max_request,
        read_timeout: config.read_timeout,
        version: crate::embedded::bundle_version(),
    });

    for (label, listener) in listeners {
        let listener = into_async(listener).map_err(|e| format!("{label}: {e}"))?;
        tokio::spawn(accept_loop(listener, label, Arc::clone(&shared)));
    }

    let mut stop = shared.stop.subscribe();
    let exit = tokio::select! {
        () = idle(&shared, config.idle_timeout) => Exit::Idle,
        _ = stop.wait_for(|s| *s) => Exit::Stopped,
        _ = sigterm.recv() => Exit::Terminated,
        _ = sigint.recv() => Exit::Terminated,
    };
    shared.draining.send_replace(true);
    let mut in_flight = shared.in_flight.subscribe();
    let drained = timeout(config.grace, in_flight.wait_for(|n| *n == 0)).await;
    if drained.is_err() {
        let left = *shared.in_flight.borrow();
        eprintln!("smbless-helper: grace time over with {left} request(s) still in flight");
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

/// Resolve when no request has been in flight for `limit`; never if `limit` is None.
async fn idle(shared: &Shared, limit: Option<Duration>) {
    let Some(limit) = limit else {
        return std::future::pending().await;
    };
    let mut in_flight = shared.in_flight.subscribe();
    loop {
        if *in_flight.borrow_and_update() == 0 {
            tokio::select! {
                biased;
                // Any change (new work, even if already finished) re-arms the timer.
                changed = in_flight.changed() => if changed.is_err() { return std::future::pending().await },
                () = tokio::time::sleep(limit) => return,
            }
        } else if in_flight.changed().await.is_err() {
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
                let checked = shared.policy.identify_tcp();
                admit(s, checked, slot, &shared);
            }
            Ok(Stream::Unix(s)) => {
                let checked = shared.policy.identify_unix(&s);
                admit(s, checked, slot, &shared);
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

/// Serve an identified peer within its uid's share, or refuse it; the slot taken for the
/// accept is given back at once when the peer is refused.
fn admit<S>(
    stream: S,
    checked: Result<Peer, String>,
    slot: OwnedSemaphorePermit,
    shared: &Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + std::os::fd::AsFd + 'static,
{
    let peer = match checked {
        Ok(peer) => peer,
        Err(why) => return refuse(stream, UNAUTHORIZED, why, shared),
    };
    let Some(uid_slot) = shared.per_uid.try_take(peer) else {
        let why = format!(
            "this uid already holds {} connections, the most one uid may hold",
            shared.per_uid.limit()
        );
        return refuse(stream, "busy", why, shared);
    };
    let served = Served {
        peer,
        _slot: slot,
        _uid: uid_slot,
    };
    #[cfg(target_os = "macos")]
    {
        // The code check asks the Security framework: off the I/O thread. The audit token is
        // read now, from the socket, before any byte of the peer's is.
        let token = peer.ids.map(|_| smbless_peer::macos::audit_token(&stream));
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            let verdict = match token {
                None => Ok(()), // --insecure-tcp
                Some(Err(e)) => Err(format!("cannot identify the peer: {e}")),
                Some(Ok(token)) => {
                    let checker = Arc::clone(&shared);
                    tokio::task::spawn_blocking(move || checker.policy.check_code(&token))
                        .await
                        .unwrap_or_else(|e| Err(format!("code check failed: {e}")))
                }
            };
            match verdict {
                Ok(()) => serve(stream, served, shared).await,
                Err(why) => {
                    drop(served);
                    refuse(stream, UNAUTHORIZED, why, &shared)
                }
            }
        });
    }
    #[cfg(not(target_os = "macos"))]
    tokio::spawn(serve(stream, served, Arc::clone(shared)));
}

/// Answer a refused peer with one error frame and close, without reading what it sent. At
/// most [`MAX_REFUSING`] refusals are written at once; past that the peer is just closed.
fn refuse<S>(mut stream: S, code: &'static str, why: String, shared: &Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = Arc::clone(&shared.refusing).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let frame = encode_frame(&error_reply(code, &why), PayloadFormat::Binary, u32::MAX);
        if let Ok(frame) = frame {
            let wrote = timeout(Duration::from_secs(1), stream.write_all(&frame)).await;
            if matches!(wrote, Ok(Ok(()))) {
                linger(&mut stream).await;
            }
        }
        drop(permit);
    });
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

/// Serve requests on one connection until the peer closes it, a request fails, a fairness
/// limit is reached, or draining.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    served: Served,
    shared: Arc<Shared>,
) {
    let mut draining = shared.draining.subscribe();
    let fairness = &shared.fairness;
    let opened = Instant::now();
    let retire = opened.checked_add(fairness.lifetime).unwrap_or(opened);
    for _ in 0..fairness.requests_per_connection {
        // Between requests nothing is in flight: wait at most the idle-connection timeout (and
        // never past the connection's lifetime) for a next request; draining closes it. Reading
        // is polled first so that bytes which arrived before SIGTERM count as a request.
        let wait_until = (Instant::now() + fairness.idle_connection).min(retire);
        let mut prefix = [0u8; LENGTH_PREFIX];
        let first = tokio::select! {
            biased;
            read = timeout_at(wait_until, stream.read(&mut prefix)) => read,
            _ = draining.wait_for(|d| *d) => return,
        };
        let got = match first {
            // Nothing of a next request arrived: close quietly, as an HTTP server closes an
            // idle keep-alive connection, so a client never reads an unsolicited frame.
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => n,
        };
        // A request is in flight from its first byte; the whole of it must arrive within
        // read_timeout of that byte, so a trickling peer cannot hold the transaction open.
        let in_flight = InFlight::begin(&shared);
        let deadline = Instant::now() + shared.read_timeout;
        let Some(request) = read_request(&mut stream, &shared, prefix, got, deadline).await else {
            return;
        };
        let (reply, format, effect) = match request {
            Ok((request, format)) => {
                let (reply, effect) = answer(&request, served.peer, &shared).await;
                (reply, format, effect)
            }
            Err(reply) => (reply, PayloadFormat::Binary, Effect::None),
        };
        let sent = send(&mut stream, &shared, &reply, format).await;
        if effect == Effect::Stop {
            shared.stop.send_replace(true);
        }
        drop(in_flight);
        if !sent || *draining.borrow() || Instant::now() >= retire {
            return;
        }
    }
}

/// Read the rest of a request whose first `got` bytes are in `prefix`. `None`: the connection
/// is done (closed, or a reply about it was already sent). `Some(Err(reply))`: an error
/// reply for a payload that is not a plist.
async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    shared: &Shared,
    mut prefix: [u8; LENGTH_PREFIX],
    got: usize,
    deadline: Instant,
) -> Option<Result<(plist::Value, PayloadFormat), plist::Value>> {
    let rest = prefix.get_mut(got..).unwrap_or_default();
    match timeout_at(deadline, stream.read_exact(rest)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return None,
        Err(_) => {
            timed_out(stream, shared, "reading the length prefix").await;
            return None;
        }
    }
    let length = match frame_length(prefix, shared.max_request) {
        Ok(length) => length,
        Err(e) => {
            let code = match e {
                FrameError::TooLarge { .. } => "too-large",
                _ => "bad-frame",
            };
            send(
                stream,
                shared,
                &error_reply(code, &e.to_string()),
                PayloadFormat::Binary,
            )
            .await;
            // Nothing of the payload is read into memory: discard what the peer already
            // sent so that closing does not reset the connection before it reads the reply.
            linger(stream).await;
            return None;
        }
    };
    let mut payload = vec![0u8; length];
    match timeout_at(deadline, stream.read_exact(&mut payload)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return None,
        Err(_) => {
            timed_out(stream, shared, "reading the request").await;
            return None;
        }
    }
    Some(decode_payload(&payload).map_err(|e| error_reply("bad-plist", &e.to_string())))
}

/// Authorize the command a request names for `peer`, then run it.
async fn answer(
    request: &plist::Value,
    peer: Peer,
    shared: &Arc<Shared>,
) -> (plist::Value, Effect) {
    let (command, dict) = match crate::commands::find(request) {
        Ok(found) => found,
        Err(reply) => return (reply, Effect::None),
    };
    let authorization = crate::commands::authorization(dict);
    #[cfg(target_os = "macos")]
    let verdict = {
        // Authorization Services may show a dialog: off the I/O thread.
        let (need, form) = (command.need, authorization.map(<[u8]>::to_vec));
        let checker = Arc::clone(shared);
        tokio::task::spawn_blocking(move || checker.policy.authorize(need, peer, form.as_deref()))
            .await
            .unwrap_or_else(|e| Err(format!("authorization check failed: {e}")))
    };
    #[cfg(not(target_os = "macos"))]
    let verdict = shared.policy.authorize(command.need, peer, authorization);
    match verdict {
        Ok(()) => (command.run)(
            dict,
            &Context {
                version: &shared.version,
            },
        ),
        Err(why) => (error_reply(UNAUTHORIZED, &why), Effect::None),
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
        "no complete request within {} s of its first byte ({what}); closing",
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
