//! The database connection cut mid-service: a loopback TCP proxy sits
//! between punchguard and PostgreSQL and drops every connection on demand.
//! While it is cut, punches are answered UNAVAILABLE (retryable), never
//! INTERNAL and never acknowledged; once it is back the server recovers on
//! its own, and every punch acknowledged before, during or after is stored
//! exactly once; a caller's deadline is kept while the database is away.
//! Needs `PUNCHGUARD_TEST_POSTGRES`.

mod common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tonic::Code;

use common::postgres::Schema;
use common::*;
use punchguard::auth::Role;
use punchguard::engine::OrgId;
use punchguard::store::PunchQuery;

/// What the proxy does with a connection.
const FORWARD: u8 = 0;
/// Closes it at once, as a stopped server's host would.
const REFUSE: u8 = 1;
/// Accepts it and never answers, as a partitioned network does.
const SWALLOW: u8 = 2;

/// Forwards loopback connections to PostgreSQL, or fails them on demand.
struct Proxy {
    addr: std::net::SocketAddr,
    mode: Arc<AtomicU8>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let links = Arc::new(Mutex::new(Vec::<AbortHandle>::new()));
        let (accept_mode, accept_links) = (mode.clone(), links.clone());
        tokio::spawn(async move {
            loop {
                let (mut client, _) = listener.accept().await.unwrap();
                let upstream = upstream.clone();
                let link = match accept_mode.load(Ordering::SeqCst) {
                    REFUSE => continue, // dropped: the connection closes at once
                    SWALLOW => tokio::spawn(async move {
                        let _held = client;
                        std::future::pending::<()>().await;
                    }),
                    _ => tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    }),
                };
                accept_links.lock().unwrap().push(link.abort_handle());
            }
        });
        Proxy { addr, mode, links }
    }

    /// Drops every open connection, then treats new ones as `mode` says.
    fn fail(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.fail(FORWARD);
    }
}

/// `url`'s `host:port`, and `url` with `addr` in its place.
fn through(url: &str, addr: std::net::SocketAddr) -> (String, String) {
    let (scheme_user, rest) = url.split_once('@').expect("a URL with user@host");
    let (host, path) = rest.split_at(rest.find('/').expect("a URL with a database"));
    (host.to_owned(), format!("{scheme_user}@{addr}{path}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_database_connection_is_unavailable_then_recovers() {
    let Some(schema) =
        Schema::fresh("a_cut_database_connection_is_unavailable_then_recovers").await
    else {
        return;
    };
    let (upstream, _) = through(&schema.url, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(upstream).await;
    let (_, url) = through(&schema.url, proxy.addr);

    let server = TestServer::start_postgres(&url).await;
    let device = server.token("kotka", Role::Device, Some("aino")).await;
    server.kotka_org("kotka").await;
    let mut client = server.punch_client().await;
    let mut acknowledged = Vec::new();
    let mut submit = async |id: String| {
        let outcome = client
            .submit_punch(authed(honest(&id), &device))
            .await
            .map(|r| r.into_inner());
        if outcome.is_ok() {
            acknowledged.push(id);
        }
        outcome
    };

    for i in 0..10 {
        submit(format!("before-{i}")).await.unwrap();
    }

    proxy.fail(REFUSE);
    for i in 0..5 {
        let started = Instant::now();
        let refused = submit(format!("during-{i}")).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
        // Bounded by the pool's connect wait, far below the request timeout.
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    // A partition instead: connections hang. The caller's own deadline
    // (grpc-timeout) is kept while the server waits for the database, and
    // without one the call ends UNAVAILABLE at the pool's 5 s connect wait.
    proxy.fail(SWALLOW);
    let mut hurried = authed(honest("hurried"), &device);
    hurried.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let cut_short = server
        .punch_client()
        .await
        .submit_punch(hurried)
        .await
        .unwrap_err();
    assert!(
        matches!(cut_short.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{cut_short:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let refused = submit("partitioned".into()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");

    proxy.restore();
    let restored = Instant::now();
    let mut recovered = None;
    for attempt in 0.. {
        match submit(format!("after-{attempt}")).await {
            Ok(_) => {
                recovered = Some(restored.elapsed());
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(
                    restored.elapsed() < Duration::from_secs(30),
                    "never recovered"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    println!(
        "recovered {:?} after the connection came back",
        recovered.unwrap()
    );
    // A client retrying the refused punches with their ids records each once.
    for i in 0..5 {
        submit(format!("during-{i}")).await.unwrap();
    }

    let stored = server
        .app
        .store
        .list_punches(PunchQuery {
            org: OrgId::new("kotka").unwrap(),
            clock: punchguard::store::Clock::Received,
            from: Timestamp::now() - SignedDuration::from_hours(1),
            to: Timestamp::now() + SignedDuration::from_hours(1),
            after: None,
            limit: 1000,
        })
        .await
        .unwrap();
    let mut stored_ids: Vec<String> = stored.iter().map(|p| p.punch_id.to_string()).collect();
    stored_ids.sort();
    acknowledged.sort();
    acknowledged.dedup();
    assert_eq!(
        stored_ids, acknowledged,
        "acknowledged punches, each exactly once"
    );
    server.stop().await;
}
