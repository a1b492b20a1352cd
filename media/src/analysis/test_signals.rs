//! Signals whose tempo and key are known, for the analyses' tests.

use std::f64::consts::PI;

/// Analysis rate of the test signals, Hz.
pub(crate) const RATE: f64 = 11_025.0;

/// A decaying burst of noise-like partials: a click, kick or hat depending on `brightness`
/// (the lowest partial, Hz).
fn hit(out: &mut [f32], at: usize, brightness: f64, level: f32) {
    let length = (0.06 * RATE) as usize;
    for (i, sample) in out.iter_mut().skip(at).take(length).enumerate() {
        let t = i as f64 / RATE;
        let decay = (-t * 60.0).exp();
        let tone: f64 = (1..6)
            .map(|k| (2.0 * PI * brightness * (k as f64 * 1.37) * t + k as f64).sin())
            .sum();
        *sample += level * (decay * tone / 5.0) as f32;
    }
}

/// Clicks at every beat of `bpm`, for `seconds`.
pub(crate) fn click_track(bpm: f64, seconds: f64) -> Vec<f32> {
    let mut out = vec![0.0; (seconds * RATE) as usize];
    let period = 60.0 / bpm * RATE;
    let mut beat = 0.0;
    while (beat as usize) < out.len() {
        hit(&mut out, beat as usize, 1_000.0, 0.8);
        beat += period;
    }
    out
}

/// Kick on beats 1 and 3, snare on 2 and 4, hats on every eighth note.
pub(crate) fn drum_pattern(bpm: f64, seconds: f64) -> Vec<f32> {
    let mut out = vec![0.0; (seconds * RATE) as usize];
    let eighth = 30.0 / bpm * RATE;
    let mut n = 0;
    while ((n as f64 * eighth) as usize) < out.len() {
        let at = (n as f64 * eighth) as usize;
        hit(&mut out, at, 3_000.0, 0.2);
        match n % 8 {
            0 | 4 => hit(&mut out, at, 60.0, 0.9),
            2 | 6 => hit(&mut out, at, 400.0, 0.6),
            _ => {}
        }
        n += 1;
    }
    out
}

/// Uniform white noise in −1 to 1, the same for the same (nonzero) `seed`.
pub(crate) fn white_noise(seed: u32) -> impl FnMut() -> f64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f64::from(x) / f64::from(u32::MAX) * 2.0 - 1.0
    }
}

/// A drum kit as it is recorded: a kick whose pitch falls from 150 to 50 Hz on beats 1 and
/// 3, a snare of noise over a 190 Hz body on 2 and 4, hats of bright noise on every eighth.
pub(crate) fn backbeat(bpm: f64, seconds: f64) -> Vec<f32> {
    let mut out = vec![0.0_f32; (seconds * RATE) as usize];
    let eighth = 30.0 / bpm * RATE;
    let length = (0.25 * RATE) as usize;
    let mut white = white_noise(0x9E37_79B9);
    let mut n = 0;
    while ((n as f64 * eighth) as usize) < out.len() {
        let at = (n as f64 * eighth) as usize;
        let (mut phase, mut last) = (0.0, 0.0);
        for (i, sample) in out.iter_mut().skip(at).take(length).enumerate() {
            let t = i as f64 / RATE;
            let noise = white();
            let hat = 0.1 * (noise - last) * (-t * 80.0).exp();
            last = noise;
            let hit = match n % 4 {
                0 => {
                    phase += 2.0 * PI * (50.0 + 100.0 * (-t * 40.0).exp()) / RATE;
                    0.8 * phase.sin() * (-t * 18.0).exp()
                }
                2 => (0.4 * noise + 0.3 * (2.0 * PI * 190.0 * t).sin()) * (-t * 25.0).exp(),
                _ => 0.0,
            };
            *sample += (hat + hit) as f32;
        }
        n += 1;
    }
    out
}

/// MIDI notes played as organ-like tones (four harmonics), `seconds` each in turn.
pub(crate) fn chords(progression: &[&[u8]], seconds: f64) -> Vec<f32> {
    let length = (seconds * RATE) as usize;
    let mut out = Vec::with_capacity(length * progression.len());
    for notes in progression {
        out.extend((0..length).map(|i| {
            let t = i as f64 / RATE;
            let sum: f64 = notes
                .iter()
                .map(|&note| {
                    let hz = 440.0 * 2_f64.powf((f64::from(note) - 69.0) / 12.0);
                    (1..=4)
                        .map(|k| (2.0 * PI * hz * k as f64 * t).sin() / k as f64)
                        .sum::<f64>()
                })
                .sum();
            (0.15 * sum / notes.len() as f64) as f32
        }));
    }
    out
}
