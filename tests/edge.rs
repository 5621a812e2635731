//! The network edge (issue 12): no client, however slow or hostile, keeps
//! the server from stopping on time or from answering its health check.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tonic::transport::Channel;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use common::process::*;
use common::*;
use punchguard::proto::v1 as pb;
use punchguard::proto::v1::attendance_service_client::AttendanceServiceClient;
use punchguard::proto::v1::punch_service_client::PunchServiceClient;

/// Opens up to `n` bare TCP connections that never say a word; those the
/// server's backlog has no room for are given up after a moment.
async fn bare_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..n {
        let addr = addr.to_owned();
        opening.spawn(async move {
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
        });
    }
    let mut open = Vec::new();
    while let Some(done) = opening.join_next().await {
        if let Ok(Ok(Ok(stream))) = done {
            open.push(stream);
        }
    }
    open
}

async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap()
}

async fn health(addr: &str) -> i32 {
    let mut client = HealthClient::new(channel(addr).await);
    let answer = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    answer.into_inner().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_idle_connections_and_a_stalled_feed_exits_zero_within_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edge.db");
    let token = |role: &str, employee: Option<&str>| {
        let mut args = vec!["token", "create", "--org", "acme", "--role", role];
        args.extend(employee.iter().flat_map(|e| ["--employee", *e]));
        cli(&args, &db)
    };
    let (hr, device) = (token("hr", None), token("device", Some("aino")));
    let mut served = serve_with(
        &db,
        "warn",
        Stdio::inherit(),
        &["--drain-deadline-secs", "2"],
    );
    let addr = served.grpc.clone();

    let idle = bare_connections(&addr, 100).await;
    assert_eq!(idle.len(), 100);
    // A live feed whose reader stops reading, while punches keep coming.
    let feed = AttendanceServiceClient::new(channel(&addr).await)
        .watch_punches(authed(pb::WatchPunchesRequest::default(), &hr))
        .await
        .unwrap()
        .into_inner();
    let mut punches = PunchServiceClient::new(channel(&addr).await);
    for i in 0..50 {
        let mut request = honest(&format!("p{i}"));
        request.installed_packages.clear();
        punches
            .submit_punch(authed(request, &device))
            .await
            .unwrap();
    }

    let asked = Instant::now();
    Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(30),
            "still running 30 s after SIGTERM with a 2 s drain deadline"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    println!(
        "exited {:?} after SIGTERM (drain deadline 2 s) with 100 idle connections and a stalled feed",
        asked.elapsed()
    );
    drop((idle, feed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_through_2000_bare_connections_at_the_fd_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edge.db");
    // 256 descriptors for the whole server: far fewer than the connections.
    let mut child = Command::new("prlimit")
        .args([
            "--nofile=256:256",
            BIN,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-metrics",
        ])
        .arg("--database")
        .arg(&db)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs the server under a lowered fd limit");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("listening on ").unwrap().to_owned();
    let served = Served {
        child,
        grpc: addr.clone(),
        metrics: String::new(),
        console: None,
    };

    let bare = bare_connections(&addr, 2000).await;
    println!("{} bare connections open", bare.len());
    assert!(
        bare.len() >= 1500,
        "most of the 2,000 connect: {}",
        bare.len()
    );
    // A health check on a new connection is answered, and again after it.
    for _ in 0..2 {
        let status = tokio::time::timeout(Duration::from_secs(30), health(&addr))
            .await
            .expect("health answers within 30 s");
        assert_eq!(status, ServingStatus::Serving as i32);
    }
    drop(bare);
    drop(served);
}
