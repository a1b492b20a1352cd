//! audiowaveform's JSON format, text for text.
//!
//! One line, no spaces, fields in this order, then a newline:
//! `{"version":2,"channels":C,"sample_rate":R,"samples_per_pixel":S,"bits":B,"length":L,"data":[...]}`.
//! The version is always 2 here, even for one channel (unlike `.dat`). `data` holds the
//! min and max of each channel, pixel by pixel, as integers; at 8 bits each value is the
//! 16-bit one divided by 256 and truncated toward zero.

use std::fmt;

use super::dat::to_eight_bit;
use super::options::Bits;
use super::peaks::Peaks;

/// Displays peaks as audiowaveform's JSON text, newline included.
#[derive(Debug, Clone, Copy)]
pub struct WaveformJson<'a> {
    peaks: &'a Peaks,
    bits: Bits,
}

impl<'a> WaveformJson<'a> {
    /// JSON view of `peaks` at `bits`.
    pub fn new(peaks: &'a Peaks, bits: Bits) -> Self {
        Self { peaks, bits }
    }
}

impl fmt::Display for WaveformJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peaks = self.peaks;
        write!(
            f,
            "{{\"version\":2,\"channels\":{},\"sample_rate\":{},\"samples_per_pixel\":{},\"bits\":{},\"length\":{},\"data\":[",
            peaks.channels().get(),
            peaks.sample_rate().hz(),
            peaks.samples_per_pixel().get(),
            self.bits.get(),
            peaks.len(),
        )?;
        let values = peaks.pairs().iter().flat_map(|pair| [pair.min, pair.max]);
        for (index, value) in values.enumerate() {
            let separator = if index == 0 { "" } else { "," };
            match self.bits {
                Bits::Eight => write!(f, "{separator}{}", to_eight_bit(value))?,
                Bits::Sixteen => write!(f, "{separator}{value}")?,
            }
        }
        f.write_str("]}\n")
    }
}

/// audiowaveform's JSON text for `peaks` at `bits`.
pub fn encode_json(peaks: &Peaks, bits: Bits) -> String {
    WaveformJson::new(peaks, bits).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ChannelCount, SampleRate};
    use crate::waveform::options::SamplesPerPixel;
    use crate::waveform::peaks::MinMax;

    fn stereo(pairs: &[(i16, i16)]) -> Peaks {
        let pairs = pairs
            .iter()
            .map(|&(min, max)| MinMax { min, max })
            .collect();
        let rate = SampleRate::new(48000).expect("rate");
        let channels = ChannelCount::new(2).expect("channels");
        let spp = SamplesPerPixel::new(512).expect("spp");
        Peaks::new(rate, spp, channels, pairs).expect("peaks")
    }

    #[test]
    fn sixteen_bit_json_lists_values_as_they_are() {
        let text = encode_json(&stereo(&[(-300, 300), (-1, 0)]), Bits::Sixteen);
        let expected = "{\"version\":2,\"channels\":2,\"sample_rate\":48000,\"samples_per_pixel\":512,\
                        \"bits\":16,\"length\":1,\"data\":[-300,300,-1,0]}\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn eight_bit_json_divides_by_256_toward_zero() {
        let text = encode_json(&stereo(&[(-300, 300), (-255, 511)]), Bits::Eight);
        assert!(
            text.ends_with("\"bits\":8,\"length\":1,\"data\":[-1,1,0,1]}\n"),
            "{text}"
        );
    }

    #[test]
    fn empty_peaks_give_an_empty_data_array() {
        let text = encode_json(&stereo(&[]), Bits::Sixteen);
        assert!(text.ends_with("\"length\":0,\"data\":[]}\n"), "{text}");
    }
}
