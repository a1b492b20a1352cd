//! Prometheus metrics of one process, with their names and help texts in one place.

use prometheus::{
    CounterVec, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Durations from 1 ms to about 30 min: no-op jobs to hour-long transcodes.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// Every metric a Mixdown process exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests answered, by method, route and status.
    pub http_requests: IntCounterVec,
    /// HTTP request latency, by method and route.
    pub http_duration: HistogramVec,
    /// HTTP connections open now.
    pub http_connections_open: IntGauge,
    /// HTTP connections closed by the server, by reason (refused, header_timeout, idle_timeout).
    pub http_connections_cut: IntCounterVec,
    /// Jobs accepted, by kind.
    pub jobs_enqueued: IntCounterVec,
    /// Attempts ended, by kind and outcome (succeeded, failed, retried, cancelled, waiting).
    pub jobs_finished: IntCounterVec,
    /// Run time of attempts, by kind.
    pub job_duration: HistogramVec,
    /// Time from due to start, by kind.
    pub job_wait: HistogramVec,
    /// Attempts running now, by queue.
    pub jobs_in_flight: IntGaugeVec,
    /// Jobs taken back from workers that stopped, by kind.
    pub jobs_recovered: IntCounterVec,
    /// Due jobs waiting, by queue.
    pub queue_ready: IntGaugeVec,
    /// Jobs waiting for their run time, by queue.
    pub queue_scheduled: IntGaugeVec,
    /// How long the longest-waiting due job has waited, by queue.
    pub queue_oldest_age: GaugeVec,
    /// Unix time of this worker's last heartbeat.
    pub worker_heartbeat: IntGauge,
    /// Jobs pushed again by the reconciler.
    pub redriven: IntCounterVec,
    /// Reconciler passes, by outcome.
    pub reconciler_runs: IntCounterVec,
    /// Seconds of audio decoded by finished attempts, by kind.
    pub audio_seconds: CounterVec,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(DURATION_BUCKETS.to_vec());
    let h = HistogramVec::new(opts, labels).expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

impl Metrics {
    /// A fresh set registered in its own registry.
    pub fn new() -> Self {
        let r = Registry::new();
        let audio_seconds = CounterVec::new(
            Opts::new(
                "mixdown_audio_seconds_processed_total",
                "Seconds of audio decoded by finished attempts.",
            ),
            &["kind"],
        )
        .expect("valid metric");
        r.register(Box::new(audio_seconds.clone()))
            .expect("unique metric");
        let heartbeat = IntGauge::new(
            "mixdown_worker_heartbeat_timestamp_seconds",
            "Unix time of this worker's last heartbeat.",
        )
        .expect("valid metric");
        r.register(Box::new(heartbeat.clone()))
            .expect("unique metric");
        let connections_open = IntGauge::new(
            "mixdown_http_connections_open",
            "HTTP connections open now.",
        )
        .expect("valid metric");
        r.register(Box::new(connections_open.clone()))
            .expect("unique metric");
        Self {
            http_requests: counter(
                &r,
                "mixdown_http_requests_total",
                "HTTP requests answered.",
                &["method", "route", "status"],
            ),
            http_duration: histogram(
                &r,
                "mixdown_http_request_duration_seconds",
                "HTTP request latency.",
                &["method", "route"],
            ),
            http_connections_open: connections_open,
            http_connections_cut: counter(
                &r,
                "mixdown_http_connections_cut_total",
                "HTTP connections the server closed: refused over the cap, or timed out.",
                &["reason"],
            ),
            jobs_enqueued: counter(
                &r,
                "mixdown_jobs_enqueued_total",
                "Jobs accepted.",
                &["kind"],
            ),
            jobs_finished: counter(
                &r,
                "mixdown_jobs_finished_total",
                "Attempts ended, by outcome: succeeded, failed, retried, cancelled, waiting.",
                &["kind", "outcome"],
            ),
            job_duration: histogram(
                &r,
                "mixdown_job_duration_seconds",
                "Run time of one attempt.",
                &["kind"],
            ),
            job_wait: histogram(
                &r,
                "mixdown_job_wait_seconds",
                "Time from a job being due to its attempt starting.",
                &["kind"],
            ),
            jobs_in_flight: gauge(
                &r,
                "mixdown_jobs_in_flight",
                "Attempts running in this process.",
                &["queue"],
            ),
            jobs_recovered: counter(
                &r,
                "mixdown_jobs_recovered_total",
                "Jobs taken back from workers that stopped beating.",
                &["queue"],
            ),
            queue_ready: gauge(
                &r,
                "mixdown_queue_ready",
                "Due jobs waiting for a worker.",
                &["queue"],
            ),
            queue_scheduled: gauge(
                &r,
                "mixdown_queue_scheduled",
                "Jobs waiting for their run time.",
                &["queue"],
            ),
            queue_oldest_age: {
                let opts = Opts::new(
                    "mixdown_queue_oldest_ready_age_seconds",
                    "How long the longest-waiting due job has waited (0 when none waits).",
                );
                let g = GaugeVec::new(opts, &["queue"]).expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            worker_heartbeat: heartbeat,
            redriven: counter(
                &r,
                "mixdown_reconciler_redriven_total",
                "Queued jobs pushed to the queue again by the reconciler.",
                &["queue"],
            ),
            reconciler_runs: counter(
                &r,
                "mixdown_reconciler_runs_total",
                "Reconciler passes, by outcome.",
                &["outcome"],
            ),
            audio_seconds,
            registry: r,
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let families = self.registry.gather();
        if TextEncoder::new().encode(&families, &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
