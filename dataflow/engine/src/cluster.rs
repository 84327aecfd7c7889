//! The cluster: processes on one machine or many that run one dataflow, as a Dask cluster's
//! workers do. timely can connect its processes itself, but it waits a whole second whenever
//! a peer is not there yet, never gives up, and takes any connection that sends eight bytes
//! for a peer. So the sockets are made here, checked by a handshake (`handshake`), and handed
//! to timely already connected (`initialize_networking_from_sockets`, as Materialize does).
//! `processes` starts and supervises the processes of `--processes N` on this machine.

pub mod handshake;
pub mod processes;

use std::collections::HashSet;
use std::net::{IpAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use handshake::Secret;

use crate::Error;
use crate::flow::Workers;
use crate::job::Job;

/// Where this process's cluster key comes from.
pub enum Key {
    /// A file, the same on every machine, at least [`handshake::MIN_KEY`] bytes (`--key-file`).
    File(PathBuf),
    /// The parent that started this process (`--processes`), on its stdin.
    FromParent(Secret),
    /// None was given: refused, with how to make one.
    Missing,
}

/// One process of a cluster: the hostfile's addresses, its own index, the key.
pub struct Member {
    addresses: Vec<String>,
    me: usize,
    secret: Secret,
}

impl Member {
    /// Process `me` of the cluster `hostfile` lists (`host:port` lines, one a process), its
    /// addresses and key checked: bad input before any work.
    pub fn of_hostfile(hostfile: &Path, me: usize, key: Key, job: &Job) -> Result<Member, Error> {
        let addresses = read_hostfile(hostfile).map_err(Error::Usage)?;
        if me >= addresses.len() {
            return Err(Error::Usage(format!(
                "--process {me}: the hostfile lists {}",
                timing::plural(addresses.len(), "process")
            )));
        }
        let secret = match key {
            Key::FromParent(secret) => secret,
            Key::File(path) => read_key(&path, &job.description(&addresses))?,
            Key::Missing => {
                return Err(Error::Usage(format!(
                    "--hostfile needs --key-file FILE, the same on every machine ({MAKE_ONE})"
                )));
            }
        };
        Ok(Member { addresses, me, secret })
    }

    /// The addresses of every process, this one's among them.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// Connects to every other process: the workers of this one, and how long connecting took.
    pub fn join(self, job: &Job) -> Result<(Workers, Duration), Error> {
        let Member { addresses, me, secret } = self;
        let (sockets, took) =
            connect(&addresses, me, &secret, job.connect_timeout).map_err(Error::System)?;
        Ok((Workers::Cluster { sockets, me, threads: job.threads }, took))
    }
}

const MAKE_ONE: &str = "make one with: head -c 32 /dev/urandom > cluster.key";

/// The key in `path`, and a job id made of everything the processes of one job share.
fn read_key(path: &Path, job: &str) -> Result<Secret, Error> {
    let shown = path.display();
    let key = std::fs::read(path).map_err(|e| Error::Usage(format!("--key-file {shown}: {e}")))?;
    if key.len() < handshake::MIN_KEY {
        return Err(Error::Usage(format!(
            "--key-file {shown}: {} long, a key needs at least {} ({MAKE_ONE})",
            timing::plural(key.len(), "byte"),
            handshake::MIN_KEY,
        )));
    }
    Ok(Secret::from_key_file(key, job))
}

/// The `host:port` lines of a hostfile, one a process (timely's format).
pub fn read_hostfile(path: &Path) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--hostfile {}: {e}", path.display()))?;
    let addresses: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    if addresses.is_empty() {
        return Err(format!("--hostfile {}: no host:port line in it", path.display()));
    }
    Ok(addresses)
}

/// Connects process `me` to every other process of `addresses`: it listens on its own
/// address for the higher-numbered ones and connects to the lower-numbered ones, retrying
/// with a short backoff until `timeout`. Every connection passes the handshake first. Returns
/// the sockets in index order and how long it took, or the line naming the processes that
/// never answered.
pub fn connect(
    addresses: &[String],
    me: usize,
    secret: &Secret,
    timeout: Duration,
) -> Result<(Vec<Option<TcpStream>>, Duration), String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let n = addresses.len();
    let (found, arrivals) = mpsc::channel();
    // The last thing that went wrong with each process, for the timeout's message.
    let trouble: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(vec![None; n]));
    let listening = if me + 1 < n {
        Some(accept_from_higher(&addresses[me], me, n, secret, found.clone())?)
    } else {
        None
    };
    for (them, address) in addresses.iter().enumerate().take(me) {
        let (address, secret, found) = (address.clone(), secret.clone(), found.clone());
        let trouble = Arc::clone(&trouble);
        std::thread::spawn(move || {
            if let Some(stream) = dial(&address, me, them, &secret, deadline, &trouble) {
                let _ = found.send((them, stream));
            }
        });
    }
    let mut sockets: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    let mut missing = n - 1;
    while missing > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((index, stream)) = arrivals.recv_timeout(left) else {
            let trouble = trouble.lock().expect("no panics while held").clone();
            return Err(never_answered(addresses, me, &sockets, &trouble, timeout));
        };
        if sockets[index].is_none() {
            sockets[index] = Some(stream);
            missing -= 1;
        }
    }
    if let Some(listening) = listening {
        listening.stop();
    }
    Ok((sockets, started.elapsed()))
}

/// The accepting side, on a thread of its own: each connection is checked on a thread of its
/// own too, so that one that says nothing holds up no other.
fn accept_from_higher(
    address: &str,
    me: usize,
    n: usize,
    secret: &Secret,
    found: mpsc::Sender<(usize, TcpStream)>,
) -> Result<Listening, String> {
    let listener =
        TcpListener::bind(address).map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let local = listener.local_addr().map_err(|e| format!("{address}: {e}"))?;
    let done = Arc::new(AtomicBool::new(false));
    let (stop, secret) = (Arc::clone(&done), secret.clone());
    // Each refusal is said once for each address and reason: a peer with a wrong key retries.
    let said: Arc<Mutex<HashSet<(IpAddr, String)>>> = Arc::default();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break; // woken by `Listening::stop`: the port closes with the listener
            }
            let Ok(mut stream) = stream else { continue };
            let (secret, found, said) = (secret.clone(), found.clone(), Arc::clone(&said));
            std::thread::spawn(move || match handshake::check(&mut stream, &secret, me, n) {
                Ok(index) => {
                    let _ = stream.set_nodelay(true);
                    let _ = found.send((index, stream));
                }
                Err(why) => {
                    let Ok(peer) = stream.peer_addr() else { return };
                    if said.lock().expect("no panics while held").insert((peer.ip(), why.clone())) {
                        eprintln!("note: refused a connection from {peer}: {why}");
                    }
                }
            });
        }
    });
    Ok(Listening { local, done })
}

/// A listener thread that can be told to stop.
struct Listening {
    local: std::net::SocketAddr,
    done: Arc<AtomicBool>,
}

impl Listening {
    /// Sets the flag and wakes the thread blocked in `accept` with one last connection.
    fn stop(self) {
        self.done.store(true, Ordering::SeqCst);
        let mut wake = self.local;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(200));
    }
}

/// Connects to process `them` and runs the handshake, retrying after 5 ms, then twice as long
/// each time up to 200 ms, until `deadline`. A handshake that fails is reported once.
fn dial(
    address: &str,
    me: usize,
    them: usize,
    secret: &Secret,
    deadline: Instant,
    trouble: &Mutex<Vec<Option<String>>>,
) -> Option<TcpStream> {
    let mut backoff = Duration::from_millis(5);
    let mut reported = false;
    loop {
        let attempt = connect_once(address, me, them, secret);
        match attempt {
            Ok(stream) => return Some(stream),
            Err((why, refused_by_peer)) => {
                if refused_by_peer && !reported {
                    eprintln!("note: process {them} at {address}: {why}; trying again");
                    reported = true;
                }
                trouble.lock().expect("no panics while held")[them] = Some(why);
            }
        }
        if Instant::now() + backoff >= deadline {
            return None;
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(200));
    }
}

/// One attempt; an error says why, and whether the peer was there but failed the handshake.
fn connect_once(
    address: &str,
    me: usize,
    them: usize,
    secret: &Secret,
) -> Result<TcpStream, (String, bool)> {
    let target = address
        .to_socket_addrs()
        .map_err(|e| (e.to_string(), false))?
        .next()
        .ok_or_else(|| ("the name has no address".to_owned(), false))?;
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(1))
        .map_err(|e| (e.to_string(), false))?;
    let _ = stream.set_nodelay(true);
    handshake::offer(&mut stream, secret, me, them).map_err(|why| (why, true))?;
    Ok(stream)
}

/// The one line for a timeout: each process not connected, with what went wrong last.
fn never_answered(
    addresses: &[String],
    me: usize,
    sockets: &[Option<TcpStream>],
    trouble: &[Option<String>],
    timeout: Duration,
) -> String {
    let missing: Vec<String> = (0..addresses.len())
        .filter(|&i| i != me && sockets[i].is_none())
        .map(|i| {
            let why = match &trouble[i] {
                Some(why) => why.clone(),
                None if i > me => "it never connected here".to_owned(),
                None => "no attempt finished".to_owned(),
            };
            format!("process {i} at {} ({why})", addresses[i])
        })
        .collect();
    format!(
        "no connection within {} from {}; is it started, with the same hostfile and key? (--connect-timeout)",
        timing::human(timeout),
        missing.join(", ")
    )
}

/// From here on, a panic of timely's network threads - a peer's connection closed or broken
/// mid-job, which timely answers by stopping the computation, by design - ends this process
/// with one line naming the lost process, and `code`: no panic message, no backtrace. One of
/// the two places the engine ends a process (the other: [`crate::cleanup::install`]'s signal
/// thread), and only where a binary installs it: a process of a cluster has nothing left to do
/// once a peer is lost.
pub fn end_process_on_lost_peer(addresses: Vec<String>, code: i32) {
    static SAID: AtomicBool = AtomicBool::new(false);
    let other_panics = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or_default();
        let peer = name
            .strip_prefix("timely:recv-")
            .or_else(|| name.strip_prefix("timely:send-"))
            .and_then(|index| index.parse::<usize>().ok());
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let communication = message.starts_with("timely communication error")
            || message.contains("MergeQueue poisoned");
        if peer.is_none() && !communication {
            return other_panics(info);
        }
        // Only the first loss is said: the other network threads stop with it.
        if SAID.swap(true, Ordering::SeqCst) {
            loop {
                std::thread::park();
            }
        }
        let who = peer.and_then(|p| Some(format!("process {p} at {}", addresses.get(p)?)));
        let cause = message.strip_prefix("timely communication error: ").unwrap_or(message);
        eprintln!(
            "error: lost {} ({cause}); the job stopped, as timely stops when a peer is lost",
            who.unwrap_or_else(|| "a process".to_owned())
        );
        // Our connections stay open a moment longer, so that the other survivors see the
        // lost process's connections close first, and name it rather than us.
        std::thread::sleep(Duration::from_millis(300));
        std::process::exit(code); // the atexit handler removes the run's files
    }));
}
