//! Where a preset's files go under the output directory, and what a finished one holds.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::codec::{OutputCodec, OutputContainer};

/// Name of an HLS preset's playlist inside its directory.
pub(super) const PLAYLIST: &str = "playlist.m3u8";

/// One finished output of a preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendition {
    /// The preset's name.
    pub preset: String,
    /// Media type of [`Self::main`].
    pub mime: String,
    /// The codec.
    pub codec: OutputCodec,
    /// The container.
    pub container: OutputContainer,
    /// Target bit rate in bits per second.
    pub bit_rate: u32,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u16,
    /// Length of the audio encoded (the source's, or the clip's).
    #[serde(rename = "duration_seconds", with = "seconds")]
    pub duration: Duration,
    /// Path, relative to the output directory, of what a player opens: the file, or the
    /// HLS playlist.
    pub main: String,
    /// Every file written, the main one included.
    pub files: Vec<OutputFile>,
}

/// A file written by a transcode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Path relative to the output directory, with `/` between components.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The paths a preset writes, all derived from its name.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// One file, `{name}.{ext}`.
    File { relative: String },
    /// A directory `{name}/` of a playlist and its segments.
    Hls { dir: String },
}

impl Layout {
    pub(crate) fn new(name: &str, container: OutputContainer) -> Self {
        match container {
            OutputContainer::Hls => Self::Hls {
                dir: name.to_owned(),
            },
            OutputContainer::Mp3 | OutputContainer::Ogg => Self::File {
                relative: format!("{name}.{}", container.name()),
            },
        }
    }

    /// The relative path of what a player opens.
    pub(crate) fn main(&self) -> String {
        match self {
            Self::File { relative } => relative.clone(),
            Self::Hls { dir } => format!("{dir}/{PLAYLIST}"),
        }
    }

    /// The absolute directory of an HLS preset's playlist and segments; `None` for single
    /// files.
    pub(crate) fn segment_dir(&self, out_dir: &Path) -> Option<PathBuf> {
        match self {
            Self::File { .. } => None,
            Self::Hls { dir } => Some(out_dir.join(dir)),
        }
    }

    /// Removes what an earlier run left, and makes the HLS directory.
    pub(crate) fn prepare(&self, out_dir: &Path) -> io::Result<()> {
        self.remove(out_dir)?;
        match self {
            Self::File { .. } => Ok(()),
            Self::Hls { dir } => fs::create_dir(out_dir.join(dir)),
        }
    }

    /// Removes this preset's output, if any.
    pub(crate) fn remove(&self, out_dir: &Path) -> io::Result<()> {
        let removed = match self {
            Self::File { relative } => fs::remove_file(out_dir.join(relative)),
            Self::Hls { dir } => fs::remove_dir_all(out_dir.join(dir)),
        };
        match removed {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// Every file written, sorted by path.
    pub(crate) fn files(&self, out_dir: &Path) -> io::Result<Vec<OutputFile>> {
        let file = |relative: String| -> io::Result<OutputFile> {
            let bytes = fs::metadata(out_dir.join(&relative))?.len();
            Ok(OutputFile {
                path: relative,
                bytes,
            })
        };
        match self {
            Self::File { relative } => Ok(vec![file(relative.clone())?]),
            Self::Hls { dir } => {
                let mut names = fs::read_dir(out_dir.join(dir))?
                    .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
                    .collect::<io::Result<Vec<String>>>()?;
                names.sort();
                names
                    .into_iter()
                    .map(|name| file(format!("{dir}/{name}")))
                    .collect()
            }
        }
    }
}

/// Durations as fractional seconds, as a JSON reader expects them.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(duration: &Duration, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_f64(duration.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Duration, D::Error> {
        Duration::try_from_secs_f64(f64::deserialize(input)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_preset_alone() {
        let mp3 = Layout::new("mp3_128", OutputContainer::Mp3);
        assert_eq!(mp3.main(), "mp3_128.mp3");
        assert_eq!(mp3.segment_dir(Path::new("/out")), None);
        let hls = Layout::new("aac_hls_160", OutputContainer::Hls);
        assert_eq!(hls.main(), "aac_hls_160/playlist.m3u8");
        assert_eq!(
            hls.segment_dir(Path::new("/out")),
            Some(PathBuf::from("/out/aac_hls_160"))
        );
    }

    #[test]
    fn an_hls_directory_lists_every_file_and_is_removed_whole() {
        let out = tempfile::tempdir().expect("temporary directory");
        let hls = Layout::new("h", OutputContainer::Hls);
        hls.prepare(out.path()).expect("prepared");
        fs::write(out.path().join("h/segment_00001.ts"), b"ab").expect("written");
        fs::write(out.path().join("h/playlist.m3u8"), b"x").expect("written");
        let files = hls.files(out.path()).expect("listed");
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["h/playlist.m3u8", "h/segment_00001.ts"]);
        assert_eq!(files[1].bytes, 2);
        hls.remove(out.path()).expect("removed");
        assert!(!out.path().join("h").exists());
        hls.remove(out.path()).expect("removing nothing is fine");
    }
}
