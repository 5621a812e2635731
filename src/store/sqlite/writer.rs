//! The single writer thread and its group commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::store::{Failure, Result, StoreError, panic_message};

/// Most jobs one transaction takes. Bounds the latency a job can add to the
/// others in its group.
const MAX_GROUP: usize = 512;

/// Jobs that may wait for the writer; beyond this, callers wait to enqueue
/// (back-pressure instead of unbounded memory).
const QUEUE_DEPTH: usize = 8192;

/// A unit of work for the writer, type-erased so that one queue carries
/// punches, tokens and sites alike.
trait WriteJob: Send {
    /// Runs the job inside the group's transaction, in a savepoint of its own.
    fn apply(&mut self, tx: &mut Transaction<'_>);
    /// Answers the caller once the group's commit has succeeded or failed.
    fn finish(self: Box<Self>, commit: Result<(), &rusqlite::Error>);
    /// Answers the caller with `error`: the group was never committed.
    fn abandon(self: Box<Self>, error: StoreError);
}

struct Job<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn apply(&mut self, tx: &mut Transaction<'_>) {
        let Some(work) = self.work.take() else { return };
        let outcome = tx
            .savepoint()
            .map_err(StoreError::from)
            .and_then(|savepoint| {
                let outcome = work(&savepoint)?;
                savepoint.commit()?;
                Ok(outcome)
                // On error the savepoint is dropped, which rolls this job back.
            });
        self.outcome = Some(outcome);
    }

    fn finish(self: Box<Self>, commit: Result<(), &rusqlite::Error>) {
        let answer = match (commit, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Err(e), Some(Ok(_))) => Err(StoreError::Commit(e.to_string())),
            (_, Some(Err(e))) => Err(e),
            (Err(e), None) => Err(StoreError::Commit(e.to_string())),
            (Ok(()), None) => Err(StoreError::Closed),
        };
        // The caller may have gone away (client cancelled); the write stands.
        let _ = self.reply.send(answer);
    }

    fn abandon(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

pub struct Writer {
    queue: Mutex<Option<mpsc::Sender<Box<dyn WriteJob>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<WriterStats>,
    failure: Failure,
}

/// Counters of the writer's work, for tests and benchmarks to see grouping.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub commits: AtomicU64,
    pub jobs: AtomicU64,
}

impl Writer {
    pub fn start(conn: Connection) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(WriterStats::default());
        let failure = Failure::default();
        let (thread_stats, thread_failure) = (stats.clone(), failure.clone());
        let thread = std::thread::Builder::new()
            .name("punchguard-sqlite-writer".into())
            .spawn(move || run(conn, rx, &thread_stats, &thread_failure))
            .expect("spawning the writer thread");
        Self {
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            stats,
            failure,
        }
    }

    pub fn failure(&self) -> Failure {
        self.failure.clone()
    }

    /// (commits, jobs) so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.commits.load(Ordering::Relaxed),
            self.stats.jobs.load(Ordering::Relaxed),
        )
    }

    /// Runs `work` in the next group transaction; resolves after the commit.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let queue = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Job {
            work: Some(work),
            outcome: None,
            reply,
        });
        let gone = || self.failure.writer_gone();
        queue.send(job).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Stops taking jobs, lets the thread finish those queued, and waits for it.
    pub async fn close(&self) -> Result<()> {
        drop(self.queue.lock().unwrap_or_else(|e| e.into_inner()).take());
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| StoreError::Internal(format!("writer join failed: {e}")))?
                .map_err(|_| StoreError::Internal("writer thread panicked".into()))?;
        }
        match self.failure.reason() {
            Some(why) => Err(StoreError::Internal(why.to_owned())),
            None => Ok(()),
        }
    }
}

/// The writer loop: block for one job, take whatever else is already queued,
/// commit them together, answer everyone. Ends when every sender is gone.
///
/// A panic (a bug in a write) rolls back the group it was committing, whose
/// callers hear an internal error, and stops the writer with the store's
/// [`Failure`] raised: a process that can never write again must not look
/// alive.
fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn WriteJob>>,
    stats: &WriterStats,
    failure: &Failure,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let commit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            commit_group(&mut conn, &mut group)
        }));
        let commit = match commit {
            Ok(commit) => commit,
            Err(payload) => {
                let why = panic_message(payload.as_ref());
                failure.raise(format!("the sqlite writer panicked: {why}"));
                for job in group {
                    job.abandon(failure.writer_gone());
                }
                return;
            }
        };
        crate::metrics::record_group_commit(group.len(), started.elapsed(), commit.is_ok());
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(group.len() as u64, Ordering::Relaxed);
        if let Err(e) = &commit {
            tracing::error!(error = %e, jobs = group.len(), "group commit failed");
        }
        for job in group {
            job.finish(commit.as_ref().map(|_| ()));
        }
    }
    tracing::debug!("sqlite writer stopped");
}

fn commit_group(conn: &mut Connection, group: &mut [Box<dyn WriteJob>]) -> rusqlite::Result<()> {
    let mut tx = conn.transaction()?;
    for job in group.iter_mut() {
        job.apply(&mut tx);
    }
    tx.commit()
}
