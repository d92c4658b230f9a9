//! A raw client for testing the helper as another user would use it (the tests run it as
//! `nobody` through `setpriv`). Not part of the helper.
//!
//! - `peer-client SOCKET hold N`: open N connections, print `held N`, send nothing, and keep
//!   them open until stdin closes.
//! - `peer-client SOCKET send HEX`: connect, send the bytes (none if HEX is empty), read one
//!   reply frame and print its error code (`ok` for a reply without one, `closed` if the
//!   helper closed without replying).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(socket), Some(mode), Some(value)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: peer-client SOCKET (hold N | send HEX)");
        return ExitCode::from(2);
    };
    let result = match mode.as_str() {
        "hold" => hold(socket, value),
        "send" => send(socket, value),
        other => Err(format!("unknown mode {other}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer-client: {e}");
            ExitCode::from(2)
        }
    }
}

fn hold(socket: &str, count: &str) -> Result<(), String> {
    let count: usize = count
        .parse()
        .map_err(|_| format!("`{count}` is not a count"))?;
    let mut held = Vec::with_capacity(count);
    for i in 0..count {
        held.push(UnixStream::connect(socket).map_err(|e| format!("connection {i}: {e}"))?);
    }
    println!("held {count}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    // Until the test closes our stdin.
    let mut sink = Vec::new();
    std::io::stdin()
        .read_to_end(&mut sink)
        .map_err(|e| e.to_string())?;
    drop(held);
    Ok(())
}

fn send(socket: &str, hex: &str) -> Result<(), String> {
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad hex at {i}"))
        })
        .collect::<Result<Vec<u8>, _>>()?;
    let mut conn = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    // The helper may refuse before reading: a failed write is not the end of the exchange.
    if let Err(e) = conn.write_all(&bytes) {
        eprintln!("peer-client: write: {e} (reading the reply anyway)");
    }
    let mut prefix = [0u8; 4];
    if conn.read_exact(&mut prefix).is_err() {
        println!("closed");
        return Ok(());
    }
    let length = smbless_wire::frame_length(prefix, 1 << 20).map_err(|e| e.to_string())?;
    let mut payload = vec![0u8; length];
    conn.read_exact(&mut payload).map_err(|e| e.to_string())?;
    let (reply, _) = smbless_wire::decode_payload(&payload).map_err(|e| e.to_string())?;
    match smbless_wire::reply_error(&reply) {
        Some((code, message)) => println!("{code}\n{message}"),
        None => println!("ok"),
    }
    Ok(())
}
