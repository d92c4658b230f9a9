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
    /// `--read-timeout`: a whole request must arrive within this long of its first byte.
    pub read_timeout: Duration,
    /// `--grace`: after SIGTERM, how long in-flight requests may take before the helper exits.
    pub grace: Duration,
    /// `--max-request`: the largest request payload accepted, in bytes.
    pub max_request: u32,
    /// `--max-connections`: connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// `--workers`: 0 runs tokio's current-thread scheduler, N > 0 a pool of N threads.
    pub workers: usize,
    /// Who may connect and what they may run.
    pub access: Access,
    /// Limits that keep one peer from starving the others.
    pub fairness: Fairness,
}

/// Who may talk to the helper (checked on accept) and run right-gated commands.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `--allow-uid`: Linux peers with one of these uids are served (root always is).
    pub allow_uids: Vec<u32>,
    /// `--allow-gid`: Linux peers whose primary group is one of these are served.
    pub allow_gids: Vec<u32>,
    /// `--admin-uid`: on Linux, uids granted every Authorization Services right a command
    /// declares (root always is).
    pub admin_uids: Vec<u32>,
    /// `--admin-gid`: on Linux, primary groups granted every right a command declares.
    pub admin_gids: Vec<u32>,
    /// `--client-requirement`: on macOS, the code requirement clients must satisfy instead of
    /// the embedded Info.plist's (see `embedded::client_requirements`).
    pub client_requirement: Option<String>,
    /// `--insecure-tcp`: serve TCP peers, which carry no identity, without any check.
    pub insecure_tcp: bool,
}

/// Per-connection and per-peer limits.
#[derive(Debug, Clone)]
pub struct Fairness {
    /// `--max-connections-per-uid`: connections one peer uid may hold at once.
    pub per_uid: usize,
    /// `--idle-connection-timeout`: a connection with no request in flight for this long is
    /// closed.
    pub idle_connection: Duration,
    /// `--max-requests-per-connection`: after this many replies the connection is closed.
    pub requests_per_connection: u32,
    /// `--max-connection-lifetime`: a connection is closed at its first idle moment after this.
    pub lifetime: Duration,
}

impl Default for Fairness {
    fn default() -> Self {
        Fairness {
            per_uid: 32,
            idle_connection: Duration::from_secs(10),
            requests_per_connection: 1000,
            lifetime: Duration::from_secs(300),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Vec::new(),
            idle_timeout: Some(Duration::from_secs(20)),
            read_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(5),
            max_request: smbless_wire::DEFAULT_MAX_FRAME,
            max_connections: 256,
            workers: 0,
            access: Access::default(),
            fairness: Fairness::default(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
// Parsed once at start-up and consumed at once: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Serve requests.
    Serve(Box<Config>),
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
                      [--client-requirement TEXT] [--allow-uid UID]... [--allow-gid GID]...
                      [--admin-uid UID]... [--admin-gid GID]... [--insecure-tcp]
                      [--max-connections-per-uid N] [--idle-connection-timeout SECONDS]
                      [--max-requests-per-connection N] [--max-connection-lifetime SECONDS]
       smbless-helper --print-info-plist | --print-launchd-plist | --version | --help

Without --listen the helper takes its listening sockets from launchd (the Sockets of its
embedded launchd plist) or from systemd socket activation (LISTEN_FDS/LISTEN_PID).
--idle-timeout 0 disables idle exit. Defaults: idle 20 s, read 10 s (from a request's first
byte to its last), grace 5 s, max request 1048576 bytes, max connections 256, workers 0
(one thread); per peer uid 32 connections; a connection is closed after 10 s with no request
in flight, after 1000 requests, or at its first idle moment after 300 s.

Every peer is identified on accept, before anything it sends is read. macOS: its audit token's
code must satisfy --client-requirement, else SMHelperClientRequirement, else the first entry
of SMAuthorizedClients of the embedded Info.plist. Linux: its uid must be 0 or an --allow-uid,
or its primary gid an --allow-gid. TCP peers carry no identity and are refused unless
--insecure-tcp (development only). Commands that declare an Authorization Services right check
it on macOS from the request's `authorization` (an AuthorizationExternalForm); on Linux the
peer's uid must be 0 or an --admin-uid, or its primary gid an --admin-gid.
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
            "--allow-uid" => config.access.allow_uids.push(id(&name, &value("UID")?)?),
            "--allow-gid" => config.access.allow_gids.push(id(&name, &value("GID")?)?),
            "--admin-uid" => config.access.admin_uids.push(id(&name, &value("UID")?)?),
            "--admin-gid" => config.access.admin_gids.push(id(&name, &value("GID")?)?),
            "--client-requirement" => {
                let text = value("TEXT")?;
                if text.trim().is_empty() {
                    return Err(format!("{name} needs a non-empty requirement"));
                }
                config.access.client_requirement = Some(text);
            }
            "--insecure-tcp" => config.access.insecure_tcp = true,
            "--max-connections-per-uid" => {
                config.fairness.per_uid = count(&name, &value("N")?, 65_536)?;
            }
            "--idle-connection-timeout" => {
                config.fairness.idle_connection =
                    positive(&name, seconds(&name, &value("SECONDS")?)?)?
            }
            "--max-requests-per-connection" => {
                let n = count(&name, &value("N")?, u32::MAX as usize)?;
                config.fairness.requests_per_connection = u32::try_from(n).unwrap_or(u32::MAX);
            }
            "--max-connection-lifetime" => {
                config.fairness.lifetime = positive(&name, seconds(&name, &value("SECONDS")?)?)?
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Action::Serve(Box::new(config)))
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

fn id(name: &str, text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|&n| n != u32::MAX)
        .ok_or_else(|| format!("{name}: `{text}` is not a numeric id in 0..=4294967294"))
}

fn count(name: &str, text: &str, max: usize) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|&n| (1..=max).contains(&n))
        .ok_or_else(|| format!("{name}: `{text}` is not a count in 1..={max}"))
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
            Action::Serve(c) => Ok(*c),
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
        assert!(c.access.allow_uids.is_empty() && c.access.allow_gids.is_empty());
        assert!(!c.access.insecure_tcp);
        assert_eq!(c.access.client_requirement, None);
        assert_eq!(c.fairness.per_uid, 32);
        assert_eq!(c.fairness.idle_connection, Duration::from_secs(10));
        assert_eq!(c.fairness.requests_per_connection, 1000);
        assert_eq!(c.fairness.lifetime, Duration::from_secs(300));
        for documented in [
            "32 connections",
            "10 s with no request",
            "1000 requests",
            "300 s",
        ] {
            assert!(USAGE.contains(documented), "{documented}");
        }
    }

    #[test]
    fn access_and_fairness_flags_parse() {
        let c = serve(&[
            "--allow-uid",
            "65534",
            "--allow-gid=20",
            "--admin-uid",
            "501",
            "--admin-gid",
            "80",
            "--client-requirement",
            "anchor apple generic",
            "--insecure-tcp",
            "--max-connections-per-uid",
            "4",
            "--idle-connection-timeout",
            "2.5",
            "--max-requests-per-connection",
            "7",
            "--max-connection-lifetime",
            "60",
        ])
        .unwrap();
        assert_eq!(c.access.allow_uids, [65534]);
        assert_eq!(c.access.allow_gids, [20]);
        assert_eq!(c.access.admin_uids, [501]);
        assert_eq!(c.access.admin_gids, [80]);
        assert_eq!(
            c.access.client_requirement.as_deref(),
            Some("anchor apple generic")
        );
        assert!(c.access.insecure_tcp);
        assert_eq!(c.fairness.per_uid, 4);
        assert_eq!(c.fairness.idle_connection, Duration::from_millis(2500));
        assert_eq!(c.fairness.requests_per_connection, 7);
        assert_eq!(c.fairness.lifetime, Duration::from_secs(60));
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
            (&["--allow-uid", "root"][..], "--allow-uid"),
            (&["--allow-uid", "4294967295"][..], "--allow-uid"),
            (&["--allow-gid", "-1"][..], "--allow-gid"),
            (&["--client-requirement", " "][..], "--client-requirement"),
            (
                &["--max-connections-per-uid", "0"][..],
                "--max-connections-per-uid",
            ),
            (
                &["--idle-connection-timeout", "0"][..],
                "--idle-connection-timeout",
            ),
            (
                &["--max-requests-per-connection", "0"][..],
                "--max-requests-per-connection",
            ),
            (
                &["--max-connection-lifetime", "0"][..],
                "--max-connection-lifetime",
            ),
        ] {
            let err = serve(args).unwrap_err();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
}
