//! The chords a track opens and closes on, kept for telling a key from its relative.
//!
//! A major key and its relative minor share their scale, and a loop such as Am–F–C–G
//! shares even its chords and their durations with the major loop C–G–Am–F: no profile
//! of the whole track tells them apart. What does is where the harmony starts and comes
//! to rest. Longuet-Higgins and Steedman's rule (*On interpreting Bach*, 1971) takes,
//! among the keys the notes fit equally, the key of the first note, and tonal music's
//! final cadence rests on the tonic; here the first and the last chord vote, each for
//! the key whose tonic triad it is. Ends that vote for different keys, or for neither,
//! leave the profile's key: a song that opens mid-phrase moves only if it ends on the
//! other tonic.

use std::collections::VecDeque;

use super::key::{Key, Mode, add, on_tonic, pearson};

/// Frames that make an opening or a closing chord: three frames span 1.1 s, a song's
/// first chord or a hymn's first beats, where a single frame catches passing notes.
const CHORD_FRAMES: usize = 3;

/// The sums of a track's first and last few pitched frames.
#[derive(Default)]
pub(crate) struct Bookends {
    opening: [f64; 12],
    opened: usize,
    /// The latest frames, oldest first; never more than [`CHORD_FRAMES`].
    closing: VecDeque<[f64; 12]>,
}

impl Bookends {
    /// Takes the next pitched frame's classes.
    pub(crate) fn push(&mut self, frame: &[f64; 12]) {
        if self.opened < CHORD_FRAMES {
            add(&mut self.opening, frame);
            self.opened += 1;
        }
        if self.closing.len() == CHORD_FRAMES {
            self.closing.pop_front();
        }
        self.closing.push_back(*frame);
    }

    /// `profiled` or its relative, whichever the opening and closing chords vote for
    /// (each chord for the key whose tonic triad it is); the profile's key on a tie.
    pub(crate) fn settle(&self, profiled: Key) -> Key {
        let relative = profiled.relative();
        let mut closing = [0.0; 12];
        self.closing
            .iter()
            .for_each(|frame| add(&mut closing, frame));
        let votes: i32 = [self.opening, closing]
            .iter()
            .filter_map(tonic_triad)
            .map(|key| i32::from(key == relative) - i32::from(key == profiled))
            .sum();
        if votes > 0 { relative } else { profiled }
    }
}

/// A major triad from its root up by semitones: root, major third, fifth.
const MAJOR_TRIAD: [f64; 12] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
/// A minor triad from its root up by semitones: root, minor third, fifth.
const MINOR_TRIAD: [f64; 12] = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];

/// The key whose tonic triad the classes correlate with best; `None` for flat classes.
fn tonic_triad(classes: &[f64; 12]) -> Option<Key> {
    let (key, r) = Key::all()
        .map(|key| {
            let triad = match key.mode() {
                Mode::Major => &MAJOR_TRIAD,
                Mode::Minor => &MINOR_TRIAD,
            };
            (key, pearson(classes, &on_tonic(triad, key.tonic())))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (r > 0.0).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Classes of a chord on `root` with `third`, its fifth, and a little of every class.
    fn chord(root: u8, third: u8) -> [f64; 12] {
        let mut classes = [0.1; 12];
        for step in [0, third, 7] {
            classes[usize::from((root + step) % 12)] = 1.0;
        }
        classes
    }

    fn bookends(chords: &[[f64; 12]]) -> Bookends {
        let mut ends = Bookends::default();
        for classes in chords {
            for _ in 0..CHORD_FRAMES {
                ends.push(classes);
            }
        }
        ends
    }

    #[test]
    fn a_triad_names_the_key_it_is_the_tonic_of() {
        assert_eq!(tonic_triad(&chord(9, 3)), Some(Key::new(9, Mode::Minor)));
        assert_eq!(tonic_triad(&chord(7, 4)), Some(Key::new(7, Mode::Major)));
        assert_eq!(tonic_triad(&[0.5; 12]), None);
    }

    #[test]
    fn a_loop_opening_and_closing_on_the_minor_tonic_is_minor() {
        let (a_minor, f, c, g) = (chord(9, 3), chord(5, 4), chord(0, 4), chord(7, 4));
        let ends = bookends(&[a_minor, f, c, g, a_minor]);
        let c_major = Key::new(0, Mode::Major);
        assert_eq!(ends.settle(c_major), Key::new(9, Mode::Minor));
        assert_eq!(ends.settle(c_major.relative()), Key::new(9, Mode::Minor));
    }

    #[test]
    fn ends_that_disagree_leave_the_profiles_key() {
        let (a_minor, f, c) = (chord(9, 3), chord(5, 4), chord(0, 4));
        let ends = bookends(&[a_minor, f, c]);
        let (c_major, a_minor_key) = (Key::new(0, Mode::Major), Key::new(9, Mode::Minor));
        assert_eq!(ends.settle(c_major), c_major);
        assert_eq!(ends.settle(a_minor_key), a_minor_key);
    }

    #[test]
    fn ends_on_neither_tonic_leave_the_profiles_key() {
        let (f, g) = (chord(5, 4), chord(7, 4));
        let c_major = Key::new(0, Mode::Major);
        assert_eq!(bookends(&[f, g]).settle(c_major), c_major);
        assert_eq!(
            bookends(&[f, g]).settle(c_major.relative()),
            c_major.relative()
        );
    }
}
