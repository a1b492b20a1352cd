//! Music analysis in a transcode's decode pass: a Chromaprint fingerprint, tempo, key and
//! energy, all from one mono signal at about 11 kHz (see [`downmix`]).

mod bookends;
mod downmix;
mod energy;
pub mod fingerprint;
pub mod key;
mod spectrum;
pub mod tempo;
#[cfg(test)]
mod test_signals;

use serde::{Deserialize, Serialize};

use self::{
    downmix::Downmix,
    energy::Level,
    fingerprint::Fingerprinting,
    key::{Chromagram, KeyEstimate},
    tempo::{OnsetEnvelope, Tempo},
};
use crate::decode::PcmBlock;
use crate::format::AudioFormat;
use crate::transcode::{BlockSink, SinkError};

/// What the analysis of one track found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The tempo; `None` for audio too short or without onsets.
    pub tempo: Option<Tempo>,
    /// The key; `None` for audio without pitched energy.
    pub key: Option<KeyEstimate>,
    /// Energy, 0 to 1 (see the `energy` module for its definition).
    pub energy: f64,
    /// The Chromaprint fingerprint, one hash per [`fingerprint::ITEM_SECONDS`].
    pub fingerprint: Vec<u32>,
}

/// Analyses a track block by block.
pub struct Analyzer {
    downmix: Downmix,
    mono: Vec<f32>,
    onsets: OnsetEnvelope,
    chroma: Chromagram,
    level: Level,
    fingerprinting: Option<Fingerprinting>,
    fingerprint: Vec<u32>,
}

impl Analyzer {
    /// An analyzer of PCM of `format`.
    pub fn new(format: AudioFormat) -> Self {
        let downmix = Downmix::new(format.sample_rate.hz(), format.channels.as_usize());
        let rate = downmix.rate();
        Self {
            onsets: OnsetEnvelope::new(rate),
            chroma: Chromagram::new(rate),
            level: Level::default(),
            fingerprinting: Some(Fingerprinting::start(rate.round() as u32)),
            fingerprint: Vec::new(),
            mono: Vec::new(),
            downmix,
        }
    }

    /// Adds interleaved samples of the analyzer's format.
    pub fn add(&mut self, samples: &[f32]) {
        self.mono.clear();
        self.downmix.push(samples, &mut self.mono);
        self.onsets.push(&self.mono);
        self.chroma.push(&self.mono);
        self.level.push(&self.mono);
        if let Some(printing) = &mut self.fingerprinting {
            printing.push(&self.mono);
        }
    }

    /// Ends the audio: the fingerprint is complete after this.
    pub fn end(&mut self) {
        if let Some(printing) = self.fingerprinting.take() {
            self.fingerprint = printing.finish();
        }
    }

    /// What was found in the audio added (and ended) so far.
    pub fn into_analysis(mut self) -> Analysis {
        self.end();
        let (strength, rate) = (self.onsets.strength(), self.onsets.frame_rate());
        Analysis {
            tempo: tempo::estimate(strength, rate),
            key: self.chroma.key(),
            energy: energy::energy(self.level.dbfs(), strength, rate),
            fingerprint: self.fingerprint,
        }
    }
}

impl BlockSink for Analyzer {
    fn push(&mut self, block: &PcmBlock) -> Result<(), SinkError> {
        self.add(block.samples());
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.end();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ChannelCount, SampleRate};

    #[test]
    fn a_stereo_44k_drum_loop_over_chords_is_analysed_whole() {
        let rate = 44_100;
        let format = AudioFormat {
            sample_rate: SampleRate::new(rate).expect("rate"),
            channels: ChannelCount::new(2).expect("channels"),
        };
        // The test signals are at 11025 Hz: each sample held for four frames.
        let drums = test_signals::drum_pattern(120.0, 24.0);
        let chords = test_signals::chords(&[&[45, 57, 60, 64], &[40, 56, 59, 64]], 12.0);
        let stereo: Vec<f32> = drums
            .iter()
            .zip(&chords)
            .flat_map(|(d, c)| [0.5 * d + c, 0.5 * d + c].repeat(4))
            .collect();
        let mut analyzer = Analyzer::new(format);
        for chunk in stereo.chunks(4_096) {
            analyzer.push(&block(format, chunk)).expect("pushed");
        }
        analyzer.finish().expect("finished");
        let analysis = analyzer.into_analysis();
        let tempo = analysis.tempo.expect("a tempo");
        assert!((tempo.bpm - 120.0).abs() < 2.0, "{tempo:?}");
        assert_eq!(analysis.key.expect("a key").key.to_string(), "A minor");
        assert!(
            (0.2..=1.0).contains(&analysis.energy),
            "{}",
            analysis.energy
        );
        // 24 s at 8 hashes a second, less the 20 frames the chroma filter and the
        // classifiers need before their first hash.
        let hashes = analysis.fingerprint.len();
        assert!((168..=176).contains(&hashes), "{hashes}");
    }

    fn block(format: AudioFormat, samples: &[f32]) -> PcmBlock {
        let mut block = PcmBlock::new(format);
        block.extend_float(samples);
        block
    }
}
