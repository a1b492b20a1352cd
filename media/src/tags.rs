//! Tags and embedded cover art of an audio file, read with lofty and cut to
//! bounded sizes: a file may carry megabytes of lyrics or a dozen pictures,
//! and a track answer must stay small.
//!
//! Pictures of a leading ID3v2 tag or of native FLAC are never handed to
//! lofty, which would hold every one of them: lofty reads a view of the file
//! without them, and the one cover kept is read alone from where the file's
//! headers say it is (see `metadata`). Elsewhere (MP4, Ogg, tags inside
//! WAV and AIFF chunks) lofty reads pictures itself, within its allocation
//! limit of 16 MiB per tag.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufReader, Read, Seek, SeekFrom},
    path::Path,
};

use lofty::{
    config::ParseOptions,
    file::{TaggedFile, TaggedFileExt},
    picture::{Picture, PictureType},
    probe::Probe,
    tag::{ItemKey, Tag},
};

use crate::metadata::{self, Layout, PictureAt, Spliced};

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
    /// The first front cover, else the first picture, of those not over
    /// [`MAX_COVER_BYTES`]; larger ones are skipped unread where the file's
    /// headers allow.
    pub cover: Option<Cover>,
}

/// Reads the tags of the file at `path`. A file lofty cannot parse has no
/// tags: tags are a description, never a reason to refuse audio.
pub fn read_tags(path: &Path) -> Tags {
    let Ok(file) = File::open(path) else {
        return Tags::default();
    };
    let mut file = BufReader::new(file);
    match metadata::scan(&mut file) {
        Ok(layout) if layout.is_plain() => read_with_pictures(file),
        Ok(layout) => read_without_pictures(file, &layout),
        // Headers that contradict the file: no decoder takes it either.
        Err(_) => Tags::default(),
    }
}

/// Lofty reads tags and pictures alike.
fn read_with_pictures(file: impl Read + Seek) -> Tags {
    let Some(tagged) = read_tagged(file, true) else {
        return Tags::default();
    };
    let mut tags = Tags::default();
    for tag in ordered(&tagged) {
        collect_text(tag, &mut tags.text);
        if tags.cover.is_none() {
            tags.cover = cover(tag);
        }
    }
    tags
}

/// Lofty reads a view without pictures; the cover the layout chose is read alone.
fn read_without_pictures(mut file: BufReader<File>, layout: &Layout) -> Tags {
    let cover = layout.cover().and_then(|at| read_picture(&mut file, at));
    let mut tags = Tags {
        cover,
        ..Tags::default()
    };
    let view = BufReader::new(Spliced::new(file, layout.tag_pieces()));
    if let Some(tagged) = read_tagged(view, false) {
        for tag in ordered(&tagged) {
            collect_text(tag, &mut tags.text);
        }
    }
    tags
}

fn read_picture(file: &mut (impl Read + Seek), at: &PictureAt) -> Option<Cover> {
    file.seek(SeekFrom::Start(at.offset)).ok()?;
    let mut data = vec![0; usize::try_from(at.len).ok()?];
    file.read_exact(&mut data).ok()?;
    Some(Cover {
        mime: at.mime.clone(),
        data,
    })
}

/// The primary tag first, so its values win over those of older tags.
fn ordered(tagged: &TaggedFile) -> impl Iterator<Item = &Tag> {
    tagged.primary_tag().into_iter().chain(tagged.tags())
}

fn read_tagged(file: impl Read + Seek, pictures: bool) -> Option<TaggedFile> {
    let options = ParseOptions::new()
        .read_properties(false)
        .read_cover_art(pictures);
    let probe = Probe::new(file).options(options);
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
    let fits = |p: &&Picture| !p.data().is_empty() && p.data().len() <= MAX_COVER_BYTES;
    let mut pictures = tag.pictures().iter().filter(fits);
    let front = pictures
        .clone()
        .find(|p| p.pic_type() == PictureType::CoverFront);
    let picture = front.or_else(|| pictures.next())?;
    Some(Cover {
        mime: picture.mime_type().map(|m| m.as_str().to_owned()),
        data: picture.data().to_vec(),
    })
}
