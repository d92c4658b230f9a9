//! `smbless call (--socket PATH | --addr HOST:PORT) COMMAND [--arg KEY=VALUE]... [--json]`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Args;
use smbless::client::{
    call, reply_error, request, CallOptions, Endpoint, PayloadFormat, ServerCheck,
};

use super::{output, Outcome};

/// Arguments of `smbless call`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("endpoint").required(true).args(["socket", "addr"])))]
pub struct CallArgs {
    /// The helper's Unix socket (its launchd plist's `SockPathName`).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// The helper's TCP address.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// The request's `command` (`ping`, `version`, `echo`, or your own).
    command: String,
    /// Add `KEY` with the string `VALUE` to the request; repeatable.
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    args: Vec<String>,
    /// Send the request as an XML plist instead of a binary one.
    #[arg(long)]
    xml: bool,
    /// Give up after this many seconds (connect, send and the whole reply).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// Print the reply as JSON instead of an XML plist.
    #[arg(long)]
    json: bool,
    /// Refuse to send the request unless the socket belongs to this uid (Linux: the process
    /// that listens, by SO_PEERCRED; macOS: getpeereid). Unix sockets only.
    #[arg(long, value_name = "UID")]
    server_uid: Option<u32>,
    /// macOS: refuse to send the request unless the serving process's code (by its audit
    /// token) satisfies this requirement — the app's SMPrivilegedExecutables entry for the
    /// helper. Unix sockets only; an error on other systems.
    #[arg(long, value_name = "REQUIREMENT")]
    server_requirement: Option<String>,
    /// macOS: send an `AuthorizationExternalForm` as the request's `authorization`, so that the
    /// helper can obtain the Authorization Services right its command needs (it may ask you to
    /// authenticate). Elsewhere an error: on Linux rights map to the client's uid.
    #[arg(long)]
    authorize: bool,
}

/// Run `call`: exit 0 for a reply, 1 for an `{error: …}` reply, 2 when no reply was had.
pub fn run(args: CallArgs) -> anyhow::Result<Outcome> {
    let endpoint = match (args.socket, args.addr) {
        (Some(path), None) => Endpoint::Unix(path),
        (None, Some(addr)) => Endpoint::Tcp(addr),
        _ => bail!("give exactly one of --socket and --addr"),
    };
    let mut arguments = Vec::with_capacity(args.args.len());
    for pair in &args.args {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--arg `{pair}`: expected KEY=VALUE");
        };
        if key == smbless::client::COMMAND_KEY {
            bail!("--arg `{pair}`: `command` is set by the COMMAND argument");
        }
        arguments.push((key.to_owned(), plist::Value::String(value.to_owned())));
    }
    #[cfg(target_os = "macos")]
    let _lent = if args.authorize {
        let lent = smbless::client::ClientAuthorization::new()?;
        arguments.push((
            smbless::client::AUTHORIZATION_KEY.to_owned(),
            plist::Value::Data(lent.external_form().to_vec()),
        ));
        Some(lent)
    } else {
        None
    };
    #[cfg(not(target_os = "macos"))]
    if args.authorize {
        bail!(
            "--authorize: Authorization Services exist on macOS only; on this system the \
             helper maps a command's right to the client's uid"
        );
    }
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .with_context(|| {
            format!(
                "--timeout {}: expected a positive number of seconds",
                args.timeout
            )
        })?;
    let options = CallOptions {
        connect_timeout: timeout,
        timeout,
        format: if args.xml {
            PayloadFormat::Xml
        } else {
            PayloadFormat::Binary
        },
        server: ServerCheck {
            uid: args.server_uid,
            requirement: args.server_requirement,
        },
        ..CallOptions::default()
    };
    let reply = call(&endpoint, &request(&args.command, arguments), &options)?;
    if args.json {
        output::print_json(&smbless::plists::to_json(&reply))?;
    } else {
        let mut text = Vec::new();
        reply
            .to_writer_xml(&mut text)
            .context("rendering the reply as XML")?;
        println!("{}", String::from_utf8_lossy(&text));
    }
    Ok(match reply_error(&reply) {
        Some((code, message)) => {
            eprintln!("helper error {code}: {message}");
            Outcome::Wanting
        }
        None => Outcome::Success,
    })
}
