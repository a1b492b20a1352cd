//! Times the classic features and the embedding of one 16 kHz WAV file
//! in-process, best of several runs. Used by `bench/voice.sh`.
//!
//!   cargo run --release -p mixdown-voice --example bench -- FILE.wav [RUNS]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use mixdown_voice::SignatureAnalyzer;

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("a WAV file");
    let runs: usize = args.next().map_or(5, |r| r.parse().expect("a run count"));
    let (samples, rate) = support::read_wav(path.as_ref());
    assert_eq!(rate, mixdown_voice::SAMPLE_RATE);
    let analyzer = SignatureAnalyzer::default();
    let encoder = support::encoder();
    let classic = best_of(runs, || {
        std::hint::black_box(analyzer.frames(&samples));
    });
    let embedding = best_of(runs.min(3), || {
        std::hint::black_box(encoder.embed(&samples));
    });
    println!("rust_classic_seconds {:.6}", classic.as_secs_f64());
    println!("rust_embedding_seconds {:.6}", embedding.as_secs_f64());
}
