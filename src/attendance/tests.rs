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
fn days_without_a_shift_are_rest_and_strangers_have_no_result() {
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
    let monday = s
        .daily_result(&aino, "2026-03-02".parse().unwrap(), &[])
        .unwrap();
    assert_eq!(monday.time_result, TimeResult::Absenteeism);
    let tuesday = s
        .daily_result(&aino, "2026-03-03".parse().unwrap(), &[])
        .unwrap();
    assert_eq!(tuesday.time_result, TimeResult::Rest);
    assert_eq!((tuesday.shift.as_str(), tuesday.planned_start), ("", None));
    let stranger = EmployeeId::new("ville").unwrap();
    assert!(
        s.daily_result(&stranger, "2026-03-02".parse().unwrap(), &[])
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
    let sum = summarise(&results);
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
            ..Summary::default()
        },
        "{results:#?}"
    );
}

/// Helsinki local time as an instant.
fn local(text: &str) -> Timestamp {
    TimeZone::get("Europe/Helsinki")
        .unwrap()
        .to_timestamp(jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", text).unwrap())
        .unwrap()
}

fn leave(id: &str, employee: &str, from: &str, to: &str) -> CalendarEntry {
    CalendarEntry::Leave(Leave {
        id: id.into(),
        employee: EmployeeId::new(employee).unwrap(),
        kind: "annual".into(),
        start: local(from),
        end: local(to),
    })
}

fn roster(employee: &str, date: &str, shift: Option<&str>) -> CalendarEntry {
    CalendarEntry::Roster(RosterDay {
        employee: EmployeeId::new(employee).unwrap(),
        date: date.parse().unwrap(),
        shift: shift.map(Into::into),
    })
}

fn holiday(date: &str, name: &str) -> CalendarEntry {
    CalendarEntry::Holiday(Holiday {
        date: date.parse().unwrap(),
        name: name.into(),
    })
}

/// `who`'s punch at Helsinki local time.
fn punch_of(who: &str, seq: i64, local: &str, kind: PunchKind) -> PunchRow {
    let mut p = at(seq, local, kind, Accepted);
    p.employee = EmployeeId::new(who).unwrap();
    p
}

/// Calendars against hand-computed results: each row is a situation HR
/// meets, with what a person computing it by hand says the day is.
#[test]
fn calendars() {
    struct Case {
        name: &'static str,
        shifts: Vec<Shift>,
        week: Vec<(&'static str, &'static str)>,
        calendar: Vec<CalendarEntry>,
        punches: Vec<PunchRow>,
        who: &'static str,
        date: &'static str,
        time: TimeResult,
        shift: &'static str,
        worked_min: i64,
        late_min: i64,
    }
    let day = || shift("day", "09:00", "17:00");
    let night = || shift("night", "22:00", "06:00");
    let cases = vec![
        Case {
            name: "a holiday on a workday is Holiday, not Absenteeism",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![holiday("2026-12-24", "Christmas Eve")],
            punches: vec![],
            who: "aino",
            date: "2026-12-24",
            time: TimeResult::Holiday,
            shift: "",
            worked_min: 0,
            late_min: 0,
        },
        Case {
            name: "work on a holiday is worked time on a Holiday",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![holiday("2026-12-24", "Christmas Eve")],
            punches: vec![
                punch_of("aino", 1, "2026-12-24T10:00", In),
                punch_of("aino", 2, "2026-12-24T12:30", Out),
            ],
            who: "aino",
            date: "2026-12-24",
            time: TimeResult::Holiday,
            shift: "",
            worked_min: 150,
            late_min: 0,
        },
        Case {
            name: "a roster day puts a person to work on a holiday",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![
                holiday("2026-12-24", "Christmas Eve"),
                roster("aino", "2026-12-24", Some("day")),
            ],
            punches: vec![punch_of("aino", 1, "2026-12-24T09:20", In)],
            who: "aino",
            date: "2026-12-24",
            time: TimeResult::NotSigned,
            shift: "day",
            worked_min: 0,
            late_min: 20,
        },
        // Leave from Friday 27 March to Tuesday 31 March 2026 (Helsinki
        // moves to summer time on Sunday 29 March, 03:00 → 04:00).
        Case {
            name: "leave spanning the spring DST change: the day before it",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![leave("L1", "aino", "2026-03-27T00:00", "2026-04-01T00:00")],
            punches: vec![],
            who: "aino",
            date: "2026-03-28",
            time: TimeResult::Leave,
            shift: "day",
            worked_min: 0,
            late_min: 0,
        },
        Case {
            name: "leave spanning the spring DST change: the day after it",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![leave("L1", "aino", "2026-03-27T00:00", "2026-04-01T00:00")],
            punches: vec![],
            who: "aino",
            date: "2026-03-31",
            time: TimeResult::Leave,
            shift: "day",
            worked_min: 0,
            late_min: 0,
        },
        Case {
            name: "the first day back from leave is an ordinary day",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![leave("L1", "aino", "2026-03-27T00:00", "2026-04-01T00:00")],
            punches: vec![],
            who: "aino",
            date: "2026-04-01",
            time: TimeResult::Absenteeism,
            shift: "day",
            worked_min: 0,
            late_min: 0,
        },
        Case {
            name: "a morning off moves when the clock-in is due",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![leave("L2", "aino", "2026-03-02T09:00", "2026-03-02T13:00")],
            punches: vec![
                punch_of("aino", 1, "2026-03-02T13:03", In),
                punch_of("aino", 2, "2026-03-02T17:01", Out),
            ],
            who: "aino",
            date: "2026-03-02",
            time: TimeResult::Normal,
            shift: "day",
            worked_min: 238,
            late_min: 0,
        },
        Case {
            name: "late after a morning off counts from the leave's end",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![leave("L2", "aino", "2026-03-02T09:00", "2026-03-02T13:00")],
            punches: vec![
                punch_of("aino", 1, "2026-03-02T13:20", In),
                punch_of("aino", 2, "2026-03-02T17:00", Out),
            ],
            who: "aino",
            date: "2026-03-02",
            time: TimeResult::Late,
            shift: "day",
            worked_min: 220,
            late_min: 20,
        },
        Case {
            name: "an afternoon off is not leaving early",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![leave("L3", "aino", "2026-03-02T12:00", "2026-03-02T17:00")],
            punches: vec![
                punch_of("aino", 1, "2026-03-02T08:58", In),
                punch_of("aino", 2, "2026-03-02T12:01", Out),
            ],
            who: "aino",
            date: "2026-03-02",
            time: TimeResult::Normal,
            shift: "day",
            worked_min: 183,
            late_min: 0,
        },
        // A swap: Aino (days) takes Ville's night on Wednesday 4 March and
        // Ville (nights) takes Aino's day.
        Case {
            name: "a shift swap: Aino works Ville's night",
            shifts: vec![day(), night()],
            week: vec![("aino", "day"), ("ville", "night")],
            calendar: vec![
                roster("aino", "2026-03-04", Some("night")),
                roster("ville", "2026-03-04", Some("day")),
            ],
            punches: vec![
                punch_of("aino", 1, "2026-03-04T21:55", In),
                punch_of("aino", 2, "2026-03-05T06:02", Out),
            ],
            who: "aino",
            date: "2026-03-04",
            time: TimeResult::Normal,
            shift: "night",
            worked_min: 487,
            late_min: 0,
        },
        Case {
            name: "a shift swap: Ville works Aino's day, late",
            shifts: vec![day(), night()],
            week: vec![("aino", "day"), ("ville", "night")],
            calendar: vec![
                roster("aino", "2026-03-04", Some("night")),
                roster("ville", "2026-03-04", Some("day")),
            ],
            punches: vec![
                punch_of("ville", 3, "2026-03-04T09:10", In),
                punch_of("ville", 4, "2026-03-04T17:00", Out),
            ],
            who: "ville",
            date: "2026-03-04",
            time: TimeResult::Late,
            shift: "day",
            worked_min: 470,
            late_min: 10,
        },
        Case {
            name: "a roster day off is Rest",
            shifts: vec![day()],
            week: vec![("aino", "day")],
            calendar: vec![roster("aino", "2026-03-04", None)],
            punches: vec![],
            who: "aino",
            date: "2026-03-04",
            time: TimeResult::Rest,
            shift: "",
            worked_min: 0,
            late_min: 0,
        },
        // New Year's Eve night into a New Year's Day holiday: the night
        // keeps its clock-out although 1 January is a holiday.
        Case {
            name: "an overnight shift on New Year's Eve",
            shifts: vec![night()],
            week: vec![("ville", "night")],
            calendar: vec![holiday("2027-01-01", "New Year's Day")],
            punches: vec![
                punch_of("ville", 1, "2026-12-31T21:58", In),
                punch_of("ville", 2, "2027-01-01T06:04", Out),
            ],
            who: "ville",
            date: "2026-12-31",
            time: TimeResult::Normal,
            shift: "night",
            worked_min: 486,
            late_min: 0,
        },
        Case {
            name: "the holiday after New Year's Eve's night claims none of it",
            shifts: vec![night()],
            week: vec![("ville", "night")],
            calendar: vec![holiday("2027-01-01", "New Year's Day")],
            punches: vec![
                punch_of("ville", 1, "2026-12-31T21:58", In),
                punch_of("ville", 2, "2027-01-01T06:04", Out),
            ],
            who: "ville",
            date: "2027-01-01",
            time: TimeResult::Holiday,
            shift: "",
            worked_min: 0,
            late_min: 0,
        },
    ];
    for case in cases {
        let assignments = case
            .week
            .iter()
            .map(|(employee, shift)| Assignment {
                employee: EmployeeId::new(*employee).unwrap(),
                weekdays: vec![
                    Weekday::Monday,
                    Weekday::Tuesday,
                    Weekday::Wednesday,
                    Weekday::Thursday,
                    Weekday::Friday,
                    Weekday::Saturday,
                    Weekday::Sunday,
                ],
                shift: (*shift).into(),
            })
            .collect();
        let s = Schedule {
            time_zone: "Europe/Helsinki".into(),
            shifts: case.shifts,
            assignments,
        }
        .check()
        .unwrap()
        .with_calendar(Calendar::new(case.calendar))
        .unwrap();
        let who = EmployeeId::new(case.who).unwrap();
        let r = s
            .daily_result(&who, case.date.parse().unwrap(), &case.punches)
            .unwrap();
        assert_eq!(r.time_result, case.time, "{}: {r:#?}", case.name);
        assert_eq!(r.shift, case.shift, "{}", case.name);
        assert_eq!(r.worked.as_mins(), case.worked_min, "{}", case.name);
        assert_eq!(r.late.as_mins(), case.late_min, "{}", case.name);
    }
}

#[test]
fn a_roster_day_must_name_a_shift_of_the_schedule() {
    let s = schedule(vec![shift("day", "09:00", "17:00")], &[("aino", "day")]);
    let err = s
        .with_calendar(Calendar::new([roster("aino", "2026-03-04", Some("night"))]))
        .unwrap_err();
    assert!(err.description.contains("night"), "{err:?}");
}

#[test]
fn a_summary_counts_leave_holidays_and_rest() {
    let s = schedule(vec![shift("day", "09:00", "17:00")], &[])
        .schedule
        .clone();
    let s = Schedule {
        assignments: vec![Assignment {
            employee: EmployeeId::new("aino").unwrap(),
            weekdays: vec![Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday],
            shift: "day".into(),
        }],
        ..s
    }
    .check()
    .unwrap()
    .with_calendar(Calendar::new([
        holiday("2026-03-02", "a Monday holiday"),
        leave("L1", "aino", "2026-03-03T00:00", "2026-03-04T00:00"),
    ]))
    .unwrap();
    let aino = EmployeeId::new("aino").unwrap();
    // Mon holiday, Tue leave, Wed absent, Thu–Sun rest.
    let results: Vec<_> = dates("2026-03-02".parse().unwrap(), "2026-03-08".parse().unwrap())
        .unwrap()
        .into_iter()
        .map(|d| s.daily_result(&aino, d, &[]).unwrap())
        .collect();
    let sum = summarise(&results);
    assert_eq!(
        (
            sum.holiday_days,
            sum.leave_days,
            sum.absent_days,
            sum.rest_days,
            sum.scheduled_days
        ),
        (1, 1, 1, 4, 2)
    );
}
