//! Table-driven daily results: one row per situation HR meets.

use super::*;
use crate::engine::{LocationMethod, OrgId, PunchId, SiteId, Verdict};
use crate::store::Review;

fn shift(id: &str, start: &str, end: &str) -> Shift {
    Shift {
        id: id.into(),
        start: start.parse().unwrap(),
        end: end.parse().unwrap(),
        late_grace_min: 5,
        early_grace_min: 5,
        serious_late_min: 30,
        flexible_start_min: 0,
    }
}

fn schedule(shifts: Vec<Shift>, assign: &[(&str, &str)]) -> CheckedSchedule {
    use Weekday::*;
    Schedule {
        time_zone: "Europe/Helsinki".into(),
        shifts,
        assignments: assign
            .iter()
            .map(|(employee, shift)| Assignment {
                employee: EmployeeId::new(*employee).unwrap(),
                weekdays: vec![
                    Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
                ],
                shift: (*shift).into(),
            })
            .collect(),
    }
    .check()
    .unwrap()
}

/// A punch at local Helsinki time `local` ("2026-03-02T08:55").
fn at(seq: i64, local: &str, kind: PunchKind, decision: Decision) -> PunchRow {
    let time = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", local).unwrap();
    let time = TimeZone::get("Europe/Helsinki")
        .unwrap()
        .to_timestamp(time)
        .unwrap();
    PunchRow {
        seq,
        org: OrgId::new("acme").unwrap(),
        employee: EmployeeId::new("aino").unwrap(),
        punch_id: PunchId::new(format!("p{seq}")).unwrap(),
        kind,
        client_time: time,
        received_at: time,
        verdict: Verdict {
            decision,
            findings: Vec::new(),
            site: Some(SiteId::new("hq").unwrap()),
            method: LocationMethod::Gps,
            distance_m: Some(0.0),
            nearest_site: Some(SiteId::new("hq").unwrap()),
            cheat_matches: Vec::new(),
            wifi_bssids: Vec::new(),
            assurance: Default::default(),
        },
        distance_bucket: None,
        evidence_kept: true,
        review: None,
    }
}

fn approved(mut p: PunchRow) -> PunchRow {
    p.review = Some(Review {
        approved: true,
        reason: "was at the site".into(),
        reviewer: "abcdef012345".into(),
        at: p.received_at,
    });
    p
}

fn outside(mut p: PunchRow) -> PunchRow {
    p.verdict.site = None;
    p
}

use Decision::{Accepted, Rejected, Review as Flagged};
use PunchKind::{Auto, In, Out};

struct Row {
    name: &'static str,
    date: &'static str,
    shift: Shift,
    punches: Vec<PunchRow>,
    time: TimeResult,
    location: LocationResult,
    worked_min: i64,
}

#[test]
fn daily_results() {
    let day = || shift("day", "09:00", "17:00");
    let rows = vec![
        Row {
            name: "on time",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                at(1, "2026-03-02T08:52", In, Accepted),
                at(2, "2026-03-02T17:03", Out, Accepted),
            ],
            time: TimeResult::Normal,
            location: LocationResult::Normal,
            worked_min: 491,
        },
        Row {
            name: "within the late grace",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                at(1, "2026-03-02T09:05", In, Accepted),
                at(2, "2026-03-02T17:00", Out, Accepted),
            ],
            time: TimeResult::Normal,
            location: LocationResult::Normal,
            worked_min: 475,
        },
        Row {
            name: "late",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                at(1, "2026-03-02T09:12", In, Accepted),
                at(2, "2026-03-02T17:00", Out, Accepted),
            ],
            time: TimeResult::Late,
            location: LocationResult::Normal,
            worked_min: 468,
        },
        Row {
            name: "seriously late",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                at(1, "2026-03-02T09:45", In, Accepted),
                at(2, "2026-03-02T17:00", Out, Accepted),
            ],
            time: TimeResult::SeriousLate,
            location: LocationResult::Normal,
            worked_min: 435,
        },
        Row {
            name: "early leave",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                at(1, "2026-03-02T08:58", In, Accepted),
                at(2, "2026-03-02T16:30", Out, Accepted),
            ],
            time: TimeResult::Early,
            location: LocationResult::Normal,
            worked_min: 452,
        },
        Row {
            name: "missing out-punch",
            date: "2026-03-02",
            shift: day(),
            punches: vec![at(1, "2026-03-02T08:58", In, Accepted)],
            time: TimeResult::NotSigned,
            location: LocationResult::Normal,
            worked_min: 0,
        },
        Row {
            name: "absent",
            date: "2026-03-02",
            shift: day(),
            punches: vec![],
            time: TimeResult::Absenteeism,
            location: LocationResult::NotSigned,
            worked_min: 0,
        },
        Row {
            name: "a rejected punch does not count",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                at(1, "2026-03-02T08:40", In, Rejected),
                at(2, "2026-03-02T09:20", In, Accepted),
                at(3, "2026-03-02T17:00", Out, Accepted),
            ],
            time: TimeResult::Late,
            location: LocationResult::Normal,
            worked_min: 460,
        },
        Row {
            name: "a punch awaiting review does not count",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                at(1, "2026-03-02T08:55", In, Flagged),
                at(2, "2026-03-02T17:00", Out, Accepted),
            ],
            time: TimeResult::NotSigned,
            location: LocationResult::Normal,
            worked_min: 0,
        },
        Row {
            name: "a punch HR approved counts",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                approved(at(1, "2026-03-02T08:55", In, Flagged)),
                at(2, "2026-03-02T17:00", Out, Accepted),
            ],
            time: TimeResult::Normal,
            location: LocationResult::Normal,
            worked_min: 485,
        },
        Row {
            name: "field work: accepted outside every fence",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                outside(at(1, "2026-03-02T08:55", In, Accepted)),
                at(2, "2026-03-02T17:00", Out, Accepted),
            ],
            time: TimeResult::Normal,
            location: LocationResult::Outside,
            worked_min: 485,
        },
        Row {
            name: "overnight shift: out the next morning",
            date: "2026-03-02",
            shift: shift("night", "22:00", "06:00"),
            punches: vec![
                at(1, "2026-03-02T21:55", In, Accepted),
                at(2, "2026-03-03T06:01", Out, Accepted),
                // The next night's in-punch belongs to the next day.
                at(3, "2026-03-03T21:58", In, Accepted),
            ],
            time: TimeResult::Normal,
            location: LocationResult::Normal,
            worked_min: 486,
        },
        Row {
            name: "overnight across the spring DST change: 7 real hours",
            // Helsinki skips 03:00-04:00 on 2026-03-29.
            date: "2026-03-28",
            shift: shift("night", "22:00", "06:00"),
            punches: vec![
                at(1, "2026-03-28T22:00", In, Accepted),
                at(2, "2026-03-29T06:00", Out, Accepted),
            ],
            time: TimeResult::Normal,
            location: LocationResult::Normal,
            worked_min: 420,
        },
        Row {
            name: "overnight across the autumn DST change: 9 real hours",
            date: "2026-10-24",
            shift: shift("night", "22:00", "06:00"),
            punches: vec![
                at(1, "2026-10-24T22:00", In, Accepted),
                at(2, "2026-10-25T05:00", Out, Accepted),
            ],
            // Out at 05:00 local is an hour early, though 8 real hours passed.
            time: TimeResult::Early,
            location: LocationResult::Normal,
            worked_min: 480,
        },
        Row {
            name: "flexible start: in at 09:40 of a 09:00-10:00 window",
            date: "2026-03-02",
            shift: Shift {
                flexible_start_min: 60,
                ..day()
            },
            punches: vec![
                at(1, "2026-03-02T09:40", In, Accepted),
                at(2, "2026-03-02T17:45", Out, Accepted),
            ],
            time: TimeResult::Normal,
            location: LocationResult::Normal,
            worked_min: 485,
        },
        Row {
            name: "flexible start: leaving at 17:00 after a 09:40 start is early",
            date: "2026-03-02",
            shift: Shift {
                flexible_start_min: 60,
                ..day()
            },
            punches: vec![
                at(1, "2026-03-02T09:40", In, Accepted),
                at(2, "2026-03-02T17:00", Out, Accepted),
            ],
            time: TimeResult::Early,
            location: LocationResult::Normal,
            worked_min: 440,
        },
        Row {
            name: "automatic punches open and close the day",
            date: "2026-03-02",
            shift: day(),
            punches: vec![
                at(1, "2026-03-02T08:50", Auto, Accepted),
                at(2, "2026-03-02T12:00", Auto, Accepted),
                at(3, "2026-03-02T17:10", Auto, Accepted),
            ],
            time: TimeResult::Normal,
            location: LocationResult::Normal,
            worked_min: 500,
        },
    ];
    let aino = EmployeeId::new("aino").unwrap();
    for row in rows {
        let id = row.shift.id.clone();
        let s = schedule(vec![row.shift], &[("aino", &id)]);
        let date: Date = row.date.parse().unwrap();
        let result = s.daily_result(&aino, date, &row.punches).unwrap();
        assert_eq!(result.time_result, row.time, "{}", row.name);
        assert_eq!(result.location_result, row.location, "{}", row.name);
        assert_eq!(result.worked.as_mins(), row.worked_min, "{}", row.name);
    }
}

#[test]
fn days_without_a_shift_have_no_result() {
    let mut s = schedule(vec![shift("day", "09:00", "17:00")], &[]);
    s = Schedule {
        assignments: vec![Assignment {
            employee: EmployeeId::new("aino").unwrap(),
            weekdays: vec![Weekday::Monday],
            shift: "day".into(),
        }],
        ..s.schedule
    }
    .check()
    .unwrap();
    let aino = EmployeeId::new("aino").unwrap();
    assert!(
        s.daily_result(&aino, "2026-03-02".parse().unwrap(), &[])
            .is_some()
    );
    assert!(
        s.daily_result(&aino, "2026-03-03".parse().unwrap(), &[])
            .is_none()
    );
}

#[test]
fn bad_schedules_name_the_field() {
    let base = || Schedule {
        time_zone: "Europe/Helsinki".into(),
        shifts: vec![
            shift("day", "09:00", "17:00"),
            shift("night", "22:00", "10:00"),
        ],
        assignments: vec![Assignment {
            employee: EmployeeId::new("aino").unwrap(),
            weekdays: vec![Weekday::Monday],
            shift: "day".into(),
        }],
    };
    let field = |s: Schedule| s.check().unwrap_err().field;
    assert_eq!(
        field(Schedule {
            time_zone: "Mars/Olympus".into(),
            ..base()
        }),
        "time_zone"
    );
    let mut unknown = base();
    unknown.assignments[0].shift = "evening".into();
    assert_eq!(field(unknown), "assignments[0].shift_id");
    let mut twice = base();
    twice.assignments.push(twice.assignments[0].clone());
    assert_eq!(field(twice), "assignments[1].weekdays");
    let mut overlap = base();
    overlap.assignments = vec![
        Assignment {
            employee: EmployeeId::new("aino").unwrap(),
            weekdays: vec![Weekday::Monday],
            shift: "night".into(),
        },
        Assignment {
            employee: EmployeeId::new("aino").unwrap(),
            weekdays: vec![Weekday::Tuesday],
            shift: "day".into(),
        },
    ];
    assert_eq!(field(overlap), "assignments[0].weekdays");
    let mut serious = base();
    serious.shifts[0].serious_late_min = 5;
    assert_eq!(field(serious), "shifts[0].serious_late_min");
    let mut duplicate = base();
    duplicate.shifts[1].id = "day".into();
    assert_eq!(field(duplicate), "shifts[1].shift_id");
}

#[test]
fn date_ranges_are_bounded_and_ordered() {
    let d = |s: &str| s.parse::<Date>().unwrap();
    assert_eq!(dates(d("2026-03-01"), d("2026-03-03")).unwrap().len(), 3);
    assert_eq!(
        dates(d("2026-03-03"), d("2026-03-01")).unwrap_err().field,
        "to"
    );
    assert_eq!(dates(d("2026-01-01"), d("2026-03-03")).unwrap().len(), 62);
    assert!(dates(d("2026-01-01"), d("2026-03-04")).is_err());
}

#[test]
fn a_summary_adds_up_the_days() {
    let schedule = schedule(vec![shift("day", "09:00", "17:00")], &[("aino", "day")]);
    let aino = EmployeeId::new("aino").unwrap();
    let days = [
        // On time; 12 minutes late; 20 minutes early; absent; no clock-out.
        (
            "2026-03-02",
            vec![
                at(1, "2026-03-02T08:55", In, Accepted),
                at(2, "2026-03-02T17:01", Out, Accepted),
            ],
        ),
        (
            "2026-03-03",
            vec![
                at(3, "2026-03-03T09:12", In, Accepted),
                at(4, "2026-03-03T17:00", Out, Accepted),
            ],
        ),
        (
            "2026-03-04",
            vec![
                at(5, "2026-03-04T09:00", In, Accepted),
                at(6, "2026-03-04T16:40", Out, Accepted),
            ],
        ),
        ("2026-03-05", vec![at(7, "2026-03-05T09:00", In, Rejected)]),
        ("2026-03-06", vec![at(8, "2026-03-06T09:00", In, Accepted)]),
    ];
    let punches: Vec<PunchRow> = days.iter().flat_map(|(_, p)| p.clone()).collect();
    let results: Vec<DailyResult> = days
        .iter()
        .map(|(date, _)| {
            schedule
                .daily_result(&aino, date.parse().unwrap(), &punches)
                .unwrap()
        })
        .collect();
    let time_of = |seq: i64| punches.iter().find(|p| p.seq == seq).map(|p| p.client_time);
    let sum = summarise(&results, time_of);
    assert_eq!(
        sum,
        Summary {
            scheduled_days: 5,
            worked_days: 4,
            late_days: 1,
            late_minutes: 12,
            early_leave_days: 1,
            early_leave_minutes: 20,
            absent_days: 1,
            not_signed_days: 1,
            worked_minutes: results.iter().map(|r| r.worked.as_mins()).sum(),
        },
        "{results:#?}"
    );
}
