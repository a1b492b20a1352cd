//! What a live event is, and how it is kept: one entry per event, with an
//! id of the Redis stream's form, a type, what it is about, and its JSON.

use std::fmt;

use serde_json::json;

use crate::{
    codes::ErrorCode,
    db::{ClaimedJob, Finish},
    ids::{JobId, TrackId},
    kind::JobKind,
    model::{Job, JobState, Outcome},
    tracks::TrackState,
};

/// Something that changed, as a subscriber is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A job moved to another state.
    JobState {
        /// The job.
        job_id: JobId,
        /// Its kind.
        kind: JobKind,
        /// Where it is now (a parent waiting for its children shows as running).
        state: JobState,
        /// Why its attempt failed, when it did (also when it will retry).
        error: Option<ErrorCode>,
        /// The job that made it.
        parent_id: Option<JobId>,
    },
    /// A running job reported progress.
    JobProgress {
        /// The job.
        job_id: JobId,
        /// 0 to 1.
        progress: f64,
    },
    /// A track's stored state changed.
    TrackState {
        /// The track.
        track_id: TrackId,
        /// Its state, as stored.
        state: TrackState,
    },
    /// One feed item reached these users (only rows actually inserted).
    FeedItems {
        /// The item as `GET /v1/feeds/{user}` shows it.
        item: serde_json::Value,
        /// The users whose feeds it reached.
        user_ids: Vec<String>,
    },
}

impl Event {
    /// The state of a job as just stored.
    pub fn job(job: &Job) -> Self {
        Event::JobState {
            job_id: job.id,
            kind: job.kind,
            state: job.state,
            error: job.error.as_ref().map(|e| e.code),
            parent_id: job.parent_id,
        }
    }

    /// A job just claimed for an attempt: running.
    pub fn claimed(job: &ClaimedJob) -> Self {
        Event::JobState {
            job_id: job.id,
            kind: job.kind(),
            state: JobState::Running,
            error: None,
            parent_id: job.parent_id,
        }
    }

    /// The state an attempt's end leaves its job in; `None` when a parent
    /// goes on waiting for its children, which clients see as still running.
    pub fn attempt_ended(job: &ClaimedJob, finish: &Finish) -> Option<Self> {
        let (state, error) = match &finish.outcome {
            Outcome::Succeeded(_) => (JobState::Succeeded, None),
            Outcome::Cancelled => (JobState::Cancelled, None),
            Outcome::Failed { error, .. } if finish.retry_at.is_some() => {
                (JobState::Queued, Some(error.code))
            }
            Outcome::Failed { error, .. } => (JobState::Failed, Some(error.code)),
            Outcome::Deferred(_) => (JobState::Queued, None),
            Outcome::Awaiting(_) => return None,
        };
        Some(Event::JobState {
            job_id: job.id,
            kind: job.kind(),
            state,
            error,
            parent_id: job.parent_id,
        })
    }

    /// The entry that keeps this event, before it has an id.
    pub(crate) fn record(&self) -> Record {
        let (kind, route, data) = match self {
            Event::JobState {
                job_id,
                kind,
                state,
                error,
                parent_id,
            } => (
                EntryKind::JobState,
                Route::Topic(format!("job:{job_id}")),
                json!({
                    "job_id": job_id,
                    "kind": kind.as_str(),
                    "state": state.client_name(),
                    "error_code": error.map(|c| c.as_str()),
                    "parent_id": parent_id,
                }),
            ),
            Event::JobProgress { job_id, progress } => (
                EntryKind::JobProgress,
                Route::Topic(format!("job:{job_id}")),
                json!({"job_id": job_id, "progress": progress.clamp(0.0, 1.0)}),
            ),
            Event::TrackState { track_id, state } => (
                EntryKind::TrackState,
                Route::Topic(format!("track:{track_id}")),
                json!({"track_id": track_id, "state": state.as_str()}),
            ),
            Event::FeedItems { item, user_ids } => (
                EntryKind::FeedItems,
                Route::users(user_ids.clone()),
                item.clone(),
            ),
        };
        Record {
            kind,
            route,
            data: data.to_string(),
        }
    }
}

/// The id of an entry, as a Redis stream gives it: `{millis}-{seq}`,
/// increasing within a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId {
    millis: u64,
    seq: u64,
}

impl EventId {
    /// Before every entry.
    pub const ZERO: EventId = EventId { millis: 0, seq: 0 };

    /// The id `text` names, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        let (millis, seq) = text.split_once('-')?;
        let number = |s: &str| -> Option<u64> {
            let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            digits.then(|| s.parse().ok()).flatten()
        };
        Some(Self {
            millis: number(millis)?,
            seq: number(seq)?,
        })
    }

    /// The millisecond the entry was added at.
    pub fn millis(self) -> u64 {
        self.millis
    }

    /// The smallest id after this one.
    pub(crate) fn successor(self) -> Self {
        match self.seq.checked_add(1) {
            Some(seq) => Self { seq, ..self },
            None => Self {
                millis: self.millis + 1,
                seq: 0,
            },
        }
    }

    /// The id of an entry added after this one at `now_ms`.
    pub(crate) fn next(self, now_ms: u64) -> Self {
        if now_ms > self.millis {
            Self {
                millis: now_ms,
                seq: 0,
            }
        } else {
            Self {
                millis: self.millis,
                seq: self.seq + 1,
            }
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.millis, self.seq)
    }
}

/// The type of an entry, which names the events a subscriber gets from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// `job.state`.
    JobState,
    /// `job.progress`.
    JobProgress,
    /// `track.state`.
    TrackState,
    /// `feed.items`: one item and the users it reached; a subscriber gets
    /// one `feed.item` per user of theirs.
    FeedItems,
}

impl EntryKind {
    const ALL: [EntryKind; 4] = [
        EntryKind::JobState,
        EntryKind::JobProgress,
        EntryKind::TrackState,
        EntryKind::FeedItems,
    ];

    /// The entry's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::JobState => "job.state",
            EntryKind::JobProgress => "job.progress",
            EntryKind::TrackState => "track.state",
            EntryKind::FeedItems => "feed.items",
        }
    }

    /// The type named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The type of the events a subscriber gets from such an entry.
    pub fn event_name(self) -> &'static str {
        match self {
            EntryKind::FeedItems => "feed.item",
            other => other.as_str(),
        }
    }
}

/// Who an entry is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Subscribers of one topic (`job:{id}`, `track:{id}`).
    Topic(String),
    /// Subscribers of the feeds of these users (sorted, each once).
    Users(Vec<String>),
    /// No one: an entry this version cannot read (written by something else).
    Nobody,
}

impl Route {
    /// The route to the feeds of `user_ids`.
    pub(crate) fn users(mut user_ids: Vec<String>) -> Self {
        user_ids.sort_unstable();
        user_ids.dedup();
        Route::Users(user_ids)
    }
}

/// An entry before the log gives it its id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub kind: EntryKind,
    pub route: Route,
    /// JSON: the event's data; for `feed.items`, the item.
    pub data: String,
}

/// An entry of a tenant's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its id, which subscribers get as the id of its events.
    pub id: EventId,
    /// Its type.
    pub kind: EntryKind,
    /// Who it is for.
    pub route: Route,
    /// JSON: the event's data; for `feed.items`, the item.
    pub data: String,
}

impl Entry {
    pub(crate) fn new(id: EventId, record: Record) -> Self {
        Self {
            id,
            kind: record.kind,
            route: record.route,
            data: record.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_back_and_order_by_time_then_sequence() {
        let id = EventId::parse("1700000000000-3").unwrap();
        assert_eq!(id.to_string(), "1700000000000-3");
        assert!(EventId::parse("1700000000001-0").unwrap() > id);
        for bad in ["", "12", "12-", "-1", "a-1", "1-+2", "1-2-3"] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_next_id_is_later_even_when_the_clock_is_not() {
        let id = EventId::parse("100-4").unwrap();
        assert_eq!(id.next(100).to_string(), "100-5");
        assert_eq!(id.next(99).to_string(), "100-5");
        assert_eq!(id.next(101).to_string(), "101-0");
    }

    #[test]
    fn a_feed_entry_keeps_each_user_once() {
        let item = serde_json::json!({"activity_id": "a"});
        let event = Event::FeedItems {
            item: item.clone(),
            user_ids: vec!["b".into(), "a".into(), "b".into()],
        };
        let record = event.record();
        assert_eq!(record.kind.event_name(), "feed.item");
        assert_eq!(record.route, Route::Users(vec!["a".into(), "b".into()]));
        assert_eq!(record.data, item.to_string());
    }

    #[test]
    fn a_waiting_parent_shows_as_running() {
        let event = Event::JobState {
            job_id: JobId::new(),
            kind: JobKind::Track,
            state: JobState::Waiting,
            error: None,
            parent_id: None,
        };
        let data: serde_json::Value = serde_json::from_str(&event.record().data).unwrap();
        assert_eq!(data["state"], "running");
        assert!(data["error_code"].is_null() && data["parent_id"].is_null());
    }
}
