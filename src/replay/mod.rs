//! One run on the incident clock: starts the traffic and the fault timeline, closes a window
//! every `run.window`, samples the database monitor on a task of its own, and publishes each
//! closed window, each monitor sample and each event to its [`Sink`]s — the results files, the
//! alert evaluator, the progress line, and whatever comes next (a live console, an exporter).
//! Every sink sees the same numbers in the same order.

mod app;
mod sinks;

pub use app::SHED_COMMAND;
pub use sinks::{AlertSink, ProgressSink, ResultsSink};

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::faults::{Fault, Injector, TimelineStep};
use crate::metrics::Recorder;
use crate::results::{DbSample, EventBus, EventKind, EventRow, Timebase, WindowRow, round_ms};
use crate::scenario::{Op, Scenario};
use crate::store::Store;
use crate::traffic::{ArrivalSchedule, Engine, RequestFactory, RetryPolicy};

/// One closed window: a row per operation.
#[derive(Debug, Clone)]
pub struct Window {
    /// 1 for the first window.
    pub index: u64,
    /// How many windows the run has.
    pub of: u64,
    /// The window's length on the incident clock, in seconds.
    pub sim_secs: f64,
    pub rows: Vec<WindowRow>,
    /// Each operation's latency histogram of the window in microseconds, in `rows`' order.
    pub latency_us: Vec<Histogram<u64>>,
}

impl Window {
    pub fn op(&self, op: Op) -> &WindowRow {
        &self.rows[op.index()]
    }
}

/// A consumer of what a replay publishes. A sink that fails stops the run (after the faults
/// are rolled back) and the replay returns its error; the other sinks go on to the end.
pub trait Sink: Send {
    fn window(&mut self, _window: &Window) -> Result<()> {
        Ok(())
    }
    fn event(&mut self, _event: &EventRow) -> Result<()> {
        Ok(())
    }
    fn db(&mut self, _samples: &[DbSample]) -> Result<()> {
        Ok(())
    }
}

/// How a replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// Ctrl-C or SIGTERM: the faults were rolled back (unless interrupted twice).
    Interrupted,
}

enum Published {
    Window(Window),
    Db(Vec<DbSample>),
}

/// A replay about to start: its clock starts when it is made, so sinks can be given its
/// [`EventBus`] before [`Replay::run`].
pub struct Replay<'a, S: Store> {
    running: Running<'a, S>,
    schedule: ArrivalSchedule,
    bus: EventBus,
    events: mpsc::UnboundedReceiver<EventRow>,
    started_at: SystemTime,
}

impl<'a, S: Store> Replay<'a, S> {
    /// `faults` stand one for one for the scenario's `[[faults]]` steps; `capacity` resolves a
    /// load given as fractions of capacity.
    pub fn new(scenario: &'a Scenario, store: Arc<S>, faults: Vec<Fault>, capacity: Option<f64>) -> Self {
        let (started_at, start) = (SystemTime::now(), Instant::now());
        let time = Timebase {
            start,
            clock: scenario.clock.clone(),
        };
        let (bus, events) = EventBus::new(time.clone());
        let (running, schedule) = Running::start(scenario, store, faults, capacity, time, bus.clone());
        Replay {
            running,
            schedule,
            bus,
            events,
            started_at,
        }
    }

    /// The run's recorder: its schedule lag tells whether the generator kept up.
    pub fn recorder(&self) -> Arc<Recorder> {
        self.running.recorder.clone()
    }

    /// Drives only `shard`'s part of the arrivals (`run --shard K/N`).
    pub fn only_shard(mut self, shard: crate::results::Shard) -> Self {
        self.schedule = self.schedule.only_shard(shard.index, shard.of);
        self
    }

    /// When the run's clock started, on the wall clock (the `StartTime` of its interval log).
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// The run's fault injector: a trainee's rollback goes through it, as the timeline's do.
    pub fn injector(&self) -> Arc<Injector<S>> {
        self.running.injector.clone()
    }

    /// The app's guards: a trainee's `retries off` and `retry-budget` switch them.
    pub fn guards(&self) -> Arc<crate::traffic::Guards> {
        self.running.engine.guards()
    }

    /// Notified, it ends the run early, as at the clock's end (faults rolled back).
    pub fn stopper(&self) -> Arc<tokio::sync::Notify> {
        self.running.stop.clone()
    }

    /// Where events of this run are sent (for sinks that raise events, such as alerts).
    pub fn bus(&self) -> EventBus {
        self.bus.clone()
    }

    /// Runs the scenario to its end (or until Ctrl-C, or a sink fails), rolls back every fault
    /// it applied, and publishes everything to `sinks`.
    pub async fn run(self, sinks: Vec<Box<dyn Sink + 'a>>) -> Result<Ending> {
        let Replay {
            running: run,
            schedule,
            bus,
            events,
            ..
        } = self;
        let name = &run.scenario.name;
        let mut sinks = sinks;
        let app = app::AppSink::for_scenario(run.scenario, run.engine.guards(), run.injector.clone(), bus.clone());
        sinks.push(Box::new(app));
        let (tx, rx) = mpsc::unbounded_channel();
        let (failed_tx, mut failed) = tokio::sync::watch::channel(false);
        let hub = publish(sinks, events, rx, failed_tx);
        let body = async move {
            bus.emit(EventKind::RunStart, name, "");
            run.in_place.iter().for_each(|f| run.injector.adopt(f));
            let stopped = tokio::select! {
                _ = run.until_end(schedule, &tx) => Stop::End,
                _ = run.stop.notified() => Stop::End,
                _ = shutdown_signal() => Stop::Interrupted,
                _ = failed.wait_for(|f| *f) => Stop::SinkFailed,
            };
            let detail = run.wind_down(stopped).await;
            bus.emit(EventKind::RunEnd, name, &detail);
            drop(tx);
            stopped
        };
        let (stopped, published) = tokio::join!(body, hub);
        published?;
        Ok(match stopped {
            Stop::Interrupted => Ending::Interrupted,
            _ => Ending::Completed,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    End,
    Interrupted,
    SinkFailed,
}

/// Publishes windows, samples and events to every sink, in the order they arrive, until the
/// replay is over; returns the first sink error.
async fn publish(
    mut sinks: Vec<Box<dyn Sink + '_>>,
    mut events: mpsc::UnboundedReceiver<EventRow>,
    mut published: mpsc::UnboundedReceiver<Published>,
    failed: tokio::sync::watch::Sender<bool>,
) -> Result<()> {
    let mut first_error = None;
    let mut deliver = |f: &mut dyn FnMut(&mut dyn Sink) -> Result<()>| {
        for sink in sinks.iter_mut() {
            if let Err(e) = f(sink.as_mut())
                && first_error.is_none()
            {
                first_error = Some(e);
                let _ = failed.send(true);
            }
        }
    };
    loop {
        tokio::select! {
            biased;
            Some(e) = events.recv() => deliver(&mut |s| s.event(&e)),
            item = published.recv() => match item {
                Some(Published::Window(w)) => deliver(&mut |s| s.window(&w)),
                Some(Published::Db(d)) => deliver(&mut |s| s.db(&d)),
                None => break,
            },
        }
    }
    // The run is over: what the last window raised (and run_end) is still queued.
    while let Ok(e) = events.try_recv() {
        deliver(&mut |s| s.event(&e));
    }
    first_error.map_or(Ok(()), Err)
}

/// The parts of a replay that run at once: traffic, faults, windows and the monitor.
struct Running<'a, S: Store> {
    scenario: &'a Scenario,
    store: Arc<S>,
    recorder: Arc<Recorder>,
    engine: Arc<Engine<S>>,
    injector: Arc<Injector<S>>,
    /// Faults the session applied before the clock started (`apply = "before"`).
    in_place: Vec<Fault>,
    /// Ends the run before the clock's end when notified (a trainee's `quit`).
    stop: Arc<tokio::sync::Notify>,
    timeline: Vec<TimelineStep>,
    time: Timebase,
}

impl<'a, S: Store> Running<'a, S> {
    fn start(
        scenario: &'a Scenario,
        store: Arc<S>,
        faults: Vec<Fault>,
        capacity: Option<f64>,
        time: Timebase,
        bus: EventBus,
    ) -> (Self, ArrivalSchedule) {
        let recorder = Arc::new(Recorder::new(scenario.run.window));
        let retry = RetryPolicy {
            retries: scenario.checkout.retries,
            backoff: scenario.checkout.backoff,
        };
        let limits = &scenario.limits;
        let engine = Engine::new(
            store.clone(),
            recorder.clone(),
            RequestFactory::new(scenario),
            limits,
            retry,
        );
        let schedule = ArrivalSchedule::new(
            scenario.load.resolved(capacity),
            scenario.clock.clone(),
            &scenario.mix,
            scenario.run.seed,
        );
        let before = scenario
            .faults
            .iter()
            .zip(&faults)
            .filter(|(step, _)| step.before_start);
        let in_place = before.map(|(_, fault)| fault.clone()).collect();
        let running = Running {
            scenario,
            injector: Arc::new(Injector::new(store.clone(), bus)),
            in_place,
            stop: Arc::new(tokio::sync::Notify::new()),
            store,
            recorder,
            engine,
            timeline: timeline(scenario, faults),
            time,
        };
        (running, schedule)
    }

    /// Traffic, the fault timeline, the windows and the monitor, until the clock's end.
    async fn until_end(&self, schedule: ArrivalSchedule, tx: &mpsc::UnboundedSender<Published>) {
        let start = self.time.start;
        let end = start + self.scenario.clock.real_duration();
        tokio::select! {
            _ = async {
                tokio::join!(
                    self.engine.drive(schedule, start),
                    self.injector.run_timeline(self.timeline.clone(), start),
                    self.close_windows(end, tx),
                )
            } => {}
            _ = self.monitor(end, tx) => {}
        }
    }

    /// Closes a window every `run.window` (the last one at the clock's end), on the run's own
    /// schedule: nothing else waits in this loop, so windows stay equally long.
    async fn close_windows(&self, end: Instant, tx: &mpsc::UnboundedSender<Published>) {
        let window = self.scenario.run.window;
        let of = windows_in(self.scenario);
        let sim_secs = window.as_secs_f64() * self.scenario.clock.speed;
        for index in 1..=of {
            let tick = (self.time.start + window * index as u32).min(end);
            tokio::time::sleep_until(tick).await;
            let until = tick - self.time.start;
            self.await_arrivals(until, window / 2).await;
            let (t_s, clock) = self.time.at(tick);
            let (rows, latency_us) = Op::ALL
                .into_iter()
                .zip(self.recorder.take_window_and_latency(until))
                .map(|(op, (w, latency))| (window_row(t_s, &clock, op, w), latency))
                .unzip();
            let _ = tx.send(Published::Window(Window {
                index,
                of,
                sim_secs,
                rows,
                latency_us,
            }));
        }
    }

    /// Waits (at most `limit`) until the sender has recorded every first attempt intended
    /// before `until`, so a window holds its arrivals even when a loaded machine sends them
    /// late; past the limit, the late ones count in the next window.
    async fn await_arrivals(&self, until: Duration, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.recorder.arrived_before() < until && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Samples the database once a window on a task of its own, each sample stamped when it
    /// was taken; a slow sample delays the next sample, never a window. Runs until dropped.
    async fn monitor(&self, end: Instant, tx: &mpsc::UnboundedSender<Published>) {
        let window = self.scenario.run.window;
        let mut ticks = tokio::time::interval_at(self.time.start + window, window);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let taken = ticks.tick().await;
            if taken > end {
                return std::future::pending().await;
            }
            // On a task of its own, so a sample cut short by the end of the run still returns
            // its connection to the pool whole.
            let store = self.store.clone();
            let sample = tokio::spawn(async move { store.sample().await }).await;
            let took = taken.elapsed();
            let mut values = sample.unwrap_or_default();
            if took > window {
                values.push(("monitor_sample_s".into(), round_ms(took.as_secs_f64())));
            }
            let (t_s, clock) = self.time.at(taken);
            let samples = values
                .into_iter()
                .map(|(metric, value)| DbSample {
                    t_s,
                    clock: clock.clone(),
                    metric,
                    value,
                })
                .collect();
            let _ = tx.send(Published::Db(samples));
        }
    }

    /// Stops the traffic and rolls back every applied fault; a second Ctrl-C while that waits
    /// stops it and says what was left. Returns the `run_end` event's detail.
    async fn wind_down(&self, stopped: Stop) -> String {
        let wind_down = async {
            self.engine
                .drain(self.scenario.limits.request_timeout + Duration::from_millis(500))
                .await;
            self.injector.rollback_all().await;
        };
        match stopped {
            Stop::End => {
                wind_down.await;
                String::new()
            }
            Stop::Interrupted | Stop::SinkFailed => {
                if !self.injector.applied().is_empty() {
                    eprintln!("stopping: rolling back the applied fault (Ctrl-C again stops the rollback)");
                }
                let why = if stopped == Stop::Interrupted {
                    "interrupted"
                } else {
                    "a results sink failed"
                };
                tokio::select! {
                    _ = wind_down => why.to_string(),
                    _ = shutdown_signal() => left_applied(&self.injector.applied()),
                }
            }
        }
    }
}

fn window_row(t_s: f64, clock: &str, op: Op, w: crate::metrics::OpWindow) -> WindowRow {
    WindowRow {
        t_s,
        clock: clock.to_string(),
        op: op.name().into(),
        offered: w.offered,
        ok: w.ok,
        failed: w.failed,
        timed_out: w.timed_out,
        dropped: w.dropped,
        retries: w.retries,
        in_flight: w.in_flight,
        p50_ms: w.p50_ms,
        p95_ms: w.p95_ms,
        p99_ms: w.p99_ms,
        max_ms: w.max_ms,
        shoppers: w.shoppers,
        completed: w.completed,
        gave_up: w.gave_up,
    }
}

/// How many windows a scenario's run has.
pub fn windows_in(scenario: &Scenario) -> u64 {
    let real = scenario.clock.real_duration().as_secs_f64();
    (real / scenario.run.window.as_secs_f64()).ceil().max(1.0) as u64
}

/// Says exactly what a second Ctrl-C left applied and the SQL that undoes it; returns the
/// run_end event's detail.
fn left_applied(applied: &[Fault]) -> String {
    if applied.is_empty() {
        return "interrupted twice".into();
    }
    eprintln!("rollback stopped. Still applied, with the SQL that undoes each:");
    for fault in applied {
        eprintln!("\n-- {}\n{}", fault.name, fault.down.trim());
    }
    eprintln!("\nThe next run on this database rolls them back before it starts.");
    let names: Vec<&str> = applied.iter().map(|f| f.name.as_str()).collect();
    format!("interrupted twice; left applied: {}", names.join(", "))
}

/// The scenario's `[[faults]]` steps with the faults that stand for them, in real time.
fn timeline(scenario: &Scenario, faults: Vec<Fault>) -> Vec<TimelineStep> {
    let clock = &scenario.clock;
    let mut steps = Vec::new();
    for (step, fault) in scenario.faults.iter().zip(faults) {
        // One applied before the clock started is only rolled back (see `Running::start`).
        if !step.before_start {
            steps.push(TimelineStep::Apply {
                at: clock.real_offset(step.apply),
                fault: fault.clone(),
                guard: step.guard,
            });
        }
        if let Some(rb) = step.rollback {
            steps.push(TimelineStep::Rollback {
                at: clock.real_offset(rb),
                name: fault.name,
            });
        }
    }
    steps
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let sigterm = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = sigterm => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests;
