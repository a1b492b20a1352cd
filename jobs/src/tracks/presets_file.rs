//! A presets file: `[[preset]]` tables of preset fields that replace the
//! built-in presets, for the API's catalogue and for `mixdown transcode`.

use std::path::{Path, PathBuf};

use mixdown_media::transcode::Preset;
use serde::Deserialize;

use super::TrackPresets;

/// The tables of a presets file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tables {
    preset: Vec<Preset>,
}

/// The presets of a file, read and checked once.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetsFile {
    path: PathBuf,
    presets: TrackPresets,
}

impl PresetsFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let presets = Self::parse(&text)
            .map_err(|e| format!("invalid presets in {}: {e}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            presets,
        })
    }

    /// The presets a file's text lists: 1 to 16, each valid, no name twice.
    pub fn parse(text: &str) -> Result<TrackPresets, String> {
        let tables: Tables = toml::from_str(text).map_err(|e| e.to_string())?;
        TrackPresets::new(tables.preset)
    }

    /// The presets, in the file's order.
    pub fn presets(&self) -> &[Preset] {
        self.presets.as_slice()
    }
}

impl mixdown_settings::Value for PresetsFile {
    fn parse(text: &str) -> Result<Self, String> {
        Self::read(Path::new(text))
    }

    fn show(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presets_file_lists_preset_tables() {
        let presets = PresetsFile::parse(
            r#"
            [[preset]]
            name = "mp3_320"
            codec = "mp3"
            container = "mp3"
            bit_rate = 320000

            [[preset]]
            name = "hls_short"
            codec = "aac"
            container = "hls"
            bit_rate = 96000
            segment_seconds = 4
            start_ms = 1000
            duration_ms = 20000
            "#,
        )
        .expect("valid presets");
        assert_eq!(presets.as_slice().len(), 2);
        assert_eq!(presets.as_slice()[1].segment_seconds(), Some(4));
    }

    #[test]
    fn a_preset_with_a_bad_field_an_unknown_one_or_a_twin_is_refused_by_name() {
        let preset = "[[preset]]\nname = \"x\"\ncodec = \"mp3\"\ncontainer = \"mp3\"\n";
        let error = PresetsFile::parse(&format!("{preset}bit_rate = 1")).unwrap_err();
        assert!(error.contains("bit_rate"), "{error}");
        let unknown = format!("{preset}bit_rate = 128000\nbitrate = 5");
        let error = PresetsFile::parse(&unknown).unwrap_err();
        assert!(error.contains("bitrate"), "{error}");
        let twin = format!("{preset}bit_rate = 128000\n");
        let error = PresetsFile::parse(&format!("{twin}{twin}")).unwrap_err();
        assert!(error.contains("twice"), "{error}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = PresetsFile::read(Path::new("/nonexistent/presets.toml")).unwrap_err();
        assert!(error.contains("/nonexistent/presets.toml"), "{error}");
    }
}
