//! HR's side over gRPC: schedules, daily results, the review of flagged
//! punches, and the live feed across a disconnect.

mod common;

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

use common::*;
use punchguard::auth::Role;
use punchguard::proto::v1 as pb;
use punchguard::proto::v1::attendance_service_client::AttendanceServiceClient;

fn at_hq(id: &str, kind: pb::PunchKind) -> pb::SubmitPunchRequest {
    let mut request = punch_at(id, geo::Point::new(26.94, 60.47), 10.0);
    request.kind = kind.into();
    request
}

fn results_request(from: &str, to: &str, employees: &[&str]) -> pb::GetDailyResultsRequest {
    pb::GetDailyResultsRequest {
        from_date: from.into(),
        to_date: to.into(),
        employee_ids: employees.iter().map(|e| (*e).into()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn daily_results_follow_punches_and_reviews() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let hr = server.token("acme", Role::Hr, None).await;
    server.import(&admin, HQ).await;
    let mut admin_client = server.admin_client().await;
    // Aino's shift started 2 minutes from now: on time. Onni's 20 minutes
    // ago: late. Liisa's punch at the edge awaits review.
    let (early, date) = shift_around_now("early", 2);
    // Each shift's own date: around midnight they differ.
    let (late, late_date) = shift_around_now("late", -20);
    let (liisas, liisa_date) = shift_around_now("liisas", 1);
    let schedule = pb::Schedule {
        time_zone: ZONE.into(),
        shifts: vec![early, late, liisas],
        assignments: vec![
            every_day("aino", "early"),
            every_day("onni", "late"),
            every_day("liisa", "liisas"),
            every_day("ville", "early"),
        ],
    };
    let stored = admin_client
        .put_schedule(authed(
            pb::PutScheduleRequest {
                org_id: String::new(),
                schedule: Some(schedule.clone()),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored, schedule);

    let mut punches = server.punch_client().await;
    let mut submit = async |employee: &str, request: pb::SubmitPunchRequest| {
        let token = server.token("acme", Role::Device, Some(employee)).await;
        punches
            .submit_punch(authed(request, &token))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap()
    };
    submit("aino", at_hq("aino-in", pb::PunchKind::In)).await;
    submit("onni", at_hq("onni-in", pb::PunchKind::In)).await;
    let edge = submit("liisa", at_the_edge("liisa-in")).await;
    assert_eq!(edge.decision(), pb::Decision::Review);
    // Ville's punch from across town is rejected: it never counts.
    let away = submit(
        "ville",
        punch_at("ville-in", geo::Point::new(26.99, 60.50), 10.0),
    )
    .await;
    assert_eq!(away.decision(), pb::Decision::Rejected);

    let mut attendance = server.attendance_client().await;
    let results = async |employee: &str, date: &str| {
        let mut attendance = server.attendance_client().await;
        attendance
            .get_daily_results(authed(results_request(date, date, &[employee]), &hr))
            .await
            .unwrap()
            .into_inner()
            .results
            .remove(0)
    };
    let aino = results("aino", &date).await;
    assert_eq!(aino.first_in_punch_id, "aino-in");
    assert_eq!(aino.in_result(), pb::TimeResult::Normal);
    assert_eq!(aino.time_result(), pb::TimeResult::NotSigned, "no out yet");
    assert_eq!(aino.location_result(), pb::LocationResult::Normal);
    let onni = results("onni", &late_date).await;
    assert_eq!(onni.in_result(), pb::TimeResult::Late);
    let ville = results("ville", &date).await;
    assert_eq!(ville.time_result(), pb::TimeResult::Absenteeism);
    assert_eq!(ville.punches.len(), 1, "the rejected punch is listed");
    assert!(!ville.punches[0].counted);
    let liisa = results("liisa", &liisa_date).await;
    assert_eq!(
        liisa.time_result(),
        pb::TimeResult::Absenteeism,
        "awaiting review"
    );

    // HR reviews Liisa's punch: it now counts.
    let queue = attendance
        .list_review_queue(authed(pb::ListReviewQueueRequest::default(), &hr))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queue.punches.len(), 1);
    let flagged = &queue.punches[0];
    assert_eq!(flagged.punch_id, "liisa-in");
    let evidence = flagged.evidence.as_ref().expect("evidence while kept");
    assert_eq!(evidence.accuracy_m, Some(30.0));
    let review = |approve: bool, punch_id: &str, employee: &str| pb::ReviewPunchRequest {
        org_id: String::new(),
        employee_id: employee.into(),
        punch_id: punch_id.into(),
        approve,
        reason: "seen at the door on camera".into(),
    };
    let reviewed = attendance
        .review_punch(authed(review(true, "liisa-in", "liisa"), &hr))
        .await
        .unwrap()
        .into_inner();
    assert!(reviewed.review.as_ref().unwrap().approved);
    let liisa = results("liisa", &liisa_date).await;
    assert_eq!(liisa.first_in_punch_id, "liisa-in");
    assert_eq!(liisa.in_result(), pb::TimeResult::Normal);
    assert!(liisa.punches[0].counted);

    // A decision stands; accepted punches are not reviewed; others' punches
    // are not found; a reason is required.
    let cases = [
        (review(false, "liisa-in", "liisa"), Code::AlreadyExists),
        (review(true, "aino-in", "aino"), Code::FailedPrecondition),
        (review(true, "nope", "liisa"), Code::NotFound),
        (
            pb::ReviewPunchRequest {
                reason: " ".into(),
                ..review(true, "liisa-in", "liisa")
            },
            Code::InvalidArgument,
        ),
    ];
    for (request, code) in cases {
        let status = attendance
            .review_punch(authed(request, &hr))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
    }
    let queue = attendance
        .list_review_queue(authed(pb::ListReviewQueueRequest::default(), &hr))
        .await
        .unwrap()
        .into_inner();
    assert!(queue.punches.is_empty(), "reviewed punches leave the queue");
    let liisa = results("liisa", &liisa_date).await;
    assert!(liisa.punches[0].counted, "the first decision still stands");

    // Liisa's export holds the review, and the audit says which punch and why.
    let privacy = server.token("acme", Role::Privacy, None).await;
    let exported = punchguard::proto::v1::privacy_service_client::PrivacyServiceClient::new(
        server.channel().await,
    )
    .export_employee(authed(
        pb::EmployeeRequest {
            org_id: String::new(),
            employee_id: "liisa".into(),
        },
        &privacy,
    ))
    .await
    .unwrap()
    .into_inner();
    let doc: serde_json::Value = serde_json::from_str(&exported.json).unwrap();
    let review_of = &doc["punches"][0]["review"];
    assert_eq!(review_of["approved"], true);
    assert_eq!(review_of["reason"], "seen at the door on camera");
    let audit = doc["audit"].as_array().unwrap();
    let entry = audit
        .iter()
        .find(|a| a["action"] == "ReviewPunch")
        .expect("the review is audited");
    assert_eq!(
        entry["detail"],
        "punch liisa-in approved: seen at the door on camera"
    );

    // Another organisation's HR sees none of it.
    let other_hr = server.token("other", Role::Hr, None).await;
    let status = attendance
        .review_punch(authed(review(false, "liisa-in", "liisa"), &other_hr))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn bad_schedules_and_result_requests_name_the_field() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let hr = server.token("acme", Role::Hr, None).await;
    let mut admin_client = server.admin_client().await;
    let mut attendance = server.attendance_client().await;

    let status = attendance
        .get_daily_results(authed(
            results_request("2026-11-02", "2026-11-02", &[]),
            &hr,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "no schedule yet");

    let (day, _) = shift_around_now("day", 0);
    let good = pb::Schedule {
        time_zone: ZONE.into(),
        shifts: vec![day.clone()],
        assignments: vec![every_day("aino", "day")],
    };
    let put = |schedule: pb::Schedule| pb::PutScheduleRequest {
        org_id: String::new(),
        schedule: Some(schedule),
    };
    admin_client
        .put_schedule(authed(put(good.clone()), &admin))
        .await
        .unwrap();
    let mut twice = good.clone();
    twice.assignments.push(every_day("aino", "day"));
    let mut unknown_shift = good.clone();
    unknown_shift.assignments[0].shift_id = "night".into();
    let mut bad_time = good.clone();
    bad_time.shifts[0].start = "25:00".into();
    let cases = [
        (
            pb::Schedule {
                time_zone: "Europe/Atlantis".into(),
                ..good.clone()
            },
            "schedule.time_zone",
        ),
        (twice, "schedule.assignments[1].weekdays"),
        (unknown_shift, "schedule.assignments[0].shift_id"),
        (bad_time, "schedule.shifts[0].start"),
    ];
    for (schedule, field) in cases {
        let status = admin_client
            .put_schedule(authed(put(schedule), &admin))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&status).as_deref(), Some(field));
    }
    let stored = admin_client
        .get_schedule(authed(pb::GetScheduleRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored, good, "refused schedules changed nothing");

    let requests = [
        (results_request("2026-11-05", "2026-11-02", &[]), "to_date"),
        (results_request("2026-01-01", "2026-06-30", &[]), "to_date"),
        (
            results_request("2026-13-01", "2026-11-02", &[]),
            "from_date",
        ),
        (
            results_request("2026-11-02", "2026-11-02", &["aino", "stranger"]),
            "employee_ids[1]",
        ),
    ];
    for (request, field) in requests {
        let status = attendance
            .get_daily_results(authed(request, &hr))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&status).as_deref(), Some(field));
    }
    server.stop().await;
}

/// The next event, or a failure (not a hang) when none comes.
/// A reader follows the feed, disconnects, and resumes from its last cursor
/// while punches keep arriving: it sees every punch exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_resumes_without_gaps_or_repeats() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let hr = server.token("acme", Role::Hr, None).await;
    server.import(&admin, HQ).await;
    let device = server.token("acme", Role::Device, Some("aino")).await;
    // Before the watch starts: not in a feed that starts "from now".
    let mut client = server.punch_client().await;
    client
        .submit_punch(authed(at_hq("before", pb::PunchKind::In), &device))
        .await
        .unwrap();

    let mut attendance = server.attendance_client().await;
    let watch = |cursor: &str| pb::WatchPunchesRequest {
        org_id: String::new(),
        cursor: cursor.into(),
    };
    let mut feed = attendance
        .watch_punches(authed(watch(""), &hr))
        .await
        .unwrap()
        .into_inner();
    let total = 60;
    let producer = {
        let client = client.clone();
        let device = device.clone();
        tokio::spawn(async move {
            for i in 0..total {
                let mut client = client.clone();
                let request = at_hq(&format!("p{i:02}"), pb::PunchKind::In);
                client.submit_punch(authed(request, &device)).await.unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor = String::new();
    while seen.len() < 20 {
        let event = next_event(&mut feed).await;
        seen.push(event.punch.unwrap().punch_id);
        cursor = event.cursor;
    }
    drop(feed);
    let mut feed = attendance
        .watch_punches(authed(watch(&cursor), &hr))
        .await
        .unwrap()
        .into_inner();
    while seen.len() < total {
        let event = next_event(&mut feed).await;
        seen.push(event.punch.unwrap().punch_id);
    }
    producer.await.unwrap();
    let expected: Vec<String> = (0..total).map(|i| format!("p{i:02}")).collect();
    assert_eq!(seen, expected, "in record order, none missed, none twice");
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), total);

    // "0" replays everything held, the punch before the first watch too.
    let mut replay = attendance
        .watch_punches(authed(watch("0"), &hr))
        .await
        .unwrap()
        .into_inner();
    let first = replay.next().await.unwrap().unwrap();
    assert_eq!(first.punch.unwrap().punch_id, "before");
    let status = attendance
        .watch_punches(authed(watch("-5"), &hr))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&status).as_deref(), Some("cursor"));
    server.stop().await;
}

/// A feed nobody reads does not hold punches back: they are all answered
/// while its buffer sits full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_reading_does_not_slow_punches() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let hr = server.token("acme", Role::Hr, None).await;
    server.import(&admin, HQ).await;
    let device = server.token("acme", Role::Device, Some("aino")).await;
    let mut attendance = server.attendance_client().await;
    let stalled = attendance
        .watch_punches(authed(
            pb::WatchPunchesRequest {
                org_id: String::new(),
                cursor: "0".into(),
            },
            &hr,
        ))
        .await
        .unwrap()
        .into_inner();
    let client = server.punch_client().await;
    let punches: Vec<_> = (0..300)
        .map(|i| {
            let mut client = client.clone();
            let request = authed(at_hq(&format!("s{i}"), pb::PunchKind::In), &device);
            tokio::spawn(async move { client.submit_punch(request).await })
        })
        .collect();
    for p in punches {
        tokio::time::timeout(std::time::Duration::from_secs(30), p)
            .await
            .expect("a punch waited on the stalled feed")
            .unwrap()
            .unwrap();
    }
    drop(stalled);
    server.stop().await;
}

/// HR records the clock-in Onni forgot: the day turns from NotSigned to
/// Normal, the punch is marked a correction with the reason and the HR
/// caller as its review, it is audited, and it cannot be recorded twice,
/// in the future, at an unknown site or without a reason.
#[tokio::test]
async fn a_correction_turns_not_signed_into_normal() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let hr = server.token("acme", Role::Hr, None).await;
    server.import(&admin, HQ).await;
    // A shift that began 500 minutes ago and ended 20 minutes ago.
    let (shift, date) = shift_around_now("day", -500);
    server
        .admin_client()
        .await
        .put_schedule(authed(
            pb::PutScheduleRequest {
                org_id: String::new(),
                schedule: Some(pb::Schedule {
                    time_zone: ZONE.into(),
                    shifts: vec![shift],
                    assignments: vec![every_day("onni", "day")],
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    let device = server.token("acme", Role::Device, Some("onni")).await;
    server
        .punch_client()
        .await
        .submit_punch(authed(at_hq("onni-out", pb::PunchKind::Out), &device))
        .await
        .unwrap();
    let mut attendance = server.attendance_client().await;
    let day = async |attendance: &mut AttendanceServiceClient<Channel>| {
        attendance
            .get_daily_results(authed(results_request(&date, &date, &["onni"]), &hr))
            .await
            .unwrap()
            .into_inner()
            .results
            .remove(0)
    };
    let before = day(&mut attendance).await;
    assert_eq!(
        before.time_result(),
        pb::TimeResult::NotSigned,
        "{before:?}"
    );

    let started = Timestamp::now() - SignedDuration::from_mins(499);
    let correction =
        |punch_id: &str, time: Timestamp, site: &str, reason: &str| pb::RecordCorrectionRequest {
            org_id: String::new(),
            employee_id: "onni".into(),
            punch_id: punch_id.into(),
            kind: pb::PunchKind::In.into(),
            time: Some(ts(time)),
            site_id: site.into(),
            reason: reason.into(),
        };
    let reason = "forgot to clock in; seen at the morning meeting by his manager";
    let recorded = attendance
        .record_correction(authed(
            correction("onni-forgot-in", started, "hq", reason),
            &hr,
        ))
        .await
        .unwrap()
        .into_inner();
    let verdict = recorded.verdict.as_ref().unwrap();
    assert_eq!(verdict.decision(), pb::Decision::Accepted);
    assert_eq!(verdict.method(), pb::LocationMethod::Correction);
    let review = recorded.review.as_ref().unwrap();
    assert!(review.approved);
    assert_eq!(review.reason, reason);
    assert_eq!(review.reviewer, punchguard::auth::TokenHash::of(&hr).id());

    let after = day(&mut attendance).await;
    assert_eq!(after.time_result(), pb::TimeResult::Normal, "{after:?}");
    assert_eq!(after.first_in_punch_id, "onni-forgot-in");
    assert_eq!(after.last_out_punch_id, "onni-out");

    let refused = [
        (
            correction("onni-forgot-in", started, "hq", reason),
            Code::AlreadyExists,
            "",
        ),
        (
            correction(
                "in-the-future",
                Timestamp::now() + SignedDuration::from_hours(1),
                "",
                reason,
            ),
            Code::InvalidArgument,
            "time",
        ),
        (
            correction("nowhere", started, "no-such-site", reason),
            Code::InvalidArgument,
            "site_id",
        ),
        (
            correction("no-reason", started, "hq", "  "),
            Code::InvalidArgument,
            "reason",
        ),
    ];
    for (request, code, field) in refused {
        let status = attendance
            .record_correction(authed(request, &hr))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        if !field.is_empty() {
            assert_eq!(violated_field(&status).as_deref(), Some(field));
        }
    }
    let device_try = attendance
        .record_correction(authed(correction("by-phone", started, "", reason), &device))
        .await
        .unwrap_err();
    assert_eq!(device_try.code(), Code::PermissionDenied);

    // Audited once, about Onni, with the punch and the reason.
    let log = punchguard::app::privacy::audit_log(
        &server.app,
        &punchguard::app::Actor::cli(
            punchguard::engine::OrgId::new("acme").unwrap(),
            Role::Privacy,
        ),
        None,
        0,
        1000,
    )
    .await
    .unwrap();
    let entries: Vec<_> = log
        .iter()
        .filter(|r| r.entry.action == "RecordCorrection")
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entry.employee.as_ref().unwrap().as_str(), "onni");
    assert!(
        entries[0].entry.detail.contains("onni-forgot-in")
            && entries[0].entry.detail.contains(reason)
    );
}

#[tokio::test]
async fn calendars_shape_the_daily_results() {
    use pb::Weekday::*;
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let hr = server.token("acme", Role::Hr, None).await;
    let mut admin_client = server.admin_client().await;
    let (day, _) = shift_around_now("day", 0);
    let day = pb::ShiftDefinition {
        start: "09:00".into(),
        end: "17:00".into(),
        ..day
    };
    let weekdays = [Monday, Tuesday, Wednesday, Thursday, Friday].map(Into::into);
    let aino_weekdays = pb::ShiftAssignment {
        employee_id: "aino".into(),
        weekdays: weekdays.to_vec(),
        shift_id: "day".into(),
    };
    server
        .put_schedule(&admin, vec![day], vec![aino_weekdays])
        .await;
    let mut hr_client = server.attendance_client().await;
    // Monday 2 March 2026 is a holiday; Aino is on leave on Tuesday (local
    // midnight to midnight); she works Saturday's day shift; Ville, who has
    // no week, works Wednesday.
    let held = hr_client
        .put_holidays(authed(
            pb::PutHolidaysRequest {
                org_id: String::new(),
                from_date: "2026-03-01".into(),
                to_date: "2026-03-31".into(),
                holidays: vec![pb::Holiday {
                    date: "2026-03-02".into(),
                    name: "Founders' Day".into(),
                }],
            },
            &hr,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.holidays, 1);
    let leave = pb::LeavePeriod {
        leave_id: "hr-4711".into(),
        employee_id: "aino".into(),
        leave_type: "sick".into(),
        start_time: Some(ts("2026-03-02T22:00:00Z".parse().unwrap())),
        end_time: Some(ts("2026-03-03T22:00:00Z".parse().unwrap())),
    };
    hr_client
        .put_leave(authed(
            pb::PutLeaveRequest {
                org_id: String::new(),
                leave: vec![leave.clone()],
            },
            &hr,
        ))
        .await
        .unwrap();
    let roster = |employee: &str, date: &str, plan: pb::RosterPlan, shift: &str| pb::RosterDay {
        employee_id: employee.into(),
        date: date.into(),
        plan: plan.into(),
        shift_id: shift.into(),
    };
    let changed = hr_client
        .put_roster_days(authed(
            pb::PutRosterDaysRequest {
                org_id: String::new(),
                days: vec![
                    roster("aino", "2026-03-07", pb::RosterPlan::Shift, "day"),
                    roster("ville", "2026-03-04", pb::RosterPlan::Shift, "day"),
                ],
            },
            &hr,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.changed, 2);

    let week = async |hr_client: &mut AttendanceServiceClient<Channel>, who: &str| {
        hr_client
            .get_daily_results(authed(
                results_request("2026-03-02", "2026-03-08", &[who]),
                &hr,
            ))
            .await
            .unwrap()
            .into_inner()
            .results
            .iter()
            .map(|r| (r.date.clone(), r.time_result(), r.shift_id.clone()))
            .collect::<Vec<_>>()
    };
    use pb::TimeResult::{Absenteeism, Holiday, Leave, Rest};
    let expect = |days: [(pb::TimeResult, &str); 7]| {
        days.iter()
            .enumerate()
            .map(|(i, (result, shift))| (format!("2026-03-0{}", i + 2), *result, shift.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        week(&mut hr_client, "aino").await,
        expect([
            (Holiday, ""),
            (Leave, "day"),
            (Absenteeism, "day"),
            (Absenteeism, "day"),
            (Absenteeism, "day"),
            (Absenteeism, "day"),
            (Rest, ""),
        ])
    );
    assert_eq!(
        week(&mut hr_client, "ville").await,
        expect([
            (Holiday, ""),
            (Rest, ""),
            (Absenteeism, "day"),
            (Rest, ""),
            (Rest, ""),
            (Rest, ""),
            (Rest, ""),
        ])
    );
    let monday = hr_client
        .get_daily_results(authed(
            results_request("2026-03-02", "2026-03-03", &["aino"]),
            &hr,
        ))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(monday[0].holiday_name, "Founders' Day");
    assert!(monday[0].planned_start.is_none());
    assert_eq!(
        (monday[1].leave_id.as_str(), monday[1].leave_type.as_str()),
        ("hr-4711", "sick")
    );

    // The calendar as stored.
    let calendar = hr_client
        .get_calendar(authed(
            pb::GetCalendarRequest {
                org_id: String::new(),
                from_date: "2026-03-01".into(),
                to_date: "2026-03-31".into(),
                employee_id: "aino".into(),
            },
            &hr,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(calendar.holidays.len(), 1);
    assert_eq!(calendar.leave, std::slice::from_ref(&leave));
    assert_eq!(calendar.roster_days.len(), 1);

    // One employee's week changes without replacing the schedule: Ville
    // gets Wednesdays; Aino keeps hers.
    let schedule = admin_client
        .put_employee_shifts(authed(
            pb::PutEmployeeShiftsRequest {
                org_id: String::new(),
                employee_id: "ville".into(),
                assignments: vec![pb::ShiftAssignment {
                    employee_id: String::new(),
                    weekdays: vec![Thursday.into()],
                    shift_id: "day".into(),
                }],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let employees: Vec<&str> = schedule
        .assignments
        .iter()
        .map(|a| a.employee_id.as_str())
        .collect();
    assert_eq!(employees, ["aino", "ville"]);
    assert_eq!(week(&mut hr_client, "ville").await[3].1, Absenteeism);

    // Leave withdrawn: Tuesday is an ordinary (missed) day again.
    hr_client
        .cancel_leave(authed(
            pb::CancelLeaveRequest {
                org_id: String::new(),
                leave_id: "hr-4711".into(),
            },
            &hr,
        ))
        .await
        .unwrap();
    assert_eq!(week(&mut hr_client, "aino").await[1].1, Absenteeism);

    // Bad input names every field at fault, and changes nothing.
    let status = hr_client
        .put_holidays(authed(
            pb::PutHolidaysRequest {
                org_id: String::new(),
                from_date: "2026-03-01".into(),
                to_date: "2026-03-31".into(),
                holidays: vec![
                    pb::Holiday {
                        date: "2026-04-01".into(),
                        name: "April".into(),
                    },
                    pb::Holiday {
                        date: "2026-03-09".into(),
                        name: " ".into(),
                    },
                ],
            },
            &hr,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["holidays[0].date", "holidays[1].name"]
    );
    assert_eq!(week(&mut hr_client, "aino").await[0].1, Holiday);
    let status = hr_client
        .put_roster_days(authed(
            pb::PutRosterDaysRequest {
                org_id: String::new(),
                days: vec![
                    roster("aino", "2026-03-09", pb::RosterPlan::Shift, "night"),
                    roster("aino", "2026-03-10", pb::RosterPlan::Unspecified, ""),
                ],
            },
            &hr,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&status).as_deref(), Some("days[1].plan"));
    let status = hr_client
        .put_roster_days(authed(
            pb::PutRosterDaysRequest {
                org_id: String::new(),
                days: vec![roster("aino", "2026-03-09", pb::RosterPlan::Shift, "night")],
            },
            &hr,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&status).as_deref(), Some("days[0].shift_id"));
    let backwards = pb::LeavePeriod {
        start_time: leave.end_time,
        end_time: leave.start_time,
        ..leave.clone()
    };
    let status = hr_client
        .put_leave(authed(
            pb::PutLeaveRequest {
                org_id: String::new(),
                leave: vec![backwards],
            },
            &hr,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_field(&status).as_deref(),
        Some("leave[0].end_time")
    );
    let status = hr_client
        .cancel_leave(authed(
            pb::CancelLeaveRequest {
                org_id: String::new(),
                leave_id: "hr-4711".into(),
            },
            &hr,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // A schedule may not drop a shift a roster day names.
    let status = admin_client
        .put_schedule(authed(
            pb::PutScheduleRequest {
                org_id: String::new(),
                schedule: Some(pb::Schedule {
                    time_zone: ZONE.into(),
                    shifts: vec![],
                    assignments: vec![],
                }),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&status).as_deref(), Some("schedule.shifts"));
    // Calendars are HR's: a device token may not touch them.
    let device = server.token("acme", Role::Device, Some("aino")).await;
    let status = hr_client
        .cancel_leave(authed(pb::CancelLeaveRequest::default(), &device))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

/// Changes of different employees' weeks at once all land: each is a
/// compare-and-swap of the stored schedule, tried again when another won.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_week_changes_of_different_employees_all_land() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let (day, _) = shift_around_now("day", 0);
    server
        .put_schedule(&admin, vec![day], vec![every_day("aino", "day")])
        .await;
    let client = server.admin_client().await;
    let mut changes = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (mut client, admin) = (client.clone(), admin.clone());
        changes.spawn(async move {
            client
                .put_employee_shifts(authed(
                    pb::PutEmployeeShiftsRequest {
                        org_id: String::new(),
                        employee_id: format!("e{i}"),
                        assignments: vec![every_day("", "day")],
                    },
                    &admin,
                ))
                .await
                .unwrap();
        });
    }
    changes.join_all().await;
    let schedule = server
        .admin_client()
        .await
        .get_schedule(authed(pb::GetScheduleRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    let mut employees: Vec<&str> = schedule
        .assignments
        .iter()
        .map(|a| a.employee_id.as_str())
        .collect();
    employees.sort();
    assert_eq!(
        employees,
        ["aino", "e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"]
    );
}
