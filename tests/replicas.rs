//! Two `punchguard serve` processes on one PostgreSQL database behave as one
//! service: an employee's consecutive punches land on alternate replicas,
//! and every rule that reads history still sees the other replica's
//! writes; a fence change made through one replica reaches the other.
//! Needs `PUNCHGUARD_TEST_POSTGRES` (see tests/common/postgres.rs).

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use tonic::transport::Channel;

use common::postgres::Schema;
use common::process::*;
use common::*;
use pb::FindingCode::{DeviceShared, Duplicate, ImpossibleTravel, UnboundDevice};
use punchguard::proto::v1 as pb;
use punchguard::proto::v1::{
    admin_service_client::AdminServiceClient, attendance_service_client::AttendanceServiceClient,
    punch_service_client::PunchServiceClient,
};

/// Seconds between each replica's checks for configuration changes.
const REFRESH_SECS: u64 = 1;

struct Replica {
    served: Served,
    punches: PunchServiceClient<Channel>,
}

impl Replica {
    async fn start(url: &str) -> Self {
        let served = serve_with(
            url,
            "warn",
            Stdio::inherit(),
            &["--snapshot-refresh-secs", &REFRESH_SECS.to_string()],
        );
        let channel = Channel::from_shared(format!("http://{}", served.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Replica {
            served,
            punches: PunchServiceClient::new(channel),
        }
    }

    async fn punch(&self, request: pb::SubmitPunchRequest, token: &str) -> pb::SubmitPunchResponse {
        self.punches
            .clone()
            .submit_punch(authed(request, token))
            .await
            .unwrap()
            .into_inner()
    }

    fn stop(mut self) {
        // SIGTERM: a graceful stop, as a rolling deploy does.
        let pid = self.served.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(self.served.child.wait().unwrap().success());
    }
}

fn codes(response: &pb::SubmitPunchResponse) -> Vec<pb::FindingCode> {
    let verdict = response.verdict.as_ref().unwrap();
    verdict.findings.iter().map(|f| f.code()).collect()
}

fn decision(response: &pb::SubmitPunchResponse) -> pb::Decision {
    response.verdict.as_ref().unwrap().decision()
}

/// A punch made `minutes` ago, sent now from the offline queue.
fn earlier(mut r: pb::SubmitPunchRequest, minutes: i64) -> pb::SubmitPunchRequest {
    r.client_time = Some(ts(Timestamp::now() - SignedDuration::from_mins(minutes)));
    gps(&mut r).fix_time = r.client_time;
    r.sent_time = Some(ts(Timestamp::now()));
    r.queued_offline = true;
    r
}

fn from_device(mut r: pb::SubmitPunchRequest, device_id: &str) -> pb::SubmitPunchRequest {
    device(&mut r).device_id = device_id.into();
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_behave_as_one_service() {
    let Some(schema) = Schema::fresh("two_replicas_on_one_database_behave_as_one_service").await
    else {
        return;
    };
    let url = schema.url.as_str();
    let token = |role: &str, employee: Option<&str>| {
        let mut args = vec!["token", "create", "--org", "kotka", "--role", role];
        args.extend(employee.iter().flat_map(|e| ["--employee", *e]));
        cli(&args, url)
    };
    let admin = token("admin", None);
    let hr = token("hr", None);
    let (aino, bea, cai) = (
        token("device", Some("aino")),
        token("device", Some("bea")),
        token("device", Some("cai")),
    );

    let a = Replica::start(url).await;
    let b = Replica::start(url).await;

    // A fence change through A takes effect on B within the refresh period.
    let a_channel = Channel::from_shared(format!("http://{}", a.served.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    AdminServiceClient::new(a_channel.clone())
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: "kotka".into(),
                geojson: KOTKA.into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let changed = Instant::now();
    let bound = Duration::from_secs(2 * REFRESH_SECS + 8);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let probe = b
            .punch(
                from_device(honest(&format!("probe-{attempt}")), "probe-phone"),
                &cai,
            )
            .await;
        if decision(&probe) == pb::Decision::Accepted {
            break;
        }
        assert!(
            changed.elapsed() < bound,
            "replica B still judges without A's fences after {:?}: {probe:?}",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "fence change through A took effect on B after {:?} (refresh every {REFRESH_SECS} s)",
        changed.elapsed()
    );

    // Idempotency: a retry of the same punch id on the other replica gets
    // the first record back.
    let first = a
        .punch(from_device(honest("same-id"), "aino-phone"), &aino)
        .await;
    let retry = b
        .punch(from_device(honest("same-id"), "aino-phone"), &aino)
        .await;
    assert!(!first.duplicate && retry.duplicate);
    assert_eq!(retry.received_time, first.received_time);
    assert_eq!(retry.verdict, first.verdict);

    // Nonce replay across replicas.
    let mut fresh = from_device(honest("nonce-1"), "aino-phone");
    fresh.nonce = "n-7".into();
    assert_eq!(codes(&a.punch(fresh, &aino).await), vec![]);
    let mut replayed = from_device(honest("nonce-2"), "aino-phone");
    replayed.nonce = "n-7".into();
    let replayed = b.punch(replayed, &aino).await;
    assert_eq!(codes(&replayed), vec![Duplicate]);
    assert_eq!(decision(&replayed), pb::Decision::Rejected);

    // Impossible travel: Kotka on A ten minutes ago, Beijing on B now.
    let kotka = a
        .punch(
            earlier(from_device(honest("travel-1"), "bea-phone"), 10),
            &bea,
        )
        .await;
    assert_eq!(decision(&kotka), pb::Decision::Accepted, "{kotka:?}");
    let mut beijing = from_device(honest("travel-2"), "bea-phone");
    (gps(&mut beijing).longitude, gps(&mut beijing).latitude) = (Some(116.404), Some(39.915));
    let beijing = b.punch(beijing, &bea).await;
    assert!(codes(&beijing).contains(&ImpossibleTravel), "{beijing:?}");

    // Device sharing: Bea's phone punches for Cai on the other replica.
    let shared = a
        .punch(from_device(honest("shared-1"), "bea-phone"), &cai)
        .await;
    assert!(codes(&shared).contains(&DeviceShared), "{shared:?}");
    assert_eq!(decision(&shared), pb::Decision::Review);

    // HR on B sees every punch, from both replicas, each once.
    let b_channel = Channel::from_shared(format!("http://{}", b.served.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();

    // The live feed on B, while both replicas record at once: every punch
    // once, in seq order, whichever replica committed it.
    let mut feed = AttendanceServiceClient::new(b_channel.clone())
        .watch_punches(authed(
            pb::WatchPunchesRequest {
                org_id: "kotka".into(),
                cursor: String::new(),
            },
            &hr,
        ))
        .await
        .unwrap()
        .into_inner();
    let writers: Vec<_> = [(&a, "dan"), (&b, "eve")]
        .into_iter()
        .map(|(replica, employee)| {
            let (punches, device) = (replica.punches.clone(), token("device", Some(employee)));
            tokio::spawn(async move {
                for i in 0..20 {
                    let request = from_device(
                        honest(&format!("{employee}-{i}")),
                        &format!("{employee}-phone"),
                    );
                    punches
                        .clone()
                        .submit_punch(authed(request, &device))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut fed = Vec::new();
    let mut last_cursor = 0;
    while fed.len() < 40 {
        let event = next_event(&mut feed).await;
        let cursor: i64 = event.cursor.parse().unwrap();
        assert!(
            cursor > last_cursor,
            "the feed went back: {cursor} after {last_cursor}"
        );
        last_cursor = cursor;
        fed.push(event.punch.unwrap().punch_id);
    }
    for writer in writers {
        writer.await.unwrap();
    }
    fed.sort();
    let mut written: Vec<String> = ["dan", "eve"]
        .iter()
        .flat_map(|e| (0..20).map(move |i| format!("{e}-{i}")))
        .collect();
    written.sort();
    assert_eq!(fed, written, "each punch of both replicas once");
    let listed = AttendanceServiceClient::new(b_channel)
        .list_punches(authed(
            pb::ListPunchesRequest {
                org_id: "kotka".into(),
                from: Some(ts(Timestamp::now() - SignedDuration::from_hours(1))),
                to: Some(ts(Timestamp::now() + SignedDuration::from_hours(1))),
                page_size: 1000,
                ..Default::default()
            },
            &hr,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<String> = listed.punches.iter().map(|p| p.punch_id.clone()).collect();
    ids.sort();
    let mut expected: Vec<String> = [
        "same-id", "nonce-1", "nonce-2", "travel-1", "travel-2", "shared-1",
    ]
    .into_iter()
    .map(String::from)
    .chain(written)
    .chain((1..=attempt).map(|n| format!("probe-{n}")))
    .collect();
    expected.sort();
    assert_eq!(ids, expected);

    a.stop();
    b.stop();
    drop(schema);
}

/// Sends `first` to replica A and `second` to replica B at the same instant.
async fn at_once(
    (a, b): (&Replica, &Replica),
    token: &str,
    first: pb::SubmitPunchRequest,
    second: pb::SubmitPunchRequest,
) -> [pb::SubmitPunchResponse; 2] {
    let (one, two) = tokio::join!(a.punch(first, token), b.punch(second, token));
    [one, two]
}

/// How many of the answers carry `code`.
fn flagged(answers: &[pb::SubmitPunchResponse], code: pb::FindingCode) -> usize {
    answers.iter().filter(|r| codes(r).contains(&code)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_employees_simultaneous_punches_on_two_replicas_are_judged_in_turn() {
    let Some(schema) =
        Schema::fresh("one_employees_simultaneous_punches_on_two_replicas_are_judged_in_turn")
            .await
    else {
        return;
    };
    let url = schema.url.as_str();
    // Kotka's buildings, and an office in Helsinki 120 km away.
    let dir = tempfile::tempdir().unwrap();
    let helsinki = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
        "properties":{"site":"helsinki","radius_m":300},
        "geometry":{"type":"Point","coordinates":[24.9384,60.1699]}}]}"#;
    for (name, geojson) in [("kotka", KOTKA), ("helsinki", helsinki)] {
        let path = dir.path().join(format!("{name}.geojson"));
        std::fs::write(&path, geojson).unwrap();
        let path = path.to_str().unwrap();
        cli(&["site", "import", "--org", "kotka", path], url);
    }
    let token = |employee: &str| {
        let args = ["token", "create", "--org", "kotka", "--role", "device"];
        cli(&[&args[..], &["--employee", employee]].concat(), url)
    };
    let a = Replica::start(url).await;
    let b = Replica::start(url).await;
    let replicas = (&a, &b);

    // Each race a few times: without a lease across replicas both punches
    // read the same history and both pass.
    for round in 0..5 {
        // A replayed nonce: one of the two is a DUPLICATE.
        let device = token(&format!("nonce-{round}"));
        let phone = format!("nonce-{round}-phone");
        let mut first = from_device(honest(&format!("n{round}-1")), &phone);
        let mut second = from_device(honest(&format!("n{round}-2")), &phone);
        (first.nonce, second.nonce) = ("n-1".into(), "n-1".into());
        let answers = at_once(replicas, &device, first, second).await;
        assert_eq!(flagged(&answers, Duplicate), 1, "{answers:#?}");

        // Device binding (two devices allowed): two new phones at once
        // after one bound phone; one of them is UNBOUND_DEVICE.
        let device = token(&format!("devices-{round}"));
        let phone = |n: u32| format!("devices-{round}-phone-{n}");
        let bound = from_device(honest(&format!("d{round}-0")), &phone(0));
        assert!(codes(&a.punch(bound, &device).await).is_empty());
        let first = from_device(honest(&format!("d{round}-1")), &phone(1));
        let second = from_device(honest(&format!("d{round}-2")), &phone(2));
        let answers = at_once(replicas, &device, first, second).await;
        assert_eq!(flagged(&answers, UnboundDevice), 1, "{answers:#?}");

        // Kotka and Helsinki at the same moment: whichever is judged
        // second is IMPOSSIBLE_TRAVEL.
        let device = token(&format!("travel-{round}"));
        let phone = format!("travel-{round}-phone");
        let kotka = from_device(honest(&format!("t{round}-1")), &phone);
        let mut helsinki = from_device(honest(&format!("t{round}-2")), &phone);
        (gps(&mut helsinki).longitude, gps(&mut helsinki).latitude) =
            (Some(24.9384), Some(60.1699));
        let answers = at_once(replicas, &device, kotka, helsinki).await;
        assert_eq!(flagged(&answers, ImpossibleTravel), 1, "{answers:#?}");
    }
    a.stop();
    b.stop();
    drop(schema);
}
