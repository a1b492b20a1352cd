//! Float reductions and running sums split over independent lanes.
//!
//! A plain `iter().sum()` of floats is one chain of dependent additions, which the
//! compiler must keep in order; spread over lanes the additions overlap and vectorise.
//! The sums differ from the sequential ones only in rounding.

/// Lanes of the sums: two 128-bit vectors of `f32`.
const LANES: usize = 8;

/// Sum of `values`.
pub(crate) fn lane_sum(values: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Dot product of `a` and `b` over their common length.
pub(crate) fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut acc = [0.0f32; LANES];
    let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for ((acc, x), y) in acc.iter_mut().zip(ca).zip(cb) {
            *acc += x * y;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Smallest of `values` that is not NaN (infinity when there is none).
pub(crate) fn lane_min(values: &[f32]) -> f32 {
    let mut acc = [f32::INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::INFINITY, f32::min);
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a = a.min(*v);
        }
    }
    acc.iter().copied().fold(tail, f32::min)
}

/// Running sum in place, as four independent chains over the quarters of `values`,
/// each then offset by the totals before it.
pub(crate) fn cumulative_sum(values: &mut [f32]) {
    let quarter = values.len() / 4;
    let (q0, rest) = values.split_at_mut(quarter);
    let (q1, rest) = rest.split_at_mut(quarter);
    let (q2, q3) = rest.split_at_mut(quarter);
    let mut acc = [0.0f32; 4];
    for (((a, b), c), d) in q0
        .iter_mut()
        .zip(q1.iter_mut())
        .zip(q2.iter_mut())
        .zip(q3.iter_mut())
    {
        acc[0] += *a;
        *a = acc[0];
        acc[1] += *b;
        *b = acc[1];
        acc[2] += *c;
        *c = acc[2];
        acc[3] += *d;
        *d = acc[3];
    }
    for d in &mut q3[quarter..] {
        acc[3] += *d;
        *d = acc[3];
    }
    let offset1 = acc[0];
    let offset2 = offset1 + acc[1];
    let offset3 = offset2 + acc[2];
    for (part, offset) in [(q1, offset1), (q2, offset2), (q3, offset3)] {
        for v in part {
            *v += offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small halves: every partial sum is exact, so any order gives the same result.
    fn values(len: usize) -> Vec<f32> {
        (0..len).map(|i| (i % 5) as f32 - 1.5).collect()
    }

    #[test]
    fn lane_sums_and_dots_equal_the_plain_ones() {
        for len in [0, 1, 7, 8, 9, 40, 257] {
            let v = values(len);
            let w: Vec<f32> = v.iter().rev().copied().collect();
            assert_eq!(lane_sum(&v), v.iter().sum::<f32>(), "length {len}");
            let dot: f32 = v.iter().zip(&w).map(|(a, b)| a * b).sum();
            assert_eq!(lane_dot(&v, &w), dot, "length {len}");
        }
    }

    #[test]
    fn dot_matches_a_plain_sum_for_any_length() {
        for n in [0, 1, 7, 8, 9, 40, 256] {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 * 0.25).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!(
                (lane_dot(&a, &b) - plain).abs() <= 1e-3 * plain.abs().max(1.0),
                "n={n}"
            );
        }
    }

    #[test]
    fn the_lane_minimum_is_the_minimum() {
        assert_eq!(lane_min(&[]), f32::INFINITY);
        for len in [1, 7, 8, 9, 208] {
            let v: Vec<f32> = (0..len).map(|i| ((i * 7919) % 101) as f32).collect();
            let plain = v.iter().copied().fold(f32::INFINITY, f32::min);
            assert_eq!(lane_min(&v), plain, "length {len}");
        }
        assert_eq!(lane_min(&[3.0, f32::NAN, 2.0]), 2.0);
    }

    #[test]
    fn the_four_chain_running_sum_is_a_running_sum() {
        for len in [0, 1, 3, 4, 5, 17, 267] {
            let v = values(len);
            let mut sums = v.clone();
            cumulative_sum(&mut sums);
            let mut total = 0.0;
            for (x, s) in v.iter().zip(&sums) {
                total += x;
                assert_eq!(*s, total, "length {len}");
            }
        }
    }
}
