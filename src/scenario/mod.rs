//! The workload file (TOML) → a typed, validated [`Scenario`].
//!
//! Everything a user can get wrong in a scenario is caught here, before anything touches a
//! database, with the file, line, column, field and what was expected. Nothing downstream
//! re-validates.

mod clock;
mod load;
mod raw;
mod recorded;

pub use clock::{ClockTime, IncidentClock};
pub use load::{LoadCurve, LoadUnit};

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use raw::{RawScenario, unspanned};

/// Carts hold at most this many distinct products.
pub const MAX_CART_ITEMS: u32 = 16;

/// One kind of user operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Browse,
    Checkout,
    Report,
}

impl Op {
    pub const ALL: [Op; 3] = [Op::Browse, Op::Checkout, Op::Report];

    pub fn name(self) -> &'static str {
        match self {
            Op::Browse => "browse",
            Op::Checkout => "checkout",
            Op::Report => "report",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Op::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| format!("expected one of browse, checkout, report, got {s:?}"))
    }
}

/// Relative weights of the operations; they sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    /// Weight per [`Op`], indexed by `Op::index`.
    pub weights: [f64; 3],
}

impl Mix {
    pub fn weight(&self, op: Op) -> f64 {
        self.weights[op.index()]
    }

    /// The operation a uniform draw `u` in [0, 1) stands for.
    pub fn pick(&self, u: f64) -> Op {
        let mut acc = 0.0;
        for op in Op::ALL {
            acc += self.weight(op);
            if u < acc {
                return op;
            }
        }
        Op::Browse
    }
}

/// The shape of a checkout and of a shopper's patience.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutShape {
    pub items_min: u32,
    pub items_max: u32,
    /// Zipf exponent of product popularity (higher: a few products get most carts).
    pub zipf_s: f64,
    /// How many times a failed, timed-out or dropped checkout is tried again.
    pub retries: u32,
    /// Real time a shopper waits before trying again (± 50% jitter).
    pub backoff: Duration,
}

/// How much history the database holds before the replay starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DataSize {
    pub orders: u64,
    pub customers: u64,
    pub products: u64,
    /// Orders are spread over this many days before the incident day.
    pub history_days: u32,
}

/// What the application server in front of the database allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Connections in the traffic pool (on SQLite the read pool: writes go through one writer).
    pub pool_size: u32,
    /// Real time after which the shopper gives up: the attempt counts as timed out.
    pub request_timeout: Duration,
    /// Real time after which the app gives up on a checkout it is working on (its own database
    /// timeout). Apps rarely learn that a shopper left, so they work on for nobody until then.
    /// Reads stop with the shopper. Default: the request timeout.
    pub app_timeout: Duration,
    /// How long a request waits for a pool connection on a server database before it fails
    /// (the app's pool checkout timeout). Default: half the request timeout, so a request that
    /// gets a connection has time left to use it.
    pub pool_wait: Duration,
    /// Requests in flight beyond which new arrivals are rejected at once (the app's 503).
    pub max_in_flight: usize,
    /// The app retries a checkout only while the retries over the last 10 s are under this
    /// share of the first attempts (Finagle's `RetryBudget`); a retry over it is not sent and
    /// the shopper leaves. `None`: retries are not budgeted.
    pub retry_budget: Option<f64>,
    /// From the first alert on, the app admits only the rate of each operation the database
    /// served in the five incident minutes before that alert's condition began (load
    /// shedding); the rest get a 503 at once.
    pub shed_at_alert: bool,
}

/// How the run itself is measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// Real length of one metrics window.
    pub window: Duration,
    /// Seeds the arrival schedule and the retries' jitter.
    pub seed: u64,
    /// Seeds the order history (`[data] seed`, default the file's `[run] seed`): it stays when
    /// `--seed` or an ensemble changes `seed`, so every run starts from the same data.
    pub data_seed: u64,
    /// Real length of the capacity probe (used when the load is in capacity fractions).
    pub probe: Duration,
    /// The report reads this many incident-clock minutes of recent orders.
    pub report_range_minutes: u32,
}

/// One fault on the timeline: applied at one time, rolled back at another.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultStep {
    /// Name in the fault catalog (`schema/faults/<dialect>/<name>.up.sql`).
    pub name: String,
    pub apply: ClockTime,
    /// Applied before the replay's clock starts (`apply = "before"`; `apply` is then the
    /// clock's start): the run begins with the change in place, without its build in the replay.
    pub before_start: bool,
    /// `None`: rolled back only at the end of the run.
    pub rollback: Option<ClockTime>,
    /// Bound each wait for the DDL's lock, and try again (`lock_timeout_ms` in the file).
    pub guard: Option<LockGuard>,
    /// Rolled back this long (incident clock) after the first alert that fires once the fault
    /// was sent, if that comes before `rollback`: an automated rollback on an alert, or a
    /// diagnosis that fast.
    pub rollback_after_alert: Option<Duration>,
}

/// The lock-timeout guard of a fault's DDL: each try waits at most `timeout` for its lock
/// (PostgreSQL `lock_timeout`, MySQL `lock_wait_timeout`), then gives up, waits `backoff` and
/// tries again, `retries` times at most; so a DDL stuck behind a long transaction stalls the
/// writers queued behind it for one timeout at a time, not for as long as the transaction lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LockGuard {
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
}

/// Which windowed metric an alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    P99Ms,
    SuccessRatio,
}

/// An SLO rule: `op`'s `metric` beyond `threshold` for `for_duration` of the incident clock.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlertRule {
    pub name: String,
    pub op: Op,
    pub metric: AlertMetric,
    /// `true`: fires when the metric is above the threshold; `false`: below.
    pub above: bool,
    pub threshold: f64,
    /// Incident-clock seconds the condition must hold before the alert fires.
    pub for_sim_secs: f64,
    /// Incident-clock seconds the condition must stay clear before a firing alert resolves
    /// (`keep_firing_for`), so a value hovering at the threshold makes one alert, not many.
    #[serde(default)]
    pub keep_firing_for_sim_secs: f64,
}

/// `[training]`: the stories a training run draws its hidden fault from, when it starts, and
/// the postmortem's own times.
#[derive(Debug, Clone, PartialEq)]
pub struct Training {
    pub candidates: Vec<String>,
    /// The fault starts at a whole minute drawn in this range.
    pub between: (ClockTime, ClockTime),
    pub reference: Reference,
}

/// The postmortem's own times, for the debrief.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reference {
    pub first_alert: Option<ClockTime>,
    pub diagnosed: Option<ClockTime>,
    pub mitigated: Option<ClockTime>,
    pub recovered: Option<ClockTime>,
    /// The wrong leads the team chased, in words.
    pub wrong_leads: Vec<String>,
}

/// `[story]`: the postmortem's checkpoints a run is scored against (`analysis::story`). A
/// checkpoint left out is not scored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Story {
    /// The first alert fires within the tolerance of this time.
    pub first_alert: Option<Mark>,
    /// Checkout goes down (most shoppers cannot buy, over 5 incident minutes) within the tolerance.
    pub down: Option<Mark>,
    /// Down until the mitigation: at least this share of the minutes from going down to the
    /// rollback.
    pub held: Option<f64>,
    /// Down at the mitigation, then checkout success back over 0.5 by this time plus the
    /// tolerance.
    pub improving: Option<Mark>,
    /// Down at the mitigation, then every alert resolved by this time plus the tolerance.
    pub restored: Option<Mark>,
}

/// A checkpoint's time on the incident clock and how far from it a run may be.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    #[serde(with = "clock_time_text")]
    pub at: ClockTime,
    /// Incident-clock seconds.
    pub tolerance_s: f64,
}

mod clock_time_text {
    use super::ClockTime;
    pub fn serialize<S: serde::Serializer>(t: &ClockTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_string())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ClockTime, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A validated workload.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub source: PathBuf,
    pub clock: IncidentClock,
    pub load: LoadCurve,
    pub mix: Mix,
    pub checkout: CheckoutShape,
    pub data: DataSize,
    pub limits: Limits,
    pub run: RunSettings,
    pub faults: Vec<FaultStep>,
    pub alerts: Vec<AlertRule>,
    /// Whether a breached alert rule fails the run (exit code 3).
    pub gate: bool,
    /// What `train` may hide in this scenario.
    pub training: Option<Training>,
    /// The postmortem's checkpoints each run is scored against.
    pub story: Option<Story>,
    raw: RawScenario,
}

/// A scenario file that cannot be run, with where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            field: "(file)".into(),
            message: format!("cannot read the scenario file: {e}"),
        })?;
        Scenario::parse(&text, path)
    }

    /// Validates scenario text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let key = text.get(span.clone()).unwrap_or("").trim();
            let field = if !key.is_empty() && key.len() < 40 && !key.contains('\n') {
                key.to_string()
            } else {
                "(syntax)".to_string()
            };
            error_at(text, path, span.start, &field, e.message().replace('\n', " "))
        })?;
        raw.validate(text, path)
    }

    /// The scenario as run: the same file with the load curve resolved to arrivals per second.
    pub fn to_toml_resolved(&self, capacity_per_s: Option<f64>) -> String {
        let mut raw = self.raw.clone();
        let resolved = self.load.resolved(capacity_per_s);
        raw.set_load(&resolved);
        let header = match capacity_per_s {
            Some(cap) => {
                format!("# As run: load resolved from capacity fractions at a capacity of {cap:.1} arrivals/s.\n")
            }
            None => "# As run.\n".to_string(),
        };
        header + &toml::to_string_pretty(&raw).unwrap_or_default()
    }

    /// The same scenario with its load curve multiplied by `scale` (`--load-scale`), within the
    /// same bounds as the file's.
    pub fn with_load_scale(mut self, scale: Option<f64>) -> Result<Scenario, String> {
        let Some(scale) = scale else { return Ok(self) };
        for point in &mut self.load.points {
            point.1 *= scale;
        }
        raw::load_within_bounds(&self.load).map_err(|(i, e)| format!("--load-scale {scale}: load.points[{i}]: {e}"))?;
        self.raw.set_load(&self.load);
        Ok(self)
    }

    /// The same scenario with `edit` made to its file's keys and validated again as a file is,
    /// so what runs and the `scenario.toml` it writes say the same (a what-if variant).
    pub fn edited(&self, edit: impl FnOnce(&mut toml::Table)) -> Result<Scenario, String> {
        let mut table = toml::Table::try_from(&self.raw).map_err(|e| e.to_string())?;
        edit(&mut table);
        let text = toml::to_string(&table).map_err(|e| e.to_string())?;
        Scenario::parse(&text, &self.source).map_err(|e| format!("{}: {}", e.field, e.message))
    }

    /// The same scenario with its load held at its peak from the peak to the end (no lull).
    pub fn held_at_peak(mut self) -> Scenario {
        let peak = self.load.points.iter().map(|p| p.1).fold(0.0, f64::max);
        if let Some(at) = self.load.points.iter().position(|p| p.1 == peak) {
            self.load.points.iter_mut().skip(at).for_each(|p| p.1 = peak);
        }
        self.raw.set_load(&self.load);
        self
    }

    /// The same scenario at another speed or seed (CLI overrides); a speed out of bounds is
    /// refused as in the file.
    pub fn with_overrides(mut self, speed: Option<f64>, seed: Option<u64>) -> Result<Scenario, String> {
        if let Some(speed) = speed {
            self.clock.speed = speed;
            self.raw.clock.speed = unspanned(speed);
            raw::speed_within_bounds(&self.clock, self.run.window).map_err(|e| format!("--speed: {e}"))?;
        }
        if let Some(seed) = seed {
            self.run.seed = seed;
            self.raw.run.seed = Some(seed);
            self.raw.data.seed = Some(unspanned(self.run.data_seed));
        }
        Ok(self)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

fn error_at(text: &str, path: &Path, offset: usize, field: &str, message: String) -> ScenarioError {
    let (line, column) = line_col(text, offset);
    ScenarioError {
        file: path.display().to_string(),
        line,
        column,
        field: field.into(),
        message,
    }
}

/// Parses an incident-clock duration such as `90s`, `5m` or `1h` into seconds.
fn parse_sim_duration(s: &str) -> Result<f64, String> {
    let expected = || format!("expected a duration such as \"90s\", \"5m\" or \"1h\", got {s:?}");
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(expected)?);
    let n: f64 = num.trim().parse().map_err(|_| expected())?;
    if !(n.is_finite() && n <= 1e7) {
        return Err(expected());
    }
    let mult = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(expected()),
    };
    if n < 0.0 {
        return Err(expected());
    }
    Ok(n * mult)
}

#[cfg(test)]
mod tests;
