//! The voice store contract, on Postgres and on SQLite.

use std::time::Duration;

use mixdown_jobs::{
    store::JobStore,
    time::Timestamp,
    voice::{Sealed, UserId, VoiceprintSummary},
};

use crate::tenant;

contract!(an_enrollment_that_began_before_a_forget_writes_no_print);

async fn an_enrollment_that_began_before_a_forget_writes_no_print(store: &JobStore) {
    let tenant = tenant(store).await;
    let user = UserId::parse("ann").unwrap();
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
    let began = Timestamp::now();
    assert!(
        store
            .put_voiceprint(tenant, &user, &summary, &sealed, began)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(store.forget_voice_user(tenant, &user).await.unwrap());
    let late = store
        .put_voiceprint(tenant, &user, &summary, &sealed, began)
        .await;
    assert!(
        !late.unwrap(),
        "a print from before the forgetting came back"
    );
    assert!(store.voiceprint(tenant, &user).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = store
        .put_voiceprint(tenant, &user, &summary, &sealed, Timestamp::now())
        .await;
    assert!(again.unwrap(), "enrolling anew after forgetting works");
    assert!(store.prune_forgotten_users(Timestamp::now()).await.unwrap() == 1);
}
