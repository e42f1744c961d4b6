//! The scenario file as serde reads it, with source spans, and its validation into types.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::recorded;
use super::*;

pub(super) fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    pub(super) clock: RawClock,
    load: RawLoad,
    mix: Spanned<RawMix>,
    #[serde(default)]
    checkout: RawCheckout,
    #[serde(default)]
    pub(super) data: RawData,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    pub(super) run: RawRun,
    #[serde(default)]
    faults: Vec<RawFault>,
    #[serde(default)]
    alerts: Vec<RawAlert>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gate: Option<RawGate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    training: Option<RawTraining>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    story: Option<RawStory>,
}

/// `[story]`: the postmortem's checkpoints, each a time with a tolerance (`held` a share).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawStory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_alert: Option<RawMark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    down: Option<RawMark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    held: Option<RawHeld>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    improving: Option<RawMark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restored: Option<RawMark>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawMark {
    at: Spanned<String>,
    tolerance: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawHeld {
    share: Spanned<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawTraining {
    candidates: Spanned<Vec<String>>,
    between: Spanned<Vec<String>>,
    #[serde(default)]
    reference: RawReference,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    first_alert: Option<Spanned<String>>,
    diagnosed: Option<Spanned<String>>,
    mitigated: Option<Spanned<String>>,
    recovered: Option<Spanned<String>>,
    #[serde(default)]
    wrong_leads: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    enabled: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClock {
    #[serde(default = "default_date")]
    date: String,
    start: Spanned<String>,
    end: Spanned<String>,
    pub(super) speed: Spanned<f64>,
}

fn default_date() -> String {
    "2024-06-08".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    unit: LoadUnit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    points: Option<Spanned<Vec<RawPoint>>>,
    /// Production's rate over time: a `time,rate` CSV, relative to the scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    curve: Option<Spanned<String>>,
    /// Production's requests: one timestamp a line, relative to the scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requests: Option<Spanned<String>>,
    /// The value a recorded curve's highest rate becomes (required with `unit = "capacity"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peak: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawPoint {
    at: Spanned<String>,
    value: Spanned<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawMix {
    #[serde(default)]
    browse: Option<Spanned<f64>>,
    #[serde(default)]
    checkout: Option<Spanned<f64>>,
    #[serde(default)]
    report: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawCheckout {
    items_min: Option<Spanned<u32>>,
    items_max: Option<Spanned<u32>>,
    zipf_s: Option<Spanned<f64>>,
    retries: Option<Spanned<u32>>,
    backoff_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawData {
    /// The seed of the order history (default: `[run] seed`), so runs with other seeds (`--seed`,
    /// an ensemble) replay other arrivals on the same data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) seed: Option<Spanned<u64>>,
    orders: Option<Spanned<u64>>,
    customers: Option<Spanned<u64>>,
    products: Option<Spanned<u64>>,
    history_days: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    pool_size: Option<Spanned<u32>>,
    request_timeout_ms: Option<Spanned<u64>>,
    app_timeout_ms: Option<Spanned<u64>>,
    pool_wait_ms: Option<Spanned<u64>>,
    max_in_flight: Option<Spanned<usize>>,
    retry_budget: Option<Spanned<f64>>,
    shed_at_alert: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRun {
    window_ms: Option<Spanned<u64>>,
    pub(super) seed: Option<u64>,
    probe_ms: Option<Spanned<u64>>,
    report_range_minutes: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    name: String,
    apply: Spanned<String>,
    rollback: Option<Spanned<String>>,
    lock_timeout_ms: Option<Spanned<u64>>,
    lock_retries: Option<Spanned<u32>>,
    lock_retry_backoff_ms: Option<Spanned<u64>>,
    rollback_after_alert: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    name: String,
    op: Spanned<String>,
    metric: Spanned<String>,
    above: Option<f64>,
    below: Option<f64>,
    #[serde(rename = "for")]
    for_: Spanned<String>,
    keep_firing_for: Option<Spanned<String>>,
}

/// An hour in milliseconds: the longest wait, timeout or backoff a scenario may ask for.
const HOUR_MS: u64 = 3_600_000;
/// The longest real run: a day.
const MAX_REAL_SECS: f64 = 86_400.0;
/// The fewest windows a run needs for its phases and alerts to mean anything.
const MIN_WINDOWS: f64 = 2.0;

/// Whether the clock's speed makes a run of at least a few windows and at most a day.
pub(super) fn speed_within_bounds(clock: &IncidentClock, window: Duration) -> Result<(), String> {
    let sim = clock.simulated().as_secs_f64();
    let real_s = sim / clock.speed;
    let window_s = window.as_secs_f64();
    if real_s >= MIN_WINDOWS * window_s && real_s <= MAX_REAL_SECS {
        return Ok(());
    }
    Err(format!(
        "expected a speed from {:.4} to {:.1} (the run must last from {MIN_WINDOWS} windows of {window_s} s to a day), got {}",
        sim / MAX_REAL_SECS,
        sim / (MIN_WINDOWS * window_s),
        clock.speed
    ))
}

/// Whether every point of `load` is at most 100 × capacity or 10⁶ arrivals/s: else the index
/// of the first that is not, and what was expected.
pub(super) fn load_within_bounds(load: &LoadCurve) -> Result<(), (usize, String)> {
    let max = match load.unit {
        LoadUnit::Capacity => 100.0,
        LoadUnit::ArrivalsPerSecond => 1_000_000.0,
    };
    match load.points.iter().enumerate().find(|(_, p)| !(p.1 <= max)) {
        Some((i, p)) => Err((
            i,
            format!("expected a value from 0 to {max} for this unit, got {}", p.1),
        )),
        None => Ok(()),
    }
}

/// Collects the first validation error with its place in the file.
struct Checker<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Checker<'_> {
    fn fail<T>(&self, span: std::ops::Range<usize>, field: &str, msg: impl Into<String>) -> Result<T, ScenarioError> {
        Err(error_at(self.text, self.path, span.start, field, msg.into()))
    }

    fn clock_time(&self, s: &Spanned<String>, field: &str) -> Result<ClockTime, ScenarioError> {
        s.get_ref().parse().or_else(|e: String| self.fail(s.span(), field, e))
    }

    /// The value (or `default`) if it lies in `lo..=hi`: the bounds of what a run can divide
    /// by, allocate from and finish in.
    fn within<T: Copy + PartialOrd + std::fmt::Display>(
        &self,
        v: &Option<Spanned<T>>,
        field: &str,
        default: T,
        (lo, hi): (T, T),
    ) -> Result<T, ScenarioError> {
        match v {
            None => Ok(default),
            Some(s) if *s.get_ref() >= lo && *s.get_ref() <= hi => Ok(*s.get_ref()),
            Some(s) => self.fail(
                s.span(),
                field,
                format!("expected a number from {lo} to {hi}, got {}", s.get_ref()),
            ),
        }
    }
}

impl RawScenario {
    /// The load as explicit points (a recorded curve becomes the points it was read as), so a
    /// run directory's scenario.toml stands on its own.
    pub(super) fn set_load(&mut self, curve: &LoadCurve) {
        let points = curve.points.iter().map(|&(at, value)| RawPoint {
            at: unspanned(at.to_string()),
            value: unspanned((value * 10_000.0).round() / 10_000.0),
        });
        self.load = RawLoad {
            unit: curve.unit,
            points: Some(unspanned(points.collect())),
            curve: None,
            requests: None,
            peak: None,
        };
    }

    pub(super) fn validate(self, text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let ck = Checker { text, path };
        let c = &self.clock;
        let start = ck.clock_time(&c.start, "clock.start")?;
        let end = ck.clock_time(&c.end, "clock.end")?;
        if end <= start {
            return ck.fail(
                c.end.span(),
                "clock.end",
                format!("expected a time after clock.start ({start}), got {end}"),
            );
        }
        if !(*c.speed.get_ref() > 0.0 && c.speed.get_ref().is_finite()) {
            return ck.fail(
                c.speed.span(),
                "clock.speed",
                "expected simulated seconds per real second > 0",
            );
        }
        if chrono::NaiveDate::parse_from_str(&c.date, "%Y-%m-%d").is_err() {
            return ck.fail(
                c.start.span(),
                "clock.date",
                format!("expected a date as YYYY-MM-DD, got {:?}", c.date),
            );
        }
        let clock = IncidentClock {
            date: c.date.clone(),
            start,
            end,
            speed: *c.speed.get_ref(),
        };
        let within = |t: ClockTime| t >= start && t <= end;

        let mix = self.mix(&ck)?;

        let co = &self.checkout;
        let items_min = ck.within(&co.items_min, "checkout.items_min", 1, (1, MAX_CART_ITEMS))?;
        let items_max = ck.within(&co.items_max, "checkout.items_max", 5, (1, MAX_CART_ITEMS))?;
        let items_max_span = co.items_max.as_ref().map(|s| s.span()).unwrap_or(0..0);
        if items_max < items_min || items_max > MAX_CART_ITEMS {
            let expected =
                format!("expected from checkout.items_min ({items_min}) to {MAX_CART_ITEMS}, got {items_max}");
            return ck.fail(items_max_span, "checkout.items_max", expected);
        }
        let checkout = CheckoutShape {
            items_min,
            items_max,
            zipf_s: ck.within(&co.zipf_s, "checkout.zipf_s", 1.1, (0.01, 10.0))?,
            retries: ck.within(&co.retries, "checkout.retries", 2, (0, 100))?,
            backoff: Duration::from_millis(ck.within(&co.backoff_ms, "checkout.backoff_ms", 1000, (0, HOUR_MS))?),
        };

        let d = &self.data;
        let data = DataSize {
            orders: ck.within(&d.orders, "data.orders", 1_000_000, (1, 1_000_000_000))?,
            customers: ck.within(&d.customers, "data.customers", 100_000, (1, 100_000_000))?,
            products: ck.within(&d.products, "data.products", 10_000, (1, 10_000_000))?,
            history_days: ck.within(&d.history_days, "data.history_days", 90, (1, 3650))?,
        };

        if data.products < u64::from(items_max) {
            let span = d.products.as_ref().map(|s| s.span()).unwrap_or(0..0);
            return ck.fail(
                span,
                "data.products",
                format!("expected at least checkout.items_max ({items_max}) products"),
            );
        }

        let l = &self.limits;
        let request_timeout_ms = ck.within(&l.request_timeout_ms, "limits.request_timeout_ms", 2000, (1, HOUR_MS))?;
        let limits = Limits {
            pool_size: ck.within(&l.pool_size, "limits.pool_size", 8, (1, 1000))?,
            request_timeout: Duration::from_millis(request_timeout_ms),
            app_timeout: Duration::from_millis(ck.within(
                &l.app_timeout_ms,
                "limits.app_timeout_ms",
                request_timeout_ms,
                (request_timeout_ms, HOUR_MS),
            )?),
            pool_wait: Duration::from_millis(ck.within(
                &l.pool_wait_ms,
                "limits.pool_wait_ms",
                request_timeout_ms.div_ceil(2),
                (1, HOUR_MS),
            )?),
            max_in_flight: ck.within(&l.max_in_flight, "limits.max_in_flight", 1000, (1, 1_000_000))?,
            retry_budget: match &l.retry_budget {
                None => None,
                Some(_) => Some(ck.within(&l.retry_budget, "limits.retry_budget", 0.1, (0.0, 1.0))?),
            },
            shed_at_alert: l.shed_at_alert.unwrap_or(false),
        };

        let r = &self.run;
        let run = RunSettings {
            window: Duration::from_millis(ck.within(&r.window_ms, "run.window_ms", 1000, (10, 60_000))?),
            seed: r.seed.unwrap_or(42),
            data_seed: d.seed.as_ref().map(|s| *s.get_ref()).or(r.seed).unwrap_or(42),
            probe: Duration::from_millis(ck.within(&r.probe_ms, "run.probe_ms", 3000, (100, 600_000))?),
            report_range_minutes: ck.within(&r.report_range_minutes, "run.report_range_minutes", 15, (1, 1440))?,
        };

        // Before anything divides by the clock: a real length of a few windows up to a day.
        if let Err(e) = speed_within_bounds(&clock, run.window) {
            return ck.fail(c.speed.span(), "clock.speed", e);
        }
        let load = self.load_curve(&ck, &clock, run.window)?;
        if let Err((i, expected)) = load_within_bounds(&load) {
            return match (&self.load.points, &self.load.peak) {
                (Some(pts), _) => ck.fail(
                    pts.get_ref()[i].value.span(),
                    &format!("load.points[{i}].value"),
                    expected,
                ),
                (None, Some(peak)) => ck.fail(peak.span(), "load.peak", expected),
                (None, None) => ck.fail(
                    0..0,
                    "load",
                    format!("the recorded curve's rates: {expected}; set load.peak"),
                ),
            };
        }

        let mut faults = Vec::new();
        for (i, f) in self.faults.iter().enumerate() {
            let field = |k: &str| format!("faults[{i}].{k}");
            let before_start = f.apply.get_ref() == "before";
            let apply = if before_start {
                start
            } else {
                ck.clock_time(&f.apply, &field("apply"))?
            };
            if !within(apply) {
                return ck.fail(
                    f.apply.span(),
                    &field("apply"),
                    format!("expected a time within the clock ({start} to {end}), got {apply}"),
                );
            }
            let rollback = match &f.rollback {
                None => None,
                Some(rb) => {
                    let t = ck.clock_time(rb, &field("rollback"))?;
                    if !within(t) {
                        return ck.fail(
                            rb.span(),
                            &field("rollback"),
                            format!("expected a time within the clock ({start} to {end}), got {t}"),
                        );
                    }
                    if t <= apply {
                        return ck.fail(
                            rb.span(),
                            &field("rollback"),
                            format!("expected a time after apply ({apply}), got {t}"),
                        );
                    }
                    Some(t)
                }
            };
            let guard = match &f.lock_timeout_ms {
                None => None,
                Some(_) => Some(LockGuard {
                    timeout: Duration::from_millis(ck.within(
                        &f.lock_timeout_ms,
                        &field("lock_timeout_ms"),
                        1,
                        (1, HOUR_MS),
                    )?),
                    retries: ck.within(&f.lock_retries, &field("lock_retries"), 30, (1, 10_000))?,
                    backoff: Duration::from_millis(ck.within(
                        &f.lock_retry_backoff_ms,
                        &field("lock_retry_backoff_ms"),
                        1000,
                        (1, HOUR_MS),
                    )?),
                }),
            };
            let rollback_after_alert = match &f.rollback_after_alert {
                None => None,
                Some(d) => {
                    let secs = parse_sim_duration(d.get_ref())
                        .or_else(|e| ck.fail(d.span(), &field("rollback_after_alert"), e))?;
                    Some(Duration::from_secs_f64(secs))
                }
            };
            faults.push(FaultStep {
                name: f.name.clone(),
                apply,
                before_start,
                rollback,
                guard,
                rollback_after_alert,
            });
        }

        let alerts = self.alerts(&ck)?;
        let training = self.training(&ck, (start, end))?;
        let story = self.story(&ck, (start, end))?;
        Ok(Scenario {
            name: self.name.clone().unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "scenario".into())
            }),
            description: self.description.clone().unwrap_or_default(),
            source: path.to_path_buf(),
            clock,
            load,
            mix,
            checkout,
            data,
            limits,
            run,
            faults,
            alerts,
            gate: self.gate.as_ref().is_some_and(|g| g.enabled),
            training,
            story,
            raw: self,
        })
    }

    /// The load curve from whichever of `points`, `curve` or `requests` the file gives.
    fn load_curve(&self, ck: &Checker, clock: &IncidentClock, window: Duration) -> Result<LoadCurve, ScenarioError> {
        let l = &self.load;
        let points = match (&l.points, &l.curve, &l.requests) {
            (Some(pts), None, None) => {
                if let Some(peak) = &l.peak {
                    return ck.fail(
                        peak.span(),
                        "load.peak",
                        "expected load.peak only with load.curve or load.requests",
                    );
                }
                self.load_points(ck, pts)?
            }
            (None, Some(file), None) => {
                self.recorded(ck, clock, file, "load.curve", |path| recorded::read_curve(path))?
            }
            (None, None, Some(file)) => {
                let bins = (clock.real_duration().as_secs_f64() / window.as_secs_f64())
                    .ceil()
                    .max(2.0) as usize;
                self.recorded(ck, clock, file, "load.requests", |path| {
                    recorded::read_requests(path).map(|times| recorded::binned(&times, bins))
                })?
            }
            _ => {
                let span = [l.curve.as_ref(), l.requests.as_ref()]
                    .into_iter()
                    .flatten()
                    .next()
                    .map_or(0..0, |s| s.span());
                return ck.fail(
                    span,
                    "load",
                    "expected exactly one of load.points, load.curve or load.requests",
                );
            }
        };
        Ok(LoadCurve {
            unit: self.load.unit,
            points,
        })
    }

    /// A recorded curve read by `read`, stretched onto the clock and scaled to `load.peak`.
    fn recorded(
        &self,
        ck: &Checker,
        clock: &IncidentClock,
        file: &Spanned<String>,
        field: &str,
        read: impl FnOnce(&Path) -> Result<Vec<(f64, f64)>, recorded::FileError>,
    ) -> Result<Vec<(ClockTime, f64)>, ScenarioError> {
        let peak = match &self.load.peak {
            Some(p) if !(*p.get_ref() > 0.0 && p.get_ref().is_finite()) => {
                return ck.fail(
                    p.span(),
                    "load.peak",
                    format!("expected a value > 0, got {}", p.get_ref()),
                );
            }
            Some(p) => Some(*p.get_ref()),
            None if self.load.unit == LoadUnit::Capacity => {
                let expected = "expected load.peak with unit = \"capacity\": the fraction of capacity the recorded peak becomes, e.g. 0.9";
                return ck.fail(file.span(), "load.peak", expected);
            }
            None => None,
        };
        let path = ck.path.parent().unwrap_or(Path::new(".")).join(file.get_ref());
        if path.is_dir() {
            return ck.fail(
                file.span(),
                field,
                format!("{}: expected a CSV file, found a directory", path.display()),
            );
        }
        // A row's error names the row in the recorded file; the file as a whole, the key here.
        let samples = match read(&path) {
            Ok(samples) => samples,
            Err(e) if e.line == 0 => return ck.fail(file.span(), field, format!("{}: {}", path.display(), e.message)),
            Err(e) => {
                return Err(ScenarioError {
                    file: path.display().to_string(),
                    line: e.line,
                    column: 1,
                    field: format!("{field} {}", e.field),
                    message: e.message,
                });
            }
        };
        Ok(recorded::onto_clock(&samples, clock.start, clock.end, peak))
    }

    fn load_points(&self, ck: &Checker, pts: &Spanned<Vec<RawPoint>>) -> Result<Vec<(ClockTime, f64)>, ScenarioError> {
        if pts.get_ref().is_empty() {
            return ck.fail(
                pts.span(),
                "load.points",
                "expected at least one point { at = \"HH:MM\", value = N }",
            );
        }
        let mut points = Vec::new();
        for (i, p) in pts.get_ref().iter().enumerate() {
            let at = ck.clock_time(&p.at, &format!("load.points[{i}].at"))?;
            let v = *p.value.get_ref();
            if !(v >= 0.0 && v.is_finite()) {
                return ck.fail(
                    p.value.span(),
                    &format!("load.points[{i}].value"),
                    format!("expected a rate ≥ 0, got {v}"),
                );
            }
            if let Some(&(prev, _)) = points.last()
                && at < prev
            {
                return ck.fail(
                    p.at.span(),
                    &format!("load.points[{i}].at"),
                    format!("expected points in time order, {at} comes before {prev}"),
                );
            }
            points.push((at, v));
        }
        if points.iter().all(|p| p.1 == 0.0) {
            return ck.fail(
                pts.span(),
                "load.points",
                "expected at least one point with a value > 0",
            );
        }
        Ok(points)
    }

    fn mix(&self, ck: &Checker) -> Result<Mix, ScenarioError> {
        let m = self.mix.get_ref();
        let mut weights = [0.0; 3];
        for (op, w) in [
            (Op::Browse, &m.browse),
            (Op::Checkout, &m.checkout),
            (Op::Report, &m.report),
        ] {
            if let Some(w) = w {
                if !(*w.get_ref() >= 0.0 && w.get_ref().is_finite()) {
                    return ck.fail(
                        w.span(),
                        &format!("mix.{op}"),
                        format!("expected a weight ≥ 0, got {}", w.get_ref()),
                    );
                }
                weights[op.index()] = *w.get_ref();
            }
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return ck.fail(
                self.mix.span(),
                "mix",
                "expected at least one of browse, checkout, report with a weight > 0",
            );
        }
        Ok(Mix {
            weights: weights.map(|w| w / total),
        })
    }

    /// `[training]`: candidate stories (plain names: `training` checks them when it draws), drawn
    /// within the clock.
    fn training(&self, ck: &Checker, (start, end): (ClockTime, ClockTime)) -> Result<Option<Training>, ScenarioError> {
        let Some(t) = &self.training else { return Ok(None) };
        if t.candidates.get_ref().is_empty() {
            return ck.fail(
                t.candidates.span(),
                "training.candidates",
                "expected at least one story name, e.g. [\"reporting-index\"]",
            );
        }
        let between = match &t.between.get_ref()[..] {
            [a, b] => (a.parse::<ClockTime>(), b.parse::<ClockTime>()),
            _ => {
                return ck.fail(
                    t.between.span(),
                    "training.between",
                    "expected two times, [\"HH:MM\", \"HH:MM\"]",
                );
            }
        };
        let between = match between {
            (Ok(a), Ok(b)) if start <= a && a <= b && b < end => (a, b),
            (Err(e), _) | (_, Err(e)) => return ck.fail(t.between.span(), "training.between", e),
            _ => {
                return ck.fail(
                    t.between.span(),
                    "training.between",
                    format!("expected two times in order within the clock ({start} to {end})"),
                );
            }
        };
        let r = &t.reference;
        let time = |v: &Option<Spanned<String>>, k: &str| {
            v.as_ref()
                .map(|s| ck.clock_time(s, &format!("training.reference.{k}")))
                .transpose()
        };
        Ok(Some(Training {
            candidates: t.candidates.get_ref().clone(),
            between,
            reference: Reference {
                first_alert: time(&r.first_alert, "first_alert")?,
                diagnosed: time(&r.diagnosed, "diagnosed")?,
                mitigated: time(&r.mitigated, "mitigated")?,
                recovered: time(&r.recovered, "recovered")?,
                wrong_leads: r.wrong_leads.clone(),
            },
        }))
    }

    /// `[story]`: each checkpoint's time within the clock, tolerances as durations, `held` a
    /// share in (0, 1].
    fn story(&self, ck: &Checker, (start, end): (ClockTime, ClockTime)) -> Result<Option<Story>, ScenarioError> {
        let Some(s) = &self.story else { return Ok(None) };
        let mark = |m: &Option<RawMark>, k: &str| -> Result<Option<Mark>, ScenarioError> {
            let Some(m) = m else { return Ok(None) };
            let at = ck.clock_time(&m.at, &format!("story.{k}.at"))?;
            if at < start || at > end {
                return ck.fail(
                    m.at.span(),
                    &format!("story.{k}.at"),
                    format!("expected a time within the clock ({start} to {end}), got {at}"),
                );
            }
            let tolerance_s = parse_sim_duration(m.tolerance.get_ref())
                .or_else(|e| ck.fail(m.tolerance.span(), &format!("story.{k}.tolerance"), e))?;
            Ok(Some(Mark { at, tolerance_s }))
        };
        let held = match &s.held {
            Some(h) if *h.share.get_ref() > 0.0 && *h.share.get_ref() <= 1.0 => Some(*h.share.get_ref()),
            Some(h) => {
                return ck.fail(
                    h.share.span(),
                    "story.held.share",
                    format!("expected a share of the minutes in (0, 1], got {}", h.share.get_ref()),
                );
            }
            None => None,
        };
        Ok(Some(Story {
            first_alert: mark(&s.first_alert, "first_alert")?,
            down: mark(&s.down, "down")?,
            held,
            improving: mark(&s.improving, "improving")?,
            restored: mark(&s.restored, "restored")?,
        }))
    }

    fn alerts(&self, ck: &Checker) -> Result<Vec<AlertRule>, ScenarioError> {
        let mut rules = Vec::new();
        for (i, a) in self.alerts.iter().enumerate() {
            let field = |k: &str| format!("alerts[{i}].{k}");
            let op: Op =
                a.op.get_ref()
                    .parse()
                    .or_else(|e: String| ck.fail(a.op.span(), &field("op"), e))?;
            let metric = match a.metric.get_ref().as_str() {
                "p99_ms" => AlertMetric::P99Ms,
                "success_ratio" => AlertMetric::SuccessRatio,
                other => {
                    return ck.fail(
                        a.metric.span(),
                        &field("metric"),
                        format!("expected \"p99_ms\" or \"success_ratio\", got {other:?}"),
                    );
                }
            };
            let (above, threshold) = match (a.above, a.below) {
                (Some(t), None) => (true, t),
                (None, Some(t)) => (false, t),
                _ => {
                    return ck.fail(
                        a.metric.span(),
                        &field("above"),
                        "expected exactly one of `above = N` or `below = N`",
                    );
                }
            };
            if !threshold.is_finite() {
                return ck.fail(
                    a.metric.span(),
                    &field("above"),
                    format!("expected a finite threshold, got {threshold}"),
                );
            }
            let for_sim_secs =
                parse_sim_duration(a.for_.get_ref()).or_else(|e| ck.fail(a.for_.span(), &field("for"), e))?;
            let keep_firing_for_sim_secs = match &a.keep_firing_for {
                None => 0.0,
                Some(k) => {
                    parse_sim_duration(k.get_ref()).or_else(|e| ck.fail(k.span(), &field("keep_firing_for"), e))?
                }
            };
            rules.push(AlertRule {
                name: a.name.clone(),
                op,
                metric,
                above,
                threshold,
                for_sim_secs,
                keep_firing_for_sim_secs,
            });
        }
        Ok(rules)
    }
}
