//! The cluster: processes on one machine or many that run one dataflow, as a Dask cluster's
//! workers do. timely can connect its processes itself, but it waits a whole second whenever
//! a peer is not there yet, never gives up, and takes any connection that sends eight bytes
//! for a peer. So the sockets are made here, checked by a handshake (`handshake`), and handed
//! to timely already connected (`initialize_networking_from_sockets`, as Materialize does).
//! `processes` starts and supervises the processes of `--processes N` on this machine.

pub mod handshake;
pub mod processes;

use std::any::Any;
use std::collections::HashSet;
use std::net::{IpAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use timely::communication::Hooks;
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};

use handshake::Secret;
use timing::cli;

use crate::job::Job;

/// How a `groupby` joins a cluster: the options that start processes here or name this one's
/// place among several machines.
#[derive(clap::Args, Clone, Debug)]
#[group(id = "cluster")]
pub struct Options {
    /// Run as this many processes on this machine, exchanging data over loopback TCP.
    #[arg(long, value_parser = processes, allow_hyphen_values = true)]
    pub processes: Option<usize>,
    /// When a process of --processes is lost, run the job again on the ones left, up to this
    /// many times (as Dask's shuffle restarts when a worker it used is lost); 0 fails at once.
    #[arg(long, default_value_t = 0, requires = "processes",
          value_parser = cli::whole_number::<u64>, allow_hyphen_values = true)]
    pub retries: u64,
    /// Several machines: a file of `host:port` lines, one a process, the same on each machine
    /// (timely's `-h`); use with --process and --key-file.
    #[arg(long, requires = "process", conflicts_with = "processes")]
    pub hostfile: Option<std::path::PathBuf>,
    /// This process's line in --hostfile, from 0 (timely's `-p`).
    #[arg(long, requires = "hostfile")]
    pub process: Option<usize>,
    /// The cluster's key, the same file on every machine, at least 16 bytes (make one with
    /// `head -c 32 /dev/urandom > cluster.key`): peers prove they hold it before any data
    /// moves. Only the connection is authenticated: what follows is neither encrypted nor
    /// protected from change on the way, so use a private network or a tunnel.
    #[arg(long, requires = "hostfile")]
    pub key_file: Option<std::path::PathBuf>,
    /// Seconds to wait for every other process to connect [default: 30].
    #[arg(long, value_parser = cli::up_to::<86400>, allow_hyphen_values = true)]
    connect_timeout: Option<u64>,
    /// Set by `--processes` on the processes it starts: they read the key on stdin, and end
    /// when their parent does.
    #[arg(long, hide = true)]
    pub child: bool,
    /// Set by `--processes`: the ranges its parent planned (file index, start, end a line).
    #[arg(long, hide = true, requires = "child")]
    pub ranges_file: Option<std::path::PathBuf>,
    /// Set by `--processes` on process 0: where to write the answer, kept apart from whatever
    /// else a child prints.
    #[arg(long, hide = true)]
    pub answer_file: Option<std::path::PathBuf>,
}

fn processes(text: &str) -> Result<usize, String> {
    cli::up_to::<64>(text).map(|n| usize::try_from(n).expect("at most 64"))
}

impl Options {
    /// Options that make no sense together, beyond what the parser checks.
    pub fn check(&self) -> Result<(), String> {
        if self.connect_timeout.is_some() && !self.is_cluster() {
            return Err(
                "--connect-timeout: only --processes and --hostfile connect processes".into()
            );
        }
        Ok(())
    }

    /// Whether the job runs on more than this process.
    pub fn is_cluster(&self) -> bool {
        self.processes.is_some() || self.hostfile.is_some()
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.map_or(crate::job::CONNECT_TIMEOUT, Duration::from_secs)
    }

    /// This process's place in the cluster `--hostfile` describes, its addresses and key
    /// checked (bad input before any work); `None` without `--hostfile`.
    pub fn member(
        &self,
        job: &Job,
        from_parent: Option<Secret>,
    ) -> Result<Option<Member>, ClusterError> {
        let (Some(hostfile), Some(me)) = (&self.hostfile, self.process) else { return Ok(None) };
        let addresses = read_hostfile(hostfile).map_err(ClusterError::Usage)?;
        if me >= addresses.len() {
            return Err(ClusterError::Usage(format!(
                "--process {me}: the hostfile lists {}",
                timing::plural(addresses.len(), "process")
            )));
        }
        let secret = match from_parent {
            Some(secret) => secret,
            None => self.read_key(job, &addresses)?,
        };
        Ok(Some(Member { addresses, me, secret, child: self.child }))
    }

    /// `--key-file`'s key, and a job id made of everything the processes of one job share.
    fn read_key(&self, job: &Job, addresses: &[String]) -> Result<Secret, ClusterError> {
        let make_one = "make one with: head -c 32 /dev/urandom > cluster.key";
        let Some(path) = &self.key_file else {
            return Err(ClusterError::Usage(format!(
                "--hostfile needs --key-file FILE, the same on every machine ({make_one})"
            )));
        };
        let shown = path.display();
        let key = std::fs::read(path)
            .map_err(|e| ClusterError::Usage(format!("--key-file {shown}: {e}")))?;
        if key.len() < handshake::MIN_KEY {
            return Err(ClusterError::Usage(format!(
                "--key-file {shown}: {} long, a key needs at least {} ({make_one})",
                timing::plural(key.len(), "byte"),
                handshake::MIN_KEY,
            )));
        }
        Ok(Secret::from_key_file(key, &job.description(addresses)))
    }
}

/// One process of a cluster: the hostfile's addresses, its own index, the key.
pub struct Member {
    addresses: Vec<String>,
    me: usize,
    secret: Secret,
    child: bool,
}

impl Member {
    /// Connects to every other process; from then on a lost peer ends this process with one
    /// line.
    pub fn join(self, job: &Job) -> Result<Workers, ClusterError> {
        let Member { addresses, me, secret, child } = self;
        let (sockets, took) =
            connect(&addresses, me, &secret, job.connect_timeout).map_err(ClusterError::System)?;
        if child {
            eprintln!("connected-in {}", took.as_nanos());
        }
        report_lost_peers(addresses, if child { processes::LOST_PEER } else { 1 });
        Ok(Workers::Cluster { sockets, me, threads: job.threads })
    }
}

/// Why a cluster could not run: bad input found before any work (a hostfile, a key, a ranges
/// file: exit 2), or the machine failing us (no port, no folder, a process that would not
/// start: exit 1). `main` says it.
#[derive(Debug)]
pub enum ClusterError {
    Usage(String),
    System(String),
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Usage(why) | ClusterError::System(why) => write!(f, "{why}"),
        }
    }
}

/// Where a job's workers live.
pub enum Workers {
    /// Threads of this process only.
    Threads(usize),
    /// `threads` threads here, and the other processes behind `sockets` (one for each other
    /// process, in index order; `None` at our own index).
    Cluster { sockets: Vec<Option<TcpStream>>, me: usize, threads: usize },
}

impl Workers {
    /// Worker threads in each process.
    pub fn threads(&self) -> usize {
        match self {
            Workers::Threads(threads) | Workers::Cluster { threads, .. } => *threads,
        }
    }
}

/// timely's allocators for `workers`, and what must live as long as they do (the network
/// threads of a cluster).
pub fn allocators(
    workers: Workers,
) -> Result<(Vec<AllocatorBuilder>, Box<dyn Any + Send>), String> {
    let (sockets, me, threads) = match workers {
        Workers::Threads(threads) => {
            return timely::CommunicationConfig::Process(threads)
                .try_build()
                .map_err(|e| format!("timely could not start: {e}"));
        }
        Workers::Cluster { sockets, me, threads } => (sockets, me, threads),
    };
    let hooks = Hooks::default();
    let local =
        ProcessBuilder::new_typed_vector(threads, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(local, sockets, me, threads, hooks)
        .map_err(|e| format!("timely could not start its network threads: {e}"))?;
    Ok((builders.into_iter().map(AllocatorBuilder::Tcp).collect(), Box::new(guard)))
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
/// with one line naming the lost process, and `code`: no panic message, no backtrace.
pub fn report_lost_peers(addresses: Vec<String>, code: i32) {
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
        crate::cleanup::exit(code);
    }));
}
