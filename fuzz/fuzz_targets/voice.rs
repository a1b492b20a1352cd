//! Any PCM through the voice engine's gates and, where they pass, its encoder: the input's
//! first byte picks the sample rate (or its first four bytes give one), the rest is 16-bit
//! little-endian mono.
#![no_main]

use std::{path::PathBuf, sync::LazyLock};

use libfuzzer_sys::fuzz_target;
use mixdown_voice::{Audio, EMBEDDING_DIM, Encoder, EngineConfig, VoiceEngine};

/// Rates uploads come in; anything else comes from the input itself.
const RATES: [u32; 8] = [
    8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000,
];

static ENGINE: LazyLock<VoiceEngine> = LazyLock::new(|| {
    let path = std::env::var_os("MIXDOWN_VOICE_MODEL")
        .map(PathBuf::from)
        .expect("MIXDOWN_VOICE_MODEL names the model file (scripts/voice-model.sh)");
    let encoder = Encoder::load(&path).expect("the model loads");
    VoiceEngine::new(encoder, EngineConfig::default())
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (rate, pcm) = match RATES.get(usize::from(pick)) {
        Some(&rate) => (rate, rest),
        None if rest.len() >= 4 => {
            let (head, pcm) = rest.split_at(4);
            (
                u32::from_le_bytes(head.try_into().expect("four bytes")),
                pcm,
            )
        }
        None => return,
    };
    let samples: Vec<f32> = pcm
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
        .collect();
    let audio = Audio {
        samples: &samples,
        sample_rate: rate,
    };
    let Ok(speech) = ENGINE.check(audio) else {
        return;
    };
    if let Ok(embedding) = ENGINE.embed(&speech) {
        assert_eq!(embedding.as_slice().len(), EMBEDDING_DIM);
        assert!(embedding.as_slice().iter().all(|x| x.is_finite()));
    }
});
