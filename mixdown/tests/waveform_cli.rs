//! `mixdown waveform` run as a process, against audiowaveform's reference output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

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

/// Peak resident memory, KiB, of `mixdown waveform` drawing `input`: the process's
/// high-water mark, read from /proc until it exits.
fn peak_rss_kib(input: &Path, output: &Path) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mixdown"))
        .arg("waveform")
        .args(["-i", path_str(input), "-o", path_str(output), "-z", "256"])
        .env("RUST_LOG", "off")
        .spawn()
        .expect("runs mixdown");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        let high_water = std::fs::read_to_string(&status).ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        peak = peak.max(high_water.unwrap_or(0));
        if let Some(exit) = child.try_wait().expect("waits") {
            assert!(
                exit.success(),
                "mixdown waveform failed on {}",
                input.display()
            );
            return peak;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn memory_does_not_grow_with_the_length_of_audio_ffmpeg_decodes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let opus = |minutes: u32| {
        let path = dir.path().join(format!("{minutes}min.opus"));
        let status = Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i"])
            .arg(format!("sine=frequency=440:duration={}", minutes * 60))
            .args(["-c:a", "libopus", "-b:a", "96k"])
            .arg(&path)
            .status()
            .expect("ffmpeg runs");
        assert!(status.success());
        path
    };
    let out = dir.path().join("peaks.dat");
    let short = peak_rss_kib(&opus(1), &out);
    let long = peak_rss_kib(&opus(10), &out);
    // Each packet's buffer kept would add about 2 MiB a minute of Opus at this rate.
    assert!(
        long < short + 8 * 1024,
        "1 min: {short} KiB, 10 min: {long} KiB"
    );
}

/// A 5 s file of `codec` made by ffmpeg.
fn five_seconds(dir: &Path, name: &str, codec: &str) -> Vec<u8> {
    let path = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("sine=frequency=440:duration=5")
        .args(["-c:a", codec, "-id3v2_version", "0"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    std::fs::read(path).expect("written")
}

/// 8 MiB of noise: what pictures look like to a reader, and cheap to make.
fn noise() -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..8 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// `flac` with `count` PICTURE blocks of `image` put after its stream info.
fn flac_with_pictures(flac: &[u8], image: &[u8], count: usize) -> Vec<u8> {
    let stream_info_end = 8 + 34;
    let last = flac[4] & 0x80;
    let mut out = flac[..4].to_vec();
    out.push(flac[4] & 0x7F);
    out.extend(&flac[5..stream_info_end]);
    let mut content = 3u32.to_be_bytes().to_vec();
    content.extend(10u32.to_be_bytes());
    content.extend(b"image/jpeg");
    content.extend([0; 20]);
    content.extend((image.len() as u32).to_be_bytes());
    content.extend(image);
    for i in 0..count {
        let flag = if i + 1 == count { last } else { 0 };
        out.push(6 | flag);
        out.extend(&(content.len() as u32).to_be_bytes()[1..]);
        out.extend(&content);
    }
    out.extend(&flac[stream_info_end..]);
    out
}

/// `mp3` behind an ID3v2.4 tag of `count` front covers of `image`.
fn mp3_with_pictures(mp3: &[u8], image: &[u8], count: usize) -> Vec<u8> {
    let mut frame_body = b"\x00image/jpeg\x00\x03\x00".to_vec();
    frame_body.extend(image);
    let synchsafe = |n: usize| {
        [
            (n >> 21) as u8 & 0x7F,
            (n >> 14) as u8 & 0x7F,
            (n >> 7) as u8 & 0x7F,
            n as u8 & 0x7F,
        ]
    };
    let mut frames = Vec::new();
    for _ in 0..count {
        frames.extend(b"APIC");
        frames.extend(synchsafe(frame_body.len()));
        frames.extend([0, 0]);
        frames.extend(&frame_body);
    }
    let mut out = b"ID3\x04\x00\x00".to_vec();
    out.extend(synchsafe(frames.len()));
    out.extend(frames);
    out.extend(mp3);
    out
}

#[test]
fn pictures_in_flac_and_id3_add_nothing_to_the_memory_of_a_decode() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().join("peaks.dat");
    let image = noise();
    let flac = five_seconds(dir.path(), "plain.flac", "flac");
    let mp3 = five_seconds(dir.path(), "plain.mp3", "libmp3lame");
    let cases = [
        ("flac", flac_with_pictures(&flac, &image, 20), flac),
        ("mp3", mp3_with_pictures(&mp3, &image, 20), mp3),
    ];
    for (kind, bomb, plain) in cases {
        let plain_path = dir.path().join(format!("plain-copy.{kind}"));
        std::fs::write(&plain_path, plain).expect("written");
        let bomb_path = dir.path().join(format!("pictures.{kind}"));
        std::fs::write(&bomb_path, bomb).expect("written");
        let idle = peak_rss_kib(&plain_path, &out);
        let with_pictures = peak_rss_kib(&bomb_path, &out);
        // 160 MiB of pictures: holding them would show as that much more.
        assert!(
            with_pictures < idle + 64 * 1024,
            "{kind}: {idle} KiB plain, {with_pictures} KiB with pictures"
        );
    }
}
