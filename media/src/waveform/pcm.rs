//! Conversion of decoded samples to the 16-bit samples peaks are made from, exactly as
//! audiowaveform gets them through libsndfile.
//!
//! Integer input goes through libsndfile's `sf_readf_short`, which keeps the top 16 bits
//! and drops the rest (an arithmetic shift, so it rounds toward negative infinity; there is
//! no dither and no rounding to nearest). The decoder widens every integer width to a
//! full-scale `i32` first (8-bit unsigned recentred and shifted by 24, 16-bit by 16, 24-bit
//! by 8), which keeps exactly those top bits. Float input does not go that way:
//! audiowaveform reads it as `f32` and casts `sample * 32767` to a short, truncating toward
//! zero. Values beyond ±1.0 are undefined behaviour in that cast; here they saturate at the
//! `i16` limits. Doubles are narrowed to `f32` first, as libsndfile does.

/// Integer PCM widened to full `i32` scale: its top two bytes.
pub fn from_i32(sample: i32) -> i16 {
    // Truncating to the low 16 bits of the shifted value is how the bytes are picked.
    (sample >> 16) as i16
}

/// 32-bit float PCM, nominally -1.0 ..= 1.0.
pub fn from_f32(sample: f32) -> i16 {
    // The product stays in `f32`, as in the C++ `float * short`.
    (sample * f32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widened_unsigned_8_bit_silence_becomes_zero_and_the_extremes_fill_the_range() {
        let widen = |sample: u8| (i32::from(sample) - 128) << 24;
        assert_eq!(from_i32(widen(128)), 0);
        assert_eq!(from_i32(widen(0)), i16::MIN);
        assert_eq!(from_i32(widen(255)), 127 << 8);
    }

    #[test]
    fn widened_twenty_four_bit_keeps_the_top_two_bytes_rounding_down() {
        let widen = |sample: i32| sample << 8;
        assert_eq!(from_i32(widen(0x7F_FFFF)), i16::MAX);
        assert_eq!(from_i32(widen(-0x80_0000)), i16::MIN);
        assert_eq!(from_i32(widen(255)), 0);
        assert_eq!(from_i32(widen(-1)), -1);
        assert_eq!(from_i32(widen(-256)), -1);
        assert_eq!(from_i32(widen(-257)), -2);
    }

    #[test]
    fn thirty_two_bit_keeps_the_top_two_bytes_rounding_down() {
        assert_eq!(from_i32(i32::MAX), i16::MAX);
        assert_eq!(from_i32(i32::MIN), i16::MIN);
        assert_eq!(from_i32(65535), 0);
        assert_eq!(from_i32(-1), -1);
    }

    #[test]
    fn widened_sixteen_bit_passes_through() {
        assert_eq!(from_i32(-12345 << 16), -12345);
    }

    #[test]
    fn float_scales_by_32767_and_truncates_toward_zero() {
        assert_eq!(from_f32(1.0), 32767);
        assert_eq!(from_f32(-1.0), -32767);
        assert_eq!(from_f32(0.5), 16383);
        assert_eq!(from_f32(-0.5), -16383);
    }

    #[test]
    fn float_beyond_full_scale_saturates() {
        assert_eq!(from_f32(2.0), i16::MAX);
        assert_eq!(from_f32(-2.0), i16::MIN);
    }
}
