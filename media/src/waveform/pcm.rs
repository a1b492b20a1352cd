//! Conversion of other PCM sample types to the 16-bit samples peaks are made from,
//! exactly as audiowaveform gets them through libsndfile.
//!
//! Integer input goes through libsndfile's `sf_readf_short`, which keeps the top 16 bits
//! and drops the rest (an arithmetic shift, so it rounds toward negative infinity; there is
//! no dither and no rounding to nearest). Float input does not: audiowaveform reads it as
//! `f32` and casts `sample * 32767` to a short, truncating toward zero. Values beyond
//! ±1.0 are undefined behaviour in that cast; here they saturate at the `i16` limits.

/// Unsigned 8-bit PCM (as in WAV): recentred on 0, then moved to the top byte.
pub fn from_u8(sample: u8) -> i16 {
    (i16::from(sample) - 128) << 8
}

/// Signed 8-bit PCM, or unsigned 8-bit already recentred by a decoder: moved to the top byte.
pub fn from_i8(sample: i8) -> i16 {
    i16::from(sample) << 8
}

/// 24-bit PCM held sign-extended in an `i32`: its top two bytes.
pub fn from_i24(sample: i32) -> i16 {
    top_bits(sample, 8)
}

/// 32-bit PCM: its top two bytes.
pub fn from_i32(sample: i32) -> i16 {
    top_bits(sample, 16)
}

/// Signed integer PCM of `bits` bits (1 to 32), sign-extended as decoders hand it over.
pub fn from_int(sample: i32, bits: u16) -> i16 {
    let bits = u32::from(bits.clamp(1, 32));
    if bits > 16 {
        return top_bits(sample, bits - 16);
    }
    let widened = sample << (16 - bits);
    // Only a sample wider than its stated bits can overflow; saturate rather than wrap.
    i16::try_from(widened).unwrap_or(if widened < 0 { i16::MIN } else { i16::MAX })
}

fn top_bits(sample: i32, dropped: u32) -> i16 {
    // Truncating to the low 16 bits of the shifted value is how the bytes are picked.
    (sample >> dropped) as i16
}

/// 32-bit float PCM, nominally -1.0 ..= 1.0.
pub fn from_f32(sample: f32) -> i16 {
    // The product stays in `f32`, as in the C++ `float * short`.
    (sample * f32::from(i16::MAX)) as i16
}

/// 64-bit float PCM: libsndfile narrows it to `f32` first.
pub fn from_f64(sample: f64) -> i16 {
    from_f32(sample as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_8_bit_silence_becomes_zero_and_the_extremes_fill_the_range() {
        assert_eq!(from_u8(128), 0);
        assert_eq!(from_u8(0), i16::MIN);
        assert_eq!(from_u8(255), 127 << 8);
    }

    #[test]
    fn signed_8_bit_moves_to_the_top_byte() {
        assert_eq!(from_i8(-1), -256);
        assert_eq!(from_int(-1, 8), -256);
    }

    #[test]
    fn twenty_four_bit_keeps_the_top_two_bytes_rounding_down() {
        assert_eq!(from_i24(0x7F_FFFF), i16::MAX);
        assert_eq!(from_i24(-0x80_0000), i16::MIN);
        assert_eq!(from_i24(255), 0);
        assert_eq!(from_i24(-1), -1);
        assert_eq!(from_i24(-256), -1);
        assert_eq!(from_i24(-257), -2);
        assert_eq!(from_int(-257, 24), -2);
    }

    #[test]
    fn thirty_two_bit_keeps_the_top_two_bytes_rounding_down() {
        assert_eq!(from_i32(i32::MAX), i16::MAX);
        assert_eq!(from_i32(i32::MIN), i16::MIN);
        assert_eq!(from_i32(65535), 0);
        assert_eq!(from_i32(-1), -1);
        assert_eq!(from_int(-1, 32), -1);
    }

    #[test]
    fn sixteen_bit_passes_through() {
        assert_eq!(from_int(-12345, 16), -12345);
    }

    #[test]
    fn float_scales_by_32767_and_truncates_toward_zero() {
        assert_eq!(from_f32(1.0), 32767);
        assert_eq!(from_f32(-1.0), -32767);
        assert_eq!(from_f32(0.5), 16383);
        assert_eq!(from_f32(-0.5), -16383);
        assert_eq!(from_f64(0.25), 8191);
    }

    #[test]
    fn float_beyond_full_scale_saturates() {
        assert_eq!(from_f32(2.0), i16::MAX);
        assert_eq!(from_f32(-2.0), i16::MIN);
    }
}
