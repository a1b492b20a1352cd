//! Where a preset's packets go: one file written by one of FFmpeg's muxers, or an HLS
//! rendition — MPEG-TS segments, each written by a muxer of its own, and a VOD playlist.
//!
//! HLS is cut here rather than by FFmpeg's `hls` muxer, which keeps a record of some 12 KiB
//! (fixed-size name buffers) for every segment until the end and rewrites the whole
//! playlist after each one: 13 MiB and a million playlist lines for three hours of
//! 10-second segments, ten times that at 1 s. Here a segment costs the 8 bytes of its length.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use ffmpeg_next::{Codec, Packet, Rational, codec, encoder, format};

use super::encoder::{Failure, writing};
use super::output::{Layout, PLAYLIST};
use super::preset::Preset;

/// FFmpeg's muxer for each HLS segment.
const SEGMENT_MUXER: &str = "mpegts";

/// The output file (or first segment) made, its stream not yet added.
pub(crate) struct Created {
    output: format::context::Output,
    hls: Option<Segments>,
}

impl Created {
    /// Creates the preset's file, or its directory's first segment.
    pub(crate) fn new(preset: &Preset, layout: &Layout, out_dir: &Path) -> Result<Self, Failure> {
        match (preset.segment_seconds(), layout.segment_dir(out_dir)) {
            (Some(seconds), Some(dir)) => {
                let segments = Segments::new(dir, seconds);
                Ok(Self {
                    output: create_segment(&segments.path(0))?,
                    hls: Some(segments),
                })
            }
            _ => Ok(Self {
                output: format::output_as(
                    &out_dir.join(layout.main()),
                    preset.container().muxer_name(),
                )
                .map_err(writing("create"))?,
                hls: None,
            }),
        }
    }

    /// Whether the container wants the codec's headers apart from its packets.
    pub(crate) fn global_header(&self) -> bool {
        self.output
            .format()
            .flags()
            .contains(format::Flags::GLOBAL_HEADER)
    }

    /// Adds the encoder's stream and writes the header.
    pub(crate) fn begin(self, codec: Codec, encoder: &encoder::Audio) -> Result<Muxer, Failure> {
        let parameters = codec::Parameters::from(encoder);
        let encoder_time_base = encoder.time_base();
        let mut output = self.output;
        let stream_time_base = start_stream(&mut output, codec, &parameters, encoder_time_base)?;
        Ok(Muxer {
            output,
            stream_time_base,
            encoder_time_base,
            hls: self.hls.map(|segments| HlsState {
                segments,
                codec,
                parameters,
                units_per_second: i64::from(encoder_time_base.denominator())
                    / i64::from(encoder_time_base.numerator()).max(1),
            }),
        })
    }
}

/// A started output taking packets in the encoder's time base.
pub(crate) struct Muxer {
    output: format::context::Output,
    stream_time_base: Rational,
    encoder_time_base: Rational,
    hls: Option<HlsState>,
}

/// What a new segment's muxer is started with.
struct HlsState {
    segments: Segments,
    codec: Codec,
    parameters: codec::Parameters,
    /// The encoder's time base (1/rate) inverted.
    units_per_second: i64,
}

impl Muxer {
    /// Writes one encoded packet, starting a new segment first when its time has come.
    pub(crate) fn write(&mut self, packet: &mut Packet) -> Result<(), Failure> {
        if let Some(hls) = &mut self.hls {
            let pts = packet.pts().unwrap_or(0);
            let at = hls
                .segments
                .place(pts, packet.duration(), hls.units_per_second);
            packet.set_pts(Some(at.pts));
            packet.set_dts(Some(at.pts));
            if let Some(index) = at.new_segment {
                self.output.write_trailer().map_err(writing("trailer"))?;
                self.output = create_segment(&hls.segments.path(index))?;
                self.stream_time_base = start_stream(
                    &mut self.output,
                    hls.codec,
                    &hls.parameters,
                    self.encoder_time_base,
                )?;
            }
        }
        packet.set_stream(0);
        packet.rescale_ts(self.encoder_time_base, self.stream_time_base);
        packet
            .write_interleaved(&mut self.output)
            .map_err(writing("packet"))
    }

    /// Writes the trailer, and an HLS rendition's playlist.
    pub(crate) fn finish(mut self) -> Result<(), Failure> {
        self.output.write_trailer().map_err(writing("trailer"))?;
        match self.hls {
            Some(hls) => hls
                .segments
                .write_playlist(self.encoder_time_base)
                .map_err(|error| Failure::Write("playlist", Box::new(error))),
            None => Ok(()),
        }
    }
}

fn create_segment(path: &Path) -> Result<format::context::Output, Failure> {
    format::output_as(path, SEGMENT_MUXER).map_err(writing("create"))
}

/// Adds the one stream and writes the header; returns the stream's time base, which the
/// muxer may have chosen.
fn start_stream(
    output: &mut format::context::Output,
    codec: Codec,
    parameters: &codec::Parameters,
    encoder_time_base: Rational,
) -> Result<Rational, Failure> {
    let mut stream = output.add_stream(codec).map_err(writing("add stream"))?;
    stream.set_time_base(encoder_time_base);
    stream.set_parameters(parameters.clone());
    output.write_header().map_err(writing("header"))?;
    output
        .stream(0)
        .map(|stream| stream.time_base())
        .ok_or(Failure::Write("header", "the stream is gone".into()))
}

/// Where a packet goes in an HLS rendition.
struct Placement {
    /// Its timestamp, counted from the rendition's first packet.
    pts: i64,
    /// The number of the segment to start before writing it, if one is due.
    new_segment: Option<u32>,
}

/// The cutting of an HLS rendition into segments, in the encoder's time base (1/rate).
struct Segments {
    dir: PathBuf,
    /// A segment's nominal length in seconds.
    seconds: u32,
    /// The first packet's timestamp: every segment counts from it, so segments join
    /// without a gap whatever the encoder's priming.
    origin: Option<i64>,
    /// Where the segment being written starts.
    start: i64,
    /// Where the last packet written ends.
    end: i64,
    /// Length of every segment finished, in time-base units.
    finished: Vec<i64>,
}

impl Segments {
    fn new(dir: PathBuf, seconds: u32) -> Self {
        Self {
            dir,
            seconds,
            origin: None,
            start: 0,
            end: 0,
            finished: Vec::new(),
        }
    }

    fn name(index: u32) -> String {
        format!("segment_{index:05}.ts")
    }

    fn path(&self, index: u32) -> PathBuf {
        self.dir.join(Self::name(index))
    }

    fn index(&self) -> u32 {
        u32::try_from(self.finished.len()).expect("fewer segments than u32 counts")
    }

    /// Places a packet of `pts` and `duration`: a segment ends at the first packet at or
    /// past its nominal end, so every packet (each a whole AAC frame) is in one segment and
    /// a segment is at most one frame longer than asked.
    fn place(&mut self, pts: i64, duration: i64, units_per_second: i64) -> Placement {
        let origin = *self.origin.get_or_insert(pts);
        let pts = pts - origin;
        let boundary = (i64::from(self.index()) + 1) * i64::from(self.seconds) * units_per_second;
        let new_segment = (pts >= boundary && pts > self.start).then(|| {
            self.finished.push(pts - self.start);
            self.start = pts;
            self.index()
        });
        self.end = self.end.max(pts + duration.max(0));
        Placement { pts, new_segment }
    }

    /// Writes the VOD playlist of every segment, the last one included.
    fn write_playlist(mut self, time_base: Rational) -> std::io::Result<()> {
        let last = self.end - self.start;
        self.finished.push(last);
        let seconds = |units: i64| units as f64 * f64::from(time_base);
        let longest = self.finished.iter().copied().max().unwrap_or(0);
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n\
             #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n",
            seconds(longest).ceil().max(1.0) as u64
        );
        for (index, &units) in (0..).zip(&self.finished) {
            let _ = write!(
                text,
                "#EXTINF:{:.6},\n{}\n",
                seconds(units),
                Self::name(index)
            );
        }
        text.push_str("#EXT-X-ENDLIST\n");
        fs::write(self.dir.join(PLAYLIST), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Places `frames` AAC frames of 1024 at 44.1 kHz, the first at the encoder's priming
    /// (-1024), and returns the segments started and the playlist written.
    fn cut(seconds: u32, frames: i64) -> (Vec<u32>, String) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut segments = Segments::new(dir.path().to_owned(), seconds);
        let mut started = Vec::new();
        for frame in 0..frames {
            let at = segments.place(frame * 1024 - 1024, 1024, 44_100);
            assert_eq!(
                at.pts,
                frame * 1024,
                "timestamps count from the first packet"
            );
            started.extend(at.new_segment);
        }
        segments
            .write_playlist(Rational::new(1, 44_100))
            .expect("playlist written");
        let playlist = fs::read_to_string(dir.path().join(PLAYLIST)).expect("playlist read");
        (started, playlist)
    }

    fn durations(playlist: &str) -> Vec<f64> {
        playlist
            .lines()
            .filter_map(|line| line.strip_prefix("#EXTINF:"))
            .map(|rest| rest.trim_end_matches(',').parse().expect("a duration"))
            .collect()
    }

    #[test]
    fn segments_are_cut_at_the_first_frame_past_each_boundary_and_listed_once() {
        // 25.1 s of frames in 10 s segments.
        let frames = 25_100 * 44_100 / 1_000 / 1024 + 1;
        let (started, playlist) = cut(10, frames);
        assert_eq!(started, [1, 2]);
        let lengths = durations(&playlist);
        assert_eq!(lengths.len(), 3, "{playlist}");
        for &length in &lengths[..2] {
            assert!(
                (10.0..10.0 + 1024.0 / 44_100.0).contains(&length),
                "{playlist}"
            );
        }
        let total: f64 = lengths.iter().sum();
        assert!((total - frames as f64 * 1024.0 / 44_100.0).abs() < 1e-4);
        assert!(playlist.starts_with(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:11\n\
             #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:"
        ));
        assert!(playlist.contains(",\nsegment_00000.ts\n#EXTINF:"));
        assert!(playlist.ends_with("segment_00002.ts\n#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn a_rendition_shorter_than_a_segment_is_one_segment() {
        let (started, playlist) = cut(6, 100);
        assert!(started.is_empty());
        let lengths = durations(&playlist);
        assert_eq!(lengths.len(), 1);
        assert!((lengths[0] - 100.0 * 1024.0 / 44_100.0).abs() < 1e-5);
        assert!(playlist.contains("#EXT-X-TARGETDURATION:3\n"), "{playlist}");
    }
}
