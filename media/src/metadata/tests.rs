//! The layout of files made byte by byte.

use std::io::{Cursor, Read};

use super::*;

fn synchsafe(n: usize) -> [u8; 4] {
    [
        (n >> 21) as u8 & 0x7F,
        (n >> 14) as u8 & 0x7F,
        (n >> 7) as u8 & 0x7F,
        n as u8 & 0x7F,
    ]
}

fn id3_frame(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut frame = id.to_vec();
    frame.extend(synchsafe(body.len()));
    frame.extend([0, 0]);
    frame.extend(body);
    frame
}

fn apic(kind: u8, image: &[u8]) -> Vec<u8> {
    let mut body = b"\x00image/png\x00".to_vec();
    body.push(kind);
    body.extend(b"desc\x00");
    body.extend(image);
    id3_frame(b"APIC", &body)
}

fn id3_tag(frames: &[Vec<u8>], padding: usize) -> Vec<u8> {
    let body: Vec<u8> = frames.concat();
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    tag.extend(synchsafe(body.len() + padding));
    tag.extend(body);
    tag.extend(vec![0; padding]);
    tag
}

fn flac_block(kind: u8, last: bool, content: &[u8]) -> Vec<u8> {
    let mut block = vec![kind | if last { 0x80 } else { 0 }];
    block.extend(&(content.len() as u32).to_be_bytes()[1..]);
    block.extend(content);
    block
}

fn flac_picture(kind: u32, image: &[u8]) -> Vec<u8> {
    let mut content = kind.to_be_bytes().to_vec();
    content.extend(9u32.to_be_bytes());
    content.extend(b"image/png");
    content.extend(3u32.to_be_bytes());
    content.extend(b"art");
    content.extend([0; 16]);
    content.extend((image.len() as u32).to_be_bytes());
    content.extend(image);
    content
}

fn read_view(file: &[u8], pieces: Vec<Piece>) -> Vec<u8> {
    let mut all = Vec::new();
    Spliced::new(Cursor::new(file.to_vec()), pieces)
        .read_to_end(&mut all)
        .unwrap();
    all
}

fn picture_bytes(file: &[u8], at: &PictureAt) -> Vec<u8> {
    file[at.offset as usize..(at.offset + at.len) as usize].to_vec()
}

#[test]
fn an_id3_tag_is_cut_from_the_audio_and_its_pictures_from_the_tag() {
    let title = id3_frame(b"TIT2", b"\x03Song");
    let tag = id3_tag(
        &[
            apic(0, b"other"),
            title.clone(),
            apic(3, b"front"),
            apic(3, b"later"),
        ],
        7,
    );
    let file = [tag.clone(), b"\xff\xfbAUDIO".to_vec()].concat();
    let layout = scan(&mut Cursor::new(file.clone())).unwrap();
    assert!(!layout.is_plain());
    assert_eq!(read_view(&file, layout.audio_pieces()), b"\xff\xfbAUDIO");
    let expected_tag = id3_tag(&[title], 0);
    assert_eq!(
        read_view(&file, layout.tag_pieces()),
        [expected_tag, b"\xff\xfbAUDIO".to_vec()].concat()
    );
    let cover = layout.cover().unwrap();
    assert_eq!(picture_bytes(&file, cover), b"front");
    assert_eq!(cover.mime.as_deref(), Some("image/png"));
}

#[test]
fn flac_keeps_only_its_stream_info_for_the_decoder() {
    let stream_info = [7u8; 34];
    let file = [
        b"fLaC".to_vec(),
        flac_block(0, false, &stream_info),
        flac_block(6, false, &flac_picture(0, b"back")),
        flac_block(4, false, b"comments"),
        flac_block(6, false, &flac_picture(3, b"front")),
        flac_block(6, true, &flac_picture(3, b"second front")),
        b"\xff\xf8FRAMES".to_vec(),
    ]
    .concat();
    let layout = scan(&mut Cursor::new(file.clone())).unwrap();
    let audio = read_view(&file, layout.audio_pieces());
    let expected = [
        b"fLaC".to_vec(),
        flac_block(0, true, &stream_info),
        b"\xff\xf8FRAMES".to_vec(),
    ];
    assert_eq!(audio, expected.concat());
    assert_eq!(read_view(&file, layout.tag_pieces()), file);
    assert_eq!(picture_bytes(&file, layout.cover().unwrap()), b"front");
}

#[test]
fn a_flac_whose_blocks_overrun_the_file_is_malformed() {
    let mut file = [b"fLaC".to_vec(), flac_block(0, false, &[0; 34])].concat();
    file.extend([6, 0x10, 0, 0]);
    file.extend([0; 100]);
    let scanned = scan(&mut Cursor::new(file));
    assert!(
        matches!(scanned, Err(ScanError::Malformed(_))),
        "{scanned:?}"
    );
    let empties: Vec<u8> = (0..5000).flat_map(|_| [1u8, 0, 0, 0]).collect();
    let file = [b"fLaC".to_vec(), flac_block(0, false, &[0; 34]), empties].concat();
    assert!(matches!(
        scan(&mut Cursor::new(file)),
        Err(ScanError::Malformed(_))
    ));
}

#[test]
fn a_file_without_either_is_plain() {
    let wav = b"RIFF\x04\x00\x00\x00WAVE".to_vec();
    let layout = scan(&mut Cursor::new(wav.clone())).unwrap();
    assert!(layout.is_plain());
    assert_eq!(read_view(&wav, layout.audio_pieces()), wav);
    assert!(layout.cover().is_none());
}
