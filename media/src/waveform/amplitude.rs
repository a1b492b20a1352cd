//! Amplitude scaling of finished peaks, with audiowaveform's clamping and its `auto` rule.

use super::options::Gain;
use super::peaks::Peaks;

/// Full scale used by the `auto` rule: the positive limit of `i16`.
const FULL_SCALE: f64 = 32767.0;

/// Multiplies one value by `gain`, clamps it to the `i16` range and truncates toward zero.
pub fn scale_sample(value: i16, gain: Gain) -> i16 {
    // Float-to-int `as` saturates and truncates toward zero: clamp and cast in one step.
    (f64::from(value) * gain.get()) as i16
}

/// Multiplies every min and max of every channel by `gain`.
pub fn apply_gain(peaks: &mut Peaks, gain: Gain) {
    for pair in peaks.pairs_mut() {
        pair.min = scale_sample(pair.min, gain);
        pair.max = scale_sample(pair.max, gain);
    }
}

/// The gain of `--amplitude-scale auto`, reproduced with its quirk: it is the smaller of
/// `32767 / highest` and `32767 / lowest` *before* taking the absolute value, so when the
/// lowest value is negative that side always wins, and the highest may then clip.
/// A zero extreme counts as gain 1; empty peaks get gain 1.
pub fn auto_gain(peaks: &Peaks) -> Gain {
    let Some((lowest, highest)) = extremes(peaks) else {
        return Gain::UNITY;
    };
    let towards = |extreme: i16| match extreme {
        0 => 1.0,
        value => FULL_SCALE / f64::from(value),
    };
    let factor = towards(highest).min(towards(lowest)).abs();
    Gain::new(factor).unwrap_or(Gain::UNITY)
}

fn extremes(peaks: &Peaks) -> Option<(i16, i16)> {
    let lowest = peaks.pairs().iter().map(|pair| pair.min).min()?;
    let highest = peaks.pairs().iter().map(|pair| pair.max).max()?;
    Some((lowest, highest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ChannelCount, SampleRate};
    use crate::waveform::options::SamplesPerPixel;
    use crate::waveform::peaks::MinMax;

    fn gain(factor: f64) -> Gain {
        Gain::new(factor).expect("valid gain")
    }

    fn mono(pairs: &[(i16, i16)]) -> Peaks {
        let pairs = pairs
            .iter()
            .map(|&(min, max)| MinMax { min, max })
            .collect();
        let rate = SampleRate::new(44100).expect("rate");
        Peaks::new(rate, SamplesPerPixel::DEFAULT, ChannelCount::MONO, pairs).expect("peaks")
    }

    #[test]
    fn scaling_truncates_toward_zero_on_both_sides() {
        assert_eq!(scale_sample(3, gain(1.5)), 4);
        assert_eq!(scale_sample(-3, gain(1.5)), -4);
        assert_eq!(scale_sample(5, gain(0.3)), 1);
        assert_eq!(scale_sample(-5, gain(0.3)), -1);
    }

    #[test]
    fn scaling_clamps_to_the_i16_range() {
        assert_eq!(scale_sample(30000, gain(2.0)), i16::MAX);
        assert_eq!(scale_sample(-30000, gain(2.0)), i16::MIN);
    }

    #[test]
    fn auto_gain_stretches_a_symmetric_signal_to_full_scale() {
        let peaks = mono(&[(-16384, 16384)]);
        assert_eq!(auto_gain(&peaks).get(), 32767.0 / 16384.0);
    }

    #[test]
    fn auto_gain_follows_the_negative_side_even_when_the_positive_side_then_clips() {
        let mut peaks = mono(&[(-10000, 20000)]);
        let found = auto_gain(&peaks);
        assert_eq!(found.get(), 3.2767);
        apply_gain(&mut peaks, found);
        assert_eq!(
            peaks.pairs(),
            &[MinMax {
                min: -32767,
                max: i16::MAX
            }]
        );
    }

    #[test]
    fn auto_gain_of_an_all_positive_signal_uses_the_highest_value() {
        let peaks = mono(&[(100, 1000)]);
        assert_eq!(auto_gain(&peaks).get(), 32.767);
    }

    #[test]
    fn auto_gain_of_silence_or_nothing_is_unity() {
        assert_eq!(auto_gain(&mono(&[(0, 0)])), Gain::UNITY);
        assert_eq!(auto_gain(&mono(&[])), Gain::UNITY);
    }
}
