//! The tenants repository contract, on Postgres and on SQLite.

use mixdown_jobs::{clock::ManualClock, db::Database};

contract!(api_keys_resolve_to_their_tenant);

async fn api_keys_resolve_to_their_tenant(db: &Database, _clock: &ManualClock) {
    let name = format!("label-{}", mixdown_testkit::unique());
    let first = db.tenants.create_key(&name).await.unwrap();
    let second = db.tenants.create_key(&name).await.unwrap();
    assert_eq!(first.tenant_id, second.tenant_id);
    assert_ne!(first.key, second.key);
    assert_eq!(
        db.tenants.tenant_for_key(&first.key).await.unwrap(),
        Some(first.tenant_id)
    );
    assert_eq!(
        db.tenants.tenant_for_key("mdk_not-a-key").await.unwrap(),
        None
    );
    assert_eq!(db.tenants.name(first.tenant_id).await.unwrap(), Some(name));
}
