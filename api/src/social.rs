//! The social API: graph changes and lists, activities, feeds.

use mixdown_jobs::{
    codes::ErrorCode,
    db::{FeedCursor, Published, Side},
    ids::{ActivityId, UserId},
    model::NewJob,
    social::{
        Activity, EdgeChanges, EdgeFormat, EdgeLines, EdgeReader, FeedItem, NewActivity, ReadError,
    },
    time::Timestamp,
};
use poem::{Body, Request, RequestBody, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi, impl_apirequest_for_payload,
    param::{Header, Path, Query},
    payload::{Json, ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::BufReader;

use crate::{
    auth::Tenant, error::ApiError, jobs::JobOptions, paging, payload::StrictJson, state::AppState,
};

/// Most lines of one `POST /v1/graph`.
const MAX_GRAPH_LINES: u64 = 1_000_000;
/// Most bytes of one `POST /v1/graph`: a million lines of ids of 40 bytes,
/// with room; what is read is held until applied.
const MAX_GRAPH_BYTES: u64 = 128 << 20;

/// NDJSON edge changes as the request body, streamed as it arrives.
pub(crate) struct Ndjson(Body);

/// Lines of edge changes every one of which applies (ids of two users that
/// differ, `a…` and `b…`), and blank lines, which change nothing.
const EDGE_LINES: &str = "^([ \\t\\r]*\n)*(\\{\"op\":\"(follow|unfollow|block|unblock|mute|unmute)\",\"from\":\"a[0-9]{1,8}\",\"to\":\"b[0-9]{1,8}\"\\}\n([ \\t\\r]*\n)*){0,20}[ \\t\\r]*$";

impl Payload for Ndjson {
    const CONTENT_TYPE: &'static str = "application/x-ndjson";

    fn check_content_type(content_type: &str) -> bool {
        let mime = content_type.split(';').next().unwrap_or("").trim();
        mime.eq_ignore_ascii_case(Self::CONTENT_TYPE)
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "One edge change a line: {\"op\": \"follow|unfollow|block|unblock|mute|unmute\", \
                 \"from\": \"u1\", \"to\": \"u2\"}, `from` and `to` two users' ids. The \
                 pattern is a plain subset: any user ids are taken, in any JSON spelling.",
            ),
            pattern: Some(EDGE_LINES.into()),
            ..MetaSchema::new("string")
        }))
    }

    fn register(_registry: &mut Registry) {}
}

impl ParsePayload for Ndjson {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(body.take()?))
    }
}

impl_apirequest_for_payload!(Ndjson);

/// How many edge changes were applied.
#[derive(Debug, Object)]
pub struct AppliedView {
    /// Edge changes in the request (blank lines not counted).
    applied: u64,
}

/// A page of user ids.
#[derive(Debug, Object)]
pub struct UserPage {
    /// The users, in id order.
    user_ids: Vec<String>,
    /// Pass as `cursor` for the next page; null on the last one.
    next_cursor: Option<String>,
}

/// An activity to record and spread.
#[derive(Debug, Deserialize, Serialize, Object)]
#[serde(deny_unknown_fields)]
pub struct CreateActivity {
    /// Who did it; their followers receive it.
    actor_id: String,
    /// What they did: 1 to 64 of a-z, 0-9, `_`, `.`, `-` (e.g. `publish`).
    verb: String,
    /// What kind of thing: same alphabet (e.g. `track`).
    object_type: String,
    /// Which one: 1 to 256 bytes.
    object_id: String,
    /// RFC 3339 instant; default now. Feeds are ordered by it.
    occurred_at: Option<String>,
    /// A JSON object (at most 16 KiB) shown with the item.
    data: Option<Value>,
}

/// An activity accepted, with the fan-out job that spreads it.
#[derive(Debug, Object)]
pub struct ActivityAccepted {
    /// The activity.
    activity_id: String,
    /// Its fan-out job (for a deletion: the job taking it out of feeds).
    job_id: String,
    /// Where to read that job.
    status_url: String,
}

impl From<&Published> for ActivityAccepted {
    fn from(p: &Published) -> Self {
        Self {
            activity_id: p.activity.id.to_string(),
            job_id: p.job.id.to_string(),
            status_url: format!("/v1/jobs/{}", p.job.id),
        }
    }
}

/// An activity as recorded.
#[derive(Debug, Object)]
pub struct ActivityView {
    /// The activity.
    activity_id: String,
    /// Who did it.
    actor_id: String,
    /// What they did.
    verb: String,
    /// To what kind of thing.
    object_type: String,
    /// To which one.
    object_id: String,
    /// When.
    occurred_at: String,
    /// The client's data.
    data: Value,
    /// Its fan-out job.
    job_id: String,
    /// When it was recorded.
    created_at: String,
    /// When it was deleted; null while it stands.
    deleted_at: Option<String>,
    /// The job that takes it out of feeds, once deleted.
    retract_job_id: Option<String>,
}

impl From<Activity> for ActivityView {
    fn from(a: Activity) -> Self {
        Self {
            activity_id: a.id.to_string(),
            actor_id: a.item.actor_id.to_string(),
            verb: a.item.verb,
            object_type: a.item.object_type,
            object_id: a.item.object_id,
            occurred_at: a.item.occurred_at,
            data: a.item.data,
            job_id: a.job_id.to_string(),
            created_at: a.created_at.to_rfc3339(),
            deleted_at: a.deleted_at.map(Timestamp::to_rfc3339),
            retract_job_id: a.retract_job_id.map(|id| id.to_string()),
        }
    }
}

/// One item of a feed.
#[derive(Debug, Object)]
pub struct FeedItemView {
    /// The activity.
    activity_id: String,
    /// Who did it.
    actor_id: String,
    /// What they did.
    verb: String,
    /// To what kind of thing.
    object_type: String,
    /// To which one.
    object_id: String,
    /// When.
    occurred_at: String,
    /// The client's data.
    data: Value,
}

impl From<FeedItem> for FeedItemView {
    fn from(i: FeedItem) -> Self {
        Self {
            activity_id: i.activity_id.to_string(),
            actor_id: i.actor_id.to_string(),
            verb: i.verb,
            object_type: i.object_type,
            object_id: i.object_id,
            occurred_at: i.occurred_at,
            data: i.data,
        }
    }
}

/// A page of a feed, newest first.
#[derive(Debug, Object)]
pub struct FeedView {
    /// The items.
    items: Vec<FeedItemView>,
    /// Pass as `cursor` for the next (older) page; null on the last one.
    /// It stays valid while new items arrive.
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum Recorded {
    /// Recorded: the fan-out job is queued.
    #[oai(status = 202)]
    Accepted(Json<ActivityAccepted>),
    /// The same activity (or idempotency key) was recorded before: the first.
    #[oai(status = 200)]
    Existing(Json<ActivityAccepted>),
}

impl From<Published> for Recorded {
    fn from(p: Published) -> Self {
        let view = Json(ActivityAccepted::from(&p));
        if p.created {
            Recorded::Accepted(view)
        } else {
            Recorded::Existing(view)
        }
    }
}

/// The social endpoints.
pub struct SocialApi;

#[OpenApi(prefix_path = "/v1")]
impl SocialApi {
    /// Applies edge changes (NDJSON, up to 1,000,000 lines) in order, all or
    /// nothing: a bad line answers 422 naming it, and nothing is applied.
    #[oai(path = "/graph", method = "post")]
    async fn graph(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        body: Ndjson,
    ) -> poem::Result<Json<AppliedView>> {
        let source = BufReader::new(body.0.into_async_read());
        let mut lines =
            EdgeLines::new(source, EdgeReader::new(EdgeFormat::Ndjson, MAX_GRAPH_LINES));
        let mut changes = EdgeChanges::default();
        loop {
            match lines.next().await {
                Ok(Some(_)) if lines.bytes() > MAX_GRAPH_BYTES => {
                    let message = format!("a graph change is at most {MAX_GRAPH_BYTES} bytes");
                    return Err(ApiError::new(ErrorCode::PayloadTooLarge, message).into());
                }
                Ok(Some(change)) => changes.push(change),
                Ok(None) => break,
                Err(ReadError::Line(e)) => {
                    return Err(ApiError::invalid_field(
                        ErrorCode::InvalidGraphLine,
                        "body",
                        e.to_string(),
                    )
                    .into());
                }
                Err(ReadError::Io(e)) => {
                    let message = format!("the body broke off: {e}");
                    return Err(ApiError::new(ErrorCode::InvalidBody, message).into());
                }
            }
        }
        let applied = state.stores.db.graph.apply(tenant.0, &changes).await;
        let applied = applied.map_err(ApiError::unavailable)?;
        Ok(Json(AppliedView { applied }))
    }

    /// Lists who follows a user, in id order.
    #[oai(path = "/graph/:user_id/followers", method = "get")]
    async fn followers(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        user_id: Path<String>,
        /// Page size, 1 to 500; default 100.
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> poem::Result<Json<UserPage>> {
        user_page(&state, tenant, &user_id, Side::Followers, limit.0, cursor.0).await
    }

    /// Lists whom a user follows, in id order.
    #[oai(path = "/graph/:user_id/following", method = "get")]
    async fn following(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        user_id: Path<String>,
        /// Page size, 1 to 500; default 100.
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> poem::Result<Json<UserPage>> {
        user_page(&state, tenant, &user_id, Side::Following, limit.0, cursor.0).await
    }

    /// Records an activity once and fans it out to its actor's followers.
    #[oai(path = "/activities", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        /// Repeating a request with the same key returns the first activity.
        #[oai(name = "Idempotency-Key")]
        key: Header<Option<String>>,
        body: StrictJson<CreateActivity>,
    ) -> poem::Result<Recorded> {
        let now = state.stores.clock().now();
        let value = serde_json::to_value(&body.0).unwrap_or_default();
        let new = NewActivity::parse(tenant.0, &value, now)
            .map_err(|e| ApiError::invalid_field(ErrorCode::InvalidField, &e.field, e.message))?;
        let options = JobOptions::from_key(key.0, &value)?;
        Ok(publish(&state, &new, &options).await?.into())
    }

    /// Reads an activity.
    #[oai(path = "/activities/:activity_id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        activity_id: Path<String>,
    ) -> poem::Result<Json<ActivityView>> {
        let id = parse_activity_id(&activity_id)?;
        let activity = state.stores.db.feeds.activity(tenant.0, id).await;
        let activity = activity.map_err(ApiError::unavailable)?;
        Ok(Json(
            activity
                .ok_or_else(|| ApiError::not_found("activity"))?
                .into(),
        ))
    }

    /// Deletes an activity: it leaves every feed at once, and a fan-out
    /// job removes its rows.
    #[oai(path = "/activities/:activity_id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        activity_id: Path<String>,
    ) -> poem::Result<Recorded> {
        let id = parse_activity_id(&activity_id)?;
        let tenant = tenant.0;
        let retracted = state
            .stores
            .retract(tenant, id, |payload| NewJob::with_defaults(tenant, payload))
            .await
            .map_err(ApiError::unavailable)?;
        Ok(retracted
            .ok_or_else(|| ApiError::not_found("activity"))?
            .into())
    }

    /// Reads a user's feed, newest first.
    #[oai(path = "/feeds/:user_id", method = "get")]
    async fn feed(
        &self,
        state: Data<&AppState>,
        tenant: Tenant,
        user_id: Path<String>,
        /// Page size, 1 to 500; default 50.
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> poem::Result<Json<FeedView>> {
        let user = parse_user(&user_id)?;
        let limit = paging::limit(limit.0, 50)?;
        let cursor = cursor
            .0
            .map(|c| paging::place(&c, feed_place))
            .transpose()?;
        let page = state
            .stores
            .db
            .feeds
            .feed(tenant.0, &user, cursor, limit)
            .await;
        let page = page.map_err(ApiError::unavailable)?;
        Ok(Json(FeedView {
            items: page.items.into_iter().map(FeedItemView::from).collect(),
            next_cursor: page
                .next
                .map(|c| format!("{}.{}", c.occurred_at.millis(), c.activity_id)),
        }))
    }
}

/// Records `new` with its fan-out job and pushes the job: for `POST
/// /v1/activities` and a `fanout` submitted to `POST /v1/jobs`.
pub(crate) async fn publish(
    state: &AppState,
    new: &NewActivity,
    options: &JobOptions,
) -> Result<Published, ApiError> {
    let tenant = new.tenant_id;
    let published = state
        .stores
        .publish(new, |payload| options.job(tenant, payload));
    published.await.map_err(ApiError::from_store)
}

async fn user_page(
    state: &AppState,
    tenant: Tenant,
    user: &str,
    side: Side,
    limit: Option<u32>,
    cursor: Option<String>,
) -> poem::Result<Json<UserPage>> {
    let user = parse_user(user)?;
    let limit = paging::limit(limit, 100)?;
    let after = cursor
        .map(|c| paging::place(&c, |id| UserId::parse(id).ok()))
        .transpose()?;
    let page = state
        .stores
        .db
        .graph
        .page(tenant.0, &user, side, after.as_ref(), limit)
        .await;
    let page = page.map_err(ApiError::unavailable)?;
    let next_cursor = (page.len() == limit as usize)
        .then(|| page.last().map(|u| u.as_str().to_owned()))
        .flatten();
    Ok(Json(UserPage {
        user_ids: page.into_iter().map(String::from).collect(),
        next_cursor,
    }))
}

fn parse_user(text: &str) -> Result<UserId, ApiError> {
    UserId::parse(text).map_err(|e| ApiError::invalid_field(ErrorCode::InvalidField, "user_id", e))
}

/// Ids that do not parse cannot exist: the same 404 as any unknown activity.
fn parse_activity_id(text: &str) -> Result<ActivityId, ApiError> {
    ActivityId::parse(text).ok_or_else(|| ApiError::not_found("activity"))
}

/// A feed's place as its cursor holds it: `{occurred_at millis}.{activity id}`.
fn feed_place(place: &str) -> Option<FeedCursor> {
    let (millis, id) = place.split_once('.')?;
    Some(FeedCursor {
        occurred_at: Timestamp::from_millis(millis.parse().ok()?),
        activity_id: ActivityId::parse(id)?,
    })
}
