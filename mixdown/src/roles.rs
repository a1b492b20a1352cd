//! What each subcommand runs.

use std::{net::SocketAddr, path::Path};

use anyhow::{Context, bail};
use mixdown_api::{AppState, RateLimit, ServerLimits};
use mixdown_jobs::metrics::Metrics;
use mixdown_jobs::{
    db::{
        KeyId, KeyOwner, KeyRecord, OPERATOR_KEY_PREFIX, Revocation, TENANT_KEY_PREFIX, TenantRepo,
    },
    kind::JobKind,
    seal::SealKey,
    social::{EdgeFormat, EdgeLines, EdgeReader},
};
use mixdown_worker::{WorkerPlan, run_worker};
use poem::Endpoint;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    compose::{self, Mode},
    settings::Settings,
};

/// `mixdown dev`: API and workers for every queue, embedded stores.
pub async fn dev(mut settings: Settings) -> anyhow::Result<()> {
    let stores = compose::stores(&settings.jobs, Mode::Embedded).await?;
    let key = dev_key(&stores.db.tenants, &settings.jobs.data_dir).await?;
    let data_dir = settings.jobs.data_dir.clone();
    if settings.jobs.voice_key.is_none() {
        settings.jobs.voice_key = Some(dev_seal_key(&data_dir, "voice-key")?);
    }
    if settings.jobs.secrets_key.is_none() {
        settings.jobs.secrets_key = Some(dev_seal_key(&data_dir, "secrets-key")?);
    }
    let stop = stop_on_signal();
    let plan = WorkerPlan {
        queues: JobKind::ALL.to_vec(),
        settings: settings.worker.clone(),
        fleet: settings.jobs.clone(),
    };
    let worker = tokio::spawn(run_worker(stores.clone(), plan, stop.clone()));
    let state = AppState::new(stores, settings.api, settings.jobs).draining_on(stop.clone());
    serve_api(state, stop, |addr| {
        println!("Mixdown is running at http://{addr} (docs: http://{addr}/docs)");
        println!("API key of tenant \"dev\": {key}");
    })
    .await?;
    worker.await.context("worker task failed")??;
    Ok(())
}

/// `mixdown api`: the HTTP API over the fleet stores.
pub async fn api(settings: Settings) -> anyhow::Result<()> {
    let stores = compose::stores(&settings.jobs, Mode::Fleet("api")).await?;
    // The API never opens a print, but a fleet whose API takes voice jobs
    // that no worker could seal is misconfigured: say so at the start. It
    // seals the secret headers of http jobs itself.
    require_key(&settings, Key::Voice, "api")?;
    require_key(&settings, Key::Secrets, "api")?;
    let stop = stop_on_signal();
    let state = AppState::new(stores, settings.api, settings.jobs).draining_on(stop.clone());
    serve_api(state, stop, |addr| {
        println!("Mixdown API listening on http://{addr}");
    })
    .await
}

/// `mixdown worker`: runs `queues` until SIGTERM, then drains.
pub async fn worker(settings: Settings, queues: Vec<JobKind>) -> anyhow::Result<()> {
    if queues.iter().any(|k| k.is_voice()) {
        require_key(&settings, Key::Voice, "worker")?;
    }
    if queues.contains(&JobKind::Http) {
        require_key(&settings, Key::Secrets, "worker")?;
    }
    let stores = compose::stores(&settings.jobs, Mode::Fleet("worker")).await?;
    let stop = stop_on_signal();
    // The ops endpoints outlive the drain, so /readyz can say it drains.
    let ops_stop = CancellationToken::new();
    let (listener, addr) = bind(settings.worker.worker_listen).await?;
    println!("Mixdown worker serving /healthz and /metrics on http://{addr}");
    let ops = tokio::spawn(serve(
        mixdown_api::ops_app(stores.clone(), stop.clone()),
        listener,
        ServerLimits::of(&settings.api),
        stores.metrics.clone(),
        ops_stop.clone(),
    ));
    let plan = WorkerPlan {
        queues,
        settings: settings.worker,
        fleet: settings.jobs,
    };
    let ran = run_worker(stores, plan, stop).await;
    ops_stop.cancel();
    ops.await.context("ops server task failed")??;
    Ok(ran?)
}

/// `mixdown migrate`.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    compose::database(&settings.jobs).await?;
    println!("database is up to date");
    Ok(())
}

/// `mixdown keys create`: prints the new key as the last word; `rate`, if
/// given, becomes the tenant's own rate limit.
pub async fn create_key(
    settings: Settings,
    tenant: &str,
    rate: Option<RateLimit>,
) -> anyhow::Result<()> {
    let db = compose::database(&settings.jobs).await?;
    let key = db.tenants.create_key(tenant).await?;
    if let Some(rate) = rate {
        let text = rate.to_string();
        db.tenants
            .set_rate_limit(key.tenant_id, Some(&text))
            .await?;
        println!("Tenant {tenant:?} is limited to {text}");
    }
    println!(
        "Created the API key {} for tenant {tenant:?} ({}); it is shown only now: {}",
        KeyId::of_key(&key.key),
        key.tenant_id,
        key.key
    );
    Ok(())
}

/// `mixdown keys create --operator`: prints the new key as the last word.
pub async fn create_operator_key(settings: Settings, operator: &str) -> anyhow::Result<()> {
    if operator.trim().is_empty() || operator.len() > 128 {
        bail!("--operator takes a name of 1 to 128 characters");
    }
    let db = compose::database(&settings.jobs).await?;
    let key = db.operators.create_key(operator).await?;
    println!(
        "Created the operator key {} for {operator:?}; it opens /dashboard and is shown only now: {}",
        KeyId::of_key(&key.key),
        key.key
    );
    Ok(())
}

/// `mixdown keys list`: one line per key, a tenant's or only operators'.
pub async fn list_keys(
    settings: Settings,
    tenant: Option<&str>,
    operators: bool,
) -> anyhow::Result<()> {
    let db = compose::database(&settings.jobs).await?;
    if let Some(name) = tenant
        && db.tenants.named(name).await?.is_none()
    {
        bail!("no tenant named {name:?}");
    }
    let shown = |k: &KeyRecord| match (&k.owner, tenant) {
        (KeyOwner::Tenant(name), Some(wanted)) => name == wanted,
        (KeyOwner::Tenant(_), None) => !operators,
        (KeyOwner::Operator(_), _) => tenant.is_none(),
    };
    println!(
        "{:<12}  {:<32}  {:<24}  {:<24}  REVOKED",
        "ID", "OWNER", "CREATED", "LAST USED"
    );
    for key in db.keys.list().await?.iter().filter(|k| shown(k)) {
        let owner = owner_of(key);
        let at = |t: Option<mixdown_jobs::time::Timestamp>| {
            t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
        };
        println!(
            "{:<12}  {owner:<32}  {:<24}  {:<24}  {}",
            key.id,
            key.created_at.to_rfc3339(),
            at(key.last_used_at),
            at(key.revoked_at)
        );
    }
    Ok(())
}

/// `mixdown keys revoke`: by id, or by the key itself.
pub async fn revoke_key(settings: Settings, key: &str) -> anyhow::Result<()> {
    let key = key.trim();
    let id = if key.starts_with(TENANT_KEY_PREFIX) || key.starts_with(OPERATOR_KEY_PREFIX) {
        KeyId::of_key(key)
    } else {
        KeyId::parse(key)
            .context("neither a key id (12 hex digits, as `mixdown keys list` prints) nor a key")?
    };
    let db = compose::database(&settings.jobs).await?;
    match db.keys.revoke(&id).await? {
        Revocation::Revoked(k) => println!(
            "Revoked the key {id} of {}; every API refuses it within seconds",
            owner_of(&k)
        ),
        Revocation::AlreadyRevoked(k) => {
            println!("The key {id} of {} was revoked before", owner_of(&k))
        }
        Revocation::Unknown => bail!("no key has the id {id}"),
        Revocation::Ambiguous(n) => {
            bail!("{n} keys share the id {id}; none was revoked")
        }
    }
    Ok(())
}

/// Whose `key` is, as the key commands say it.
fn owner_of(key: &KeyRecord) -> String {
    match &key.owner {
        KeyOwner::Tenant(name) => format!("tenant {name:?}"),
        KeyOwner::Operator(name) => format!("operator {name:?}"),
    }
}

/// `mixdown graph import`: loads a graph file for a tenant, all or nothing.
pub async fn import_graph(
    settings: Settings,
    file: &Path,
    tenant: &str,
    format: Option<&str>,
) -> anyhow::Result<()> {
    let format = match format {
        Some("csv") => EdgeFormat::Csv,
        Some(_) => EdgeFormat::Ndjson,
        None if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")) =>
        {
            EdgeFormat::Csv
        }
        None => EdgeFormat::Ndjson,
    };
    let db = compose::database(&settings.jobs).await?;
    let Some(tenant_id) = db.tenants.named(tenant).await? else {
        bail!("no tenant named {tenant:?}: create it with `mixdown keys create --tenant {tenant}`");
    };
    let opened = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    let source = tokio::io::BufReader::with_capacity(1 << 16, opened);
    let started = std::time::Instant::now();
    let lines = EdgeLines::new(source, EdgeReader::new(format, u64::MAX));
    let imported = db
        .graph
        .import(tenant_id, lines)
        .await
        .with_context(|| format!("nothing of {} was imported", file.display()))?;
    println!(
        "imported {imported} edge changes for tenant {tenant:?} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
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

/// The keys a role may need, each sealing one kind of secret at rest.
#[derive(Debug, Clone, Copy)]
enum Key {
    /// Seals voiceprints.
    Voice,
    /// Seals the secret headers of `http` jobs.
    Secrets,
}

/// `role` refuses to start without `key`.
fn require_key(settings: &Settings, key: Key, role: &str) -> anyhow::Result<()> {
    let (set, env, what) = match key {
        Key::Voice => (
            settings.jobs.voice_key.is_some(),
            "MIXDOWN_VOICE_KEY",
            "serves voice, and voiceprints are",
        ),
        Key::Secrets => (
            settings.jobs.secrets_key.is_some(),
            "MIXDOWN_SECRETS_KEY",
            "serves http jobs, whose secret headers are",
        ),
    };
    if !set {
        bail!(
            "{env} is not set: `mixdown {role}` {what} sealed at rest under that key \
             (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
        );
    }
    Ok(())
}

/// A sealing key kept in the data directory under `name` (like the dev API
/// key), made on first use, so what it sealed stays readable across restarts.
fn dev_seal_key(data_dir: &Path, name: &str) -> anyhow::Result<SealKey> {
    let path = data_dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = SealKey::generate_base64();
            write_private(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            text
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    SealKey::from_base64(&text).with_context(|| format!("{} holds no key", path.display()))
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

/// Serves the API on its listener, and its ops endpoints on theirs, until
/// `stop` fires; `ready` gets the API's bound address before the ops' is
/// printed.
async fn serve_api(
    state: AppState,
    stop: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let limits = ServerLimits::of(&state.settings);
    let (public, addr) = bind(state.settings.listen).await?;
    let (ops, ops_addr) = bind(state.settings.ops_listen).await?;
    ready(addr);
    println!("Operations endpoints (/metrics, /readyz with details) on http://{ops_addr}");
    let stores = state.stores.clone();
    // The ops endpoints outlive the drain, so /readyz can say it drains.
    let ops_stop = CancellationToken::new();
    let ops_app = mixdown_api::ops_app(stores.clone(), stop.clone());
    let ops_served = tokio::spawn(serve(
        ops_app,
        ops,
        limits,
        stores.metrics.clone(),
        ops_stop.clone(),
    ));
    let served = serve(
        mixdown_api::app(state),
        public,
        limits,
        stores.metrics,
        stop,
    )
    .await;
    ops_stop.cancel();
    ops_served.await.context("ops server task failed")??;
    served
}

async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    info!(%bound, "listening");
    Ok((listener, bound))
}

/// Serves `app` on `listener` until `stop` fires.
async fn serve(
    app: impl Endpoint + 'static,
    listener: TcpListener,
    limits: ServerLimits,
    metrics: Metrics,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    mixdown_api::serve(app, listener, limits, metrics, stop)
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
