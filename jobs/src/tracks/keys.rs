//! Where a track's objects live. Every key is made of ids Mixdown generated
//! and names from its own presets, never of what a client sent.

use mixdown_media::waveform_file::FileFormat;

use crate::{
    ids::{JobId, TenantId, TrackId},
    objects::ObjectKey,
};

fn prefix(tenant: TenantId, track: TrackId) -> String {
    format!("tracks/{tenant}/{track}")
}

fn key(text: String) -> ObjectKey {
    ObjectKey::new(text).expect("ids and preset names make valid keys")
}

/// The uploaded original.
pub fn original_key(tenant: TenantId, track: TrackId) -> ObjectKey {
    key(format!("{}/original", prefix(tenant, track)))
}

/// The embedded cover art, with an extension that follows its MIME type.
pub fn cover_key(tenant: TenantId, track: TrackId, mime: &str) -> ObjectKey {
    let ext = match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/bmp" => "bmp",
        "image/tiff" => "tiff",
        _ => "bin",
    };
    key(format!("{}/cover.{ext}", prefix(tenant, track)))
}

/// An output file at `relative` (a path the transcoder made from a preset
/// name, such as `mp3_128.mp3` or `aac_hls_160/segment_00000.ts`); `None`
/// if that path cannot be a key.
pub fn output_key(tenant: TenantId, track: TrackId, relative: &str) -> Option<ObjectKey> {
    ObjectKey::new(format!("{}/out/{relative}", prefix(tenant, track)))
}

/// The waveform file a `waveform` job made, named after the job so that
/// files of different options never meet.
pub fn waveform_key(tenant: TenantId, track: TrackId, job: JobId, format: FileFormat) -> ObjectKey {
    let extension = format.extension();
    key(format!("{}/waveforms/{job}.{extension}", prefix(tenant, track)))
}

/// Whether `key` is one of the objects of `tenant`'s `track`.
pub fn is_track_key(key: &ObjectKey, tenant: TenantId, track: TrackId) -> bool {
    key.as_str()
        .strip_prefix(&prefix(tenant, track))
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_under_their_track() {
        let (tenant, track) = (TenantId::new(), TrackId::new());
        for k in [
            original_key(tenant, track),
            cover_key(tenant, track, "image/png"),
            output_key(tenant, track, "aac_hls_160/playlist.m3u8").unwrap(),
            waveform_key(tenant, track, JobId::new(), FileFormat::Png),
        ] {
            assert!(is_track_key(&k, tenant, track), "{k}");
            assert!(!is_track_key(&k, tenant, TrackId::new()), "{k}");
        }
        assert!(output_key(tenant, track, "../x").is_none());
        assert!(
            cover_key(tenant, track, "text/html")
                .as_str()
                .ends_with(".bin")
        );
    }
}
