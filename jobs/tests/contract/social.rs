//! The contract of the social graph, activities and feeds, on Postgres and
//! on SQLite: edge changes apply in order, an activity is recorded once, a
//! chunk skips blocks and mutes both ways and writes each row once however
//! often it runs, feeds page newest first with a stable cursor, deletion
//! hides at once and removes rows, and feeds are trimmed.

use std::time::Duration;

use mixdown_jobs::{
    clock::ManualClock,
    db::{Database, FeedCursor, ImportError, Published, Side},
    ids::{TenantId, UserId},
    model::NewJob,
    social::{
        Activity, EdgeChanges, EdgeFormat, EdgeLines, EdgeReader, FeedRules, NewActivity, ReadError,
    },
};
use serde_json::json;

use crate::tenant;

contract!(
    edge_changes_apply_in_order_and_lists_page_by_keyset,
    a_graph_file_is_imported_whole_or_not_at_all,
    an_activity_is_recorded_once_per_actor_verb_and_object,
    a_chunk_skips_blocks_both_ways_and_mutes_and_writes_each_row_once,
    followers_are_cut_into_ranges_that_cover_them_all,
    a_feed_pages_newest_first_and_its_cursor_holds_while_items_arrive,
    a_deleted_activity_leaves_feeds_at_once_and_its_rows_go,
    feeds_are_trimmed_to_their_newest_items,
);

const RULES: FeedRules = FeedRules {
    chunk_size: 1000,
    max_items: 1000,
    trim_every: 32,
};

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

async fn apply(db: &Database, tenant: TenantId, lines: &[&str]) -> u64 {
    let mut reader = EdgeReader::new(EdgeFormat::Csv, u64::MAX);
    let mut changes = EdgeChanges::default();
    for line in lines {
        changes.extend(reader.read(line.as_bytes()).unwrap());
    }
    db.graph.apply(tenant, &changes).await.unwrap()
}

async fn publish(db: &Database, tenant: TenantId, actor: &str, object: &str) -> Published {
    let value =
        json!({"actor_id": actor, "verb": "publish", "object_type": "track", "object_id": object});
    let new = NewActivity::parse(tenant, &value, db.clock().now()).unwrap();
    db.feeds
        .publish(&new, |payload| NewJob::with_defaults(tenant, payload))
        .await
        .unwrap()
}

/// Runs the activity's whole fan-out as one chunk.
async fn spread(db: &Database, activity: &Activity, rules: FeedRules) -> Vec<String> {
    db.feeds
        .write_chunk(activity, None, None, rules, true)
        .await
        .unwrap()
        .inserted
}

async fn feed_ids(db: &Database, tenant: TenantId, who: &str) -> Vec<String> {
    let page = db.feeds.feed(tenant, &user(who), None, 500).await.unwrap();
    page.items.iter().map(|i| i.object_id.clone()).collect()
}

async fn edge_changes_apply_in_order_and_lists_page_by_keyset(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let applied = apply(
        db,
        tenant,
        &[
            "follow,b,artist",
            "follow,a,artist",
            "follow,c,artist",
            "unfollow,c,artist",
            "follow,d,artist",
            "unfollow,d,artist",
            "follow,d,artist",
            "follow,a,other",
        ],
    )
    .await;
    assert_eq!(applied, 8);
    let followers = db
        .graph
        .page(tenant, &user("artist"), Side::Followers, None, 2)
        .await
        .unwrap();
    assert_eq!(followers, [user("a"), user("b")]);
    let rest = db
        .graph
        .page(
            tenant,
            &user("artist"),
            Side::Followers,
            Some(&user("b")),
            2,
        )
        .await
        .unwrap();
    assert_eq!(rest, [user("d")]);
    let following = db
        .graph
        .page(tenant, &user("a"), Side::Following, None, 10)
        .await
        .unwrap();
    assert_eq!(following, [user("artist"), user("other")]);
    // Applying the same changes again changes nothing; another tenant sees none of it.
    apply(db, tenant, &["follow,a,artist"]).await;
    let all = db
        .graph
        .page(tenant, &user("artist"), Side::Followers, None, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let other = crate::tenant(db).await;
    let none = db
        .graph
        .page(other, &user("artist"), Side::Followers, None, 10)
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn a_graph_file_is_imported_whole_or_not_at_all(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let import = |text: &'static str| {
        let lines = EdgeLines::new(text.as_bytes(), EdgeReader::new(EdgeFormat::Csv, u64::MAX));
        db.graph.import(tenant, lines)
    };
    let bad = import("op,from,to\nfollow,a,artist\nfollow,b\n").await;
    match bad {
        Err(ImportError::Read(ReadError::Line(e))) => assert_eq!(e.line, 3),
        other => panic!("{other:?}"),
    }
    let artist = user("artist");
    let followers = || db.graph.page(tenant, &artist, Side::Followers, None, 10);
    assert!(followers().await.unwrap().is_empty());
    let text = "op,from,to\nfollow,a,artist\nfollow,b,artist\nfollow,c,artist\nunfollow,b,artist\n\
                mute,c,artist\nfollow,a,artist\n";
    assert_eq!(import(text).await.unwrap(), 6);
    assert_eq!(followers().await.unwrap(), [user("a"), user("c")]);
    // The import's exclusions hold for a fan-out.
    let published = publish(db, tenant, "artist", "t1").await;
    assert_eq!(spread(db, &published.activity, RULES).await, ["a"]);
}

async fn an_activity_is_recorded_once_per_actor_verb_and_object(
    db: &Database,
    _clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    let first = publish(db, tenant, "artist", "t1").await;
    assert!(first.created);
    let again = publish(db, tenant, "artist", "t1").await;
    assert!(!again.created);
    assert_eq!(
        (again.activity.id, again.job.id),
        (first.activity.id, first.job.id)
    );
    let other = publish(db, tenant, "artist", "t2").await;
    assert!(other.created && other.activity.id != first.activity.id);
    // The same idempotency key returns the first activity, whatever the body.
    let keyed = |object: &str| {
        let value = json!({"actor_id": "artist", "verb": "like", "object_type": "track", "object_id": object});
        NewActivity::parse(tenant, &value, db.clock().now()).unwrap()
    };
    let with_key = |payload| NewJob {
        idempotency_key: Some("k1".into()),
        ..NewJob::with_defaults(tenant, payload)
    };
    let a = db.feeds.publish(&keyed("x"), with_key).await.unwrap();
    let b = db.feeds.publish(&keyed("y"), with_key).await.unwrap();
    assert!(a.created && !b.created);
    assert_eq!(b.activity.id, a.activity.id);
    // Another tenant records its own.
    let elsewhere = publish(db, crate::tenant(db).await, "artist", "t1").await;
    assert!(elsewhere.created);
    assert!(
        db.feeds
            .activity(tenant, elsewhere.activity.id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_chunk_skips_blocks_both_ways_and_mutes_and_writes_each_row_once(
    db: &Database,
    _clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    apply(
        db,
        tenant,
        &[
            "follow,fan1,artist",
            "follow,fan2,artist",
            "follow,blocker,artist",
            "follow,blocked,artist",
            "follow,muter,artist",
            "follow,unblocked,artist",
            "block,blocker,artist",
            "block,artist,blocked",
            "mute,muter,artist",
            "block,artist,unblocked",
            "unblock,artist,unblocked",
            "mute,artist,fan1",
        ],
    )
    .await;
    let published = publish(db, tenant, "artist", "t1").await;
    let written = db
        .feeds
        .write_chunk(&published.activity, None, None, RULES, false)
        .await
        .unwrap();
    let mut inserted = written.inserted.clone();
    inserted.sort();
    assert_eq!(inserted, ["fan1", "fan2", "unblocked"]);
    let r = written.result;
    assert_eq!((r.recipients, r.written, r.skipped), (6, 3, 3));
    // Run again (a chunk killed after its commit): nothing new, the same counts.
    let again = db
        .feeds
        .write_chunk(&published.activity, None, None, RULES, false)
        .await
        .unwrap();
    assert!(again.inserted.is_empty());
    assert_eq!(again.result, written.result);
    for who in ["fan1", "fan2", "unblocked"] {
        assert_eq!(feed_ids(db, tenant, who).await, ["t1"], "{who}");
    }
    // A first run that meets rows written before (a run killed after its
    // commit, then retried by hand from attempt one) fails whole; the next
    // attempt checks, and writes only what is missing.
    apply(db, tenant, &["follow,fan3,artist"]).await;
    let activity = &published.activity;
    assert!(
        db.feeds
            .write_chunk(activity, None, None, RULES, true)
            .await
            .is_err()
    );
    assert!(feed_ids(db, tenant, "fan3").await.is_empty());
    let rest = db
        .feeds
        .write_chunk(activity, None, None, RULES, false)
        .await
        .unwrap();
    assert_eq!(rest.inserted, ["fan3"]);
    for who in ["blocker", "blocked", "muter", "artist"] {
        assert!(feed_ids(db, tenant, who).await.is_empty(), "{who}");
    }
}

async fn followers_are_cut_into_ranges_that_cover_them_all(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let lines: Vec<String> = (0..25).map(|i| format!("follow,f{i:02},artist")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    apply(db, tenant, &lines).await;
    let ranges = db
        .feeds
        .follower_ranges(tenant, &user("artist"), 10)
        .await
        .unwrap();
    let counts: Vec<u64> = ranges.iter().map(|r| r.count).collect();
    assert_eq!(counts, [10, 10, 5]);
    assert_eq!(
        (ranges[0].after.clone(), ranges[0].upto.clone()),
        (None, Some(user("f09")))
    );
    assert_eq!(ranges[1].after, Some(user("f09")));
    assert_eq!(ranges[2].upto, None, "the last range stays open");
    // Chunk by chunk, every follower gets the item once.
    let published = publish(db, tenant, "artist", "t1").await;
    let mut total = 0;
    for r in &ranges {
        let w = db
            .feeds
            .write_chunk(
                &published.activity,
                r.after.as_ref(),
                r.upto.as_ref(),
                RULES,
                true,
            )
            .await
            .unwrap();
        assert_eq!(w.result.written, r.count);
        total += w.inserted.len();
    }
    assert_eq!(total, 25);
    // Who is in a range is read when its chunk runs: a follower who
    // unfollows before their chunk gets nothing, one who follows before it
    // (with an id in a range not yet run) gets the item.
    let later = publish(db, tenant, "artist", "t2").await;
    let first = &ranges[0];
    db.feeds
        .write_chunk(
            &later.activity,
            first.after.as_ref(),
            first.upto.as_ref(),
            RULES,
            true,
        )
        .await
        .unwrap();
    apply(db, tenant, &["unfollow,f15,artist", "follow,f155,artist"]).await;
    let second = &ranges[1];
    let w = db
        .feeds
        .write_chunk(
            &later.activity,
            second.after.as_ref(),
            second.upto.as_ref(),
            RULES,
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        w.result.recipients, 10,
        "f15 left the range, f155 joined it"
    );
    assert!(feed_ids(db, tenant, "f15").await == ["t1"]);
    assert_eq!(feed_ids(db, tenant, "f155").await, ["t2"]);
    // An exact multiple leaves no empty range; no followers leave one empty open range.
    let exact = db
        .feeds
        .follower_ranges(tenant, &user("artist"), 5)
        .await
        .unwrap();
    assert_eq!(
        exact.len(),
        5,
        "25 followers again after one left and one came"
    );
    assert_eq!(exact[4].upto, None);
    let nobody = db
        .feeds
        .follower_ranges(tenant, &user("nobody"), 5)
        .await
        .unwrap();
    assert_eq!(nobody.len(), 1);
    assert_eq!(nobody[0].count, 0);
}

async fn a_feed_pages_newest_first_and_its_cursor_holds_while_items_arrive(
    db: &Database,
    clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    apply(db, tenant, &["follow,fan,artist"]).await;
    for i in 0..5 {
        clock.advance(Duration::from_secs(1));
        let p = publish(db, tenant, "artist", &format!("t{i}")).await;
        spread(db, &p.activity, RULES).await;
    }
    let first = db.feeds.feed(tenant, &user("fan"), None, 2).await.unwrap();
    let ids: Vec<&str> = first.items.iter().map(|i| i.object_id.as_str()).collect();
    assert_eq!(ids, ["t4", "t3"]);
    // New items arrive: the next page still starts where the first ended.
    for i in 5..7 {
        clock.advance(Duration::from_secs(1));
        let p = publish(db, tenant, "artist", &format!("t{i}")).await;
        spread(db, &p.activity, RULES).await;
    }
    let cursor: Option<FeedCursor> = first.next;
    let second = db
        .feeds
        .feed(tenant, &user("fan"), cursor, 2)
        .await
        .unwrap();
    let ids: Vec<&str> = second.items.iter().map(|i| i.object_id.as_str()).collect();
    assert_eq!(ids, ["t2", "t1"]);
    let last = db
        .feeds
        .feed(tenant, &user("fan"), second.next, 2)
        .await
        .unwrap();
    let ids: Vec<&str> = last.items.iter().map(|i| i.object_id.as_str()).collect();
    assert_eq!(ids, ["t0"]);
    assert!(last.next.is_none());
    // Another tenant's user of the same name has no feed.
    let other = crate::tenant(db).await;
    assert!(feed_ids(db, other, "fan").await.is_empty());
}

async fn a_deleted_activity_leaves_feeds_at_once_and_its_rows_go(
    db: &Database,
    _clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    apply(db, tenant, &["follow,fan1,artist", "follow,fan2,artist"]).await;
    let kept = publish(db, tenant, "artist", "kept").await;
    spread(db, &kept.activity, RULES).await;
    let gone = publish(db, tenant, "artist", "gone").await;
    spread(db, &gone.activity, RULES).await;
    let job = |payload| NewJob::with_defaults(tenant, payload);
    let retracted = db
        .feeds
        .retract(tenant, gone.activity.id, job)
        .await
        .unwrap()
        .unwrap();
    assert!(retracted.created && retracted.activity.deleted_at.is_some());
    assert_ne!(retracted.job.id, gone.job.id);
    // Hidden before any row is removed.
    assert_eq!(feed_ids(db, tenant, "fan1").await, ["kept"]);
    // Deleting again answers with the first deletion; another tenant cannot.
    let again = db
        .feeds
        .retract(tenant, gone.activity.id, job)
        .await
        .unwrap()
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.job.id, retracted.job.id);
    let other = crate::tenant(db).await;
    let other_job = |payload| NewJob::with_defaults(other, payload);
    assert!(
        db.feeds
            .retract(other, gone.activity.id, other_job)
            .await
            .unwrap()
            .is_none()
    );
    // A publish chunk that runs after the deletion writes nothing.
    let late = db
        .feeds
        .write_chunk(&retracted.activity, None, None, RULES, false)
        .await
        .unwrap();
    assert!(late.inserted.is_empty());
    let removed = db
        .feeds
        .retract_chunk(&retracted.activity, None, None)
        .await
        .unwrap();
    assert_eq!((removed.recipients, removed.removed), (2, 2));
    let none = db
        .feeds
        .retract_chunk(&retracted.activity, None, None)
        .await
        .unwrap();
    assert_eq!(none.removed, 0);
    // The same activity can be published anew once deleted.
    assert!(publish(db, tenant, "artist", "gone").await.created);
}

async fn feeds_are_trimmed_to_their_newest_items(db: &Database, clock: &ManualClock) {
    let tenant = tenant(db).await;
    apply(db, tenant, &["follow,fan,artist", "follow,fan2,artist"]).await;
    let rules = FeedRules {
        max_items: 3,
        trim_every: 1,
        ..RULES
    };
    for i in 0..6 {
        clock.advance(Duration::from_secs(1));
        let p = publish(db, tenant, "artist", &format!("t{i}")).await;
        spread(db, &p.activity, rules).await;
    }
    assert_eq!(feed_ids(db, tenant, "fan").await, ["t5", "t4", "t3"]);
    assert_eq!(feed_ids(db, tenant, "fan2").await, ["t5", "t4", "t3"]);
}
