//! Motion sensors that are missing or perfectly flat: an emulator, or values
//! made up by a hooking tool. Runs only when the client sent a motion
//! summary; an older client that sends none is not penalised.
//!
//! Every phone that runs the app has an accelerometer and a gyroscope, so a
//! summary without them (or with no samples) is itself suspicious.

use super::Observation;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, MotionSummary, SensorKind};

const EXPECTED: [SensorKind; 2] = [SensorKind::Accelerometer, SensorKind::Gyroscope];

pub fn check(motion: Option<&MotionSummary>, policy: &Policy) -> Option<Observation> {
    let motion = motion?;
    if let Some(missing) = EXPECTED
        .iter()
        .find(|&&kind| motion.sensor(kind).is_none_or(|s| s.sample_count == 0))
    {
        return Some((
            FindingCode::SensorFlat,
            format!("no {} samples from a phone that has one", name(*missing)),
        ));
    }
    let reporting: Vec<_> = motion
        .sensors
        .iter()
        .filter(|s| s.sample_count > 0)
        .collect();
    reporting
        .iter()
        .all(|s| s.variance < policy.flat_variance)
        .then(|| {
            (
                FindingCode::SensorFlat,
                format!(
                    "all {} motion sensors are perfectly flat (variance below {:e})",
                    reporting.len(),
                    policy.flat_variance
                ),
            )
        })
}

fn name(kind: SensorKind) -> &'static str {
    match kind {
        SensorKind::Accelerometer => "accelerometer",
        SensorKind::Gyroscope => "gyroscope",
        SensorKind::RotationVector => "rotation vector",
    }
}
