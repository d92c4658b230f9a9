//! Command-line flags. Hand-parsed: the helper is started once per burst of work, and a
//! handful of flags does not justify a parser's start-up and binary size.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where `--listen` binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// `IP:PORT`.
    Tcp(SocketAddr),
    /// A Unix socket path (anything with a `/`).
    Unix(PathBuf),
}

/// Everything the flags decide.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--listen`: bind these instead of taking sockets from launchd/systemd.
    pub listen: Vec<ListenAddr>,
    /// `--idle-timeout`: exit after this long without a transaction; `None` never.
    pub idle_timeout: Option<Duration>,
    /// `--read-timeout`: a whole request must arrive within this long of the helper starting
    /// to wait for it.
    pub read_timeout: Duration,
    /// `--grace`: after SIGTERM, how long in-flight requests may take before the helper exits.
    pub grace: Duration,
    /// `--max-request`: the largest request payload accepted, in bytes.
    pub max_request: u32,
    /// `--max-connections`: connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// `--workers`: 0 runs tokio's current-thread scheduler, N > 0 a pool of N threads.
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Vec::new(),
            idle_timeout: Some(Duration::from_secs(20)),
            read_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(5),
            max_request: smbless::client::DEFAULT_MAX_FRAME,
            max_connections: 256,
            workers: 0,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Action {
    /// Serve requests.
    Serve(Config),
    /// Print usage.
    Help,
    /// Print the version from the embedded Info.plist.
    Version,
    /// Print the embedded Info.plist.
    PrintInfoPlist,
    /// Print the embedded launchd plist.
    PrintLaunchdPlist,
}

/// Usage text.
pub const USAGE: &str = "\
usage: smbless-helper [--listen IP:PORT|PATH]... [--idle-timeout SECONDS]
                      [--read-timeout SECONDS] [--grace SECONDS] [--max-request BYTES]
                      [--max-connections N] [--workers N]
       smbless-helper --print-info-plist | --print-launchd-plist | --version | --help

Without --listen the helper takes its listening sockets from launchd (the Sockets of its
embedded launchd plist) or from systemd socket activation (LISTEN_FDS/LISTEN_PID).
--idle-timeout 0 disables idle exit. Defaults: idle 20 s, read 10 s, grace 5 s,
max request 1048576 bytes, max connections 256, workers 0 (one thread).
";

/// Parse the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Action, String> {
    let mut config = Config::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (flag.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Action::Help),
            "-V" | "--version" => return Ok(Action::Version),
            "--print-info-plist" => return Ok(Action::PrintInfoPlist),
            "--print-launchd-plist" => return Ok(Action::PrintLaunchdPlist),
            "--listen" => config
                .listen
                .push(listen_addr(&value("IP:PORT or a path")?)?),
            "--idle-timeout" => {
                let d = seconds(&name, &value("SECONDS")?)?;
                config.idle_timeout = (!d.is_zero()).then_some(d);
            }
            "--read-timeout" => {
                config.read_timeout = positive(&name, seconds(&name, &value("SECONDS")?)?)?
            }
            "--grace" => config.grace = seconds(&name, &value("SECONDS")?)?,
            "--max-request" => {
                let v = value("BYTES")?;
                config.max_request = v.parse::<u32>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    format!("{name}: `{v}` is not a byte count in 1..=4294967295")
                })?;
            }
            "--max-connections" => {
                let v = value("N")?;
                config.max_connections = v
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| (1..=65_536).contains(&n))
                    .ok_or_else(|| format!("{name}: `{v}` is not a count in 1..=65536"))?;
            }
            "--workers" => {
                let v = value("N")?;
                config.workers = v
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n <= 64)
                    .ok_or_else(|| format!("{name}: `{v}` is not a thread count in 0..=64"))?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Action::Serve(config))
}

fn listen_addr(text: &str) -> Result<ListenAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(ListenAddr::Tcp(addr));
    }
    if text.contains('/') {
        return Ok(ListenAddr::Unix(PathBuf::from(text)));
    }
    Err(format!(
        "--listen: `{text}` is neither IP:PORT nor a socket path (a path contains `/`)"
    ))
}

fn seconds(name: &str, text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| *d <= Duration::from_secs(86_400 * 365))
        .ok_or_else(|| format!("{name}: `{text}` is not a number of seconds (0 up to a year)"))
}

fn positive(name: &str, d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        Err(format!("{name} must be more than 0"))
    } else {
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<Config, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Action::Serve(c) => Ok(c),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = serve(&[]).unwrap();
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(20)));
        assert_eq!(c.max_request, 1 << 20);
        assert_eq!(c.workers, 0);
        assert!(c.listen.is_empty());
    }

    #[test]
    fn flags_parse_with_space_or_equals() {
        let c = serve(&[
            "--listen",
            "127.0.0.1:4000",
            "--listen=/tmp/x.sock",
            "--idle-timeout=0.5",
            "--read-timeout",
            "2",
            "--max-request",
            "100",
        ])
        .unwrap();
        assert_eq!(
            c.listen,
            [
                ListenAddr::Tcp("127.0.0.1:4000".parse().unwrap()),
                ListenAddr::Unix("/tmp/x.sock".into())
            ]
        );
        assert_eq!(c.idle_timeout, Some(Duration::from_millis(500)));
        assert_eq!(c.read_timeout, Duration::from_secs(2));
        assert_eq!(c.max_request, 100);
        assert_eq!(serve(&["--idle-timeout", "0"]).unwrap().idle_timeout, None);
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (args, needle) in [
            (&["--idle-timeout", "-1"][..], "--idle-timeout"),
            (&["--idle-timeout", "NaN"][..], "--idle-timeout"),
            (&["--read-timeout", "0"][..], "--read-timeout"),
            (&["--max-request", "0"][..], "--max-request"),
            (&["--max-connections", "0"][..], "--max-connections"),
            (&["--listen", "localhost"][..], "--listen"),
            (&["--listen"][..], "--listen needs"),
            (&["--bogus"][..], "--bogus"),
        ] {
            let err = serve(args).unwrap_err();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
}
