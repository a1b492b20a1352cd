//! Brings any input to the analysis form: 16 kHz, no DC offset.

use crate::SAMPLE_RATE;
use crate::resample::resample;

/// Pole of the DC blocker: a 20 Hz corner at 16 kHz, below any voice's f0.
const DC_POLE: f32 = 0.992;

/// Resamples `samples` from `sample_rate` to 16 kHz and removes DC.
pub(crate) fn to_analysis_rate(samples: &[f32], sample_rate: u32) -> Vec<f32> {
    let mut signal = resample(samples, sample_rate, SAMPLE_RATE);
    remove_dc(&mut signal);
    signal
}

/// Subtracts the mean (a constant offset, with no start-up transient), then
/// runs a one-pole high-pass for offsets that drift during the recording.
fn remove_dc(signal: &mut [f32]) {
    let mean = signal.iter().map(|x| *x as f64).sum::<f64>() / signal.len().max(1) as f64;
    let (mut prev_in, mut prev_out) = (0.0f32, 0.0f32);
    for x in signal.iter_mut() {
        let centred = *x - mean as f32;
        prev_out = centred - prev_in + DC_POLE * prev_out;
        prev_in = centred;
        *x = prev_out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_offset_is_removed_and_a_voice_band_tone_kept() {
        let tone: Vec<f32> = (0..16_000)
            .map(|i| 0.25 + 0.5 * (2.0 * std::f32::consts::PI * 200.0 * i as f32 / 16_000.0).sin())
            .collect();
        let out = to_analysis_rate(&tone, 16_000);
        let tail = &out[8_000..];
        let mean = tail.iter().sum::<f32>() / tail.len() as f32;
        let peak = tail.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(mean.abs() < 1e-3, "offset left: {mean}");
        assert!((peak - 0.5).abs() < 0.01, "tone peak now {peak}");
    }
}
