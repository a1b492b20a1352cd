//! The client side of bench/tus.sh: one file sent to the S3 server as a
//! plain multipart upload (the ceiling), then through Mixdown's tus endpoint
//! in chunks, both in this run; prints each rate and their ratio.
//!
//!   tus_bench API_URL KEY FILE CHUNK_BYTES
//!
//! The bucket comes from S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID and
//! AWS_SECRET_ACCESS_KEY, as for Mixdown itself.

use std::{
    env,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use mixdown_jobs::objects::{ObjectKey, ObjectStore, S3Settings, S3Store};
use mixdown_settings::Secret;
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let [api, key, file, chunk] = &args[..] else {
        bail!("usage: tus_bench API_URL KEY FILE CHUNK_BYTES");
    };
    let chunk: usize = chunk.parse().context("CHUNK_BYTES")?;
    let size = tokio::fs::metadata(file).await?.len();
    let direct = direct_multipart(file, chunk).await?;
    let tus = through_tus(api, key, file, size, chunk).await?;
    let mb = size as f64 / 1e6;
    let (direct_rate, tus_rate) = (mb / direct.as_secs_f64(), mb / tus.as_secs_f64());
    println!("direct multipart: {mb:.0} MB in {direct:.2?} = {direct_rate:.1} MB/s");
    println!("tus PATCHes:      {mb:.0} MB in {tus:.2?} = {tus_rate:.1} MB/s");
    println!("ratio tus/direct: {:.0} %", 100.0 * tus_rate / direct_rate);
    Ok(())
}

/// Reads the next chunk of `file` (shorter only at its end).
async fn next_chunk(file: &mut tokio::fs::File, chunk: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(chunk);
    file.take(chunk as u64).read_to_end(&mut buf).await?;
    Ok(buf)
}

/// The file as a multipart upload straight to the bucket, one part a chunk.
async fn direct_multipart(path: &str, chunk: usize) -> anyhow::Result<Duration> {
    let settings = S3Settings {
        endpoint: env::var("S3_ENDPOINT").ok(),
        bucket: env::var("S3_BUCKET").context("S3_BUCKET")?,
        region: env::var("S3_REGION").unwrap_or_else(|_| "us-east-1".into()),
        credentials: Some((
            env::var("AWS_ACCESS_KEY_ID").context("AWS_ACCESS_KEY_ID")?,
            Secret::new(env::var("AWS_SECRET_ACCESS_KEY").context("AWS_SECRET_ACCESS_KEY")?),
        )),
    };
    let s3 = S3Store::connect(&settings).await;
    s3.ensure_bucket().await?;
    let store = ObjectStore::S3(s3);
    let key = ObjectKey::new("bench/direct-multipart").context("key")?;
    let mut file = tokio::fs::File::open(path).await?;
    let started = Instant::now();
    let id = store.create_multipart(&key).await?;
    let mut parts = Vec::new();
    loop {
        let body = next_chunk(&mut file, chunk).await?;
        if body.is_empty() {
            break;
        }
        let number = parts.len() as u32 + 1;
        parts.push(store.upload_part(&key, &id, number, body.into()).await?);
    }
    store.complete_multipart(&key, &id, &parts).await?;
    let took = started.elapsed();
    store.delete(&key).await?;
    Ok(took)
}

/// The file through the tus endpoint: a creation, then one PATCH a chunk;
/// the time runs until the last PATCH is answered (the parts are joined).
async fn through_tus(
    api: &str,
    key: &str,
    path: &str,
    size: u64,
    chunk: usize,
) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    let mut file = tokio::fs::File::open(path).await?;
    let started = Instant::now();
    let created = http
        .post(format!("{api}/v1/uploads/tus"))
        .bearer_auth(key)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", size)
        .send()
        .await?;
    if created.status() != reqwest::StatusCode::CREATED {
        bail!(
            "creation answered {}: {}",
            created.status(),
            created.text().await?
        );
    }
    let location = created.headers()["Location"].to_str()?.to_owned();
    let mut offset = 0u64;
    while offset < size {
        let body = next_chunk(&mut file, chunk).await?;
        let sent = body.len() as u64;
        let resp = http
            .patch(format!("{api}{location}"))
            .bearer_auth(key)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .body(body)
            .send()
            .await?;
        if resp.status() != reqwest::StatusCode::NO_CONTENT {
            bail!(
                "PATCH at {offset} answered {}: {}",
                resp.status(),
                resp.text().await?
            );
        }
        offset += sent;
    }
    Ok(started.elapsed())
}
