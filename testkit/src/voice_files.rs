//! Where the voice tests find their speech and the encoder's weights. Only
//! std, so the voice crate's own tests and examples include this file as it
//! is (both crates sit one level below the workspace root) instead of
//! depending on the whole test kit.

use std::path::PathBuf;

/// The shared speech corpus: `MIXDOWN_TEST_VOICE_DATA`, else
/// `../shared/testdata/voice` beside the workspace.
pub fn voice_data() -> PathBuf {
    std::env::var_os("MIXDOWN_TEST_VOICE_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/voice"),
        PathBuf::from,
    )
}

/// The 54 calibration speakers: `MIXDOWN_TEST_VOICE_CALIBRATION_DATA`, else
/// `../shared/testdata/voice-calibration` beside the workspace.
pub fn voice_calibration_data() -> PathBuf {
    std::env::var_os("MIXDOWN_TEST_VOICE_CALIBRATION_DATA").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/testdata/voice-calibration")
        },
        PathBuf::from,
    )
}

/// The voice encoder's weights: `MIXDOWN_VOICE_MODEL`, else fetched into the
/// cache by `scripts/voice-model.sh` when missing.
pub fn voice_model() -> PathBuf {
    if let Some(path) = std::env::var_os("MIXDOWN_VOICE_MODEL") {
        return PathBuf::from(path);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/voice-model.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "voice-model.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).expect("a path").trim())
}
