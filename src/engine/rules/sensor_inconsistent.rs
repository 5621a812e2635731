//! The fix says the phone is moving, the phone says it is lying still: a
//! spoofed route played into a phone on a desk. Walking shakes the
//! accelerometer and counts steps; driving vibrates it. Neither happened.

use super::Observation;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, GpsFix, MotionSummary, SensorKind};

pub fn check(
    fix: Option<&GpsFix>,
    motion: Option<&MotionSummary>,
    policy: &Policy,
) -> Option<Observation> {
    let speed = fix?.speed_mps.filter(|&v| v >= policy.moving_speed_mps)?;
    let motion = motion?;
    let accel = motion
        .sensor(SensorKind::Accelerometer)
        .filter(|s| s.sample_count > 0)?;
    let no_steps = motion.step_delta.unwrap_or(0) == 0;
    (accel.variance < policy.still_accel_variance && no_steps).then(|| {
        (
            FindingCode::SensorInconsistent,
            format!(
                "the fix reports {speed:.1} m/s but the accelerometer is at rest and no steps were counted"
            ),
        )
    })
}
