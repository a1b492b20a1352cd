//! Where a track's objects live. Every key is made of ids Mixdown generated,
//! names from its own presets and digests, never of what a client sent.

use sha2::{Digest, Sha256};

use super::WaveformPayload;
use crate::{
    ids::{TenantId, TrackId},
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

/// Where a presigned upload's URL puts the file. Completing the upload moves
/// it to [`original_key`], so a PUT with the URL afterwards changes nothing
/// a worker reads; the janitor removes what lands here late.
pub fn upload_key(tenant: TenantId, track: TrackId) -> ObjectKey {
    key(format!("{UPLOADS}/{tenant}/{track}"))
}

/// The tenant and track a key under the presigned uploads' prefix names.
pub fn parse_upload_key(key: &ObjectKey) -> Option<(TenantId, TrackId)> {
    let rest = key.as_str().strip_prefix(UPLOADS)?.strip_prefix('/')?;
    let (tenant, track) = rest.split_once('/')?;
    Some((TenantId::parse(tenant)?, TrackId::parse(track)?))
}

/// The prefix of every presigned upload's key.
pub const UPLOADS: &str = "uploads";

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

/// The waveform file a `waveform` job makes, named by a digest of its
/// payload: the same request again makes the same file, other options
/// another one.
pub fn waveform_key(tenant: TenantId, track: TrackId, payload: &WaveformPayload) -> ObjectKey {
    let stored = serde_json::to_vec(payload).expect("payloads serialize");
    let digest = hex::encode(&Sha256::digest(&stored)[..8]);
    let extension = payload.file().format().extension();
    key(format!(
        "{}/waveforms/{digest}.{extension}",
        prefix(tenant, track)
    ))
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

    fn png(track: TrackId, width: u32) -> WaveformPayload {
        let value =
            serde_json::json!({"track_id": track.to_string(), "format": "png", "width": width});
        WaveformPayload::parse(&value).unwrap()
    }

    #[test]
    fn keys_stay_under_their_track() {
        let (tenant, track) = (TenantId::new(), TrackId::new());
        for k in [
            original_key(tenant, track),
            cover_key(tenant, track, "image/png"),
            output_key(tenant, track, "aac_hls_160/playlist.m3u8").unwrap(),
            waveform_key(tenant, track, &png(track, 640)),
        ] {
            assert!(is_track_key(&k, tenant, track), "{k}");
            assert!(!is_track_key(&k, tenant, TrackId::new()), "{k}");
        }
        assert!(output_key(tenant, track, "../x").is_none());
        let upload = upload_key(tenant, track);
        assert!(!is_track_key(&upload, tenant, track), "{upload}");
        assert_eq!(parse_upload_key(&upload), Some((tenant, track)));
        assert_eq!(parse_upload_key(&original_key(tenant, track)), None);
        let key = waveform_key(tenant, track, &png(track, 640));
        assert!(key.as_str().ends_with(".png"), "{key}");
        assert_eq!(key, waveform_key(tenant, track, &png(track, 640)));
        assert_ne!(key, waveform_key(tenant, track, &png(track, 641)));
        assert!(
            cover_key(tenant, track, "text/html")
                .as_str()
                .ends_with(".bin")
        );
    }
}
