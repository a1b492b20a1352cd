//! Key: a harmonic pitch-class profile (each spectral peak credited to the pitch classes
//! of the fundamentals it may be a harmonic of), every frame weighed alike, correlated
//! with the 24 rotations of a major and a minor key profile; the best-correlated key wins.
//!
//! Folding a recording's spectrum straight onto pitch classes counts every note's
//! overtones as notes: the fifth harmonic of a minor key's tonic is its major third, and
//! the fold reads minor keys as major. Crediting each peak to the fundamentals below it
//! (E. Gómez, *Tonal description of music audio signals*, 2006), most to the nearest,
//! puts the overtones back on their notes. The profiles are Sha'ath's, fitted to
//! recordings for KeyFinder (I. Sha'ath, *Estimation of key in digital music recordings*,
//! 2011). Each frame counts once whatever its level, so a loud chorus does not outvote
//! the rest of the track.
//!
//! Where the profile leaves a key and its relative close, which share a scale and often
//! every chord, the chords the track opens and closes on decide (the `bookends` module).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::bookends::Bookends;
use super::spectrum::{Spectra, vertex};

/// Frame of the chroma spectra: 0.74 s at 11 kHz, 1.3 Hz apart, so neighbouring
/// semitones separate from the second octave up.
const FRAME: usize = 8_192;
/// Step between chroma frames.
const HOP: usize = 2_048;
/// Fundamentals credited, Hz (C2 to C7).
const PITCHED_HZ: (f64, f64) = (65.0, 2_100.0);
/// Harmonics a peak may be of: the first five, those that fold onto a note's own pitch
/// class (1, 2, 4), its fifth (3) and its major third (5).
const HARMONICS: usize = 5;
/// Credit of each harmonic after the first, relative to the one before.
const HARMONIC_DECAY: f64 = 0.6;
/// Peaks weaker than this share of the frame's strongest (−40 dB) are noise and leakage.
const PEAK_FLOOR: f32 = 0.01;
/// Frames whose strongest pitch class is quieter than this (magnitude, 1 for a
/// full-scale sine; −60 dB) hold no harmony to weigh: silence, fades, dither.
const QUIET: f64 = 1e-3;
/// Correlations with a key's and its relative's profile closer than this leave the
/// choice to the opening and closing chords. Minor loops the profile reads as their
/// relative major mostly lose by less (8 of the 10 such misses of the synthetic
/// development set); at 0.1 a major chorale opening on its relative's tonic chord begins
/// to move.
const RELATIVE_MARGIN: f64 = 0.07;

/// Sha'ath's major profile, from the tonic up by semitones.
const MAJOR: [f64; 12] = [6.6, 2.0, 3.5, 2.3, 4.6, 4.0, 2.5, 5.2, 2.4, 3.7, 2.3, 3.4];
/// Sha'ath's minor profile, from the tonic up by semitones.
const MINOR: [f64; 12] = [6.5, 2.7, 3.5, 5.4, 2.6, 3.5, 2.5, 5.2, 4.0, 2.7, 4.3, 3.2];

/// Pitch-class names, C first, as keys are written.
const NAMES: [&str; 12] = [
    "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

/// Major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Major.
    Major,
    /// Minor.
    Minor,
}

/// A key: a tonic (pitch class, C = 0) and a mode; written and read as `"G minor"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    tonic: u8,
    mode: Mode,
}

impl Key {
    /// The key on pitch class `tonic` (taken modulo 12, C = 0).
    pub fn new(tonic: u8, mode: Mode) -> Self {
        Self {
            tonic: tonic % 12,
            mode,
        }
    }

    /// The tonic's pitch class, C = 0.
    pub fn tonic(self) -> u8 {
        self.tonic
    }

    /// Major or minor.
    pub fn mode(self) -> Mode {
        self.mode
    }

    /// Every major and minor key.
    pub(crate) fn all() -> impl Iterator<Item = Self> {
        (0..12u8).flat_map(|tonic| [Self::new(tonic, Mode::Major), Self::new(tonic, Mode::Minor)])
    }

    /// The key of the same scale in the other mode: A minor for C major, and back.
    pub(crate) fn relative(self) -> Self {
        match self.mode {
            Mode::Major => Self::new(self.tonic + 9, Mode::Minor),
            Mode::Minor => Self::new(self.tonic + 3, Mode::Major),
        }
    }

    /// Parses `"G minor"`, `"F# major"`, `"Bb minor"` (sharps or flats).
    pub fn parse(text: &str) -> Option<Self> {
        let (tonic, mode) = text.trim().split_once(' ')?;
        let mode = match mode.trim().to_ascii_lowercase().as_str() {
            "major" => Mode::Major,
            "minor" => Mode::Minor,
            _ => return None,
        };
        let mut letters = tonic.chars();
        let natural = match letters.next()?.to_ascii_uppercase() {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return None,
        };
        let shift: i32 = letters
            .map(|c| match c {
                '#' => Some(1),
                'b' => Some(-1),
                _ => None,
            })
            .sum::<Option<i32>>()?;
        Some(Self::new((natural + shift).rem_euclid(12) as u8, mode))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
        };
        write!(f, "{} {mode}", NAMES[usize::from(self.tonic)])
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("no key {text:?}")))
    }
}

/// A track's key and how sure of it the estimate is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeyEstimate {
    /// The key.
    pub key: Key,
    /// The chromagram's correlation with the key's profile, 0 to 1.
    pub confidence: f64,
}

/// The pitch classes of a signal's frames, summed over the frames so far, and the
/// track's opening and closing chords.
pub(crate) struct Chromagram {
    spectra: Spectra,
    /// Hz between two spectrum bins.
    bin_hz: f64,
    total: [f64; 12],
    bookends: Bookends,
}

impl Chromagram {
    /// A chromagram of a signal at `rate` Hz.
    pub(crate) fn new(rate: f64) -> Self {
        let spectra = Spectra::new(FRAME, HOP);
        Self {
            bin_hz: spectra.bin_hz(1, rate),
            spectra,
            total: [0.0; 12],
            bookends: Bookends::default(),
        }
    }

    /// Takes the next mono samples.
    pub(crate) fn push(&mut self, samples: &[f32]) {
        let (bin_hz, total, bookends) = (self.bin_hz, &mut self.total, &mut self.bookends);
        self.spectra.push(samples, |magnitudes| {
            if let Some(frame) = weighed(&frame_classes(magnitudes, bin_hz)) {
                add(total, &frame);
                bookends.push(&frame);
            }
        });
    }

    /// The key the chromagram so far correlates with best, or its relative where the two
    /// are close and the opening and closing chords favour it; `None` before any pitched
    /// frame.
    pub(crate) fn key(&self) -> Option<KeyEstimate> {
        if self.total.iter().all(|&t| t <= 0.0) {
            return None;
        }
        let (best, r) = Key::all()
            .map(|key| (key, self.correlation(key)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        let relative = self.correlation(best.relative());
        let (key, r) = if r - relative < RELATIVE_MARGIN && self.bookends.settle(best) != best {
            (best.relative(), relative)
        } else {
            (best, r)
        };
        Some(KeyEstimate {
            key,
            confidence: r.clamp(0.0, 1.0),
        })
    }

    /// The chromagram's correlation with `key`'s profile.
    fn correlation(&self, key: Key) -> f64 {
        let profile = match key.mode {
            Mode::Major => &MAJOR,
            Mode::Minor => &MINOR,
        };
        pearson(&self.total, &on_tonic(profile, key.tonic))
    }
}

/// `pattern`, given from a tonic up by semitones, laid on the pitch classes (C first)
/// from `tonic`.
pub(super) fn on_tonic(pattern: &[f64; 12], tonic: u8) -> [f64; 12] {
    std::array::from_fn(|class| pattern[(class + 12 - usize::from(tonic)) % 12])
}

/// One frame's pitch classes: the energy of every spectral peak credited to the classes
/// of the fundamentals it may be a harmonic of, square-rooted (a loud chord then weighs as
/// a louder note, not as a hundred of them).
fn frame_classes(magnitudes: &[f32], bin_hz: f64) -> [f64; 12] {
    let (lowest, highest) = PITCHED_HZ;
    let first = ((lowest / bin_hz).floor() as usize).max(1);
    let last = ((highest * HARMONICS as f64 / bin_hz).ceil() as usize).min(magnitudes.len() - 2);
    let mut energy = [0.0_f64; 12];
    if first >= last {
        return energy;
    }
    let strongest = magnitudes[first..=last].iter().copied().fold(0.0, f32::max);
    let floor = strongest * PEAK_FLOOR;
    for bin in first..=last {
        let (before, at, after) = (magnitudes[bin - 1], magnitudes[bin], magnitudes[bin + 1]);
        if at <= floor || at <= before || at < after {
            continue;
        }
        let (a, b, c) = (f64::from(before), f64::from(at), f64::from(after));
        let shift = vertex(a, b, c);
        let hz = (bin as f64 + shift) * bin_hz;
        let peak = b - 0.25 * (a - c) * shift;
        let mut credit = peak * peak;
        for harmonic in 1..=HARMONICS {
            let fundamental = hz / harmonic as f64;
            if (lowest..=highest).contains(&fundamental) {
                let midi = 69.0 + 12.0 * (fundamental / 440.0).log2();
                energy[(midi.round() as i64).rem_euclid(12) as usize] += credit;
            }
            credit *= HARMONIC_DECAY;
        }
    }
    energy.map(f64::sqrt)
}

/// A frame's classes over its strongest, so that every frame counts once; `None` for a
/// quiet frame, which does not count at all.
fn weighed(frame: &[f64; 12]) -> Option<[f64; 12]> {
    let strongest = frame.iter().copied().fold(0.0, f64::max);
    (strongest >= QUIET).then(|| frame.map(|class| class / strongest))
}

/// Adds `frame`'s classes to `total`'s.
pub(super) fn add(total: &mut [f64; 12], frame: &[f64; 12]) {
    for (t, class) in total.iter_mut().zip(frame) {
        *t += class;
    }
}

/// Pearson's correlation of two equally long series; 0 where either is flat.
pub(super) fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma) * (x - ma);
        bb += (y - mb) * (y - mb);
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_signals::{RATE, chords, white_noise};

    fn key_of(samples: &[f32]) -> Option<KeyEstimate> {
        let mut chroma = Chromagram::new(RATE);
        for chunk in samples.chunks(3_000) {
            chroma.push(chunk);
        }
        chroma.key()
    }

    /// I–IV–V–I in the key on `tonic` (MIDI note in the fourth octave).
    fn cadence_major(tonic: u8) -> Vec<f32> {
        let t = tonic;
        chords(
            &[
                &[t - 12, t, t + 4, t + 7],
                &[t - 7, t + 5, t + 9, t + 12],
                &[t - 5, t + 7, t + 11, t + 14],
                &[t - 12, t, t + 4, t + 7],
            ],
            2.0,
        )
    }

    /// i–iv–V–i in the minor key on `tonic`.
    fn cadence_minor(tonic: u8) -> Vec<f32> {
        let t = tonic;
        chords(
            &[
                &[t - 12, t, t + 3, t + 7],
                &[t - 7, t + 5, t + 8, t + 12],
                &[t - 5, t + 7, t + 11, t + 14],
                &[t - 12, t, t + 3, t + 7],
            ],
            2.0,
        )
    }

    #[test]
    fn cadences_in_every_major_and_minor_key_are_recognised() {
        for tonic in 60..72u8 {
            let major = key_of(&cadence_major(tonic)).expect("a key");
            assert_eq!(major.key, Key::new(tonic, Mode::Major), "{}", major.key);
            let minor = key_of(&cadence_minor(tonic)).expect("a key");
            assert_eq!(minor.key, Key::new(tonic, Mode::Minor), "{}", minor.key);
            assert!(major.confidence > 0.5 && minor.confidence > 0.5);
        }
    }

    /// A minor's i–VI–III–VII, Am–F–C–G, voiced over the root in the bass.
    const A_MINOR_LOOP: [&[u8]; 4] = [
        &[45, 57, 60, 64],
        &[41, 57, 60, 65],
        &[48, 55, 60, 64],
        &[43, 55, 59, 62],
    ];

    /// `progression` `shift` semitones up, twice through, two seconds a chord.
    fn looped(progression: &[&[u8]], shift: u8) -> Vec<f32> {
        let moved: Vec<Vec<u8>> = progression
            .iter()
            .map(|notes| notes.iter().map(|note| note + shift).collect())
            .collect();
        let twice: Vec<&[u8]> = moved.iter().chain(&moved).map(Vec::as_slice).collect();
        chords(&twice, 2.0)
    }

    #[test]
    fn a_minor_loop_and_its_relative_majors_loop_are_told_apart_by_their_first_chord() {
        let [a_minor, f, c, g] = A_MINOR_LOOP;
        for shift in 0..12u8 {
            let minor = key_of(&looped(&[a_minor, f, c, g], shift)).expect("a key");
            assert_eq!(minor.key, Key::new(9 + shift, Mode::Minor), "{}", minor.key);
            let major = key_of(&looped(&[c, g, a_minor, f], shift)).expect("a key");
            assert_eq!(major.key, Key::new(shift, Mode::Major), "{}", major.key);
        }
    }

    #[test]
    fn a_long_quiet_tail_does_not_move_the_key() {
        let mut samples = cadence_minor(64);
        // Half a minute of hiss 70 dB down: per-frame weighing must not count it.
        let mut hiss = white_noise(1);
        samples.extend((0..(30.0 * RATE) as usize).map(|_| (hiss() * 3e-4) as f32));
        let found = key_of(&samples).expect("a key");
        assert_eq!(found.key, Key::new(64, Mode::Minor), "{}", found.key);
    }

    #[test]
    fn silence_has_no_key() {
        assert_eq!(key_of(&vec![0.0; 20_000]), None);
    }

    #[test]
    fn a_keys_relative_is_the_other_mode_of_its_scale() {
        let c_major = Key::new(0, Mode::Major);
        assert_eq!(c_major.relative(), Key::new(9, Mode::Minor));
        assert_eq!(c_major.relative().relative(), c_major);
        assert_eq!(
            Key::new(4, Mode::Minor).relative(),
            Key::new(7, Mode::Major)
        );
    }

    #[test]
    fn keys_are_written_and_read_by_name() {
        let g_minor = Key::new(7, Mode::Minor);
        assert_eq!(g_minor.to_string(), "G minor");
        assert_eq!(Key::parse("G minor"), Some(g_minor));
        assert_eq!(Key::parse("F# major"), Some(Key::new(6, Mode::Major)));
        assert_eq!(Key::parse("Gb major"), Some(Key::new(6, Mode::Major)));
        assert_eq!(Key::parse("Cb major"), Some(Key::new(11, Mode::Major)));
        assert_eq!(Key::parse("H minor"), None);
        assert_eq!(Key::parse("C dorian"), None);
        let json = serde_json::to_string(&g_minor).expect("serialised");
        assert_eq!(json, "\"G minor\"");
    }
}
