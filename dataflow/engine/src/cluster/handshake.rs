//! Only invited peers get in. Before a socket goes to timely, both ends prove they hold the
//! cluster's key, without ever sending it: each signs the other's fresh random nonce with
//! HMAC-SHA256. A port scanner, a process with another key, or a stale process of another job
//! is refused here, and never sees the exchanged data. Here the data itself then crosses the
//! network unencrypted: authenticated, not encrypted. (Dask's answer goes further: its TLS,
//! with certificates for every worker, authenticates and encrypts the data too -
//! distributed's docs, "TLS/SSL", distributed/comm/tcp.py.)
//!
//! The exchange, the connector being the process with the higher index:
//! 1. connector: `GREETING`, the job id, its index, its nonce;
//! 2. acceptor: its nonce, and its proof: HMAC(key, "acceptor", job, both indices, both nonces);
//! 3. connector checks that proof, then sends its own (the same over "connector");
//! 4. acceptor checks it and answers `ACCEPTED`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The first bytes a peer sends: "this is a dataflow process, protocol 1".
const GREETING: &[u8; 8] = b"hpcrsdf1";
const NONCE: usize = 32;
const PROOF: usize = 32;
const ACCEPTED: u8 = b'+';
/// How long a peer may take to answer one step of the handshake: a port scanner that connects
/// and says nothing is dropped after this.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// What every process of one job shares: the key (never sent) and the job id (sent in clear,
/// so that a process of another job is told apart from one with a wrong key).
#[derive(Clone)]
pub struct Secret {
    /// The cluster's key: a key file's bytes, or 32 random ones for `--processes`.
    pub key: Vec<u8>,
    /// The job id: the SHA-256 of what a job's processes agree on, or 32 random bytes.
    pub job: [u8; 32],
}

/// The shortest key taken: 128 bits.
pub const MIN_KEY: usize = 16;

impl Secret {
    /// A fresh random key and job, for the processes `--processes` starts.
    pub fn fresh() -> Result<Secret, String> {
        let (mut key, mut job) = (vec![0; 32], [0; 32]);
        getrandom::fill(&mut key)
            .and_then(|()| getrandom::fill(&mut job))
            .map_err(|e| format!("no random numbers from the operating system: {e}"))?;
        Ok(Secret { key, job })
    }

    /// The key from a file, and a job id made from what every process of a job must agree on.
    pub fn from_key_file(key: Vec<u8>, job_description: &str) -> Secret {
        Secret { key, job: Sha256::digest(job_description.as_bytes()).into() }
    }

    /// One line of hex, as a parent hands it to its children on their stdin (never on a
    /// command line, which `ps` shows to every user).
    pub fn to_line(&self) -> String {
        format!("{} {}\n", hex(&self.key), hex(&self.job))
    }

    /// The secret in a line that [`Secret::to_line`] wrote; `None` for any other line.
    pub fn from_line(line: &str) -> Option<Secret> {
        let (key, job) = line.trim().split_once(' ')?;
        Some(Secret { key: unhex(key)?, job: unhex(job)?.try_into().ok()? })
    }

    fn proof(
        &self,
        role: &[u8],
        acceptor: usize,
        connector: usize,
        nonces: [&[u8]; 2],
    ) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(role);
        mac.update(&self.job);
        mac.update(&(acceptor as u64).to_be_bytes());
        mac.update(&(connector as u64).to_be_bytes());
        mac.update(nonces[0]);
        mac.update(nonces[1]);
        mac
    }
}

/// The connector's side: process `me` has connected to process `them`.
pub fn offer(
    stream: &mut TcpStream,
    secret: &Secret,
    me: usize,
    them: usize,
) -> Result<(), String> {
    with_step_timeouts(stream, |stream| {
        let mine = nonce()?;
        let mut hello = GREETING.to_vec();
        hello.extend_from_slice(&secret.job);
        hello.extend_from_slice(&(me as u64).to_be_bytes());
        hello.extend_from_slice(&mine);
        stream.write_all(&hello).map_err(|e| format!("sending the greeting: {e}"))?;
        let mut answer = [0; NONCE + PROOF];
        stream.read_exact(&mut answer).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                "it closed the connection: it runs another job, or is not a dataflow process"
                    .to_owned()
            }
            _ => format!("waiting for its answer: {e}"),
        })?;
        let (theirs, proof) = answer.split_at(NONCE);
        secret
            .proof(b"acceptor", them, me, [&mine, theirs])
            .verify_slice(proof)
            .map_err(|_| "its answer is not signed with the cluster's key (a wrong --key-file?)")?;
        let proof = secret.proof(b"connector", them, me, [theirs, &mine]).finalize().into_bytes();
        stream.write_all(&proof).map_err(|e| format!("sending our proof: {e}"))?;
        let mut verdict = [0];
        match stream.read_exact(&mut verdict) {
            Ok(()) if verdict[0] == ACCEPTED => Ok(()),
            _ => Err("it refused our proof (a wrong --key-file?)".to_owned()),
        }
    })
}

/// The acceptor's side: process `me` of `processes` checks who connected, and returns its
/// index.
pub fn check(
    stream: &mut TcpStream,
    secret: &Secret,
    me: usize,
    processes: usize,
) -> Result<usize, String> {
    with_step_timeouts(stream, |stream| {
        let mut hello = [0; 8 + 32 + 8 + NONCE];
        stream.read_exact(&mut hello).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                "not a dataflow process (too short a greeting)".to_owned()
            }
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                "not a dataflow process (no greeting)".to_owned()
            }
            _ => format!("reading its greeting: {e}"),
        })?;
        let (greeting, rest) = hello.split_at(8);
        let (job, rest) = rest.split_at(32);
        let (index, theirs) = rest.split_at(8);
        if greeting != GREETING {
            return Err("not a dataflow process (a wrong greeting)".to_owned());
        }
        if job != secret.job {
            return Err("a process of another job".to_owned());
        }
        let them = u64::from_be_bytes(index.try_into().expect("8 bytes"));
        let them =
            usize::try_from(them).ok().filter(|&i| i > me && i < processes).ok_or_else(|| {
                format!(
                    "it says it is process {them}; only processes {} to {} connect here",
                    me + 1,
                    processes - 1
                )
            })?;
        let mine = nonce()?;
        let proof = secret.proof(b"acceptor", me, them, [theirs, &mine]).finalize().into_bytes();
        stream
            .write_all(&[&mine[..], &proof[..]].concat())
            .map_err(|e| format!("answering: {e}"))?;
        let mut proof = [0; PROOF];
        stream
            .read_exact(&mut proof)
            .map_err(|_| "it did not prove it holds the cluster's key (a wrong --key-file?)")?;
        secret
            .proof(b"connector", me, them, [&mine, theirs])
            .verify_slice(&proof)
            .map_err(|_| "its proof is not signed with the cluster's key (a wrong --key-file?)")?;
        stream.write_all(&[ACCEPTED]).map_err(|e| format!("accepting: {e}"))?;
        Ok(them)
    })
}

/// Runs one side of the handshake with every read and write bounded by [`STEP_TIMEOUT`], then
/// lifts the bounds: timely's threads block on the socket for as long as a job lasts.
fn with_step_timeouts<T>(
    stream: &mut TcpStream,
    side: impl FnOnce(&mut TcpStream) -> Result<T, String>,
) -> Result<T, String> {
    let bound =
        |limit| stream.set_read_timeout(limit).and_then(|()| stream.set_write_timeout(limit));
    bound(Some(STEP_TIMEOUT)).map_err(|e| format!("setting a timeout: {e}"))?;
    let result = side(stream)?;
    stream
        .set_read_timeout(None)
        .and_then(|()| stream.set_write_timeout(None))
        .map_err(|e| format!("lifting the timeout: {e}"))?;
    Ok(result)
}

fn nonce() -> Result<[u8; NONCE], String> {
    let mut nonce = [0; NONCE];
    getrandom::fill(&mut nonce)
        .map_err(|e| format!("no random numbers from the operating system: {e}"))?;
    Ok(nonce)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Runs `check` on one end of a loopback connection and `connector` on the other.
    fn handshake(
        acceptor: &Secret,
        connector: impl FnOnce(TcpStream) -> Result<(), String> + Send + 'static,
    ) -> (Result<usize, String>, Result<(), String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let other = std::thread::spawn(move || connector(TcpStream::connect(address).unwrap()));
        let (mut stream, _) = listener.accept().unwrap();
        let checked = check(&mut stream, acceptor, 0, 3);
        drop(stream);
        (checked, other.join().unwrap())
    }

    #[test]
    fn peers_with_the_key_get_in_and_say_who_they_are() {
        let secret = Secret::fresh().unwrap();
        let theirs = secret.clone();
        let (checked, offered) = handshake(&secret, move |mut s| offer(&mut s, &theirs, 2, 0));
        assert_eq!((checked, offered), (Ok(2), Ok(())));
    }

    #[test]
    fn a_wrong_key_another_job_garbage_and_a_wrong_index_are_refused() {
        let secret = Secret::fresh().unwrap();
        let wrong_key = Secret { key: vec![7; 32], job: secret.job };
        let (checked, offered) = handshake(&secret, move |mut s| offer(&mut s, &wrong_key, 1, 0));
        assert!(checked.unwrap_err().contains("did not prove"));
        assert!(offered.unwrap_err().contains("not signed with the cluster's key"));

        let other_job = Secret { key: secret.key.clone(), job: [1; 32] };
        let (checked, offered) = handshake(&secret, move |mut s| offer(&mut s, &other_job, 1, 0));
        assert_eq!(checked.unwrap_err(), "a process of another job");
        assert!(offered.unwrap_err().contains("closed the connection"));

        let (checked, _) = handshake(&secret, |mut s| {
            s.write_all(&[0; 8]).map_err(|e| e.to_string()) // timely's own greeting: an index
        });
        assert!(checked.unwrap_err().contains("too short a greeting"));

        let same = secret.clone();
        let (checked, _) = handshake(&secret, move |mut s| offer(&mut s, &same, 9, 0));
        assert!(checked.unwrap_err().contains("it says it is process 9"));
    }

    #[test]
    fn a_forged_proof_is_refused() {
        // A connector that knows the job id (it travels in clear) but not the key, and sends
        // its proof without checking the acceptor's.
        let secret = Secret::fresh().unwrap();
        let job = secret.job;
        let (checked, forged) = handshake(&secret, move |mut s| {
            let hello = [&GREETING[..], &job, &1_u64.to_be_bytes(), &[5; NONCE]].concat();
            s.write_all(&hello).map_err(|e| e.to_string())?;
            let mut answer = [0; NONCE + PROOF];
            s.read_exact(&mut answer).map_err(|e| e.to_string())?;
            s.write_all(&[9; PROOF]).map_err(|e| e.to_string())?;
            let mut verdict = [0];
            match s.read(&mut verdict) {
                Ok(1) if verdict[0] == ACCEPTED => Err("accepted".to_owned()),
                _ => Ok(()),
            }
        });
        assert!(checked.unwrap_err().contains("its proof is not signed"));
        assert_eq!(forged, Ok(()), "never told it was accepted");
    }

    #[test]
    fn the_secret_travels_as_one_line_of_hex() {
        let secret = Secret::fresh().unwrap();
        let back = Secret::from_line(&secret.to_line()).unwrap();
        assert_eq!((back.key, back.job), (secret.key, secret.job));
        assert!(Secret::from_line("zz 00").is_none());
    }
}
