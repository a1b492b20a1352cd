//! The voice repository contract, on Postgres and on SQLite.

use std::time::Duration;

use mixdown_jobs::{
    clock::ManualClock,
    db::{Database, ScoredAttempt},
    ids::JobId,
    seal::Sealed,
    voice::{Lockout, UserId, VoiceprintSummary},
};

use crate::tenant;

contract!(
    an_enrollment_that_began_before_a_forget_writes_no_print,
    verifications_in_flight_count_against_the_lock,
    a_print_counts_each_verdict_once,
);

/// A voiceprint as the store keeps it: its summary and its sealed bytes.
fn print() -> (VoiceprintSummary, Sealed) {
    let summary = VoiceprintSummary {
        model: "m1".into(),
        samples: 3,
        speech_seconds: 9.5,
    };
    let sealed = Sealed {
        key_id: "k1".into(),
        nonce: vec![1; 12],
        ciphertext: vec![2; 40],
    };
    (summary, sealed)
}

async fn an_enrollment_that_began_before_a_forget_writes_no_print(
    db: &Database,
    clock: &ManualClock,
) {
    let tenant = tenant(db).await;
    let user = UserId::parse("ann").unwrap();
    let (summary, sealed) = print();
    let began = clock.now();
    assert!(
        db.voice
            .put_print(tenant, &user, &summary, &sealed, began)
            .await
            .unwrap()
    );
    clock.advance(Duration::from_millis(5));
    assert!(db.voice.forget_user(tenant, &user).await.unwrap());
    let late = db
        .voice
        .put_print(tenant, &user, &summary, &sealed, began)
        .await;
    assert!(
        !late.unwrap(),
        "a print from before the forgetting came back"
    );
    assert!(db.voice.print(tenant, &user).await.unwrap().is_none());
    clock.advance(Duration::from_millis(5));
    let again = db
        .voice
        .put_print(tenant, &user, &summary, &sealed, clock.now())
        .await;
    assert!(again.unwrap(), "enrolling anew after forgetting works");
    assert!(db.voice.prune_forgotten_users(clock.now()).await.unwrap() == 1);
}

async fn verifications_in_flight_count_against_the_lock(db: &Database, _clock: &ManualClock) {
    let tenant = tenant(db).await;
    let user = UserId::parse("bob").unwrap();
    let lockout = Lockout {
        max_failures: 3,
        window: Duration::from_secs(600),
    };
    let rejected = |job_id| ScoredAttempt {
        job_id,
        accepted: false,
        score: 0.2,
    };
    for _ in 0..2 {
        let recorded = db
            .voice
            .record_verification(tenant, &user, rejected(JobId::new()));
        recorded.await.unwrap();
    }
    // Two rejections: one more attempt may run, a second one beside it may not.
    let (first, second) = (JobId::new(), JobId::new());
    let begun = db
        .voice
        .begin_verification(tenant, &user, first, lockout)
        .await;
    assert_eq!(begun.unwrap(), None);
    let again = db
        .voice
        .begin_verification(tenant, &user, first, lockout)
        .await;
    assert_eq!(
        again.unwrap(),
        None,
        "a re-run of the same job is not its own rival"
    );
    let beside = db
        .voice
        .begin_verification(tenant, &user, second, lockout)
        .await;
    assert!(
        beside.unwrap().is_some(),
        "a parallel attempt got past the lock"
    );
    assert!(
        db.voice
            .verification_locked_until(tenant, &user, lockout)
            .await
            .unwrap()
            .is_some()
    );
    // An attempt that ends unscored does not count.
    db.voice.abandon_verification(first).await.unwrap();
    assert!(
        db.voice
            .verification_locked_until(tenant, &user, lockout)
            .await
            .unwrap()
            .is_none()
    );
    // A scored rejection does.
    db.voice
        .begin_verification(tenant, &user, first, lockout)
        .await
        .unwrap();
    db.voice
        .record_verification(tenant, &user, rejected(first))
        .await
        .unwrap();
    db.voice.abandon_verification(first).await.unwrap();
    assert!(
        db.voice
            .verification_locked_until(tenant, &user, lockout)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_print_counts_each_verdict_once(db: &Database, clock: &ManualClock) {
    let tenant = tenant(db).await;
    let user = UserId::parse("cat").unwrap();
    let (summary, sealed) = print();
    let put = db
        .voice
        .put_print(tenant, &user, &summary, &sealed, clock.now());
    assert!(put.await.unwrap());
    let usage = |db: &Database| {
        let (db, user) = (db.clone(), user.clone());
        async move { db.voice.print(tenant, &user).await.unwrap().unwrap().usage }
    };
    let fresh = usage(db).await;
    assert_eq!((fresh.verifications, fresh.accepts), (0, 0));
    assert_eq!(fresh.last_verified_at, None);
    let lockout = Lockout {
        max_failures: 0,
        window: Duration::from_secs(600),
    };
    let (accepted, rejected) = (JobId::new(), JobId::new());
    for (job, ok) in [(accepted, true), (rejected, false)] {
        clock.advance(Duration::from_millis(10));
        let begun = db.voice.begin_verification(tenant, &user, job, lockout);
        assert_eq!(begun.await.unwrap(), None);
        let attempt = ScoredAttempt {
            job_id: job,
            accepted: ok,
            score: if ok { 3.0 } else { -4.0 },
        };
        for _ in 0..2 {
            // A job re-run after its verdict was recorded counts once.
            let recorded = db.voice.record_verification(tenant, &user, attempt);
            recorded.await.unwrap();
        }
    }
    let used = usage(db).await;
    assert_eq!((used.verifications, used.accepts), (2, 1));
    assert_eq!(used.last_verified_at, Some(clock.now()));
    // Enrolling again keeps the user's history.
    clock.advance(Duration::from_millis(10));
    let put = db
        .voice
        .put_print(tenant, &user, &summary, &sealed, clock.now());
    assert!(put.await.unwrap());
    assert_eq!(usage(db).await, used);
}
