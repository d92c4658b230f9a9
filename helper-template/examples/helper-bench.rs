//! Measures the template helper against the echo baseline; run it through
//! `scripts/bench-helper`, which builds both in release mode first.
//!
//! `helper-bench HELPER ECHO [--workers N] [--quick] [--helper-args "ARGS"]` prints, as a table:
//! - cold start: connect → first reply with the process not yet running, through
//!   `systemd-socket-activate` on a Unix socket (p50/p90 over many runs), helper and echo;
//! - warm round trip on one persistent connection, Unix and TCP (loopback), helper and echo;
//! - warm connect + round trip on a new Unix connection each time (what the helper's
//!   accept-time peer check costs shows here), helper and echo;
//! - throughput with 1, 16 and 256 concurrent clients (persistent connections, Unix);
//! - idle RSS after the first request.
//!
//! Numbers are wall-clock on whatever machine runs this: compare ratios, not absolutes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use smbless_wire::{encode_frame, frame_length, request, PayloadFormat};

struct Args {
    helper: PathBuf,
    echo: PathBuf,
    workers: usize,
    quick: bool,
    /// Extra helper flags, space-separated. The default lets the benchmark's TCP clients in
    /// (`--insecure-tcp`), its 256 same-uid clients (`--max-connections-per-uid 256`) and its
    /// long-lived connections (no request or lifetime cap: the checks still run); pass `""` to
    /// measure a helper from before those flags existed.
    helper_args: String,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let helper = PathBuf::from(
        args.next()
            .expect("usage: helper-bench HELPER ECHO [--workers N] [--quick]"),
    );
    let echo = PathBuf::from(args.next().expect("usage: helper-bench HELPER ECHO"));
    let mut out = Args {
        helper,
        echo,
        workers: 0,
        quick: false,
        helper_args: "--insecure-tcp --max-connections-per-uid 256 \
            --max-requests-per-connection 4294967295 --max-connection-lifetime 86400"
            .to_owned(),
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--workers" => {
                out.workers = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--workers N")
            }
            "--quick" => out.quick = true,
            "--helper-args" => out.helper_args = args.next().expect("--helper-args \"ARGS\""),
            other => panic!("unknown argument {other}"),
        }
    }
    out
}

fn ping_frame() -> Vec<u8> {
    encode_frame(&request("ping", []), PayloadFormat::Binary, u32::MAX).expect("frame")
}

/// Send a frame and read one framed reply on an open stream.
fn round_trip<S: Read + Write>(stream: &mut S, frame: &[u8], buf: &mut Vec<u8>) {
    stream.write_all(frame).expect("write");
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).expect("reply prefix");
    let len = frame_length(prefix, 1 << 20).expect("reply length");
    buf.resize(len, 0);
    stream.read_exact(buf).expect("reply payload");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Cold start through systemd-socket-activate; returns sorted latencies.
fn cold_start(program: &Path, args: &[&str], runs: usize) -> Vec<Duration> {
    let dir = std::env::temp_dir().join(format!("helper-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("cold.sock");
    let frame = ping_frame();
    let mut times = Vec::with_capacity(runs);
    let mut buf = Vec::new();
    for _ in 0..runs {
        let _ = std::fs::remove_file(&sock);
        let mut child = Command::new("systemd-socket-activate")
            .arg("-l")
            .arg(&sock)
            .arg("--")
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("systemd-socket-activate");
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if line.contains("Listening on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("socket listening");
        // Let the activator settle into its wait so its own start-up is not counted.
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        let mut stream = UnixStream::connect(&sock).expect("connect");
        round_trip(&mut stream, &frame, &mut buf);
        times.push(start.elapsed());
        drop(stream);
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
    }
    times.sort();
    times
}

struct Server {
    child: Child,
    addr: Target,
}

#[derive(Clone)]
enum Target {
    Unix(PathBuf),
    Tcp(String),
}

enum Stream {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl Target {
    fn connect(&self) -> Stream {
        match self {
            Target::Unix(p) => Stream::Unix(UnixStream::connect(p).expect("connect")),
            Target::Tcp(a) => {
                let s = std::net::TcpStream::connect(a).expect("connect");
                s.set_nodelay(true).unwrap();
                Stream::Tcp(s)
            }
        }
    }
}

impl Stream {
    fn rt(&mut self, frame: &[u8], buf: &mut Vec<u8>) {
        match self {
            Stream::Unix(s) => round_trip(s, frame, buf),
            Stream::Tcp(s) => round_trip(s, frame, buf),
        }
    }
}

fn start(program: &Path, args: &[&str], target: &Target) -> Server {
    let listen = match target {
        Target::Unix(p) => {
            let _ = std::fs::remove_file(p);
            p.display().to_string()
        }
        Target::Tcp(a) => a.clone(),
    };
    let child = Command::new(program)
        .arg("--listen")
        .arg(&listen)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = match target {
            Target::Unix(p) => UnixStream::connect(p).is_ok(),
            Target::Tcp(a) => std::net::TcpStream::connect(a).is_ok(),
        };
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(5));
    }
    Server {
        child,
        addr: target.clone(),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Round trips on one persistent connection to each server, measured in alternating rounds
/// so that both see the same machine conditions (CI neighbours, CPU placement); returns the
/// median over rounds of each round's p50, and the overall mean, for (a, b).
fn warm_pair(a: &Server, b: &Server, iterations: usize) -> [(Duration, Duration); 2] {
    const ROUNDS: usize = 10;
    let frame = ping_frame();
    let mut buf = Vec::new();
    let mut streams = [a.addr.connect(), b.addr.connect()];
    for s in &mut streams {
        for _ in 0..iterations / 10 {
            s.rt(&frame, &mut buf);
        }
    }
    let per_round = (iterations / ROUNDS).max(1);
    let mut p50s: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut totals = [Duration::ZERO; 2];
    let mut times = Vec::with_capacity(per_round);
    for _ in 0..ROUNDS {
        for (i, s) in streams.iter_mut().enumerate() {
            times.clear();
            for _ in 0..per_round {
                let t = Instant::now();
                s.rt(&frame, &mut buf);
                times.push(t.elapsed());
            }
            totals[i] += times.iter().sum::<Duration>();
            times.sort();
            p50s[i].push(percentile(&times, 0.5));
        }
    }
    let n = (per_round * ROUNDS) as u32;
    let mut out = [(Duration::ZERO, Duration::ZERO); 2];
    for i in 0..2 {
        p50s[i].sort();
        out[i] = (percentile(&p50s[i], 0.5), totals[i] / n);
    }
    out
}

/// Connect, one round trip, close — to each server in alternating rounds, as `warm_pair`
/// does; returns (median of round p50s, mean) for (a, b).
fn connect_pair(a: &Server, b: &Server, iterations: usize) -> [(Duration, Duration); 2] {
    const ROUNDS: usize = 10;
    let frame = ping_frame();
    let mut buf = Vec::new();
    let servers = [a, b];
    for s in servers {
        for _ in 0..iterations / 10 {
            s.addr.connect().rt(&frame, &mut buf);
        }
    }
    let per_round = (iterations / ROUNDS).max(1);
    let mut p50s: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut totals = [Duration::ZERO; 2];
    let mut times = Vec::with_capacity(per_round);
    for _ in 0..ROUNDS {
        for (i, s) in servers.iter().enumerate() {
            times.clear();
            for _ in 0..per_round {
                let t = Instant::now();
                let mut stream = s.addr.connect();
                stream.rt(&frame, &mut buf);
                times.push(t.elapsed());
                drop(stream);
            }
            totals[i] += times.iter().sum::<Duration>();
            times.sort();
            p50s[i].push(percentile(&times, 0.5));
        }
    }
    let n = (per_round * ROUNDS) as u32;
    let mut out = [(Duration::ZERO, Duration::ZERO); 2];
    for i in 0..2 {
        p50s[i].sort();
        out[i] = (percentile(&p50s[i], 0.5), totals[i] / n);
    }
    out
}

fn throughput(server: &Server, clients: usize, seconds: f64) -> f64 {
    let frame = Arc::new(ping_frame());
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut threads = Vec::new();
    for _ in 0..clients {
        let (frame, stop, count, barrier, addr) = (
            Arc::clone(&frame),
            Arc::clone(&stop),
            Arc::clone(&count),
            Arc::clone(&barrier),
            server.addr.clone(),
        );
        threads.push(
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut stream = addr.connect();
                    let mut buf = Vec::new();
                    barrier.wait();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        stream.rt(&frame, &mut buf);
                        n += 1;
                    }
                    count.fetch_add(n, Ordering::Relaxed);
                })
                .expect("thread"),
        );
    }
    barrier.wait();
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for th in threads {
        th.join().expect("client");
    }
    count.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args = parse_args();
    let workers = args.workers.to_string();
    let mut helper_args: Vec<&str> = vec!["--idle-timeout", "0", "--workers", &workers];
    helper_args.extend(args.helper_args.split_whitespace());
    let (cold_runs, warm_iters, secs) = if args.quick {
        (20, 5_000, 1.0)
    } else {
        (100, 50_000, 3.0)
    };
    let dir = std::env::temp_dir().join(format!("helper-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "helper: {} (--workers {})",
        args.helper.display(),
        args.workers
    );
    println!("echo:   {}", args.echo.display());

    let cold_helper = cold_start(&args.helper, &helper_args, cold_runs);
    let cold_echo = cold_start(&args.echo, &[], cold_runs);
    println!(
        "cold start (systemd-socket-activate, unix, {cold_runs} runs): helper p50 {:.0} us p90 {:.0} us | echo p50 {:.0} us p90 {:.0} us | ratio p50 {:.2}",
        us(percentile(&cold_helper, 0.5)),
        us(percentile(&cold_helper, 0.9)),
        us(percentile(&cold_echo, 0.5)),
        us(percentile(&cold_echo, 0.9)),
        percentile(&cold_helper, 0.5).as_secs_f64() / percentile(&cold_echo, 0.5).as_secs_f64()
    );

    let port_base = 20_000 + (std::process::id() % 20_000) as u16;
    for (kind, helper_target, echo_target) in [
        (
            "unix",
            Target::Unix(dir.join("h.sock")),
            Target::Unix(dir.join("e.sock")),
        ),
        (
            "tcp",
            Target::Tcp(format!("127.0.0.1:{port_base}")),
            Target::Tcp(format!("127.0.0.1:{}", port_base + 1)),
        ),
    ] {
        let helper = start(&args.helper, &helper_args, &helper_target);
        let echo = start(&args.echo, &[], &echo_target);
        let [(hp50, hmean), (ep50, emean)] = warm_pair(&helper, &echo, warm_iters);
        println!(
            "warm round trip ({kind}, {warm_iters} pings, one connection, median of 10 alternating rounds): helper p50 {:.1} us mean {:.1} us | echo p50 {:.1} us mean {:.1} us | ratio p50 {:.2} mean {:.2}",
            us(hp50), us(hmean), us(ep50), us(emean),
            hp50.as_secs_f64() / ep50.as_secs_f64(),
            hmean.as_secs_f64() / emean.as_secs_f64()
        );
        if kind == "unix" {
            let connects = warm_iters / 5;
            let [(hp50, hmean), (ep50, emean)] = connect_pair(&helper, &echo, connects);
            println!(
                "warm connect + round trip (unix, {connects} new connections, median of 10 alternating rounds): helper p50 {:.1} us mean {:.1} us | echo p50 {:.1} us mean {:.1} us | ratio p50 {:.2} mean {:.2}",
                us(hp50), us(hmean), us(ep50), us(emean),
                hp50.as_secs_f64() / ep50.as_secs_f64(),
                hmean.as_secs_f64() / emean.as_secs_f64()
            );
            let idle_helper = rss_kb(helper.child.id());
            let idle_echo = rss_kb(echo.child.id());
            for clients in [1usize, 16, 256] {
                // Alternate short runs so that both servers share the machine's conditions.
                let (mut h, mut e) = (0.0, 0.0);
                for _ in 0..3 {
                    h += throughput(&helper, clients, secs / 3.0) / 3.0;
                    e += throughput(&echo, clients, secs / 3.0) / 3.0;
                }
                println!(
                    "throughput (unix, {clients:>3} clients, {secs} s): helper {h:>9.0} req/s | echo {e:>9.0} req/s | ratio {:.2}",
                    h / e
                );
            }
            println!(
                "RSS: helper idle after first requests {idle_helper} kB, after 256-client load {} kB | echo idle {idle_echo} kB",
                rss_kb(helper.child.id())
            );
        }
    }
    let fresh = start(
        &args.helper,
        &helper_args,
        &Target::Unix(dir.join("fresh.sock")),
    );
    let mut s = fresh.addr.connect();
    let mut buf = Vec::new();
    s.rt(&ping_frame(), &mut buf);
    drop(s);
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "idle RSS (fresh helper, after one request): {} kB",
        rss_kb(fresh.child.id())
    );
    drop(fresh);
    let _ = std::fs::remove_dir_all(&dir);
}
