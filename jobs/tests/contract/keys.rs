//! Keys named by id, listed and revoked, on Postgres and on SQLite.

use std::time::Duration;

use mixdown_jobs::{
    clock::ManualClock,
    db::{Database, KeyId, KeyOwner, Revocation},
};

contract!(
    a_revoked_key_opens_nothing_and_stays_listed,
    last_use_is_kept_to_within_a_minute,
);

async fn a_revoked_key_opens_nothing_and_stays_listed(db: &Database, _clock: &ManualClock) {
    let name = format!("acme-{}", mixdown_testkit::unique());
    let (kept, revoked) = (
        db.tenants.create_key(&name).await.unwrap(),
        db.tenants.create_key(&name).await.unwrap(),
    );
    let operator = db.operators.create_key(&name).await.unwrap();
    let id = KeyId::of_key(&revoked.key);
    assert_eq!(KeyId::parse(&id.to_string()), Some(id.clone()));
    assert!(KeyId::parse("ABCDEF012345").is_none() && KeyId::parse("abc").is_none());

    let done = db.keys.revoke(&id).await.unwrap();
    let Revocation::Revoked(record) = done else {
        panic!("{done:?}")
    };
    assert_eq!(record.owner, KeyOwner::Tenant(name.clone()));
    assert!(
        db.tenants
            .tenant_for_key(&revoked.key)
            .await
            .unwrap()
            .is_none()
    );
    assert!(db.tenants.key_owner(&revoked.key).await.unwrap().is_none());
    assert_eq!(
        db.tenants.tenant_for_key(&kept.key).await.unwrap(),
        Some(kept.tenant_id)
    );
    assert!(matches!(
        db.keys.revoke(&id).await.unwrap(),
        Revocation::AlreadyRevoked(_)
    ));
    let nobody = KeyId::parse("000000000000").unwrap();
    assert_eq!(db.keys.revoke(&nobody).await.unwrap(), Revocation::Unknown);

    let op_id = KeyId::of_key(&operator.key);
    assert!(
        db.operators
            .operator_for_key(&operator.key)
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        db.keys.revoke(&op_id).await.unwrap(),
        Revocation::Revoked(_)
    ));
    assert!(
        db.operators
            .operator_for_key(&operator.key)
            .await
            .unwrap()
            .is_none()
    );

    let listed = db.keys.list().await.unwrap();
    let find = |id: &KeyId| listed.iter().find(|k| &k.id == id).unwrap();
    assert!(find(&id).revoked_at.is_some());
    assert!(find(&KeyId::of_key(&kept.key)).revoked_at.is_none());
    assert_eq!(find(&op_id).owner, KeyOwner::Operator(name));
    assert!(find(&op_id).revoked_at.is_some());
}

async fn last_use_is_kept_to_within_a_minute(db: &Database, clock: &ManualClock) {
    let name = format!("busy-{}", mixdown_testkit::unique());
    let key = db.tenants.create_key(&name).await.unwrap();
    let id = KeyId::of_key(&key.key);
    let last_used = || async {
        let keys = db.keys.list().await.unwrap();
        keys.into_iter().find(|k| k.id == id).unwrap().last_used_at
    };
    assert_eq!(last_used().await, None, "never used");
    let first = clock.now();
    db.tenants.key_owner(&key.key).await.unwrap().unwrap();
    assert_eq!(last_used().await, Some(first));
    clock.advance(Duration::from_secs(30));
    db.tenants.key_owner(&key.key).await.unwrap().unwrap();
    assert_eq!(last_used().await, Some(first), "no write within the minute");
    clock.advance(Duration::from_secs(31));
    db.tenants.key_owner(&key.key).await.unwrap().unwrap();
    assert_eq!(last_used().await, Some(clock.now()));
}
