//! The secrets repository contract, on Postgres and on SQLite.

use std::time::Duration;

use mixdown_jobs::{callbacks::CallbackSecrets, clock::ManualClock, db::Database};

use crate::tenant;

contract!(
    the_shared_secret_is_made_once,
    each_tenant_gets_its_own_callback_secret,
    a_rotated_callback_secret_signs_beside_the_old_one_until_its_grace_ends,
);

async fn the_shared_secret_is_made_once(db: &Database, _clock: &ManualClock) {
    let name = format!("secret-{}", mixdown_testkit::unique());
    let first = db.secrets.shared(&name, || "a".into()).await.unwrap();
    let second = db.secrets.shared(&name, || "b".into()).await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("a", "a"));
}

async fn each_tenant_gets_its_own_callback_secret(db: &Database, _clock: &ManualClock) {
    let (a, b) = (tenant(db).await, tenant(db).await);
    let first = current(&db.secrets.callback_secrets(a).await.unwrap());
    assert_eq!(
        current(&db.secrets.callback_secrets(a).await.unwrap()),
        first
    );
    assert_ne!(
        current(&db.secrets.callback_secrets(b).await.unwrap()),
        first
    );
}

fn current(s: &CallbackSecrets) -> String {
    s.current.expose().clone()
}

async fn a_rotated_callback_secret_signs_beside_the_old_one_until_its_grace_ends(
    db: &Database,
    clock: &ManualClock,
) {
    let (a, b) = (tenant(db).await, tenant(db).await);
    let before = db.secrets.callback_secrets(a).await.unwrap();
    assert!(before.previous.is_none());
    let other = current(&db.secrets.callback_secrets(b).await.unwrap());

    let grace = Duration::from_secs(3600);
    let rotated = db.secrets.rotate_callback_secret(a, grace).await.unwrap();
    assert_ne!(current(&rotated), current(&before));
    let previous = rotated.previous.as_ref().expect("the old one still signs");
    assert_eq!(previous.secret.expose(), &current(&before));
    assert_eq!(previous.until, clock.now().plus(grace));
    let read = db.secrets.callback_secrets(a).await.unwrap();
    assert_eq!(current(&read), current(&rotated));
    assert_eq!(
        current(&db.secrets.callback_secrets(b).await.unwrap()),
        other
    );

    clock.advance(grace);
    let after = db.secrets.callback_secrets(a).await.unwrap();
    assert_eq!(current(&after), current(&rotated));
    assert!(after.previous.is_none(), "the grace period is over");

    // A second rotation within the grace period drops the oldest at once.
    let again = db.secrets.rotate_callback_secret(a, grace).await.unwrap();
    let third = db.secrets.rotate_callback_secret(a, grace).await.unwrap();
    assert_eq!(
        third.previous.as_ref().unwrap().secret.expose(),
        &current(&again)
    );
    assert!(![current(&before), current(&rotated), current(&again)].contains(&current(&third)));
}

#[tokio::test]
async fn a_database_handle_prints_no_password() {
    let admin = mixdown_testkit::postgres_admin_url();
    // The test server trusts its socket, so a password is carried and ignored.
    let url = admin.replacen('@', ":pg-hunter2@", 1);
    assert_ne!(url, admin, "the URL names a user");
    let db = Database::connect(&url, ManualClock::new().into())
        .await
        .unwrap();
    let shown = format!("{db:?}");
    assert!(!shown.contains("pg-hunter2"), "{shown}");
    db.close().await;
}
