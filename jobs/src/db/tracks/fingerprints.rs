//! Tracks' fingerprints and the inverted index that finds a fingerprint's duplicates among
//! a tenant's tracks: a lookup joins the new fingerprint's sub-hashes with the index,
//! counts votes per track and time offset in the database, and checks the best-voted
//! tracks against their whole fingerprints.

use std::{collections::HashMap, fmt::Write};

use mixdown_media::analysis::fingerprint::{
    FINGERPRINT_VERSION, MATCH_RULE, SubHash, best_alignment, from_hex, sub_hashes, to_hex,
};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{TrackRepo, json};
use crate::{
    db::{Engine, StoreError},
    ids::{TenantId, TrackId},
    tracks::{AnalysisRecord, DuplicateRecord},
};

/// One sub-hash value in 2^SAMPLE_BITS is indexed, at every position, and only those
/// are looked up. Chosen by value, a copy at any offset holds the same sampled keys as
/// its original (sampled by position, it might hold none), and a lookup reads the
/// postings of a 2^SAMPLE_BITS-th of its keys. Migration 0022 deletes the unsampled
/// rows with the same test in SQL.
const SAMPLE_BITS: u32 = 5;
/// Index rows written per statement.
const ROWS_PER_INSERT: usize = 2_000;
/// Positions of a new fingerprint a lookup reads: its first two and a half minutes.
/// What a lookup costs grows with the sampled keys it reads; spent on a denser sample
/// rather than a longer window, they give a 30 s excerpt enough votes.
const QUERY_POSITIONS: u32 = 1_200;
/// Fewest votes for a track and offset to be checked. With one value in 32 sampled, a
/// 30 s excerpt under noise may keep only two of its sampled keys intact; a chance pair
/// costs no more than one more alignment among the best-voted, which the match rule
/// turns away.
const MIN_VOTES: i64 = 2;
/// Best-voted tracks checked against their whole fingerprints.
const CANDIDATES: i64 = 12;
/// Best-voted track offsets kept before their tracks are joined. Postgres expects far
/// more tracks to pass the vote than do, and would otherwise hash every track of the
/// tenant for the join rather than look up these few by key.
const VOTED_ROWS: i64 = 1_000;
/// Offsets either side of a voted one that are tried: a re-encode's delay may put the
/// best alignment a hash or two away.
const REACH: i64 = 2;

/// Which tracks a lookup may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchScope {
    /// Only tracks indexed before the one looked up: what it duplicates.
    Earlier,
    /// Any other track of the tenant.
    Any,
}

impl TrackRepo {
    /// Stores the track's fingerprint and indexes it, in place of any earlier one (keeping
    /// its place in the order of indexing), and answers the tenant's tracks indexed before
    /// it that hold the same recording, best first; all or nothing. A tenant's tracks are
    /// indexed one at a time, so of two copies processed at once exactly one finds the
    /// other.
    pub async fn index_fingerprint(
        &self,
        tenant: TenantId,
        id: TrackId,
        hashes: &[u32],
    ) -> Result<Vec<DuplicateRecord>, StoreError> {
        let mut tx = self.db.begin().await?;
        // SQLite's transaction already holds the only write lock; Postgres's needs one per
        // tenant, held until the lookup below has read the index.
        if self.db.engine == Engine::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("fingerprint_index:{tenant}"))
                .execute(&mut *tx)
                .await?;
        }
        // A track analysed again keeps its place; a new one goes after the tenant's last.
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT indexed_seq FROM track_fingerprints WHERE track_id = $1), \
             (SELECT COALESCE(MAX(indexed_seq), 0) + 1 FROM track_fingerprints \
             WHERE tenant_id = $2))",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .fetch_one(&mut *tx)
        .await?;
        for table in ["track_fingerprints", "fingerprint_index"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE track_id = $1"
            )))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO track_fingerprints \
             (track_id, tenant_id, version, hashes, created_at, indexed_seq) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(FINGERPRINT_VERSION)
        .bind(to_hex(hashes))
        .bind(self.db.clock.now().millis())
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        for rows in Self::index_entries(hashes).chunks(ROWS_PER_INSERT) {
            // Only integers made here are spliced in; the ids are bound.
            let mut sql = String::from(
                "INSERT INTO fingerprint_index (tenant_id, sub_hash, track_id, position) VALUES ",
            );
            for (i, row) in rows.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(sql, "{comma}($1, {}, $2, {})", row.key, row.position);
            }
            sqlx::query(AssertSqlSafe(sql))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let found = self
            .matches(&mut tx, tenant, id, hashes, MatchScope::Earlier)
            .await?;
        tx.commit().await?;
        Ok(found)
    }

    /// The sub-hashes of `hashes` that `index_fingerprint` writes to the index, one row
    /// each (public so that a benchmark can fill the index in bulk with the same rows).
    pub fn index_entries(hashes: &[u32]) -> Vec<SubHash> {
        sub_hashes(hashes)
            .into_iter()
            .filter(|s| sampled(s.key))
            .collect()
    }

    /// The track's stored fingerprint, if it has one of the current version.
    pub async fn fingerprint(
        &self,
        tenant: TenantId,
        id: TrackId,
    ) -> Result<Option<Vec<u32>>, StoreError> {
        let row = sqlx::query(
            "SELECT hashes FROM track_fingerprints \
             WHERE track_id = $1 AND tenant_id = $2 AND version = $3",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(FINGERPRINT_VERSION)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| parse_hashes(&r.try_get::<String, _>("hashes")?))
            .transpose()
    }

    /// The tenant's other tracks, indexed before or after it, that hold the recording of
    /// `hashes` (track `id`'s fingerprint), best match first.
    pub async fn duplicates(
        &self,
        tenant: TenantId,
        id: TrackId,
        hashes: &[u32],
    ) -> Result<Vec<DuplicateRecord>, StoreError> {
        let mut conn = self.db.pool.acquire().await?;
        self.matches(&mut conn, tenant, id, hashes, MatchScope::Any)
            .await
    }

    /// The tracks in `scope` that hold the recording of `hashes`, best match first: each
    /// with enough overlap and few enough differing bits (see [`MATCH_RULE`]).
    async fn matches(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        id: TrackId,
        hashes: &[u32],
        scope: MatchScope,
    ) -> Result<Vec<DuplicateRecord>, StoreError> {
        let voted = voted(conn, tenant, id, hashes, scope).await?;
        if voted.is_empty() {
            return Ok(Vec::new());
        }
        let stored = fingerprints_of(conn, tenant, voted.keys()).await?;
        let mut found: Vec<(DuplicateRecord, f64)> = Vec::new();
        for (track, other) in stored {
            let Some(&offset) = voted.get(&track) else {
                continue;
            };
            let offsets = offset - REACH..=offset + REACH;
            let alignment = best_alignment(hashes, &other, offsets, &MATCH_RULE);
            if MATCH_RULE.accepts(&alignment) {
                found.push((
                    DuplicateRecord::new(track, &alignment),
                    alignment.bit_error_rate,
                ));
            }
        }
        found.sort_by(|a, b| a.1.total_cmp(&b.1));
        Ok(found.into_iter().map(|(d, _)| d).collect())
    }

    /// Stores an `analyze` job's analysis on the ready track, with the duplicate it found;
    /// false when the track is not ready (or not the tenant's).
    pub async fn set_analysis(
        &self,
        tenant: TenantId,
        id: TrackId,
        analysis: &AnalysisRecord,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tracks SET analysis = $1, duplicate_of = $2, updated_at = $3 \
             WHERE id = $4 AND tenant_id = $5 AND state = 'ready'",
        )
        .bind(json(analysis))
        .bind(analysis.duplicate_of().map(|t| t.to_string()))
        .bind(self.db.clock.now().millis())
        .bind(id.to_string())
        .bind(tenant.to_string())
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// The best-voted offset of each candidate track.
async fn voted(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: TrackId,
    hashes: &[u32],
    scope: MatchScope,
) -> Result<HashMap<TrackId, i64>, StoreError> {
    let query: Vec<SubHash> = sub_hashes(hashes)
        .into_iter()
        .filter(|s| s.position < QUERY_POSITIONS && sampled(s.key))
        .collect();
    if query.is_empty() {
        return Ok(HashMap::new());
    }
    let mut values = String::new();
    for (i, s) in query.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let _ = write!(values, "{comma}({}, {})", s.key, s.position);
    }
    let earlier = match scope {
        MatchScope::Earlier => {
            "JOIN track_fingerprints f ON f.track_id = v.track_id \
             JOIN track_fingerprints me ON me.track_id = $2 \
             AND (f.indexed_seq < me.indexed_seq \
             OR (f.indexed_seq = me.indexed_seq AND f.track_id < me.track_id))"
        }
        MatchScope::Any => "",
    };
    // Votes are counted first and only the voted tracks joined: the index rows that
    // meet the query's far outnumber them. Only integers made here are spliced in; the
    // ids are bound.
    let sql = format!(
        "WITH q (sub_hash, position) AS (VALUES {values}), \
         v AS (SELECT i.track_id AS track_id, \
         CAST(i.position - q.position AS BIGINT) AS shift, COUNT(*) AS votes \
         FROM fingerprint_index i JOIN q ON i.sub_hash = q.sub_hash \
         WHERE i.tenant_id = $1 AND i.track_id <> $2 \
         GROUP BY i.track_id, i.position - q.position HAVING COUNT(*) >= $3 \
         ORDER BY votes DESC, track_id LIMIT $5) \
         SELECT v.track_id AS track_id, v.shift AS shift, v.votes AS votes FROM v \
         JOIN tracks t ON t.id = v.track_id AND t.state <> 'failed' {earlier} \
         ORDER BY v.votes DESC, v.track_id LIMIT $4"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(MIN_VOTES)
        .bind(CANDIDATES * 4)
        .bind(VOTED_ROWS)
        .fetch_all(&mut *conn)
        .await?;
    let mut best = HashMap::new();
    for row in rows {
        let track = track_of(&row, "fingerprint_index")?;
        if best.len() as i64 >= CANDIDATES && !best.contains_key(&track) {
            continue;
        }
        best.entry(track).or_insert(row.try_get::<i64, _>("shift")?);
    }
    Ok(best)
}

/// Whether sub-hash `key` is one of the sampled values: a multiplicative hash's top bits,
/// so that the sample leans on no particular bits of the hash.
fn sampled(key: u32) -> bool {
    key.wrapping_mul(0x9E37_79B1) >> (32 - SAMPLE_BITS) == 0
}

/// The stored fingerprints of `tracks`, in one query.
async fn fingerprints_of(
    conn: &mut AnyConnection,
    tenant: TenantId,
    tracks: impl Iterator<Item = &TrackId>,
) -> Result<Vec<(TrackId, Vec<u32>)>, StoreError> {
    let tracks: Vec<String> = tracks.map(ToString::to_string).collect();
    let mut sql = String::from(
        "SELECT track_id, hashes FROM track_fingerprints \
         WHERE tenant_id = $1 AND version = $2 AND track_id IN (",
    );
    for i in 0..tracks.len() {
        let comma = if i == 0 { "" } else { "," };
        let _ = write!(sql, "{comma}${}", i + 3);
    }
    sql.push(')');
    // Only placeholders made here are spliced in; the ids are bound.
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(FINGERPRINT_VERSION);
    for track in &tracks {
        query = query.bind(track.clone());
    }
    let mut found = Vec::new();
    for row in query.fetch_all(&mut *conn).await? {
        let track = track_of(&row, "track_fingerprints")?;
        found.push((track, parse_hashes(&row.try_get::<String, _>("hashes")?)?));
    }
    Ok(found)
}

/// The `track_id` column of a row of `table`.
fn track_of(row: &sqlx::any::AnyRow, table: &str) -> Result<TrackId, StoreError> {
    let track: String = row.try_get("track_id")?;
    TrackId::parse(&track).ok_or_else(|| StoreError::Corrupt(format!("{table}: {track:?}")))
}

fn parse_hashes(text: &str) -> Result<Vec<u32>, StoreError> {
    from_hex(text).ok_or_else(|| StoreError::Corrupt("track_fingerprints.hashes".into()))
}
