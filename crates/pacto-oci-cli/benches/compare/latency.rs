//! A loopback TCP proxy that adds a fixed one-way delay, as a distant registry would.
//!
//! Every chunk of bytes is held for `delay` in each direction while the stream keeps
//! flowing, at most 4 MiB per direction in flight until the receiver's acknowledgement gets
//! back (a TCP window: a long transfer takes size / 4 MiB round trips, there is no other
//! bandwidth cap), and a new connection pays one extra round trip before its first byte
//! reaches the registry, as a TCP handshake does on a real network. It is protocol-blind, so every tool is delayed the same way: a client that opens
//! more connections or makes more round trips pays for them, as it would against a real
//! registry.
//!
//! The `FaultProxy` of `pacto-test-support` delays whole HTTP requests instead: it buffers
//! bodies, opens an upstream connection per request, and charges nothing for a new client
//! connection, so it cannot show what connection reuse is worth.

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes read from a socket at a time.
const CHUNK: usize = 64 * 1024;
/// Bytes in flight per direction at most, as a TCP window limits them: about what Linux's
/// default buffer limits let a long transfer reach (`tcp_wmem` max 4 MiB). A transfer of N
/// bytes then takes at least N / 4 MiB round trips, as it would on a real network, whatever
/// the protocol above TCP.
const WINDOW: usize = 4 * 1024 * 1024;
/// Bound on one wait for the window to open while no acknowledgement is scheduled yet.
const ACK_POLL: Duration = Duration::from_millis(5);
/// Bound on connecting to the upstream (a loopback registry).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running proxy on `127.0.0.1`; stopped (and every connection shut) on drop.
#[derive(Debug)]
pub(crate) struct LatencyProxy {
    addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl LatencyProxy {
    /// Starts a proxy forwarding to `upstream` with `delay` each way.
    pub(crate) fn start(upstream: SocketAddr, delay: Duration) -> io::Result<LatencyProxy> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the latency proxy only forwards to loopback, not {upstream}"),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shutdown = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let shutdown = Arc::clone(&shutdown);
            let connections = Arc::clone(&connections);
            std::thread::Builder::new()
                .name("latency proxy accept".to_owned())
                .spawn(move || accept_loop(&listener, upstream, delay, &shutdown, &connections))?
        };
        Ok(LatencyProxy {
            addr,
            shutdown,
            connections,
            acceptor: Some(acceptor),
        })
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        // Wake the acceptor, which checks the flag after every connection.
        let _ = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for socket in connections.iter() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    upstream: SocketAddr,
    delay: Duration,
    shutdown: &AtomicBool,
    connections: &Mutex<Vec<TcpStream>>,
) {
    for incoming in listener.incoming() {
        if shutdown.load(Ordering::SeqCst) {
            return;
        }
        let accepted = Instant::now();
        let Ok(client) = incoming else { continue };
        let Ok(server) = TcpStream::connect_timeout(&upstream, CONNECT_TIMEOUT) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        // Without it, Nagle and delayed ACKs add their own 40 ms to small writes.
        if client.set_nodelay(true).is_err() || server.set_nodelay(true).is_err() {
            continue;
        }
        {
            let mut live = connections.lock().unwrap_or_else(PoisonError::into_inner);
            live.retain(|socket| socket.peer_addr().is_ok());
            for socket in [&client, &server] {
                if let Ok(clone) = socket.try_clone() {
                    live.push(clone);
                }
            }
        }
        // The handshake: the client's first bytes leave one round trip after it connected.
        let handshake = accepted + 2 * delay;
        let _ = pipe(&client, &server, delay, Some(handshake));
        let _ = pipe(&server, &client, delay, None);
    }
}

/// Copies `from` to `to`, each chunk delivered `delay` after it was read (and not before
/// `not_before + delay`); the write side is shut when `from` ends.
fn pipe(
    from: &TcpStream,
    to: &TcpStream,
    delay: Duration,
    not_before: Option<Instant>,
) -> io::Result<()> {
    let mut reader = from.try_clone()?;
    let mut writer = to.try_clone()?;
    let (sender, receiver) = mpsc::channel::<(Instant, Vec<u8>)>();
    let window = Arc::new(Window::default());
    let reader_window = Arc::clone(&window);
    std::thread::Builder::new()
        .name("latency proxy read".to_owned())
        .spawn(move || {
            let mut buffer = vec![0u8; CHUNK];
            loop {
                let room = reader_window.room();
                match reader.read(&mut buffer[..room]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        reader_window.sent(n);
                        let now = Instant::now();
                        let sent = not_before.map_or(now, |floor| now.max(floor));
                        if sender.send((sent + delay, buffer[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        })?;
    std::thread::Builder::new()
        .name("latency proxy write".to_owned())
        .spawn(move || {
            // Ends when the reader is done (its sender dropped) and every chunk is written.
            for (due, bytes) in receiver {
                let wait = due.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    // The injected latency, the point of the proxy: not a synchronisation.
                    std::thread::sleep(wait);
                }
                if writer.write_all(&bytes).is_err() {
                    let _ = writer.shutdown(Shutdown::Both);
                    window.close();
                    return;
                }
                // The receiver's acknowledgement takes the same delay back.
                window.delivered(bytes.len(), Instant::now() + delay);
            }
            window.close();
            let _ = writer.shutdown(Shutdown::Write);
        })?;
    Ok(())
}

/// The bytes of one direction that are in flight: read from the sender, not yet acknowledged
/// by the receiver (delivered plus one delay).
#[derive(Debug, Default)]
struct Window {
    flight: Mutex<Flight>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Flight {
    bytes: usize,
    /// Delivered chunks: when their acknowledgement arrives, and their size.
    acks: VecDeque<(Instant, usize)>,
    /// The writer is gone: stop holding the reader back.
    closed: bool,
}

impl Window {
    /// Waits until the window has room, and returns how much may be read now (at most a
    /// chunk).
    fn room(&self) -> usize {
        let mut flight = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            while let Some(&(at, n)) = flight.acks.front() {
                if at > now {
                    break;
                }
                flight.bytes = flight.bytes.saturating_sub(n);
                flight.acks.pop_front();
            }
            if flight.closed {
                return CHUNK;
            }
            if flight.bytes < WINDOW {
                return (WINDOW - flight.bytes).min(CHUNK);
            }
            // Until the next acknowledgement is due, or the writer delivers another chunk.
            let wait = flight
                .acks
                .front()
                .map_or(ACK_POLL, |(at, _)| at.saturating_duration_since(now));
            flight = self
                .changed
                .wait_timeout(flight, wait.max(Duration::from_micros(100)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn sent(&self, n: usize) {
        self.flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes += n;
    }

    fn delivered(&self, n: usize, acknowledged: Instant) {
        self.flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .acks
            .push_back((acknowledged, n));
        self.changed.notify_all();
    }

    fn close(&self) {
        self.flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.changed.notify_all();
    }
}
