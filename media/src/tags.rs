//! Tags and embedded cover art of an audio file, read with lofty and cut to
//! bounded sizes: a file may carry megabytes of lyrics or a dozen pictures,
//! and a track answer must stay small.

use std::{collections::BTreeMap, path::Path};

use lofty::{
    config::ParseOptions,
    file::{TaggedFile, TaggedFileExt},
    picture::{Picture, PictureType},
    probe::Probe,
    tag::{ItemKey, Tag},
};

/// Longest tag value kept, in characters; longer ones are cut.
pub const MAX_TAG_CHARS: usize = 1024;
/// Largest cover art kept, bytes; larger pictures are left out.
pub const MAX_COVER_BYTES: usize = 10 << 20;

/// The tags kept, under the names a track answer shows.
const KEPT: [(ItemKey, &str); 12] = [
    (ItemKey::TrackTitle, "title"),
    (ItemKey::TrackArtist, "artist"),
    (ItemKey::AlbumTitle, "album"),
    (ItemKey::AlbumArtist, "album_artist"),
    (ItemKey::Genre, "genre"),
    (ItemKey::RecordingDate, "date"),
    (ItemKey::Year, "year"),
    (ItemKey::TrackNumber, "track_number"),
    (ItemKey::DiscNumber, "disc_number"),
    (ItemKey::Composer, "composer"),
    (ItemKey::Isrc, "isrc"),
    (ItemKey::Label, "label"),
];

/// An embedded picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    /// Its MIME type as the file declares it (`image/jpeg`, …), if known.
    pub mime: Option<String>,
    /// The image bytes.
    pub data: Vec<u8>,
}

/// What a file says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    /// Known tags by name, each at most [`MAX_TAG_CHARS`] characters.
    pub text: BTreeMap<String, String>,
    /// The front cover, else the first picture, if not over [`MAX_COVER_BYTES`].
    pub cover: Option<Cover>,
}

/// Reads the tags of the file at `path`. A file lofty cannot parse has no
/// tags: tags are a description, never a reason to refuse audio.
pub fn read_tags(path: &Path) -> Tags {
    let Some(tagged) = read_tagged(path) else {
        return Tags::default();
    };
    let mut tags = Tags::default();
    // The primary tag first, so its values win over those of older tags.
    let ordered = tagged.primary_tag().into_iter().chain(tagged.tags());
    for tag in ordered {
        collect_text(tag, &mut tags.text);
        if tags.cover.is_none() {
            tags.cover = cover(tag);
        }
    }
    tags
}

fn read_tagged(path: &Path) -> Option<TaggedFile> {
    let probe = Probe::open(path).ok()?;
    let probe = probe.options(ParseOptions::new().read_properties(false));
    probe.guess_file_type().ok()?.read().ok()
}

fn collect_text(tag: &Tag, into: &mut BTreeMap<String, String>) {
    for (key, name) in KEPT {
        if into.contains_key(name) {
            continue;
        }
        let value = tag.get_string(key).map(str::trim).filter(|v| !v.is_empty());
        if let Some(value) = value {
            into.insert(name.to_owned(), value.chars().take(MAX_TAG_CHARS).collect());
        }
    }
}

fn cover(tag: &Tag) -> Option<Cover> {
    let pictures = tag.pictures();
    let front = pictures
        .iter()
        .find(|p| p.pic_type() == PictureType::CoverFront);
    let picture: &Picture = front.or_else(|| pictures.first())?;
    (!picture.data().is_empty() && picture.data().len() <= MAX_COVER_BYTES).then(|| Cover {
        mime: picture.mime_type().map(|m| m.as_str().to_owned()),
        data: picture.data().to_vec(),
    })
}
