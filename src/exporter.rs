//! Live metrics: `run --metrics-addr HOST:PORT` serves the run as OpenMetrics text on
//! `/metrics` while it goes, for Prometheus and Grafana (`deploy/`). A replay [`Sink`] keeps
//! the running totals; each scrape encodes them with `prometheus-client`, labelled with the run
//! and the scenario.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::replay::{Sink, Window};
use crate::results::{DbSample, EventKind, EventRow, WindowRow, clock_secs};

/// Latency bucket bounds in seconds (Prometheus' defaults, with the 250 ms alert line).
const BUCKETS_S: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One operation's totals since the run started.
#[derive(Debug, Clone)]
struct OpTotals {
    /// The counters summed over every window, `in_flight` as of the last.
    counts: WindowRow,
    /// Per bucket of `BUCKETS_S`, then +Inf; not cumulative.
    buckets: [u64; BUCKETS_S.len() + 1],
    latency_sum_s: f64,
    latency_count: u64,
}

impl OpTotals {
    /// Zero totals for `row`'s operation.
    fn new(row: &WindowRow) -> Self {
        let counts = WindowRow {
            op: row.op.clone(),
            ..Default::default()
        };
        OpTotals {
            counts,
            buckets: Default::default(),
            latency_sum_s: 0.0,
            latency_count: 0,
        }
    }
}

/// Everything a scrape shows.
#[derive(Debug, Default)]
struct Live {
    ops: Vec<OpTotals>,
    db: BTreeMap<String, f64>,
    faults: BTreeMap<String, i64>,
    alerts: BTreeMap<String, i64>,
    window: u64,
    clock_s: f64,
}

/// Keeps the totals from the replay's windows, samples and events.
#[derive(Clone)]
pub struct MetricsSink(Arc<Mutex<Live>>);

#[derive(Debug)]
struct Exposition(Arc<Mutex<Live>>);

/// A started metrics server; it stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves `/metrics` until the [`Server`] is dropped; `labels` go on every
/// series (`run`, `scenario`).
pub async fn serve(addr: &str, labels: Vec<(String, String)>) -> Result<(MetricsSink, Server)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-addr {addr}: cannot listen there"))?;
    let bound = listener.local_addr()?;
    let live = Arc::new(Mutex::new(Live::default()));
    let labels = labels.into_iter().map(|(k, v)| (k.into(), v.into()));
    let mut registry = Registry::with_labels(labels);
    registry.register_collector(Box::new(Exposition(live.clone())));
    let registry = Arc::new(registry);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let registry = registry.clone();
            let service = hyper::service::service_fn(move |req| respond(req, registry.clone()));
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok((MetricsSink(live), Server { addr: bound, task }))
}

async fn respond(req: Request<Incoming>, registry: Arc<Registry>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = Response::builder();
    if req.uri().path() != "/metrics" {
        let body = Full::new(Bytes::from_static(b"outage-sim serves /metrics\n"));
        return Ok(response.status(404).body(body).expect("static response"));
    }
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => Ok(response
            .header(
                "content-type",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .body(Full::new(Bytes::from(text)))
            .expect("valid header")),
        Err(_) => Ok(response.status(500).body(Full::default()).expect("static response")),
    }
}

impl Sink for MetricsSink {
    fn window(&mut self, window: &Window) -> Result<()> {
        let mut live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if live.ops.is_empty() {
            live.ops = window.rows.iter().map(OpTotals::new).collect();
        }
        for ((row, latency), totals) in window.rows.iter().zip(&window.latency_us).zip(&mut live.ops) {
            totals.counts.add_counts(row);
            totals.counts.in_flight = row.in_flight;
            for v in latency.iter_recorded() {
                let s = v.value_iterated_to() as f64 / 1e6;
                let n = v.count_at_value();
                let bucket = BUCKETS_S.iter().position(|&le| s <= le).unwrap_or(BUCKETS_S.len());
                totals.buckets[bucket] += n;
                totals.latency_sum_s += s * n as f64;
                totals.latency_count += n;
            }
        }
        live.window = window.index;
        live.clock_s = window.rows.first().map_or(0.0, |r| clock_secs(&r.clock));
        Ok(())
    }

    fn event(&mut self, e: &EventRow) -> Result<()> {
        let mut live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match e.kind {
            EventKind::FaultApplyDone => live.faults.insert(e.name.clone(), 1),
            EventKind::FaultRollbackDone => live.faults.insert(e.name.clone(), 0),
            EventKind::AlertFired => live.alerts.insert(e.name.clone(), 1),
            EventKind::AlertResolved => live.alerts.insert(e.name.clone(), 0),
            _ => None,
        };
        Ok(())
    }

    fn db(&mut self, samples: &[DbSample]) -> Result<()> {
        let mut live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for s in samples {
            live.db.insert(s.metric.clone(), s.value);
        }
        Ok(())
    }
}

/// One family of per-operation counters.
type OpCounter = (&'static str, &'static str, fn(&WindowRow) -> u64);

const OP_COUNTERS: [OpCounter; 9] = [
    (
        "outage_sim_offered",
        "Attempts that arrived, retries and drops included.",
        |t| t.offered,
    ),
    ("outage_sim_ok", "Attempts that succeeded.", |t| t.ok),
    (
        "outage_sim_failed",
        "Attempts that failed with a database error.",
        |t| t.failed,
    ),
    (
        "outage_sim_timed_out",
        "Attempts cancelled by the request timeout.",
        |t| t.timed_out,
    ),
    (
        "outage_sim_dropped",
        "Arrivals refused at once: max_in_flight was reached.",
        |t| t.dropped,
    ),
    ("outage_sim_shoppers", "Shoppers whose first attempt was due.", |t| {
        t.shoppers
    }),
    (
        "outage_sim_shoppers_completed",
        "Shoppers whose last attempt succeeded.",
        |t| t.completed,
    ),
    (
        "outage_sim_shoppers_gave_up",
        "Shoppers who ran out of attempts (checkout: could not buy).",
        |t| t.gave_up,
    ),
    ("outage_sim_retries", "Attempts that were retries.", |t| t.retries),
];

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for (name, help, value) in OP_COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for t in &live.ops {
                ConstCounter::new(value(&t.counts)).encode(family.encode_family(&[("op", t.counts.op.as_str())])?)?;
            }
        }
        let help = "Requests in flight at the end of the last window.";
        let mut family = encoder.encode_descriptor("outage_sim_in_flight", help, None, MetricType::Gauge)?;
        for t in &live.ops {
            ConstGauge::new(t.counts.in_flight).encode(family.encode_family(&[("op", t.counts.op.as_str())])?)?;
        }
        let help = "Latency of finished attempts from their intended start, in seconds.";
        let mut family = encoder.encode_descriptor("outage_sim_latency_seconds", help, None, MetricType::Histogram)?;
        for t in &live.ops {
            let bounds = BUCKETS_S.iter().copied().chain([f64::INFINITY]);
            let buckets: Vec<(f64, u64)> = bounds.zip(t.buckets).collect();
            family
                .encode_family(&[("op", t.counts.op.as_str())])?
                .encode_histogram::<NoLabelSet>(t.latency_sum_s, t.latency_count, &buckets, None)?;
        }
        let help = "The database monitor's last sample.";
        encode_gauges(
            &mut encoder,
            "outage_sim_db",
            help,
            "metric",
            live.db.iter().map(|(k, v)| (k, *v)),
        )?;
        let states = [
            (
                "outage_sim_fault_applied",
                "1 while the fault is in place.",
                "fault",
                &live.faults,
            ),
            (
                "outage_sim_alert_firing",
                "1 while the alert rule fires.",
                "alert",
                &live.alerts,
            ),
        ];
        for (name, help, label, values) in states {
            encode_gauges(&mut encoder, name, help, label, values.iter().map(|(k, v)| (k, *v)))?;
        }
        let help = "The incident clock at the end of the last window, seconds since midnight.";
        let family = encoder.encode_descriptor("outage_sim_incident_clock_seconds", help, None, MetricType::Gauge)?;
        ConstGauge::new(live.clock_s).encode(family)?;
        let family = encoder.encode_descriptor(
            "outage_sim_windows",
            "Windows closed so far.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(live.window).encode(family)
    }
}

fn encode_gauges<'v, N: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: impl Iterator<Item = (&'v String, N)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (key, value) in values {
        ConstGauge::new(value).encode(family.encode_family(&[(label, key.as_str())])?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::latency_histogram;

    fn row(op: &str, offered: u64, ok: u64) -> WindowRow {
        WindowRow {
            t_s: 0.25,
            clock: "12:00:15".into(),
            op: op.into(),
            offered,
            ok,
            failed: 0,
            timed_out: 0,
            dropped: 0,
            retries: 0,
            in_flight: 3,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
            ..WindowRow::default()
        }
    }

    #[tokio::test]
    async fn a_scrape_shows_the_totals_of_every_window_and_the_fault_and_alert_state() {
        let labels = vec![("run".to_string(), "r1".to_string())];
        let (mut sink, server) = serve("127.0.0.1:0", labels).await.unwrap();
        let mut h = latency_histogram();
        h.record(2_000).unwrap(); // 2 ms
        h.record(300_000).unwrap(); // 300 ms
        for index in 1..=2 {
            let window = Window {
                index,
                of: 2,
                sim_secs: 15.0,
                rows: vec![row("checkout", 10, 2)],
                latency_us: vec![h.clone()],
            };
            sink.window(&window).unwrap();
        }
        let event = |kind, name: &str| EventRow {
            t_s: 0.0,
            clock: "12:00:00".into(),
            kind,
            name: name.into(),
            detail: String::new(),
        };
        sink.event(&event(EventKind::FaultApplyDone, "reporting-index"))
            .unwrap();
        sink.event(&event(EventKind::AlertFired, "p99")).unwrap();
        sink.event(&event(EventKind::AlertResolved, "p99")).unwrap();
        let text = scrape(server.addr).await;
        for line in [
            "outage_sim_offered_total{run=\"r1\",op=\"checkout\"} 20",
            "outage_sim_ok_total{run=\"r1\",op=\"checkout\"} 4",
            "outage_sim_latency_seconds_bucket{run=\"r1\",le=\"0.0025\",op=\"checkout\"} 2",
            "outage_sim_latency_seconds_bucket{run=\"r1\",le=\"0.25\",op=\"checkout\"} 2",
            "outage_sim_latency_seconds_bucket{run=\"r1\",le=\"0.5\",op=\"checkout\"} 4",
            "outage_sim_latency_seconds_count{run=\"r1\",op=\"checkout\"} 4",
            "outage_sim_fault_applied{run=\"r1\",fault=\"reporting-index\"} 1",
            "outage_sim_alert_firing{run=\"r1\",alert=\"p99\"} 0",
            "outage_sim_windows_total{run=\"r1\"} 2",
            "# EOF",
        ] {
            assert!(text.contains(line), "no {line:?} in\n{text}");
        }
    }

    async fn scrape(addr: SocketAddr) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").await.unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        text
    }
}
