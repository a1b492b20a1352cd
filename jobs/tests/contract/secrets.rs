//! The secrets repository contract, on Postgres and on SQLite.

use mixdown_jobs::{clock::ManualClock, db::Database};

use crate::tenant;

contract!(
    the_shared_secret_is_made_once,
    each_tenant_gets_its_own_callback_secret,
);

async fn the_shared_secret_is_made_once(db: &Database, _clock: &ManualClock) {
    let name = format!("secret-{}", mixdown_testkit::unique());
    let first = db.secrets.shared(&name, || "a".into()).await.unwrap();
    let second = db.secrets.shared(&name, || "b".into()).await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("a", "a"));
}

async fn each_tenant_gets_its_own_callback_secret(db: &Database, _clock: &ManualClock) {
    let (a, b) = (tenant(db).await, tenant(db).await);
    let first = db.secrets.callback_secret(a).await.unwrap();
    assert_eq!(db.secrets.callback_secret(a).await.unwrap(), first);
    assert_ne!(db.secrets.callback_secret(b).await.unwrap(), first);
}
