//! The `mixdown` binary: parses the command line and settings, starts
//! logging, and runs the chosen role.

mod analyze_cmd;
mod cli;
mod compose;
mod roles;
mod settings;
mod transcode_cmd;
mod waveform_cmd;

use std::io::IsTerminal;

use anyhow::bail;
use clap::Parser;
use mixdown_jobs::kind::JobKind;
use mixdown_settings::Layers;
use tracing_subscriber::{EnvFilter, fmt};

use crate::{
    cli::{Cli, Command, GraphCommand, KeysCommand, Serve},
    settings::{LogFormat, Settings},
};

// glibc's malloc, free and realloc were over a quarter of the API's
// instructions per enqueued job (about 170 small allocations a request, many
// freed on another thread). Built without transparent huge pages: with them
// a waveform's peak RSS grew by 7-9 MiB, touched 2 MiB at a time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    if let Err(err) = run(Cli::parse()).await {
        eprintln!("mixdown: {err:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok();
    let mut layers = Layers::load(&settings::fields(), cli.config.as_deref(), env)?;
    layers.flag("data_dir", "--data-dir", cli.data_dir.clone());
    let command = cli.command.unwrap_or(Command::Dev(Serve::default()));
    let mut queues = JobKind::ALL.to_vec();
    match &command {
        Command::Dev(s) | Command::Api(s) => layers.flag("listen", "--listen", s.listen.clone()),
        Command::Worker(w) => {
            layers.flag("worker_listen", "--listen", w.listen.clone());
            layers.flag("concurrency", "--concurrency", w.concurrency.clone());
            if !w.queues.is_empty() {
                queues = parse_queues(&w.queues)?;
            }
        }
        Command::Migrate
        | Command::Config
        | Command::Keys { .. }
        | Command::Graph { .. }
        | Command::Waveform(_)
        | Command::Transcode(_)
        | Command::Analyze(_) => {}
    }
    let settings = Settings::load(&layers)?;
    init_logging(settings.process.log_format);
    match command {
        Command::Dev(_) => roles::dev(settings).await,
        Command::Api(_) => roles::api(settings).await,
        Command::Worker(_) => roles::worker(settings, queues).await,
        Command::Migrate => roles::migrate(settings).await,
        Command::Config => {
            print!("{}", settings.describe(&layers));
            Ok(())
        }
        Command::Waveform(args) => waveform_cmd::run_blocking(*args).await,
        Command::Transcode(args) => transcode_cmd::run_blocking(args).await,
        Command::Analyze(args) => analyze_cmd::run_blocking(args).await,
        Command::Keys {
            command:
                KeysCommand::Create {
                    tenant,
                    rate,
                    operator,
                },
        } => match (tenant, operator) {
            (Some(tenant), _) => roles::create_key(settings, &tenant, rate).await,
            (None, Some(operator)) => roles::create_operator_key(settings, &operator).await,
            (None, None) => bail!("keys create takes --tenant NAME or --operator NAME"),
        },
        Command::Keys {
            command: KeysCommand::List { tenant, operators },
        } => roles::list_keys(settings, tenant.as_deref(), operators).await,
        Command::Keys {
            command: KeysCommand::Revoke { key },
        } => roles::revoke_key(settings, &key).await,
        Command::Graph {
            command:
                GraphCommand::Import {
                    file,
                    tenant,
                    format,
                },
        } => roles::import_graph(settings, &file, &tenant, format.as_deref()).await,
    }
}

fn parse_queues(names: &[String]) -> anyhow::Result<Vec<JobKind>> {
    names
        .iter()
        .map(|n| match JobKind::parse(n.trim()) {
            Some(k) => Ok(k),
            None => {
                let known: Vec<&str> = JobKind::ALL.iter().map(|k| k.queue()).collect();
                bail!(
                    "invalid --queues: unknown queue {n:?} (known: {})",
                    known.join(", ")
                )
            }
        })
        .collect()
}

fn init_logging(format: LogFormat) {
    // symphonia logs the failures it also returns as errors; those are reported once, by us.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,symphonia=off"));
    // Colour codes only where a terminal shows them, never in a file or a pipe.
    let colour = std::io::stderr().is_terminal();
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
