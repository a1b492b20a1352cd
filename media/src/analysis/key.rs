//! Key: a chromagram (the spectrum's energy folded onto the twelve pitch classes over the
//! whole track) correlated with the 24 rotations of a major and a minor key profile; the
//! best-correlated key wins.
//!
//! The profiles are Temperley's, drawn from the Kostka–Payne harmony textbook corpus
//! (D. Temperley, *Music and Probability*, 2007): they weigh the tonic triad and the
//! scale against chromatic notes more sharply than Krumhansl–Kessler's probe-tone
//! ratings, which confuse relative and parallel keys more often.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::spectrum::Spectra;

/// Frame of the chroma spectra: 0.74 s at 11 kHz, 1.3 Hz apart, so neighbouring
/// semitones separate from the second octave up.
const FRAME: usize = 8_192;
/// Step between chroma frames.
const HOP: usize = 2_048;
/// Lowest and highest frequency folded into the chromagram, Hz (C2 to C7).
const LOWEST_HZ: f64 = 65.0;
const HIGHEST_HZ: f64 = 2_100.0;

/// Temperley's Kostka–Payne major profile, from the tonic up by semitones.
const MAJOR: [f64; 12] = [
    0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400,
];
/// Temperley's Kostka–Payne minor profile, from the tonic up by semitones.
const MINOR: [f64; 12] = [
    0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330,
];

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

/// The energy of each pitch class, summed over the track.
pub(crate) struct Chromagram {
    spectra: Spectra,
    /// Each folded bin and its pitch class.
    bins: Vec<(usize, usize)>,
    total: [f64; 12],
}

impl Chromagram {
    /// A chromagram of a signal at `rate` Hz.
    pub(crate) fn new(rate: f64) -> Self {
        let spectra = Spectra::new(FRAME, HOP);
        let bins = (1..=FRAME / 2)
            .filter_map(|bin| {
                let hz = spectra.bin_hz(bin, rate);
                let midi = 69.0 + 12.0 * (hz / 440.0).log2();
                (LOWEST_HZ..=HIGHEST_HZ)
                    .contains(&hz)
                    .then(|| (bin, (midi.round() as i64).rem_euclid(12) as usize))
            })
            .collect();
        Self {
            spectra,
            bins,
            total: [0.0; 12],
        }
    }

    /// Takes the next mono samples.
    pub(crate) fn push(&mut self, samples: &[f32]) {
        let (bins, total) = (&self.bins, &mut self.total);
        self.spectra.push(samples, |magnitudes| {
            for &(bin, class) in bins {
                let m = f64::from(magnitudes[bin]);
                total[class] += m * m;
            }
        });
    }

    /// The key the chromagram so far correlates with best; `None` before any pitched
    /// energy.
    pub(crate) fn key(&self) -> Option<KeyEstimate> {
        // Square roots of energies: a loud chord then weighs as a louder note, not as
        // a hundred of them.
        let chroma: Vec<f64> = self.total.iter().map(|e| e.sqrt()).collect();
        if chroma.iter().all(|&c| c <= f64::EPSILON) {
            return None;
        }
        let candidates = (0..12u8).flat_map(|tonic| {
            [(Mode::Major, &MAJOR), (Mode::Minor, &MINOR)]
                .into_iter()
                .map(move |(mode, profile)| (Key::new(tonic, mode), profile))
        });
        let (key, r) = candidates
            .map(|(key, profile)| {
                let rotated: Vec<f64> = (0..12)
                    .map(|class| profile[(class + 12 - usize::from(key.tonic)) % 12])
                    .collect();
                (key, pearson(&chroma, &rotated))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        Some(KeyEstimate {
            key,
            confidence: r.clamp(0.0, 1.0),
        })
    }
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
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
    use crate::analysis::test_signals::{RATE, chords};

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

    #[test]
    fn silence_has_no_key() {
        assert_eq!(key_of(&vec![0.0; 20_000]), None);
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
