//! The benchmark baseline: the smallest framed echo server on the same runtime as the helper.
//!
//! It reads a 4-byte big-endian length and that many bytes, and writes both back, on every
//! connection, concurrently, on tokio's current-thread scheduler. No plist decoding, no
//! commands, no timeouts, only the size cap: what the helper costs on top of this is its own overhead.
//! `echo-baseline --listen PATH|IP:PORT`, or under `systemd-socket-activate` (fd 3).

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

fn main() {
    let arg = std::env::args().nth(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        match arg {
            Some(addr) => match addr.parse::<SocketAddr>() {
                Ok(a) => tcp(tokio::net::TcpListener::bind(a).await.expect("bind")).await,
                Err(_) => {
                    let _ = std::fs::remove_file(&addr);
                    unix(tokio::net::UnixListener::bind(&addr).expect("bind")).await
                }
            },
            None => inherited().await,
        }
    });
}

async fn inherited() {
    use std::os::fd::{FromRawFd, OwnedFd};
    assert_eq!(
        std::env::var("LISTEN_PID").ok(),
        Some(std::process::id().to_string()),
        "usage: echo-baseline --listen PATH|IP:PORT, or run under systemd-socket-activate"
    );
    // SAFETY: systemd passed fd 3 to this process (LISTEN_PID checked) and nothing else uses it.
    #[allow(unsafe_code)]
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    let socket = socket2::Socket::from(fd);
    socket.set_nonblocking(true).expect("nonblocking");
    if socket.local_addr().expect("local_addr").is_unix() {
        let l = std::os::unix::net::UnixListener::from(socket);
        unix(tokio::net::UnixListener::from_std(l).expect("listener")).await
    } else {
        let l = std::net::TcpListener::from(socket);
        tcp(tokio::net::TcpListener::from_std(l).expect("listener")).await
    }
}

async fn tcp(listener: tokio::net::TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(echo(stream));
    }
}

async fn unix(listener: tokio::net::UnixListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(echo(stream));
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = Vec::new();
    loop {
        let mut prefix = [0u8; 4];
        if stream.read_exact(&mut prefix).await.is_err() {
            return;
        }
        let len = u32::from_be_bytes(prefix) as usize;
        if len > 1 << 20 {
            return; // the same cap as the helper, so a bad peer cannot make us allocate
        }
        buf.resize(len + 4, 0);
        buf[..4].copy_from_slice(&prefix);
        if stream.read_exact(&mut buf[4..]).await.is_err() {
            return;
        }
        if stream.write_all(&buf).await.is_err() {
            return;
        }
    }
}
