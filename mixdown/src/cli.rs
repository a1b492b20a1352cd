//! The command line: one binary, a subcommand per role.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Mixdown: the audio job-queue fleet of a music platform.
///
/// With no subcommand, runs `dev`: API and workers in one process on a
/// SQLite file, an embedded queue and a local object directory under ./data.
#[derive(Debug, Parser)]
#[command(name = "mixdown", version, after_long_help = after_help())]
pub struct Cli {
    /// TOML file of settings (keys as listed below); the environment overrides it.
    #[arg(long, global = true, env = "MIXDOWN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Directory of the embedded mode's database and objects [env: MIXDOWN_DATA_DIR] [default: ./data].
    #[arg(long, global = true)]
    pub data_dir: Option<String>,

    /// What to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The roles of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the API and workers for every queue in one process; prints the
    /// URL and a ready-to-use API key.
    Dev(Serve),
    /// Runs the HTTP API (needs DATABASE_URL and REDIS_URL to share work with workers).
    Api(Serve),
    /// Runs a worker for some queues; serves /healthz and /metrics on its own port.
    Worker(WorkerArgs),
    /// Applies pending database migrations and exits.
    Migrate,
    /// Prints the settings in effect, secrets masked, and where each came from.
    Config,
    /// Writes waveform data or an image of an audio file (audiowaveform's options).
    Waveform(Box<crate::waveform_cmd::WaveformArgs>),
    /// Encodes the streaming renditions of an audio file from one decode and measures its
    /// loudness; prints a JSON report.
    Transcode(crate::transcode_cmd::TranscodeArgs),
    /// Analyses audio files (tempo, key, energy, fingerprint); prints a JSON line each.
    Analyze(crate::analyze_cmd::AnalyzeArgs),
    /// Loads a social graph into the database (COPY on Postgres).
    Graph {
        /// What to do with the graph.
        #[command(subcommand)]
        command: GraphCommand,
    },
    /// Manages API keys.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
}

/// Options of the serving roles.
#[derive(Debug, Args, Default)]
pub struct Serve {
    /// Address to listen on [env: MIXDOWN_LISTEN] [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<String>,
}

/// Options of a worker.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Queues to take work from, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub queues: Vec<String>,

    /// Attempts run at once, per queue [env: MIXDOWN_CONCURRENCY] [default: 8].
    #[arg(long)]
    pub concurrency: Option<String>,

    /// Address of /healthz and /metrics [env: MIXDOWN_WORKER_LISTEN] [default: 127.0.0.1:9091].
    #[arg(long)]
    pub listen: Option<String>,
}

/// Graph loading.
#[derive(Debug, Subcommand)]
pub enum GraphCommand {
    /// Applies every edge change of FILE for a tenant, all or nothing: CSV
    /// (`op,from,to` lines, optionally under that header) or NDJSON (the
    /// lines of `POST /v1/graph`); a bad line names its number and nothing
    /// is imported.
    Import {
        /// The file.
        file: std::path::PathBuf,
        /// The tenant's name (as given to `mixdown keys create`).
        #[arg(long)]
        tenant: String,
        /// The file's form; default from its extension (.csv, else NDJSON).
        #[arg(long, value_parser = ["csv", "ndjson"])]
        format: Option<String>,
    },
}

/// Key management.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Creates an API key for a tenant (creating the tenant on first use), or
    /// an operator's key for the dashboard, and prints it once, as the last
    /// word; only its hash is stored.
    #[command(group(clap::ArgGroup::new("owner").required(true).args(["tenant", "operator"])))]
    Create {
        /// The tenant's name.
        #[arg(long)]
        tenant: Option<String>,
        /// The tenant's own rate limit, e.g. `200/s burst 400` (default:
        /// MIXDOWN_RATE_LIMIT's).
        #[arg(long, conflicts_with = "operator")]
        rate: Option<mixdown_api::RateLimit>,
        /// An operator's name: the key opens the dashboard, across tenants,
        /// and is no tenant's key.
        #[arg(long)]
        operator: Option<String>,
    },
    /// Lists keys by id (never the keys themselves): owner, when made, last
    /// used (to within a minute) and revoked.
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
        /// Only operators' keys.
        #[arg(long, conflicts_with = "tenant")]
        operators: bool,
    },
    /// Revokes a tenant's or an operator's key: every API replica refuses it
    /// within seconds, and it stays listed as revoked.
    Revoke {
        /// The key's id as `keys create` and `keys list` print it, or the key itself.
        key: String,
    },
}

fn after_help() -> String {
    format!(
        "Settings (config file key, environment variable):\n{}",
        crate::settings::help_table()
    )
}
