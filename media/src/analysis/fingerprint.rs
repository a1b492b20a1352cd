//! Chromaprint fingerprints (algorithm 2, `fpcalc`'s default, computed by the
//! `rusty-chromaprint` port) and how two of them are aligned and compared.
//!
//! A fingerprint is one 32-bit hash per 4096-sample frame at 11025 Hz, a new frame every
//! 1365 samples (0.124 s). Two recordings of the same audio give hashes that differ in a
//! few bits at the same place; different audio differs in about half of them.

use std::ops::RangeInclusive;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

use rusty_chromaprint::{Configuration, Fingerprinter};

/// The version stored with every fingerprint: fingerprints of different versions are never
/// compared.
pub const FINGERPRINT_VERSION: &str = "chromaprint-2";

/// Seconds between two hashes.
pub const ITEM_SECONDS: f64 = 1365.0 / 11025.0;

/// Samples sent to the fingerprinting thread at once.
const BATCH: usize = 8_192;
/// Batches that may wait for it.
const QUEUE: usize = 8;

/// Fingerprints a mono signal on a thread of its own (the Chromaprint port's state cannot
/// move between threads, and a sink's does).
pub(crate) struct Fingerprinting {
    sender: Option<SyncSender<Vec<i16>>>,
    worker: Option<JoinHandle<Vec<u32>>>,
    batch: Vec<i16>,
}

impl Fingerprinting {
    /// Starts fingerprinting a mono signal at `rate` Hz.
    pub(crate) fn start(rate: u32) -> Self {
        let (sender, receiver) = sync_channel::<Vec<i16>>(QUEUE);
        let worker = thread::spawn(move || {
            let mut printer = Fingerprinter::new(&Configuration::preset_test2());
            // A rate the port cannot resample from gives no fingerprint rather than a failed
            // track: the other analyses still stand.
            if printer.start(rate, 1).is_err() {
                return Vec::new();
            }
            for batch in receiver {
                printer.consume(&batch);
            }
            printer.finish();
            printer.fingerprint().to_vec()
        });
        Self {
            sender: Some(sender),
            worker: Some(worker),
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// Takes the next mono samples.
    pub(crate) fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            self.batch.push((s.clamp(-1.0, 1.0) * 32_767.0) as i16);
            if self.batch.len() == BATCH {
                self.send();
            }
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if let Some(sender) = &self.sender {
            // A thread that ended early (an unusable rate) takes nothing more.
            if sender.send(batch).is_err() {
                self.sender = None;
            }
        }
    }

    /// Ends the signal and answers its fingerprint.
    pub(crate) fn finish(mut self) -> Vec<u32> {
        self.send();
        self.sender = None;
        let worker = self.worker.take();
        worker.and_then(|w| w.join().ok()).unwrap_or_default()
    }
}

/// How two fingerprints line up at one offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// Hash `i` of the first lines up with hash `i + offset` of the second.
    pub offset: i64,
    /// Hashes compared: those where both fingerprints change from the hash before.
    /// Silence and held notes repeat one hash, so they never count as overlap.
    pub overlap: usize,
    /// Share of the compared bits that differ, 0 to 1 (1 when nothing was compared).
    pub bit_error_rate: f64,
}

impl Alignment {
    /// The overlap in seconds.
    pub fn overlap_seconds(&self) -> f64 {
        self.overlap as f64 * ITEM_SECONDS
    }
}

/// When two fingerprints are the same recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchRule {
    /// Fewest hashes compared.
    pub min_overlap: usize,
    /// Highest bit error rate over them.
    pub max_bit_error_rate: f64,
}

impl MatchRule {
    /// Whether an alignment passes.
    pub fn accepts(&self, alignment: &Alignment) -> bool {
        alignment.overlap >= self.min_overlap && alignment.bit_error_rate <= self.max_bit_error_rate
    }
}

/// Mixdown's rule: 20 s of changing hashes, no more than 20 % of their bits differing. On
/// the development set the same recording's variants differed in at most 3.4 % of their
/// bits, and the closest two different songs in 23.8 % (see the README's benchmarks).
pub const MATCH_RULE: MatchRule = MatchRule {
    min_overlap: 162,
    max_bit_error_rate: 0.20,
};

/// How `a` and `b` line up at `offset`.
pub fn align(a: &[u32], b: &[u32], offset: i64) -> Alignment {
    let start = (1 - offset).max(1) as usize;
    let end = (b.len() as i64 - offset).min(a.len() as i64).max(0) as usize;
    let (mut overlap, mut errors) = (0_usize, 0_u64);
    for i in start..end {
        let j = (i as i64 + offset) as usize;
        if a[i] == a[i - 1] || b[j] == b[j - 1] {
            continue;
        }
        overlap += 1;
        errors += u64::from((a[i] ^ b[j]).count_ones());
    }
    Alignment {
        offset,
        overlap,
        bit_error_rate: if overlap == 0 {
            1.0
        } else {
            errors as f64 / (overlap as f64 * 32.0)
        },
    }
}

/// The best alignment of `a` and `b` at `offsets`: the lowest bit error rate among those
/// with `rule`'s overlap, else the one with the most overlap.
pub fn best_alignment(
    a: &[u32],
    b: &[u32],
    offsets: RangeInclusive<i64>,
    rule: &MatchRule,
) -> Alignment {
    let first = *offsets.start();
    offsets
        .map(|o| align(a, b, o))
        .max_by(|x, y| {
            let (ex, ey) = (x.overlap >= rule.min_overlap, y.overlap >= rule.min_overlap);
            ex.cmp(&ey).then_with(|| {
                if ex {
                    y.bit_error_rate.total_cmp(&x.bit_error_rate)
                } else {
                    x.overlap.cmp(&y.overlap)
                }
            })
        })
        .unwrap_or(Alignment {
            offset: first,
            overlap: 0,
            bit_error_rate: 1.0,
        })
}

/// A 16-bit half of a hash, tagged by which half (bit 16), at its position: what the
/// index of a tenant's fingerprints is keyed by. A half survives the few flipped bits of
/// a re-encode far more often than the whole hash does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubHash {
    /// The tagged half, 0 to 2¹⁷ − 1.
    pub key: u32,
    /// The hash's position in its fingerprint.
    pub position: u32,
}

/// The sub-hashes of a fingerprint worth indexing: both halves of every hash that changes
/// from the one before, but for a half equal to the same half just before it.
pub fn sub_hashes(hashes: &[u32]) -> Vec<SubHash> {
    let mut out = Vec::with_capacity(hashes.len() * 2);
    for (i, pair) in hashes.windows(2).enumerate() {
        let (before, hash) = (pair[0], pair[1]);
        if hash == before {
            continue;
        }
        for (tag, half) in [(0, hash & 0xFFFF), (1 << 16, hash >> 16)] {
            let half_before = if tag == 0 {
                before & 0xFFFF
            } else {
                before >> 16
            };
            if half != half_before {
                out.push(SubHash {
                    key: tag | half,
                    position: (i + 1) as u32,
                });
            }
        }
    }
    out
}

/// A fingerprint as text: eight hex digits per hash.
pub fn to_hex(hashes: &[u32]) -> String {
    hashes.iter().map(|h| format!("{h:08x}")).collect()
}

/// A fingerprint read back from [`to_hex`]; `None` for anything else.
pub fn from_hex(text: &str) -> Option<Vec<u32>> {
    if !text.len().is_multiple_of(8) || !text.is_ascii() {
        return None;
    }
    (0..text.len() / 8)
        .map(|i| u32::from_str_radix(&text[i * 8..i * 8 + 8], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u32, n: usize) -> Vec<u32> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x
            })
            .collect()
    }

    #[test]
    fn a_shifted_copy_aligns_at_its_shift_with_no_errors() {
        let a = noise(1, 400);
        let b: Vec<u32> = noise(9, 50).into_iter().chain(a.iter().copied()).collect();
        let found = best_alignment(&a, &b, 45..=51, &MATCH_RULE);
        assert_eq!(found.offset, 50);
        assert_eq!(found.bit_error_rate, 0.0);
        assert_eq!(found.overlap, 399);
        assert!(MATCH_RULE.accepts(&found));
    }

    #[test]
    fn unrelated_fingerprints_differ_in_half_their_bits() {
        let found = best_alignment(&noise(1, 400), &noise(2, 400), -3..=3, &MATCH_RULE);
        assert!((found.bit_error_rate - 0.5).abs() < 0.03, "{found:?}");
        assert!(!MATCH_RULE.accepts(&found));
    }

    #[test]
    fn silence_never_overlaps() {
        let silence = vec![0x1234_5678; 1_000];
        let found = align(&silence, &silence, 0);
        assert_eq!(found.overlap, 0);
        assert!(!MATCH_RULE.accepts(&found));
        assert!(sub_hashes(&silence).is_empty());
    }

    #[test]
    fn sub_hashes_are_tagged_halves_of_changing_hashes() {
        let subs = sub_hashes(&[0xAAAA_BBBB, 0xAAAA_CCCC, 0xAAAA_CCCC, 0xDDDD_CCCC]);
        assert_eq!(
            subs,
            vec![
                SubHash {
                    key: 0xCCCC,
                    position: 1
                },
                SubHash {
                    key: 0x1_DDDD,
                    position: 3
                },
            ]
        );
    }

    #[test]
    fn fingerprints_round_trip_through_hex() {
        let hashes = noise(3, 10);
        assert_eq!(from_hex(&to_hex(&hashes)), Some(hashes));
        assert_eq!(from_hex("0123456"), None);
        assert_eq!(from_hex("0123456g"), None);
    }
}
