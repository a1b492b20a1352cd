//! The janitor, in a reconciler pass over both store trios: what nothing
//! else removes goes once it is old enough, and nothing younger.

use std::time::Duration;

use bytes::Bytes;
use mixdown_jobs::{
    Stores,
    clock::ManualClock,
    db::ScoredAttempt,
    ids::{JobId, TrackId},
    time::Timestamp,
    tracks::{NewTrack, TrackPresets, original_key},
    voice::{Lockout, UserId, new_sample_key},
};
use mixdown_media::transcode::default_presets;
use mixdown_worker::{JanitorSettings, Reconciler, ReconcilerSettings};

#[tokio::test]
async fn the_janitor_sweeps_the_fleet_stores() {
    let clock = ManualClock::new();
    let fleet = mixdown_testkit::FleetStores::with_clock(clock.clone().into()).await;
    sweeps_what_is_old_enough(&fleet.stores, &clock).await;
    fleet.cleanup().await;
}

#[tokio::test]
async fn the_janitor_sweeps_the_embedded_stores() {
    let clock = ManualClock::new();
    let (stores, _dir) = mixdown_testkit::embedded_stores_with_clock(clock.clone().into()).await;
    sweeps_what_is_old_enough(&stores, &clock).await;
}

fn reconciler(stores: &Stores, sample_retention: Option<Duration>) -> Reconciler {
    let settings = ReconcilerSettings {
        interval: Duration::from_secs(1),
        grace: Duration::from_secs(1),
        dead_after: Duration::from_secs(10),
        janitor: JanitorSettings {
            every: Duration::ZERO,
            attempt_retention: Duration::from_millis(200),
            sample_retention,
            orphan_grace: Duration::from_secs(3600),
            part_grace: Duration::from_secs(3600),
        },
    };
    // One holder for both passes: the first one's lead must not block the second.
    Reconciler::new(stores.clone(), settings, "janitor-test".into())
}

/// Records a presigned upload expiring at `expires`, with its object stored.
async fn upload(
    stores: &Stores,
    tenant: mixdown_jobs::ids::TenantId,
    expires: Timestamp,
) -> TrackId {
    let track = NewTrack {
        id: TrackId::new(),
        tenant_id: tenant,
        title: None,
        owner_id: None,
        callback_url: None,
        presets: TrackPresets::new(default_presets()).unwrap(),
    };
    stores
        .db
        .tracks
        .create_upload(&track, expires)
        .await
        .unwrap();
    let key = original_key(tenant, track.id);
    stores
        .objects
        .put_bytes(&key, Bytes::from_static(b"ID3"))
        .await
        .unwrap();
    track.id
}

async fn sweeps_what_is_old_enough(stores: &Stores, clock: &ManualClock) {
    let (tracks, voice) = (&stores.db.tracks, &stores.db.voice);
    let tenant = stores.db.tenants.create_key("janitor").await;
    let tenant = tenant.unwrap().tenant_id;
    let expired = upload(stores, tenant, clock.now().minus(Duration::from_secs(1))).await;
    let open = upload(stores, tenant, clock.now().plus(Duration::from_secs(600))).await;
    let user = UserId::parse("ann").unwrap();
    let rejected = ScoredAttempt {
        job_id: JobId::new(),
        accepted: false,
        score: 0.1,
    };
    voice
        .record_verification(tenant, &user, rejected)
        .await
        .unwrap();
    let sample = new_sample_key(tenant);
    let stored = stores
        .objects
        .put_bytes(&sample, Bytes::from_static(b"RIFF"));
    stored.await.unwrap();
    let listed = voice.add_samples(tenant, &user, std::slice::from_ref(&sample));
    listed.await.unwrap();
    let lockout = Lockout {
        max_failures: 1,
        window: Duration::from_secs(600),
    };

    // Samples kept on purpose stay, young history stays, expired uploads go.
    assert!(reconciler(stores, None).pass().await.unwrap());
    let locked = voice
        .verification_locked_until(tenant, &user, lockout)
        .await;
    assert!(locked.unwrap().is_some(), "young history swept");
    assert_eq!(
        voice.samples(tenant, &user).await.unwrap(),
        std::slice::from_ref(&sample)
    );
    assert!(
        tracks.get(tenant, expired).await.unwrap().is_none(),
        "expired upload kept"
    );
    let gone = stores.objects.size(&original_key(tenant, expired)).await;
    assert!(gone.unwrap().is_none(), "expired upload's object kept");
    assert!(
        tracks.get(tenant, open).await.unwrap().is_some(),
        "open upload swept"
    );
    let kept = stores.objects.size(&original_key(tenant, open)).await;
    assert!(kept.unwrap().is_some(), "open upload's object swept");

    // Once old enough, history and left-behind samples go too.
    clock.advance(Duration::from_millis(300));
    let sweep = reconciler(stores, Some(Duration::from_millis(200)));
    assert!(sweep.pass().await.unwrap());
    let locked = voice
        .verification_locked_until(tenant, &user, lockout)
        .await;
    assert!(locked.unwrap().is_none(), "old history kept");
    assert!(voice.samples(tenant, &user).await.unwrap().is_empty());
    assert!(stores.objects.size(&sample).await.unwrap().is_none());
    assert!(tracks.get(tenant, open).await.unwrap().is_some());
}
