//! Key: two chromagrams (spectral energy folded onto the twelve pitch classes), one of the
//! whole pitched range and one of the bass alone, each frame weighed alike, correlated
//! with the 24 rotations of a major and a minor key profile; the best-correlated key wins.
//!
//! The profiles are Sha'ath's, fitted to recorded popular and electronic music for
//! KeyFinder (I. Sha'ath, *Estimation of key in digital music recordings*, Birkbeck, 2011),
//! where the textbook profiles (Krumhansl–Kessler's probe tones, Temperley's scores) were
//! derived from notation: a recording's chroma also holds every note's overtones.
//! Each frame counts once, whatever its level, so a loud chorus does not outvote the
//! rest of the track. The bass chromagram adds what the harmony's roots say: a minor
//! key and its relative major share every note, but the bass dwells on the tonic.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::spectrum::Spectra;

/// Frame of the chroma spectra: 0.74 s at 11 kHz, 1.3 Hz apart, so neighbouring
/// semitones separate from the first octave up.
const FRAME: usize = 8_192;
/// Step between chroma frames.
const HOP: usize = 2_048;
/// Frequencies folded into the chromagram of the whole pitched range, Hz (C2 to C7).
const PITCHED_HZ: (f64, f64) = (65.0, 2_100.0);
/// Frequencies folded into the bass chromagram, Hz (B0 to C3).
const BASS_HZ: (f64, f64) = (30.0, 130.0);
/// Weight of the bass chromagram beside the whole range's, each summing to 1.
const BASS_WEIGHT: f64 = 0.5;
/// Frames whose loudest pitch class is quieter than this (magnitude, 1 for a full-scale
/// sine; −60 dB) hold no harmony to weigh: silence, fades, dither.
const QUIET: f64 = 1e-3;

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

/// One band's pitch classes: which spectrum bins fold onto which class, and each class's
/// weight summed over the frames so far.
struct Band {
    /// Each folded bin and its pitch class.
    bins: Vec<(usize, usize)>,
    total: [f64; 12],
}

impl Band {
    fn new(spectra: &Spectra, rate: f64, (lowest, highest): (f64, f64)) -> Self {
        let bins = (1..=FRAME / 2)
            .filter_map(|bin| {
                let hz = spectra.bin_hz(bin, rate);
                let midi = 69.0 + 12.0 * (hz / 440.0).log2();
                (lowest..=highest)
                    .contains(&hz)
                    .then(|| (bin, (midi.round() as i64).rem_euclid(12) as usize))
            })
            .collect();
        Self {
            bins,
            total: [0.0; 12],
        }
    }

    /// Adds a frame: its classes' magnitudes (square roots of their energies, so a loud
    /// chord weighs as a louder note, not as a hundred of them) over the loudest's.
    fn add(&mut self, magnitudes: &[f32]) {
        let mut energy = [0.0_f64; 12];
        for &(bin, class) in &self.bins {
            let m = f64::from(magnitudes[bin]);
            energy[class] += m * m;
        }
        let frame = energy.map(f64::sqrt);
        let loudest = frame.iter().copied().fold(0.0, f64::max);
        if loudest < QUIET {
            return;
        }
        for (total, class) in self.total.iter_mut().zip(frame) {
            *total += class / loudest;
        }
    }

    /// The summed weights, summing to 1; `None` before any pitched frame.
    fn normalised(&self) -> Option<[f64; 12]> {
        let sum: f64 = self.total.iter().sum();
        (sum > 0.0).then(|| self.total.map(|t| t / sum))
    }
}

/// The pitch classes of a signal's frames, of the whole pitched range and of the bass.
pub(crate) struct Chromagram {
    spectra: Spectra,
    pitched: Band,
    bass: Band,
}

impl Chromagram {
    /// A chromagram of a signal at `rate` Hz.
    pub(crate) fn new(rate: f64) -> Self {
        let spectra = Spectra::new(FRAME, HOP);
        Self {
            pitched: Band::new(&spectra, rate, PITCHED_HZ),
            bass: Band::new(&spectra, rate, BASS_HZ),
            spectra,
        }
    }

    /// Takes the next mono samples.
    pub(crate) fn push(&mut self, samples: &[f32]) {
        let (pitched, bass) = (&mut self.pitched, &mut self.bass);
        self.spectra.push(samples, |magnitudes| {
            pitched.add(magnitudes);
            bass.add(magnitudes);
        });
    }

    /// The key the chromagram so far correlates with best; `None` before any pitched
    /// frame.
    pub(crate) fn key(&self) -> Option<KeyEstimate> {
        let mut chroma = self.pitched.normalised()?;
        if let Some(bass) = self.bass.normalised() {
            for (c, b) in chroma.iter_mut().zip(bass) {
                *c += BASS_WEIGHT * b;
            }
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
    fn a_long_quiet_tail_does_not_move_the_key() {
        let mut samples = cadence_minor(64);
        // Half a minute of hiss 70 dB down: per-frame weighing must not count it.
        let mut x = 1_u32;
        samples.extend((0..(30.0 * RATE) as usize).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (f64::from(x) / f64::from(u32::MAX) - 0.5) as f32 * 6e-4
        }));
        let found = key_of(&samples).expect("a key");
        assert_eq!(found.key, Key::new(64, Mode::Minor), "{}", found.key);
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
