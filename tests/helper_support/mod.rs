//! Shared by the `helper_*` integration tests: building the template helper, starting it
//! under `systemd-socket-activate` or with `--listen`, and talking to it.
//!
//! Waits are generous (tens of seconds) because CI is a loaded 2-core machine; no test
//! asserts on speed, only on what happens and in which order.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use smbless::client::{self, CallOptions, Endpoint};

/// Upper bound for anything we wait for; far above what a healthy run needs.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The `smbless` binary under test.
pub fn smbless_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_smbless"))
}

/// The template helper, built (once per test process) into the same target directory and
/// profile as the `smbless` binary, so that it is never stale.
pub fn helper_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = smbless_bin()
                .parent()
                .expect("binary has a directory")
                .to_path_buf();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args([
                "build",
                "--quiet",
                "-p",
                "smbless-helper-template",
                "--bin",
                "smbless-helper",
                "--example",
                "peer-client",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
            if dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            if let Some(target) = dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target);
            }
            let status = cmd.status().expect("run cargo build for the helper");
            assert!(status.success(), "building smbless-helper failed: {status}");
            let bin = dir.join("smbless-helper");
            assert!(bin.exists(), "{} was not built", bin.display());
            bin
        })
        .clone()
}

/// The template's `peer-client` example (a raw client to run as another user), built with
/// the helper.
pub fn peer_client_bin() -> PathBuf {
    let helper = helper_bin();
    let bin = helper
        .parent()
        .expect("helper has a directory")
        .join("examples")
        .join("peer-client");
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// `setpriv`, to run a client as `nobody`.
pub const SETPRIV: &str = "/usr/bin/setpriv";

/// The uid (and gid) of `nobody`, the unprivileged attacker of the tests.
pub const NOBODY: u32 = 65534;

/// Whether the tests can act as another user: they run as root and `setpriv` exists.
pub fn can_drop_privileges() -> bool {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    root && Path::new(SETPRIV).exists()
}

/// A command that runs `program` as `nobody`.
pub fn as_nobody(program: &Path) -> Command {
    let mut cmd = Command::new(SETPRIV);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(program);
    cmd
}

/// `systemd-socket-activate`, which the tests need (Debian package `systemd`).
pub fn socket_activate_bin() -> PathBuf {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join("systemd-socket-activate");
        if p.exists() {
            return p;
        }
    }
    panic!(
        "systemd-socket-activate not found: install the Debian package `systemd` (.ci/run does)"
    );
}

/// A helper process and everything it wrote to stderr.
pub struct Running {
    pub child: Child,
    pub endpoint: Endpoint,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// How to listen.
pub enum Kind {
    /// A Unix socket in a fresh temporary directory.
    Unix,
    /// A TCP port on 127.0.0.1.
    Tcp,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

impl Running {
    /// Start the helper under `systemd-socket-activate`: the socket exists, the helper does not
    /// run until the first connection. Returns once the socket listens. A Unix socket is made
    /// reachable by every user (mode 0666 in a 0755 directory, as the template's launchd plist
    /// asks for), so that only the helper's own check stands between a user and the helper.
    pub fn activated(kind: Kind, helper_args: &[&str]) -> Running {
        let dir = world_readable_tempdir();
        let (listen, endpoint) = match kind {
            Kind::Unix => {
                let p = dir.path().join("helper.sock");
                (p.display().to_string(), Endpoint::Unix(p))
            }
            Kind::Tcp => {
                let a = format!("127.0.0.1:{}", free_port());
                (a.clone(), Endpoint::Tcp(a))
            }
        };
        let mut cmd = Command::new(socket_activate_bin());
        cmd.arg("-l")
            .arg(&listen)
            .arg("--fdname=Listeners")
            .arg("--")
            .arg(helper_bin());
        cmd.args(helper_args);
        let running = Running::spawn(cmd, endpoint, dir, "Listening on");
        if let Endpoint::Unix(path) = &running.endpoint {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
                .expect("chmod the socket");
        }
        running
    }

    /// A copy of `program` that every user can run, in this helper's (0755) directory: the
    /// checkout may sit under a private directory.
    pub fn shared_copy(&self, program: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let name = program.file_name().expect("a program file name");
        let copy = self._dir.path().join(name);
        if !copy.exists() {
            std::fs::copy(program, &copy).expect("copy the program");
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
                .expect("chmod the copy");
        }
        copy
    }

    /// `systemd-socket-activate --accept`: one helper per connection, given the connection.
    pub fn accept_mode() -> Running {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("accept.sock");
        let mut cmd = Command::new(socket_activate_bin());
        cmd.arg("--accept")
            .arg("-l")
            .arg(&p)
            .arg("--")
            .arg(helper_bin());
        Running::spawn(cmd, Endpoint::Unix(p), dir, "Listening on")
    }

    /// Start the helper directly with `--listen` on a Unix socket.
    pub fn listening(helper_args: &[&str]) -> Running {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("helper.sock");
        let mut cmd = Command::new(helper_bin());
        cmd.arg("--listen").arg(&p).args(helper_args);
        let running = Running::spawn(cmd, Endpoint::Unix(p.clone()), dir, "");
        wait_until("the helper's socket to appear", || p.exists());
        running
    }

    fn spawn(
        mut cmd: Command,
        endpoint: Endpoint,
        dir: tempfile::TempDir,
        ready: &'static str,
    ) -> Running {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, listening) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr pipe");
        let sink = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if !ready.is_empty() && line.contains(ready) {
                    let _ = tx.send(());
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let running = Running {
            child,
            endpoint,
            stderr,
            reader: Some(reader),
            _dir: dir,
        };
        if !ready.is_empty() {
            listening
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("socket never listened; stderr:\n{}", running.stderr()));
        }
        running
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Process id (the same before and after systemd-socket-activate execs the helper).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file name of the program the process currently runs.
    pub fn program(&self) -> String {
        let exe =
            std::fs::read_link(format!("/proc/{}/exe", self.pid())).expect("read /proc/PID/exe");
        exe.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// Send `signal` to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Wait up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Collect the last stderr lines: the pipe reaches EOF once the process is gone.
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether the process is still running (not exited, not a zombie).
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// One request through the library client.
    pub fn call(&self, request: &plist::Value) -> plist::Value {
        client::call(&self.endpoint, request, &options())
            .unwrap_or_else(|e| panic!("call failed: {e:?}\nstderr:\n{}", self.stderr()))
    }

    /// A raw connection (Unix or TCP) for byte-level tests.
    pub fn connect(&self) -> Conn {
        match &self.endpoint {
            Endpoint::Unix(p) => Conn::Unix(UnixStream::connect(p).expect("connect")),
            Endpoint::Tcp(a) => Conn::Tcp(std::net::TcpStream::connect(a).expect("connect")),
        }
    }

    /// The value of a `/proc/PID/status` field in kB (`VmPeak`, `VmRSS`, …).
    pub fn status_kb(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn world_readable_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the tempdir");
    dir
}

/// Options for test calls: patient.
pub fn options() -> CallOptions {
    CallOptions {
        connect_timeout: PATIENCE,
        timeout: PATIENCE,
        ..CallOptions::default()
    }
}

/// Poll `cond` until true, or panic after [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A raw client connection.
pub enum Conn {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl Conn {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Unix(s) => s,
            Conn::Tcp(s) => s,
        }
    }

    /// Set the read timeout (a test's upper bound, not an assertion on speed).
    pub fn patient(mut self) -> Self {
        match &mut self {
            Conn::Unix(s) => s.set_read_timeout(Some(PATIENCE)).unwrap(),
            Conn::Tcp(s) => s.set_read_timeout(Some(PATIENCE)).unwrap(),
        }
        self
    }

    /// Write raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.io().write_all(bytes).expect("write");
    }

    /// Send one framed request.
    pub fn send_request(&mut self, request: &plist::Value) {
        let frame = client::encode_frame(request, client::PayloadFormat::Binary, u32::MAX).unwrap();
        self.send(&frame);
    }

    /// Read one framed reply, or `None` if the helper closed the connection first.
    pub fn reply(&mut self) -> Option<plist::Value> {
        let mut prefix = [0u8; 4];
        match self.io().read_exact(&mut prefix) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                return None
            }
            Err(e) => panic!("reading a reply: {e}"),
        }
        let len = client::frame_length(prefix, 1 << 20).expect("sane reply length");
        let mut payload = vec![0; len];
        self.io().read_exact(&mut payload).expect("reply payload");
        Some(client::decode_payload(&payload).expect("reply plist").0)
    }

    /// Whether anything (a byte, EOF or a reset) arrives within `limit`. A byte that arrives
    /// is consumed, so use this only where receiving anything fails the test.
    pub fn receives_within(&mut self, limit: Duration) -> bool {
        let mut byte = [0u8; 1];
        match self {
            Conn::Unix(s) => s.set_read_timeout(Some(limit)).unwrap(),
            Conn::Tcp(s) => s.set_read_timeout(Some(limit)).unwrap(),
        }
        match self.io().read(&mut byte) {
            // A byte or EOF (0): either way the helper did something.
            Ok(_n) => true,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    /// True when the helper has closed the connection (EOF or reset).
    pub fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.io().read(&mut byte) {
            Ok(0) => true,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
            Ok(_) => false,
            Err(e) => panic!("waiting for close: {e}"),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The string at `key` of a reply dictionary.
pub fn string<'a>(reply: &'a plist::Value, key: &str) -> Option<&'a str> {
    reply.as_dictionary()?.get(key)?.as_string()
}
