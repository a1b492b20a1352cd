//! `mixdown waveform` run as a process, against audiowaveform's reference output.

use std::path::PathBuf;
use std::process::{Command, Output};

fn reference(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/waveform")
        .join(name)
}

fn waveform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .arg("waveform")
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("runs mixdown")
}

fn path_str(path: &std::path::Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn dat_and_json_written_with_audiowaveforms_options_match_its_output() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cases = [
        ("stereo_44k", "b8z256.dat", vec!["-b", "8", "-z", "256"]),
        (
            "stereo_48k_24bit",
            "b16z64splitchannels.json",
            vec!["-b", "16", "-z", "64", "--split-channels"],
        ),
        (
            "mono_22k",
            "b8pixelspersecond100.dat",
            vec!["-b", "8", "--pixels-per-second", "100"],
        ),
    ];
    for (input, suffix, options) in cases {
        let output = dir.path().join(suffix);
        let input_path = reference(&format!("{input}.wav"));
        let mut args = vec!["-i", path_str(&input_path), "-o", path_str(&output)];
        args.extend(options);
        let run = waveform(&args);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let ours = std::fs::read(&output).expect("output written");
        let theirs = std::fs::read(reference(&format!("{input}__{suffix}"))).expect("reference");
        assert!(
            ours == theirs,
            "{input} {suffix} differs from audiowaveform"
        );
    }
}

#[test]
fn an_image_and_a_summary_are_written_by_extension_and_flag() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = reference("mono_22k.wav");
    let png = dir.path().join("wave.png");
    let run = waveform(&[
        "-i",
        path_str(&input),
        "-o",
        path_str(&png),
        "-w",
        "300",
        "-h",
        "60",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(std::fs::read(&png).expect("png").starts_with(b"\x89PNG"));
    let summary = dir.path().join("summary.json");
    let run = waveform(&[
        "-i",
        path_str(&input),
        "-o",
        path_str(&summary),
        "--summary",
        "1800",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert_eq!(
        text.trim().trim_matches(['[', ']']).split(',').count(),
        1800
    );
}

#[test]
fn a_file_that_is_not_audio_fails_with_one_line_and_leaves_no_output() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let text = dir.path().join("notes.mp3");
    std::fs::write(&text, "not audio at all\n").expect("writes");
    let output = dir.path().join("notes.dat");
    let run = waveform(&["-i", path_str(&text), "-o", path_str(&output)]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a recognised audio format"), "{stderr}");
    assert!(!output.exists());
}
