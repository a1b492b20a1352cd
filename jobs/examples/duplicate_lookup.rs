//! Duplicate lookup at scale: fills a fresh Postgres database with TRACKS ready tracks of
//! one tenant (synthetic fingerprints of 2 to 6 minutes, indexed by the same
//! `TrackRepo::index_entries` as production, written with COPY), then times LOOKUPS
//! `duplicates` and `index_fingerprint` calls: half noisy copies of indexed tracks (which
//! must be found), half unrelated fingerprints (which must find nothing). Also times the
//! naive alternative, aligning the query against every stored fingerprint, on a sample.
//!
//!   cargo run --release --locked -p mixdown-jobs --example duplicate_lookup -- [TRACKS] [LOOKUPS]
//!
//! The server is MIXDOWN_TEST_POSTGRES_URL's (bench/duplicate-lookup.sh sets it); the
//! database is dropped at the end unless MIXDOWN_BENCH_KEEP is set.

use std::time::{Duration, Instant};

use mixdown_jobs::{
    clock::Clock,
    db::{Database, TrackRepo},
    ids::{TenantId, TrackId},
    tracks::DuplicateRecord,
};
use mixdown_media::analysis::fingerprint::{
    FINGERPRINT_VERSION, ITEM_SECONDS, MATCH_RULE, best_alignment, to_hex,
};
use mixdown_testkit::TestDatabase;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::{Connection, Row, postgres::PgConnection};

/// Tracks filled per COPY round.
const FILL_BATCH: usize = 500;
/// Stored fingerprints the naive alignment is timed against.
const NAIVE_SAMPLE: usize = 40;
/// Share of bits flipped in a noisy copy.
const FLIP_RATE: f64 = 0.03;

/// A music-like fingerprint: 2 to 6 minutes of hashes, each the one before with about
/// a sixth of its bits changed (Chromaprint's frames overlap, so neighbours share bits).
fn fingerprint(seed: u64) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = rng.random_range((120.0 / ITEM_SECONDS) as usize..(360.0 / ITEM_SECONDS) as usize);
    let mut hash: u32 = rng.random();
    (0..n)
        .map(|_| {
            hash ^= rng.random::<u32>() & rng.random::<u32>() & rng.random::<u32>()
                | 1 << rng.random_range(0..32);
            hash
        })
        .collect()
}

/// A noisy copy of `song`: some bits flipped, shifted (an intro added or the start cut)
/// and trimmed to a part of at least 30 s.
fn noisy_copy(song: &[u32], rng: &mut StdRng) -> Vec<u32> {
    let shift: i64 = rng.random_range(-80..=80);
    let mut copy: Vec<u32> = (0..(-shift).max(0)).map(|_| rng.random()).collect();
    let rest = &song[shift.max(0) as usize..];
    let least = (30.0 / ITEM_SECONDS) as usize;
    let keep = rng.random_range(least.min(rest.len())..=rest.len());
    copy.extend_from_slice(&rest[..keep]);
    for hash in &mut copy {
        for bit in 0..32 {
            if rng.random_bool(FLIP_RATE) {
                *hash ^= 1 << bit;
            }
        }
    }
    copy
}

/// Track `i` of the bench: its id and fingerprint seed.
fn seed_of(i: usize) -> u64 {
    0x5EED_0000_0000 + i as u64
}

struct Lookup {
    id: TrackId,
    hashes: Vec<u32>,
    /// The indexed track it copies, if any.
    source: Option<TrackId>,
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let tracks: usize = args.next().map_or(100_000, |a| a.parse().expect("TRACKS"));
    let lookups: usize = args.next().map_or(200, |a| a.parse().expect("LOOKUPS"));
    let database = TestDatabase::create().await;
    let db = Database::connect(&database.url, Clock::System)
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    let mut pg = PgConnection::connect(&database.url)
        .await
        .expect("connect for COPY");
    let tenant = TenantId::new();
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, 'bench', 0)")
        .bind(tenant.to_string())
        .execute(&mut pg)
        .await
        .expect("tenant");

    println!("filling {tracks} tracks of one tenant");
    let started = Instant::now();
    let ids: Vec<TrackId> = (0..tracks).map(|_| TrackId::new()).collect();
    let mut hashes_total = 0_usize;
    for start in (0..tracks).step_by(FILL_BATCH) {
        let batch = start..(start + FILL_BATCH).min(tracks);
        hashes_total += fill(&mut pg, tenant, &ids, batch).await;
    }
    let copied = started.elapsed();
    sqlx::query("VACUUM ANALYZE")
        .execute(&mut pg)
        .await
        .expect("vacuum");
    let filled = started.elapsed();
    let index_rows: i64 = scalar(&mut pg, "SELECT COUNT(*) FROM fingerprint_index").await;
    let index_bytes: i64 = scalar(
        &mut pg,
        "SELECT pg_total_relation_size('fingerprint_index')",
    )
    .await;
    let stored_bytes: i64 = scalar(
        &mut pg,
        "SELECT pg_total_relation_size('track_fingerprints')",
    )
    .await;
    println!(
        "filled in {:.1} s (COPY {:.1} s, VACUUM ANALYZE {:.1} s): {hashes_total} hashes \
         ({:.0} h of audio)",
        filled.as_secs_f64(),
        copied.as_secs_f64(),
        (filled - copied).as_secs_f64(),
        hashes_total as f64 * ITEM_SECONDS / 3600.0,
    );
    println!(
        "fingerprint_index: {index_rows} rows ({:.0} a track), {:.1} MiB on disk \
         ({:.1} KiB a track); track_fingerprints: {:.1} MiB",
        index_rows as f64 / tracks as f64,
        mib(index_bytes),
        index_bytes as f64 / 1024.0 / tracks as f64,
        mib(stored_bytes),
    );

    let mut rng = StdRng::seed_from_u64(42);
    let queries: Vec<Lookup> = (0..lookups)
        .map(|n| {
            let source = (n % 2 == 0).then(|| rng.random_range(0..tracks));
            let hashes = match source {
                Some(i) => noisy_copy(&fingerprint(seed_of(i)), &mut rng),
                None => fingerprint(rng.random()),
            };
            Lookup {
                id: TrackId::new(),
                hashes,
                source: source.map(|i| ids[i]),
            }
        })
        .collect();
    // The tracks that `index_fingerprint` indexes must exist, ready.
    copy_tracks(&mut pg, tenant, queries.iter().map(|q| q.id)).await;

    let (mut lookup_times, found) = timed(&queries, async |q: &Lookup| {
        let answer = db.tracks.duplicates(tenant, q.id, &q.hashes).await;
        answer.expect("duplicates")
    })
    .await;
    report("duplicates", &queries, &mut lookup_times, &found);
    let (mut times, found) = timed(&queries, async |q: &Lookup| {
        let answer = db.tracks.index_fingerprint(tenant, q.id, &q.hashes).await;
        answer.expect("index_fingerprint")
    })
    .await;
    report(
        "index_fingerprint (new tracks)",
        &queries,
        &mut times,
        &found,
    );

    naive(&queries, tracks, &lookup_times);

    db.close().await;
    pg.close().await.expect("close");
    // Kept on request, to profile the lookup's statements on a full index.
    if std::env::var_os("MIXDOWN_BENCH_KEEP").is_some() {
        println!("kept {}", database.url);
    } else {
        database.drop_database().await;
    }
}

/// Writes tracks `batch` (rows, fingerprints and index entries) with COPY; answers the
/// hashes written.
async fn fill(
    pg: &mut PgConnection,
    tenant: TenantId,
    ids: &[TrackId],
    batch: std::ops::Range<usize>,
) -> usize {
    copy_tracks(pg, tenant, ids[batch.clone()].iter().copied()).await;
    let (mut stored, mut index, mut hashes) = (String::new(), String::new(), 0);
    for i in batch {
        let song = fingerprint(seed_of(i));
        hashes += song.len();
        let id = ids[i];
        stored.push_str(&format!(
            "{id}\t{tenant}\t{FINGERPRINT_VERSION}\t{}\t0\t{}\n",
            to_hex(&song),
            i + 1
        ));
        for s in TrackRepo::index_entries(&song) {
            index.push_str(&format!("{tenant}\t{}\t{id}\t{}\n", s.key, s.position));
        }
    }
    copy(
        pg,
        "COPY track_fingerprints (track_id, tenant_id, version, hashes, created_at, indexed_seq) \
         FROM STDIN",
        stored,
    )
    .await;
    copy(
        pg,
        "COPY fingerprint_index (tenant_id, sub_hash, track_id, position) FROM STDIN",
        index,
    )
    .await;
    hashes
}

/// Ready track rows for `ids`.
async fn copy_tracks(pg: &mut PgConnection, tenant: TenantId, ids: impl Iterator<Item = TrackId>) {
    let rows: String = ids
        .map(|id| format!("{id}\t{tenant}\tready\t[]\tbench/{id}\t0\t0\n"))
        .collect();
    copy(
        pg,
        "COPY tracks (id, tenant_id, state, presets, original_key, created_at, updated_at) \
         FROM STDIN",
        rows,
    )
    .await;
}

async fn copy(pg: &mut PgConnection, statement: &str, rows: String) {
    let mut sink = pg.copy_in_raw(statement).await.expect(statement);
    sink.send(rows.into_bytes()).await.expect(statement);
    sink.finish().await.expect(statement);
}

async fn scalar(pg: &mut PgConnection, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(pg)
        .await
        .expect(sql)
        .get::<i64, _>(0)
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

/// How long `call` takes on each query, and what it answers.
async fn timed(
    queries: &[Lookup],
    mut call: impl AsyncFnMut(&Lookup) -> Vec<DuplicateRecord>,
) -> (Vec<Duration>, Vec<Vec<DuplicateRecord>>) {
    let (mut times, mut found) = (Vec::new(), Vec::new());
    for q in queries {
        let t = Instant::now();
        found.push(call(q).await);
        times.push(t.elapsed());
    }
    (times, found)
}

/// Prints the percentiles of `times` and how many copies were found and how many
/// unrelated fingerprints found something.
fn report(name: &str, queries: &[Lookup], times: &mut [Duration], found: &[Vec<DuplicateRecord>]) {
    let (mut copies, mut recalled, mut false_hits) = (0, 0, 0);
    for (q, answer) in queries.iter().zip(found) {
        match q.source {
            Some(source) => {
                copies += 1;
                if answer.iter().any(|d| d.track_id == source) {
                    recalled += 1;
                }
            }
            None => false_hits += usize::from(!answer.is_empty()),
        }
    }
    println!(
        "{name}: {} ; recall {recalled}/{copies} copies, {false_hits}/{} unrelated found something",
        percentiles(times),
        queries.len() - copies,
    );
}

fn percentiles(times: &mut [Duration]) -> String {
    times.sort();
    let at = |p: f64| {
        let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    format!(
        "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.50),
        at(0.95),
        at(0.99),
        at(1.0)
    )
}

/// The naive lookup: each query aligned at every offset against every stored
/// fingerprint, timed in memory on a sample and extrapolated to all `tracks` (reading
/// the fingerprints from the database would only add to it).
/// `indexed` are the sorted times of `duplicates`.
fn naive(queries: &[Lookup], tracks: usize, indexed: &[Duration]) {
    let sample: Vec<Vec<u32>> = (0..NAIVE_SAMPLE.min(tracks))
        .map(|i| fingerprint(seed_of(i * (tracks / NAIVE_SAMPLE.min(tracks)))))
        .collect();
    let probes = &queries[..queries.len().min(4)];
    let t = Instant::now();
    let mut pairs = 0;
    for q in probes {
        for stored in &sample {
            let offsets = -(q.hashes.len() as i64)..=stored.len() as i64;
            std::hint::black_box(best_alignment(&q.hashes, stored, offsets, &MATCH_RULE));
            pairs += 1;
        }
    }
    let per_pair = t.elapsed().as_secs_f64() / f64::from(pairs);
    let per_lookup = per_pair * tracks as f64;
    let p50 = indexed[indexed.len() / 2].as_secs_f64();
    println!(
        "naive: {:.2} ms a fingerprint ({pairs} pairs timed), so {:.1} s a lookup among \
         {tracks} tracks (extrapolated, CPU only); {:.0}x the index's p50 ({:.1} ms)",
        per_pair * 1000.0,
        per_lookup,
        per_lookup / p50,
        p50 * 1000.0
    );
}
