//! Live events over Server-Sent Events: `GET /v1/events?topics=…` streams
//! the tenant's events of the topics asked for, resuming after a
//! `Last-Event-ID`.

use futures::{
    StreamExt,
    stream::{self, BoxStream},
};
use mixdown_jobs::{
    codes::ErrorCode,
    events::{Delivery, EventId, Subscription, Topics},
};
use poem::web::{Data, sse};
use poem_openapi::{
    Object, OpenApi,
    param::{Header, Query},
    payload::EventStream,
};

use crate::{auth::Tenant, error::ApiError, state::AppState};

/// One live event, sent as `id:`, `event:` and `data:` lines.
#[derive(Debug, Object)]
pub struct LiveEvent {
    /// `{millis}-{seq}`: send it back as `Last-Event-ID` to resume after it.
    /// The `feed.item` events of one feed entry share its id.
    id: String,
    /// `job.state`, `job.progress`, `track.state` or `feed.item`.
    event: String,
    /// JSON. `job.state`: `{job_id, kind, state, error_code, parent_id}`;
    /// `job.progress`: `{job_id, progress}`; `track.state`: `{track_id,
    /// state}`; `feed.item`: `{user_id, item}`, the item as
    /// `GET /v1/feeds/{user_id}` shows it.
    data: String,
}

impl From<Delivery> for LiveEvent {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            event: d.event.to_owned(),
            data: d.data,
        }
    }
}

/// The live events endpoint.
pub struct EventsApi;

#[OpenApi(prefix_path = "/v1")]
impl EventsApi {
    /// Streams the tenant's live events of `topics` as Server-Sent Events
    /// (`text/event-stream`). Reconnecting with `Last-Event-ID` first
    /// replays what followed that event (at least the last 5 minutes are
    /// kept); a comment line every 15 s keeps proxies from closing a quiet
    /// stream. Another tenant's ids simply yield nothing.
    #[oai(path = "/events", method = "get")]
    async fn events(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        /// Comma-separated, at most 100: `feed:{user_id}`, `job:{job_id}`,
        /// `track:{track_id}`.
        topics: Query<Option<String>>,
        /// The id of the last event received: the stream resumes after it.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
        request: &poem::Request,
    ) -> poem::Result<EventStream<BoxStream<'static, LiveEvent>>> {
        let topics = parse_topics(topics.0)?;
        // A header that is not text is no id either, and not to be ignored.
        let raw = request.headers().get("Last-Event-ID");
        if raw.is_some_and(|v| v.to_str().is_err()) {
            return Err(not_an_event_id().into());
        }
        // An empty header is no id: the stream starts now.
        let after = last_event_id
            .0
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let after = after.map(parse_event_id).transpose()?;
        let subscription = state.stores.events.subscribe(tenant.0, after).await;
        let subscription = subscription.map_err(ApiError::unavailable)?;
        let stopping = state.draining.clone().cancelled_owned();
        let key = crate::edge::bearer(request).unwrap_or_default();
        let revoked = state.0.clone().key_revoked(key);
        let stream = deliveries(subscription, topics)
            .take_until(stopping)
            .take_until(revoked)
            .boxed();
        Ok(EventStream::new(stream)
            .keep_alive(state.settings.events_keepalive_ms.get())
            .to_event(|e| sse::Event::message(e.data).id(e.id).event_type(e.event)))
    }
}

/// The subscription's entries, as the events of `topics` they make.
fn deliveries(subscription: Subscription, topics: Topics) -> BoxStream<'static, LiveEvent> {
    stream::unfold(
        (subscription, topics),
        |(mut subscription, topics)| async move {
            let entries = subscription.next().await?;
            let events: Vec<LiveEvent> = entries
                .iter()
                .flat_map(|e| topics.deliveries(e))
                .map(LiveEvent::from)
                .collect();
            Some((stream::iter(events), (subscription, topics)))
        },
    )
    .flatten()
    .boxed()
}

fn parse_topics(list: Option<String>) -> Result<Topics, ApiError> {
    let list = list.ok_or_else(|| {
        let message = "name the topics to follow: feed:{user_id}, job:{job_id}, track:{track_id}";
        ApiError::invalid_field(ErrorCode::MissingField, "topics", message)
    })?;
    Topics::parse(&list).map_err(|e| ApiError::invalid_field(e.code(), "topics", e.to_string()))
}

fn parse_event_id(text: &str) -> Result<EventId, ApiError> {
    EventId::parse(text.trim()).ok_or_else(not_an_event_id)
}

fn not_an_event_id() -> ApiError {
    let message = "not the id of an event this API sent";
    ApiError::invalid_field(ErrorCode::InvalidField, "Last-Event-ID", message)
}
