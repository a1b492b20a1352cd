//! The callback outbox's scan reads its partial index on Postgres, not the
//! ended jobs already reported nor those still to run.

use mixdown_jobs::{clock::Clock, db::Database, db::due_callbacks_sql};
use sqlx::{AnyPool, Row};

/// Rows of each sort the scan must not read: ended and reported, and
/// queued with a callback URL.
const OLD_ROWS: i64 = 20_000;

#[tokio::test]
async fn the_callback_scan_reads_only_unreported_ends_through_its_index() {
    let pg = mixdown_testkit::TestDatabase::create().await;
    let db = Database::connect(&pg.url, Clock::System).await.unwrap();
    db.migrate().await.unwrap();
    let tenant = crate::tenant(&db).await;
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&pg.url).await.unwrap();
    for (state, reported, count) in [
        ("succeeded", true, OLD_ROWS),
        ("queued", false, OLD_ROWS),
        ("failed", false, 3),
    ] {
        let sql = format!(
            "INSERT INTO jobs (id, tenant_id, kind, queue, state, payload, priority, \
             max_attempts, attempt_budget, run_at, created_at, updated_at, finished_at, \
             callback_url, callback_job_id) \
             SELECT '{state}-' || n, $1, 'ingest', 'ingest', '{state}', '{{}}', 0, 3, 3, n, n, n, \
             CASE WHEN '{state}' = 'queued' THEN NULL ELSE n END, 'https://example.com/hook', \
             {} FROM generate_series(1, {count}) AS n",
            if reported { "'report-' || n" } else { "NULL" }
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("ANALYZE jobs").execute(&pool).await.unwrap();
    let explain = format!("EXPLAIN (ANALYZE, FORMAT TEXT) {}", due_callbacks_sql(1000));
    let rows = sqlx::query(sqlx::AssertSqlSafe(explain))
        .fetch_all(&pool)
        .await
        .unwrap();
    let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    let plan = plan.join("\n");
    eprintln!("{plan}");
    assert!(plan.contains("jobs_callback_unreported"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(!plan.contains("Rows Removed by Filter"), "{plan}");
    let due = sqlx::query(sqlx::AssertSqlSafe(due_callbacks_sql(1000)))
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(due.len(), 3);
    pool.close().await;
    db.close().await;
    pg.drop_database().await;
}
