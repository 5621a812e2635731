//! Teleporting: the speed implied by this fix and the last accepted one is
//! beyond any honest commute. Both fixes' accuracies come off the distance
//! first, so GPS noise on a short hop can never trip it.

use geo::{Distance, Haversine, Point};

use super::Observation;
use crate::engine::history::LastFix;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, GpsFix};

pub fn check(fix: Option<&GpsFix>, last: Option<&LastFix>, policy: &Policy) -> Option<Observation> {
    let (fix, last) = (fix?, last?);
    let metres = Haversine.distance(
        Point::new(last.longitude, last.latitude),
        Point::new(fix.longitude, fix.latitude),
    );
    let apart = (metres - last.accuracy_m - fix.accuracy_m).max(0.0);
    if apart == 0.0 {
        return None;
    }
    // Offline queues deliver out of order: what matters is the time between.
    let seconds = fix.fix_time.duration_since(last.at).as_secs_f64().abs();
    let speed = if seconds > 0.0 {
        apart / seconds
    } else {
        f64::INFINITY
    };
    (speed > policy.max_travel_speed_mps).then(|| {
        let pace = if speed.is_finite() {
            format!("in {seconds:.0} s ({:.0} km/h)", speed * 3.6)
        } else {
            "at the same moment".to_string()
        };
        (
            FindingCode::ImpossibleTravel,
            format!(
                "{:.1} km from the last accepted punch {pace}; the limit is {:.0} km/h",
                apart / 1000.0,
                policy.max_travel_speed_mps * 3.6
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::{SignedDuration, Timestamp};
    use proptest::prelude::*;

    fn fix_at(lon: f64, lat: f64, accuracy_m: f64, at: Timestamp) -> GpsFix {
        GpsFix {
            latitude: lat,
            longitude: lon,
            accuracy_m,
            fix_time: at,
            mock_location: false,
            speed_mps: None,
        }
    }

    fn t0() -> Timestamp {
        "2026-11-30T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn helsinki_to_kotka_in_ten_minutes_is_impossible() {
        let last = LastFix {
            at: t0(),
            latitude: 60.1699,
            longitude: 24.9384,
            accuracy_m: 10.0,
        };
        let now = fix_at(26.95, 60.52, 10.0, t0() + SignedDuration::from_mins(10));
        assert!(check(Some(&now), Some(&last), &Policy::default()).is_some());
        let later = fix_at(26.95, 60.52, 10.0, t0() + SignedDuration::from_hours(2));
        assert!(check(Some(&later), Some(&last), &Policy::default()).is_none());
    }

    #[test]
    fn noise_within_accuracy_never_trips_it() {
        let last = LastFix {
            at: t0(),
            latitude: 60.52,
            longitude: 26.95,
            accuracy_m: 40.0,
        };
        // 60 m apart one second later, but the fixes' accuracies cover it.
        let now = fix_at(
            26.95,
            60.52 + 0.00054,
            25.0,
            t0() + SignedDuration::from_secs(1),
        );
        assert!(check(Some(&now), Some(&last), &Policy::default()).is_none());
    }

    proptest! {
        /// Any walk, drive or train ride under the limit, with each fix
        /// jittered anywhere within its accuracy, never trips the rule.
        #[test]
        fn journeys_under_the_limit_never_trip_it(
            legs in prop::collection::vec(
                (0.0f64..1.0, 0.0f64..std::f64::consts::TAU, 60i64..7200, 3.0f64..80.0, 0.0f64..1.0, 0.0f64..std::f64::consts::TAU),
                1..20,
            ),
        ) {
            let policy = Policy::default();
            use geo::Destination;
            let (mut position, mut at) = (Point::new(26.95f64, 60.52f64), t0());
            let mut last = LastFix { at, latitude: position.y(), longitude: position.x(), accuracy_m: 20.0 };
            for (speed_frac, heading, secs, accuracy, jitter_frac, jitter_dir) in legs {
                // True movement below the limit, on the same sphere the rule
                // measures on (a flat-plane step drifts on long legs).
                let metres = speed_frac * 0.999 * policy.max_travel_speed_mps * secs as f64;
                position = Haversine.destination(position, heading.to_degrees(), metres);
                at += SignedDuration::from_secs(secs);
                // The reported fix errs by up to its accuracy.
                let err = jitter_frac * accuracy * 0.99;
                let reported = Haversine.destination(position, jitter_dir.to_degrees(), err);
                let fix = fix_at(reported.x(), reported.y(), accuracy, at);
                prop_assert!(check(Some(&fix), Some(&last), &policy).is_none(), "tripped on an honest leg");
                last = LastFix { at, latitude: fix.latitude, longitude: fix.longitude, accuracy_m: accuracy };
            }
        }
    }
}
