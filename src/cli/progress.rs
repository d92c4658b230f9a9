//! What reaches the terminal around a command: a progress spinner on stderr while a long command
//! works, and the silence `--quiet` asks for.
//!
//! - The spinner appears only when stderr is a terminal, the output is for people (no `--json`,
//!   no `--format` other than `human`), `--quiet` is not given and the command has run for a
//!   moment (quick commands never flash one). It says what runs and for how long; the library
//!   does one examination per command and reports no steps, so it is a spinner, not a bar.
//! - Commands print their report when they are done, with `println!`; a spinner redrawing on the
//!   same terminal meanwhile would tear those lines. So while a spinner may draw, standard output
//!   (descriptor 1, inherited by child processes too) is a pipe that one thread copies to the real
//!   standard output with the spinner suspended around each write: the bytes are the same, in the
//!   same order, as without a spinner.
//! - `--quiet` without a machine-readable format sends standard output to `/dev/null`: no report,
//!   no progress; the exit code says the result and errors still go to stderr. Output a machine
//!   asked for (`--json`, `--format json|github|sarif`) is still written.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use clap::ArgMatches;

/// Commands that finish at once, print as they go, or generate files: never a spinner.
const NO_SPINNER: &[&str] = &[
    "call",
    "completions",
    "manpages",
    "help",
    "req compile",
    "req decompile",
    "req parse",
];

/// How long a command runs before the spinner appears.
const SHOW_AFTER: Duration = Duration::from_millis(300);

/// Overrides [`SHOW_AFTER`] (milliseconds), so that tests can see the spinner of a fast command.
const SHOW_AFTER_ENV: &str = "SMBLESS_PROGRESS_AFTER_MS";

/// What the command line asks of the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command path: `verify`, `signature show`, ….
    pub command: String,
    /// `-q/--quiet` was given.
    pub quiet: bool,
    /// The output is for a machine: `--json`, or a `--format` other than `human`.
    pub machine: bool,
}

impl Request {
    /// Read the request from the parsed arguments (`quiet` from the global flag).
    pub fn from_matches(matches: &ArgMatches, quiet: bool) -> Request {
        let mut names = Vec::new();
        let mut leaf = matches;
        while let Some((name, sub)) = leaf.subcommand() {
            names.push(name);
            leaf = sub;
        }
        let raw_any = |id: &str, test: &dyn Fn(&std::ffi::OsStr) -> bool| {
            leaf.try_get_raw(id)
                .ok()
                .flatten()
                .is_some_and(|mut values| values.any(test))
        };
        let machine = raw_any("json", &|v| v == "true") || raw_any("format", &|v| v != "human");
        Request {
            command: names.join(" "),
            quiet,
            machine,
        }
    }

    /// Whether a spinner may be shown, given whether stderr is a (capable) terminal.
    pub fn spinner(&self, stderr_is_terminal: bool) -> bool {
        stderr_is_terminal
            && !self.quiet
            && !self.machine
            && !NO_SPINNER.contains(&self.command.as_str())
    }

    /// Whether standard output is silenced.
    pub fn silenced(&self) -> bool {
        self.quiet && !self.machine
    }
}

/// Whether stderr is a terminal that can redraw a line.
pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// The terminal arrangement for one command; [`Session::finish`] restores standard output.
pub struct Session {
    kind: Kind,
}

enum Kind {
    Plain,
    #[cfg(unix)]
    Silenced(unix::Silenced),
    #[cfg(unix)]
    Spinner(unix::Spinner),
}

impl Session {
    /// Arrange the terminal for `request`. When standard output cannot be redirected, the
    /// command runs as if on no terminal (no spinner; with `--quiet`, an error is returned).
    pub fn start(request: &Request) -> io::Result<Session> {
        let kind = if request.silenced() {
            silence()?
        } else if request.spinner(stderr_is_terminal()) {
            spinner(&request.command)
        } else {
            Kind::Plain
        };
        Ok(Session { kind })
    }

    /// Flush what the command printed, stop the spinner and give standard output back.
    pub fn finish(self) {
        let _ = io::stdout().flush();
        match self.kind {
            Kind::Plain => {}
            #[cfg(unix)]
            Kind::Silenced(s) => s.finish(),
            #[cfg(unix)]
            Kind::Spinner(s) => s.finish(),
        }
    }
}

#[cfg(unix)]
fn silence() -> io::Result<Kind> {
    unix::Silenced::start().map(Kind::Silenced)
}

#[cfg(not(unix))]
fn silence() -> io::Result<Kind> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "--quiet is not supported on this platform",
    ))
}

#[cfg(unix)]
fn spinner(command: &str) -> Kind {
    let after = std::env::var(SHOW_AFTER_ENV)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(SHOW_AFTER, Duration::from_millis);
    unix::Spinner::start(&format!("smbless {command}"), after).map_or(Kind::Plain, Kind::Spinner)
}

#[cfg(not(unix))]
fn spinner(_command: &str) -> Kind {
    Kind::Plain
}

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::io::{self, Read, Write};
    use std::os::fd::{AsFd, OwnedFd};
    use std::sync::{mpsc, Arc, Mutex, PoisonError};
    use std::thread;
    use std::time::Duration;

    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

    /// How long `finish` waits for the copy of the command's output to drain (a child process
    /// that kept descriptor 1 open must not hang the command).
    const DRAIN_WAIT: Duration = Duration::from_secs(2);

    /// A copy of the real standard output, taken before descriptor 1 is replaced.
    fn save_stdout() -> io::Result<OwnedFd> {
        io::stdout().flush()?;
        io::stdout().as_fd().try_clone_to_owned()
    }

    /// Standard output sent to `/dev/null`.
    pub struct Silenced {
        saved: OwnedFd,
    }

    impl Silenced {
        pub fn start() -> io::Result<Silenced> {
            let saved = save_stdout()?;
            let null = File::options().write(true).open("/dev/null")?;
            rustix::stdio::dup2_stdout(&null)?;
            Ok(Silenced { saved })
        }

        pub fn finish(self) {
            let _ = rustix::stdio::dup2_stdout(&self.saved);
        }
    }

    /// A spinner on stderr, shown after a delay, and standard output relayed around it.
    pub struct Spinner {
        bar: ProgressBar,
        finished: Arc<Mutex<bool>>,
        saved: OwnedFd,
        drained: mpsc::Receiver<()>,
    }

    impl Spinner {
        pub fn start(message: &str, after: Duration) -> io::Result<Spinner> {
            let saved = save_stdout()?;
            let out = File::from(saved.try_clone()?);
            let (reader, writer) = io::pipe()?;
            rustix::stdio::dup2_stdout(&writer)?;
            drop(writer);

            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message(message.to_string());

            let (done, drained) = mpsc::channel();
            let relay_bar = bar.clone();
            thread::spawn(move || relay(reader, out, &relay_bar, &done));

            let finished = Arc::new(Mutex::new(false));
            let (show_bar, show_finished) = (bar.clone(), Arc::clone(&finished));
            thread::spawn(move || {
                thread::sleep(after);
                let finished = show_finished.lock().unwrap_or_else(PoisonError::into_inner);
                if !*finished {
                    show_bar.set_draw_target(ProgressDrawTarget::stderr());
                    show_bar.enable_steady_tick(Duration::from_millis(100));
                }
            });
            Ok(Spinner {
                bar,
                finished,
                saved,
                drained,
            })
        }

        pub fn finish(self) {
            *self.finished.lock().unwrap_or_else(PoisonError::into_inner) = true;
            // Closing descriptor 1 (our end of the pipe) ends the relay once it has copied all.
            let _ = rustix::stdio::dup2_stdout(&self.saved);
            let _ = self.drained.recv_timeout(DRAIN_WAIT);
            self.bar.finish_and_clear();
        }
    }

    /// Copy the command's output to the real standard output, the spinner suspended meanwhile.
    fn relay(
        mut reader: io::PipeReader,
        mut out: File,
        bar: &ProgressBar,
        done: &mpsc::Sender<()>,
    ) {
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or_default();
                    if bar.suspend(|| out.write_all(chunk)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = done.send(());
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn request(args: &[&str]) -> Request {
        let matches = Cli::command()
            .try_get_matches_from(std::iter::once("smbless").chain(args.iter().copied()))
            .expect("the arguments parse");
        let quiet = matches.get_flag("quiet");
        Request::from_matches(&matches, quiet)
    }

    #[test]
    fn a_long_command_for_people_on_a_terminal_gets_a_spinner() {
        let r = request(&["verify", "X.app"]);
        assert_eq!(r.command, "verify");
        assert!(r.spinner(true));
        assert!(!r.silenced());
        assert!(request(&["signature", "verify", "X"]).spinner(true));
        assert!(request(&["verify", "X.app", "--format", "human"]).spinner(true));
    }

    #[test]
    fn never_when_stderr_is_not_a_terminal() {
        assert!(!request(&["verify", "X.app"]).spinner(false));
    }

    #[test]
    fn never_with_machine_readable_output() {
        for args in [
            &["verify", "X.app", "--json"][..],
            &["verify", "X.app", "--format", "json"],
            &["verify", "X.app", "--format", "github"],
            &["verify", "X.app", "--format", "sarif"],
            &["signature", "show", "X", "--json"],
            &["inspect", "X", "--json"],
        ] {
            let r = request(args);
            assert!(r.machine, "{args:?}");
            assert!(!r.spinner(true), "{args:?}");
        }
    }

    #[test]
    fn never_with_quiet_which_silences_only_output_for_people() {
        let r = request(&["-q", "verify", "X.app"]);
        assert!(!r.spinner(true));
        assert!(r.silenced());
        let r = request(&["verify", "X.app", "--quiet", "--json"]);
        assert!(r.quiet && !r.spinner(true));
        assert!(!r.silenced(), "output a machine asked for is still written");
    }

    #[test]
    fn never_for_instant_or_generating_commands() {
        assert_eq!(
            request(&["req", "parse", "anchor apple"]).command,
            "req parse"
        );
        for args in [
            &["req", "parse", "anchor apple"][..],
            &["completions", "bash"],
            &["manpages", "--out", "d"],
        ] {
            assert!(!request(args).spinner(true), "{args:?}");
        }
    }
}
