//! What a subscriber asks to hear — `feed:{user_id}`, `job:{job_id}` and
//! `track:{track_id}` topics — and the events an entry makes for them.

use std::collections::HashSet;

use super::entry::{Entry, EventId, Route};
use crate::{
    codes::ErrorCode,
    ids::{JobId, TrackId},
    voice::UserId,
};

/// Why a list of topics is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicsError {
    /// No topic at all.
    #[error("name at least one topic: feed:{{user_id}}, job:{{job_id}} or track:{{track_id}}")]
    Empty,
    /// More than [`Topics::MAX`].
    #[error("at most {max} topics, got {0}", max = Topics::MAX)]
    TooMany(usize),
    /// One topic is not one.
    #[error("{topic:?}: {reason}")]
    Invalid {
        /// The topic as given.
        topic: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl TopicsError {
    /// The catalogue's code of the refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            TopicsError::TooMany(_) => ErrorCode::TooManyTopics,
            _ => ErrorCode::InvalidTopic,
        }
    }
}

/// The topics of one subscription.
#[derive(Debug, Clone, Default)]
pub struct Topics {
    /// `job:{id}` and `track:{id}`, ids in canonical form.
    routes: HashSet<String>,
    /// The users whose feeds are asked for, in the order given, each once.
    users: Vec<String>,
}

/// One event for a subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The id of the entry it comes from.
    pub id: EventId,
    /// Its type: `job.state`, `job.progress`, `track.state` or `feed.item`.
    pub event: &'static str,
    /// Its JSON data.
    pub data: String,
}

impl Topics {
    /// Most topics one subscription takes.
    pub const MAX: usize = 100;

    /// Parses a comma-separated list of topics.
    pub fn parse(list: &str) -> Result<Self, TopicsError> {
        if list.trim().is_empty() {
            return Err(TopicsError::Empty);
        }
        let count = list.split(',').count();
        if count > Self::MAX {
            return Err(TopicsError::TooMany(count));
        }
        let mut topics = Topics::default();
        for topic in list.split(',').map(str::trim) {
            topics.add(topic).map_err(|reason| TopicsError::Invalid {
                topic: topic.to_owned(),
                reason,
            })?;
        }
        Ok(topics)
    }

    fn add(&mut self, topic: &str) -> Result<(), String> {
        let Some((prefix, id)) = topic.split_once(':') else {
            return Err("a topic is feed:{user_id}, job:{job_id} or track:{track_id}".into());
        };
        match prefix {
            "feed" => {
                let user = UserId::parse(id)?.as_str().to_owned();
                if !self.users.contains(&user) {
                    self.users.push(user);
                }
            }
            "job" => {
                let id = JobId::parse(id).ok_or("not a job id")?;
                self.routes.insert(format!("job:{id}"));
            }
            "track" => {
                let id = TrackId::parse(id).ok_or("not a track id")?;
                self.routes.insert(format!("track:{id}"));
            }
            _ => return Err("unknown kind of topic: use feed:, job: or track:".into()),
        }
        Ok(())
    }

    /// The events `entry` makes for these topics: none, one, or for a feed
    /// entry one `feed.item` per subscribed user it reached, all with the
    /// entry's id.
    pub fn deliveries(&self, entry: &Entry) -> Vec<Delivery> {
        let delivery = |data| Delivery {
            id: entry.id,
            event: entry.kind.event_name(),
            data,
        };
        match &entry.route {
            Route::Topic(topic) if self.routes.contains(topic) => {
                vec![delivery(entry.data.clone())]
            }
            Route::Topic(_) | Route::Nobody => Vec::new(),
            Route::Users(reached) => self
                .users
                .iter()
                .filter(|u| reached.binary_search(u).is_ok())
                .map(|u| delivery(feed_item(u, &entry.data)))
                .collect(),
        }
    }
}

/// The data of one `feed.item`: `{"user_id": …, "item": …}`.
fn feed_item(user: &str, item: &str) -> String {
    let user = serde_json::Value::from(user);
    format!(r#"{{"user_id":{user},"item":{item}}}"#)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{events::Event, kind::JobKind, model::JobState, tracks::TrackState};

    fn entry(event: &Event) -> Entry {
        Entry::new(EventId::parse("5-1").unwrap(), event.record())
    }

    fn job_event(job_id: JobId) -> Event {
        Event::JobState {
            job_id,
            kind: JobKind::Noop,
            state: JobState::Queued,
            error: None,
            parent_id: None,
        }
    }

    #[test]
    fn topics_name_a_feed_a_job_or_a_track() {
        let job = JobId::new();
        let list = format!(
            "feed:alice, job:{},track:{}",
            job.to_string().to_uppercase(),
            TrackId::new()
        );
        let topics = Topics::parse(&list).unwrap();
        let sent = topics.deliveries(&entry(&job_event(job)));
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0].event, sent[0].id.to_string()),
            ("job.state", "5-1".into())
        );
        assert!(
            topics
                .deliveries(&entry(&job_event(JobId::new())))
                .is_empty()
        );
    }

    #[test]
    fn bad_lists_are_refused_with_their_code() {
        let too_many = vec!["feed:u"; Topics::MAX + 1].join(",");
        assert_eq!(
            Topics::parse(&too_many).unwrap_err(),
            TopicsError::TooMany(101)
        );
        assert!(Topics::parse(&vec!["feed:u"; Topics::MAX].join(",")).is_ok());
        assert_eq!(
            Topics::parse(" ").unwrap_err().code(),
            ErrorCode::InvalidTopic
        );
        for bad in [
            "user:1",
            "job:nope",
            "track:",
            "feed:",
            "feed:a b",
            "job",
            "feed:a,,job:1",
        ] {
            let err = Topics::parse(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidTopic, "{bad}");
        }
        assert_eq!(
            Topics::parse(&too_many).unwrap_err().code(),
            ErrorCode::TooManyTopics
        );
    }

    #[test]
    fn a_feed_entry_makes_one_item_per_subscribed_user_it_reached() {
        let item = json!({"activity_id": "a1", "verb": "post"});
        let event = Event::FeedItems {
            item: item.clone(),
            user_ids: vec!["carol".into(), "alice".into(), "bob".into()],
        };
        let topics = Topics::parse("feed:bob,feed:dave,feed:alice").unwrap();
        let sent = topics.deliveries(&entry(&event));
        let users: Vec<Value> = sent
            .iter()
            .map(|d| serde_json::from_str::<Value>(&d.data).unwrap())
            .inspect(|v| assert_eq!(v["item"], item))
            .map(|v| v["user_id"].clone())
            .collect();
        assert_eq!(users, [json!("bob"), json!("alice")]);
        assert!(
            sent.iter()
                .all(|d| d.event == "feed.item" && d.id.to_string() == "5-1")
        );
    }

    #[test]
    fn a_track_topic_hears_its_track() {
        let track = TrackId::new();
        let event = Event::TrackState {
            track_id: track,
            state: TrackState::Ready,
        };
        let topics = Topics::parse(&format!("track:{track}")).unwrap();
        let sent = topics.deliveries(&entry(&event));
        assert_eq!(
            sent[0].data,
            format!(r#"{{"state":"ready","track_id":"{track}"}}"#)
        );
    }
}
