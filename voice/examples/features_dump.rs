//! Prints, as JSON lines, what the engine computes for WAV files: per-frame
//! classic features and GE2E embeddings. `bench/voice-check.sh` compares the
//! output with librosa and with a NumPy run of the same network.
//!
//!   cargo run --release -p mixdown-voice --example features_dump -- FILE.wav...

#[path = "../tests/support/mod.rs"]
mod support;

use mixdown_voice::{GateConfig, SignatureAnalyzer, SpeechSample};

fn main() {
    let encoder = support::encoder();
    let analyzer = SignatureAnalyzer::default();
    for path in std::env::args().skip(1) {
        let (samples, rate) = support::read_wav(path.as_ref());
        assert_eq!(
            rate,
            mixdown_voice::SAMPLE_RATE,
            "{path}: the comparison runs on 16 kHz files"
        );
        let f = analyzer.frames(&samples);
        let raw = encoder.embed(&samples).expect("speech embeds");
        let gated = SpeechSample::new(&samples, rate, &GateConfig::default())
            .ok()
            .and_then(|s| encoder.embed(s.samples()));
        let line = serde_json::json!({
            "file": path,
            "mfcc": f.mfcc,
            "centroid": f.centroid_hz,
            "rolloff": f.rolloff_hz,
            "f0": f.f0_hz,
            "voiced": f.voiced,
            "embedding": raw.as_slice(),
            "embedding_gated": gated.as_ref().map(|e| e.as_slice().to_vec()),
        });
        println!("{line}");
    }
}
