//! Resumable (tus) uploads as the stores hold them: a multipart upload whose
//! acknowledged parts the database records, a tail object for the bytes
//! short of a part, and the sweep of uploads whose time ran out.

mod expiry;
mod receive;

use crate::{
    ids::{TenantId, TrackId},
    objects::{MultipartId, ObjectKey},
    time::Timestamp,
};

pub use self::{
    expiry::{remove_objects, sweep_expired},
    receive::{Broken, PART_SIZE, Received, receive},
};

/// What an upload becomes once whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    /// A track's original.
    Single,
    /// A piece that a final upload joins with others.
    Partial,
    /// The original of a track, joined from partial uploads.
    Final,
}

impl UploadKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Partial => "partial",
            Self::Final => "final",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Single, Self::Partial, Self::Final]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// How far an upload has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Taking bytes.
    Receiving,
    /// Every byte is in the object under its data key.
    Assembled,
    /// Its track is processing (never for a partial upload).
    Started,
}

impl UploadState {
    /// The state as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receiving => "receiving",
            Self::Assembled => "assembled",
            Self::Started => "started",
        }
    }

    /// The state stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Receiving, Self::Assembled, Self::Started]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Bytes held in a tail object until they fill a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// Where they are.
    pub key: ObjectKey,
    /// How many.
    pub size: u64,
}

/// One resumable upload as recorded.
#[derive(Debug, Clone)]
pub struct TusUpload {
    /// Its id; a single or final upload's track has the same one.
    pub id: TrackId,
    /// Whose it is.
    pub tenant_id: TenantId,
    /// What it becomes.
    pub kind: UploadKind,
    /// How far it has come.
    pub state: UploadState,
    /// Its declared length; `None` while deferred.
    pub length: Option<u64>,
    /// `Upload-Metadata` as the client sent it, given back by `HEAD`.
    pub metadata: Option<String>,
    /// A final upload's partial uploads, in order; empty for the others.
    pub partials: Vec<TrackId>,
    /// Where the whole object goes.
    pub data_key: ObjectKey,
    /// The store's multipart upload.
    pub multipart: MultipartId,
    /// Bytes past the last part.
    pub tail: Option<Tail>,
    /// Bytes in recorded parts.
    pub stored: u64,
    /// Recorded parts (the next one is numbered one more).
    pub parts: u32,
    /// When it is swept if not whole.
    pub expires_at: Timestamp,
    /// When it was created.
    pub created_at: Timestamp,
}

impl TusUpload {
    /// Bytes received and kept: the recorded parts and the tail.
    pub fn offset(&self) -> u64 {
        self.stored + self.tail.as_ref().map_or(0, |t| t.size)
    }

    /// Whether every declared byte arrived.
    pub fn is_whole(&self) -> bool {
        self.length == Some(self.offset())
    }
}

/// The prefix of what resumable uploads keep before their track starts: apart from the
/// presigned uploads' `uploads/`, whose keys the janitor sweeps. Short, because the S3 test
/// server names a multipart upload's file after its bucket and key, within 255 bytes.
const RESUMABLE: &str = "tus";

/// Where a partial upload's bytes go once whole.
pub fn partial_key(tenant: TenantId, id: TrackId) -> ObjectKey {
    key(format!("{RESUMABLE}/{tenant}/{id}/partial"))
}

/// A fresh name for an upload's tail: a new tail never overwrites the one the
/// database still names, so a write that fails half-way loses nothing.
pub fn tail_key(tenant: TenantId, id: TrackId) -> ObjectKey {
    let nonce = uuid::Uuid::now_v7().simple();
    key(format!("{RESUMABLE}/{tenant}/{id}/tail-{nonce}"))
}

fn key(text: String) -> ObjectKey {
    ObjectKey::new(text).expect("ids make well-formed keys")
}
