//! Tracks recorded before workflows existed, on Postgres and on SQLite:
//! migrating moves each onto a `track` job without losing its state, its
//! jobs or its report.

use std::path::Path;

use mixdown_jobs::{
    clock::Clock,
    db::Database,
    ids::{JobId, TenantId, TrackId},
    kind::JobKind,
    model::JobState,
    tracks::{TrackPresets, TrackState, original_key},
};
use mixdown_media::transcode::default_presets;
use sqlx::{AnyPool, migrate::Migrator};

/// The migrations before workflows, as their own set.
async fn migrate_before_workflows(url: &str) -> AnyPool {
    let dir = tempfile::tempdir().unwrap();
    let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0007" {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(url).await.unwrap();
    Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool
}

#[tokio::test]
async fn tracks_recorded_before_workflows_move_onto_them_on_postgres() {
    let pg = mixdown_testkit::TestDatabase::create().await;
    let pool = migrate_before_workflows(&pg.url).await;
    let old = OldTracks::record(&pool).await;
    pool.close().await;
    let db = Database::connect(&pg.url, Clock::System).await.unwrap();
    db.migrate().await.unwrap();
    old.check(&db).await;
    db.close().await;
    pg.drop_database().await;
}

#[tokio::test]
async fn tracks_recorded_before_workflows_move_onto_them_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = migrate_before_workflows(&url).await;
    let old = OldTracks::record(&pool).await;
    pool.close().await;
    let db = Database::open_sqlite(&path, Clock::System).await.unwrap();
    db.migrate().await.unwrap();
    old.check(&db).await;
}

/// One track of each kind the old schema held.
struct OldTracks {
    tenant: TenantId,
    /// Ready, its end reported by the callback job `reported`.
    ready: (TrackId, JobId, JobId),
    reported: JobId,
    /// Processing, but its transcode failed before the move.
    failed: (TrackId, JobId, JobId),
    /// Processing, its transcode still running.
    running: (TrackId, JobId, JobId),
    /// A presigned upload not completed yet.
    uploaded: TrackId,
}

async fn exec(pool: &AnyPool, sql: &str, binds: &[String]) {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for b in binds {
        query = query.bind(b.clone());
    }
    query.execute(pool).await.unwrap();
}

impl OldTracks {
    async fn record(pool: &AnyPool) -> Self {
        let tenant = TenantId::new();
        exec(
            pool,
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, 1)",
            &[tenant.to_string(), mixdown_testkit::unique()],
        )
        .await;
        let reported = JobId::new();
        let ready = Self::track(pool, tenant, "ready", "succeeded", Some(reported)).await;
        let failed = Self::track(pool, tenant, "processing", "failed", None).await;
        let running = Self::track(pool, tenant, "processing", "running", None).await;
        let uploaded = TrackId::new();
        Self::track_row(pool, tenant, uploaded, "uploaded", None).await;
        Self {
            tenant,
            ready,
            reported,
            failed,
            running,
            uploaded,
        }
    }

    /// A track with a succeeded ingest and a transcode in `transcode` state,
    /// as the old pipeline recorded them.
    async fn track(
        pool: &AnyPool,
        tenant: TenantId,
        state: &str,
        transcode: &str,
        reported: Option<JobId>,
    ) -> (TrackId, JobId, JobId) {
        let (track, ingest, encode) = (TrackId::new(), JobId::new(), JobId::new());
        let payload = format!("{{\"track_id\":\"{track}\"}}");
        let job = "INSERT INTO jobs (id, tenant_id, kind, queue, state, payload, priority, \
                   attempts, max_attempts, attempt_budget, run_at, created_at, updated_at, \
                   finished_at, parent_id, callback_url, callback_job_id, error_code) \
                   VALUES ($1, $2, $3, $3, $4, $5, 0, 1, 3, 3, 1, 1, 1, \
                   CASE WHEN $4 IN ('succeeded', 'failed') THEN 2 END, NULLIF($6, ''), \
                   'https://example.test/hook', NULLIF($7, ''), CASE WHEN $4 = 'failed' THEN 'encode_failed' END)";
        // An empty string binds NULL (NULLIF above).
        let none = String::new();
        exec(
            pool,
            job,
            &[
                ingest.to_string(),
                tenant.to_string(),
                "ingest".into(),
                "succeeded".into(),
                payload.clone(),
                none.clone(),
                none.clone(),
            ],
        )
        .await;
        exec(
            pool,
            job,
            &[
                encode.to_string(),
                tenant.to_string(),
                "transcode".into(),
                transcode.into(),
                payload,
                ingest.to_string(),
                reported.map(|r| r.to_string()).unwrap_or(none),
            ],
        )
        .await;
        Self::track_row(pool, tenant, track, state, Some((ingest, encode))).await;
        (track, ingest, encode)
    }

    async fn track_row(
        pool: &AnyPool,
        tenant: TenantId,
        track: TrackId,
        state: &str,
        jobs: Option<(JobId, JobId)>,
    ) {
        let presets = serde_json::to_string(&TrackPresets::new(default_presets()).unwrap());
        let id = |j: Option<JobId>| j.map(|j| j.to_string()).unwrap_or_default();
        exec(
            pool,
            "INSERT INTO tracks (id, tenant_id, state, presets, original_key, callback_url, \
             ingest_job_id, transcode_job_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'https://example.test/hook', \
             NULLIF($6, ''), NULLIF($7, ''), 1, 2)",
            &[
                track.to_string(),
                tenant.to_string(),
                state.into(),
                presets.unwrap(),
                original_key(tenant, track).to_string(),
                id(jobs.map(|j| j.0)),
                id(jobs.map(|j| j.1)),
            ],
        )
        .await;
    }

    async fn check(&self, db: &Database) {
        let t = self.tenant;
        let workflow = |track: TrackId| JobId::parse(&track.to_string()).unwrap();
        for (track, ingest, encode) in [self.ready, self.failed, self.running] {
            let record = db.tracks.get(t, track).await.unwrap().unwrap();
            assert_eq!(record.job_id, Some(workflow(track)));
            let children = db.tracks.jobs(&record).await.unwrap();
            assert_eq!(
                children.iter().map(|j| j.id).collect::<Vec<_>>(),
                [ingest, encode],
                "the track's jobs became its workflow's children"
            );
            assert!(children.iter().all(|j| j.callback_url.is_none()));
        }
        let ready = db
            .jobs
            .get(t, workflow(self.ready.0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (ready.kind, ready.state),
            (JobKind::Track, JobState::Succeeded)
        );
        assert_eq!(
            ready.callback_job_id,
            Some(self.reported),
            "reported once, not again"
        );
        for waiting in [self.failed.0, self.running.0] {
            let job = db.jobs.get(t, workflow(waiting)).await.unwrap().unwrap();
            assert_eq!(job.state, JobState::Waiting);
        }
        // The failed transcode's workflow wakes to store the track's end;
        // the running one's waits on.
        let woken = db.jobs.wake_stalled(100).await.unwrap();
        assert_eq!(
            woken.iter().map(|e| e.id).collect::<Vec<_>>(),
            [workflow(self.failed.0)]
        );
        assert!(db.jobs.record_due_callbacks(100).await.unwrap().is_empty());
        let uploaded = db.tracks.get(t, self.uploaded).await.unwrap().unwrap();
        assert_eq!(
            (uploaded.state, uploaded.job_id),
            (TrackState::Uploaded, None)
        );
    }
}
