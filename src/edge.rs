//! The network edge: accepting connections so that no client, however slow
//! or hostile, can take the server out.
//!
//! - **A cap on connections.** Past it, the connection that has sent the
//!   least (the oldest one still silent) is cut to make room, so a health
//!   check or a real phone always gets in; when every connection is a real
//!   one, new ones wait in the kernel's backlog.
//! - **A handshake deadline.** A connection that has not sent the first
//!   [`HANDSHAKE_BYTES`] (the HTTP/2 preface, or a TLS ClientHello) within
//!   the deadline is closed: bare TCP connections are never kept. After the
//!   handshake, HTTP/2 keepalive pings close dead peers.
//! - **Backoff when out of file descriptors.** `accept` failing with EMFILE
//!   or ENFILE cuts the oldest silent connection and waits a little, instead
//!   of spinning on a CPU while the backlog grows.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Sleep;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::metrics as m;

/// Bytes a connection must send to count as speaking: the HTTP/2 client
/// preface is 24 bytes, and a TLS ClientHello is longer.
pub const HANDSHAKE_BYTES: usize = 24;

/// Limits of the edge (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSettings {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Longest pause after `accept` failed.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A connection that has not yet sent its handshake, which the cap may cut.
struct Silent {
    spoke: AtomicBool,
    cut: CancellationToken,
}

/// The silent connections, oldest first (entries of connections that have
/// spoken or closed are skipped, and swept out as the queue grows).
#[derive(Default)]
struct SilentQueue(Mutex<VecDeque<Weak<Silent>>>);

impl SilentQueue {
    fn push(&self, silent: &Arc<Silent>, open: usize) {
        let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() > 2 * open.max(64) {
            queue.retain(|w| {
                w.upgrade()
                    .is_some_and(|s| !s.spoke.load(Ordering::Relaxed))
            });
        }
        queue.push_back(Arc::downgrade(silent));
    }

    /// Cuts the oldest connection still silent; false when there is none.
    fn cut_oldest(&self) -> bool {
        let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(weak) = queue.pop_front() {
            if let Some(silent) = weak.upgrade()
                && !silent.spoke.load(Ordering::Relaxed)
            {
                silent.cut.cancel();
                metrics::counter!(m::CONNECTIONS_CUT, "why" => "cap").increment(1);
                return true;
            }
        }
        false
    }
}

/// The connections `listener` accepts, within `settings`, until `stop`.
pub fn incoming(
    listener: TcpListener,
    settings: EdgeSettings,
    stop: CancellationToken,
) -> ReceiverStream<io::Result<Guarded>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(accept_loop(listener, settings, stop, tx));
    ReceiverStream::new(rx)
}

async fn accept_loop(
    listener: TcpListener,
    settings: EdgeSettings,
    stop: CancellationToken,
    tx: mpsc::Sender<io::Result<Guarded>>,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let silent = Arc::new(SilentQueue::default());
    let mut backoff = Duration::from_millis(5);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Full: make room by cutting the oldest silent connection,
                // then wait for a slot (a cut one frees its slot at once).
                silent.cut_oldest();
                tokio::select! {
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return,
                    },
                    () = stop.cancelled() => return,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                backoff = Duration::from_millis(5);
                let _ = stream.set_nodelay(true);
                let open = settings.max_connections - slots.available_permits();
                let connection = Guarded::new(stream, permit, settings.handshake_timeout);
                silent.push(&connection.silent, open);
                if tx.send(Ok(connection)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                drop(permit);
                // Out of descriptors: cut the oldest silent connection and
                // try again as soon as it has closed; back off only when
                // there was nothing to cut (or the error is another).
                let exhausted = matches!(e.raw_os_error(), Some(23 | 24)); // ENFILE, EMFILE
                let kind = if exhausted { "fd_limit" } else { "other" };
                metrics::counter!(m::ACCEPT_ERRORS, "kind" => kind).increment(1);
                let pause = if exhausted && silent.cut_oldest() {
                    backoff = Duration::from_millis(5);
                    Duration::from_millis(1)
                } else {
                    tracing::warn!(error = %e, ?backoff, "accept failed; backing off");
                    let pause = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    pause
                };
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stop.cancelled() => return,
                }
            }
        }
    }
}

/// What a silent connection waits on: its handshake deadline, and the cut.
struct Waiting {
    deadline: Pin<Box<Sleep>>,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
}

/// An accepted connection within the edge's limits: it holds its slot
/// under the cap, and reads fail once it is cut or misses its handshake
/// deadline, which makes the server close it.
pub struct Guarded {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    silent: Arc<Silent>,
    /// Until the handshake: its deadline and the cap's cut.
    waiting: Option<Waiting>,
    heard: usize,
}

impl Guarded {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, deadline: Duration) -> Self {
        let silent = Arc::new(Silent {
            spoke: AtomicBool::new(false),
            cut: CancellationToken::new(),
        });
        let waiting = Waiting {
            deadline: Box::pin(tokio::time::sleep(deadline)),
            cut: Box::pin(silent.cut.clone().cancelled_owned()),
        };
        Guarded {
            stream,
            _slot: slot,
            silent,
            waiting: Some(waiting),
            heard: 0,
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(Waiting { deadline, cut }) = &mut this.waiting {
            if cut.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "cut to make room under the connection cap",
                )));
            }
            if deadline.as_mut().poll(cx).is_ready() {
                metrics::counter!(m::CONNECTIONS_CUT, "why" => "handshake").increment(1);
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no handshake before the deadline",
                )));
            }
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if this.waiting.is_some() && matches!(read, Poll::Ready(Ok(()))) {
            this.heard += buf.filled().len() - before;
            if this.heard >= HANDSHAKE_BYTES {
                this.waiting = None;
                this.silent.spoke.store(true, Ordering::Relaxed);
            }
        }
        read
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl Connected for Guarded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}
