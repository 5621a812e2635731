//! The hot path's reader: one thread with its own connection that answers
//! the point reads every punch makes (its token; its history), in the order
//! they come.
//!
//! Every punch needs one or two small reads (whose token is this? is the
//! nonce new?). Sent to tokio's blocking pool, each read woke a thread of
//! its own (the pool grew to ~190 threads under load) and paid two context
//! switches. Here the thread drains a queue: while it works, further reads
//! wait in the queue without waking anyone, as the writer's group commit
//! does for writes.
//! Reads that may be long (exports, reports) stay on the blocking pool, so
//! that they never delay a punch.

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Result, StoreError};

type ReadJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// The thread ends when the store (the queue's sender) goes, after the
/// reads still queued.
pub struct HotReader {
    queue: mpsc::UnboundedSender<ReadJob>,
}

impl HotReader {
    pub fn start(mut conn: Connection) -> Self {
        // Unbounded: every caller awaits its answer, so the queue holds at
        // most one read per call in flight, and the transport caps those
        // (`--max-punches-in-flight`, HTTP/2 streams per connection).
        let (queue, mut jobs) = mpsc::unbounded_channel::<ReadJob>();
        std::thread::Builder::new()
            .name("punchguard-reader".into())
            .spawn(move || {
                while let Some(job) = jobs.blocking_recv() {
                    // A read that panics (a bug) drops its reply, so its
                    // caller hears an error; the reads after it go on.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
                }
            })
            .expect("spawning the reader thread");
        HotReader { queue }
    }

    /// Runs `read` on the reader's connection, after the reads queued before it.
    pub async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            // The caller may have gone (client cancelled): nothing to do.
            let _ = reply.send(read(conn));
        });
        let gone = || StoreError::Internal("a hot-path read failed (the reader thread)".into());
        self.queue.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}
