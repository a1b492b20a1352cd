//! Audio fixtures made with sox and ffmpeg in a temporary directory.

#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A temporary directory of generated audio.
pub struct Fixtures {
    dir: TempDir,
}

impl Fixtures {
    /// An empty fixture directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// Path of `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `name` made by sox from a synthesised signal: `seconds` of stereo at `rate` Hz,
    /// a sine on the left and a quieter, different sine on the right.
    pub fn music(&self, name: &str, rate: u32, seconds: f64) -> PathBuf {
        let path = self.path(name);
        let rate = rate.to_string();
        let seconds = seconds.to_string();
        run(Command::new("sox")
            .args(["-D", "-n", "-r", &rate, "-c", "2", "-b", "16"])
            .arg(&path)
            .args(["synth", &seconds, "sine", "440", "sine", "1250"])
            .args(["tremolo", "3", "60", "gain", "-3"]));
        path
    }

    /// `name` made by sox: `seconds` of `channels` channels of a `synth` signal, 16-bit at
    /// 8 kHz, e.g. `&["square", "100"]`.
    pub fn synth(&self, name: &str, channels: u16, seconds: f64, signal: &[&str]) -> PathBuf {
        let path = self.path(name);
        run(Command::new("sox")
            .args([
                "-D",
                "-n",
                "-r",
                "8000",
                "-c",
                &channels.to_string(),
                "-b",
                "16",
            ])
            .arg(&path)
            .args(["synth", &seconds.to_string()])
            .args(signal));
        path
    }

    /// `name` transcoded from `source` by ffmpeg with extra `args` before the output.
    pub fn ffmpeg(&self, source: &Path, name: &str, args: &[&str]) -> PathBuf {
        let path = self.path(name);
        run(Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
            .arg(source)
            .args(args)
            .arg(&path));
        path
    }

    /// `name` holding `bytes`.
    pub fn bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("writes fixture");
        path
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("sox and ffmpeg are installed");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
