//! What each subcommand runs.

use std::{net::SocketAddr, path::Path, time::Duration};

use anyhow::{Context, bail};
use mixdown_api::{ApiSettings, AppState, TrackLimits, VoiceLimits};
use mixdown_jobs::{
    Stores,
    db::TenantRepo,
    kind::JobKind,
    voice::{VoiceKey, VoiceKeys},
};
use mixdown_worker::{
    CallbackSettings, JanitorSettings, ReconcilerSettings, TrackSettings, VoiceSettings,
    WorkerSettings, run_worker,
};
use poem::{
    Endpoint, Server,
    listener::{Acceptor, Listener, TcpListener},
};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    compose::{self, Mode},
    settings::Settings,
};

/// `mixdown dev`: API and workers for every queue, embedded stores.
pub async fn dev(settings: Settings) -> anyhow::Result<()> {
    let stores = compose::stores(&settings, Mode::Embedded).await?;
    let key = dev_key(&stores.db.tenants, &settings.data_dir).await?;
    let voice_key = dev_voice_key(&settings)?;
    let stop = stop_on_signal();
    let worker_settings = worker_settings(&settings, JobKind::ALL.to_vec(), Some(voice_key));
    let worker = tokio::spawn(run_worker(stores.clone(), worker_settings, stop.clone()));
    let app = mixdown_api::app(app_state(&settings, stores, stop.clone()));
    serve(app, settings.listen, stop, |addr| {
        println!("Mixdown is running at http://{addr} (docs: http://{addr}/docs)");
        println!("API key of tenant \"dev\": {key}");
    })
    .await?;
    worker.await.context("worker task failed")??;
    Ok(())
}

/// `mixdown api`: the HTTP API over the fleet stores.
pub async fn api(settings: Settings) -> anyhow::Result<()> {
    let stores = compose::stores(&settings, Mode::Fleet("api")).await?;
    // The API never opens a print, but a fleet whose API takes voice jobs
    // that no worker could seal is misconfigured: say so at the start.
    voice_keys(&settings, "api")?;
    let stop = stop_on_signal();
    let app = mixdown_api::app(app_state(&settings, stores, stop.clone()));
    serve(app, settings.listen, stop, |addr| {
        println!("Mixdown API listening on http://{addr}");
    })
    .await
}

/// `mixdown worker`: runs `queues` until SIGTERM, then drains.
pub async fn worker(settings: Settings, queues: Vec<JobKind>) -> anyhow::Result<()> {
    let voice = if queues.iter().any(|k| k.is_voice()) {
        Some(voice_keys(&settings, "worker")?)
    } else {
        None
    };
    let stores = compose::stores(&settings, Mode::Fleet("worker")).await?;
    let stop = stop_on_signal();
    // The ops endpoints outlive the drain, so /readyz can say it drains.
    let ops_stop = CancellationToken::new();
    let ops = tokio::spawn(serve(
        mixdown_api::ops_app(stores.clone(), stop.clone()),
        settings.worker_listen,
        ops_stop.clone(),
        |addr| println!("Mixdown worker serving /healthz and /metrics on http://{addr}"),
    ));
    let ran = run_worker(stores, worker_settings(&settings, queues, voice), stop).await;
    ops_stop.cancel();
    ops.await.context("ops server task failed")??;
    Ok(ran?)
}

/// `mixdown migrate`.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    compose::database(&settings).await?;
    println!("database is up to date");
    Ok(())
}

/// `mixdown keys create`: prints the new key as the last word.
pub async fn create_key(settings: Settings, tenant: &str) -> anyhow::Result<()> {
    let db = compose::database(&settings).await?;
    let key = db.tenants.create_key(tenant).await?;
    println!(
        "Created an API key for tenant {tenant:?} ({}); it is shown only now: {}",
        key.tenant_id, key.key
    );
    Ok(())
}

fn app_state(settings: &Settings, stores: Stores, draining: CancellationToken) -> AppState {
    let api = ApiSettings {
        max_json_bytes: settings.max_json_bytes,
        worker_dead_after: settings.worker.dead_after,
        voice: VoiceLimits {
            max_sample_bytes: settings.voice.max_sample_bytes,
            enrollment_samples: settings.voice.enrollment_samples,
            lockout: settings.voice.lockout,
        },
        tracks: TrackLimits {
            max_upload_bytes: settings.tracks.max_upload_bytes,
            presets: settings.tracks.presets.clone(),
            url_ttl: settings.tracks.url_ttl,
            upload_ttl: settings.tracks.url_ttl,
            public_url: settings.tracks.public_url.clone(),
        },
        ..ApiSettings::default()
    };
    AppState::new(stores, api).draining_on(draining)
}

fn worker_settings(
    settings: &Settings,
    queues: Vec<JobKind>,
    keys: Option<VoiceKeys>,
) -> WorkerSettings {
    let t = &settings.worker;
    let v = &settings.voice;
    let voice = keys.map(|keys| VoiceSettings {
        model_path: v.model.clone(),
        keys,
        enrollment_samples: v.enrollment_samples,
        lockout: v.lockout,
        keep_samples: v.keep_samples,
    });
    WorkerSettings {
        queues,
        concurrency: t.concurrency,
        poll_interval: t.poll_interval,
        heartbeat_interval: t.heartbeat_interval,
        lease: t.lease,
        backoff: t.backoff,
        drain_timeout: t.drain_timeout,
        timeouts: t.timeouts.clone(),
        fault_injection: t.fault_injection,
        callbacks: CallbackSettings {
            allow_private: t.callback_allow_private,
        },
        voice,
        tracks: TrackSettings {
            limits: settings.tracks.limits,
            min_duration: settings.tracks.min_duration,
            scratch_dir: settings.tracks.scratch_dir.clone(),
        },
        reconciler: Some(ReconcilerSettings {
            interval: t.reconcile_interval,
            grace: t.redrive_grace,
            dead_after: t.dead_after,
            janitor: JanitorSettings {
                attempt_retention: v.lockout.window,
                sample_retention: JanitorSettings::default()
                    .sample_retention
                    .filter(|_| !v.keep_samples),
                ..JanitorSettings::default()
            },
        }),
    }
}

/// The dev tenant's key, kept in the data directory so it survives restarts.
async fn dev_key(tenants: &TenantRepo, data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("dev-api-key");
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim().to_owned();
        if tenants.tenant_for_key(&key).await?.is_some() {
            return Ok(key);
        }
    }
    let key = tenants.create_key("dev").await?.key;
    write_private(&path, &key).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

/// The configured voiceprint keys; `role` refuses to start without one.
fn voice_keys(settings: &Settings, role: &str) -> anyhow::Result<VoiceKeys> {
    let Some(key) = settings.voice.key.clone() else {
        bail!(
            "MIXDOWN_VOICE_KEY is not set: `mixdown {role}` serves voice, and voiceprints are \
             sealed at rest under that key (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
        );
    };
    Ok(VoiceKeys::new(key, settings.voice.old_keys.clone()))
}

/// The configured voice key, or else one kept in the data directory (like
/// the dev API key), so prints stay readable across restarts.
fn dev_voice_key(settings: &Settings) -> anyhow::Result<VoiceKeys> {
    if settings.voice.key.is_some() {
        return voice_keys(settings, "dev");
    }
    let path = settings.data_dir.join("voice-key");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = VoiceKey::generate_base64();
            write_private(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            text
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let key = VoiceKey::from_base64(&text)
        .with_context(|| format!("{} holds no voice key", path.display()))?;
    Ok(VoiceKeys::new(key, settings.voice.old_keys.clone()))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Serves `app` on `addr` until `stop` fires; `ready` gets the bound address.
async fn serve(
    app: impl Endpoint + 'static,
    addr: SocketAddr,
    stop: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let acceptor = TcpListener::bind(addr)
        .into_acceptor()
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(addr);
    ready(bound);
    info!(%bound, "listening");
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, stop.cancelled_owned(), Some(Duration::from_secs(30)))
        .await
        .context("server failed")
}

/// A token that fires on SIGINT or SIGTERM.
fn stop_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        info!("stop signal received");
        fire.cancel();
    });
    token
}
