//! smbless-helper: a launch-on-demand privileged helper, meant to be copied into an app.
//!
//! launchd (or systemd, or `--listen` during development) owns the listening socket and
//! starts this process on the first connection. It identifies every peer by what the kernel
//! attests (audit token and code requirement on macOS, uid/gid on Linux) before reading
//! anything from it, answers 4-byte-length-prefixed plist requests (`ping`, `version`, `echo`,
//! and the right-gated `stop`), exits after 20 s without a request in flight, and on SIGTERM
//! finishes the requests in flight and exits 0. Its Info.plist and launchd plist are embedded
//! in the executable (see `embedded.rs`), as SMJobBless requires. See README.md.

#![deny(unsafe_code)]

mod access;
mod activation;
mod commands;
mod config;
mod embedded;
mod fds;
mod server;

use std::io::Write;
use std::process::ExitCode;

use config::Action;

fn main() -> ExitCode {
    let action = match config::parse(std::env::args().skip(1)) {
        Ok(action) => action,
        Err(e) => {
            eprintln!("smbless-helper: {e}\n\n{}", config::USAGE);
            return ExitCode::from(2);
        }
    };
    let config = match action {
        Action::Serve(config) => config,
        Action::Help => return print(config::USAGE.as_bytes()),
        Action::PrintInfoPlist => return print(embedded::info_plist()),
        Action::PrintLaunchdPlist => return print(embedded::launchd_plist()),
        Action::Version => {
            return match embedded::bundle_version() {
                Ok(v) => print(format!("smbless-helper {v}\n").as_bytes()),
                Err(e) => {
                    eprintln!("smbless-helper: {e}");
                    ExitCode::from(2)
                }
            }
        }
    };

    let runtime = if config.workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers)
            .enable_io()
            .enable_time()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smbless-helper: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        let activation = activation::activate(&config)?;
        let source = activation.source;
        let exit = server::run(activation.listeners, &config).await?;
        Ok::<_, String>((source, exit))
    });
    // Connections still open after the grace time are dropped with the runtime.
    runtime.shutdown_background();
    match result {
        Ok((source, exit)) => {
            let why = match exit {
                server::Exit::Idle => "idle",
                server::Exit::Terminated => "terminated",
                server::Exit::Stopped => "stopped by request",
            };
            eprintln!("smbless-helper: exiting ({why}; sockets from {source})");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smbless-helper: {e}");
            ExitCode::from(2)
        }
    }
}

fn print(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(2),
    }
}
