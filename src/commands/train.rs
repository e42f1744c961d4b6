//! `outage-sim train`: the scenario replayed with a fault drawn from its `[training]`
//! candidates and hidden, the live console (or commands on stdin), the trainee's commands acted
//! on and recorded, the mitigation detected from the database itself, then the score and the
//! debrief.

use std::convert::Infallible;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::BadInput;
use crate::calibrate::cached::Source;
use crate::cli::TrainArgs;
use crate::console::Console;
use crate::faults::{self, Choice, Fault, Injector};
use crate::replay::{self, AlertSink, ProgressSink, Replay, ResultsSink, Sink};
use crate::results::{EventBus, EventKind, META_JSON, Meta, RunDir, SCENARIO_TOML};
use crate::scenario::Scenario;
use crate::store::{self, DbUrl, Store, sqlite};
use crate::traffic::Guards;
use crate::training::score::{self, DEBRIEF_MD, SCORE_JSON};
use crate::training::{self, Command, Drawn, Story};
use crate::{report, with_store};

pub async fn train(args: TrainArgs) -> Result<ExitCode> {
    if args.causes {
        print!("{}", training::causes_text());
        return Ok(ExitCode::SUCCESS);
    }
    let db = super::parse_db(args.db.db.as_deref())?;
    let dialect = db.as_ref().map_or("sqlite", DbUrl::dialect);
    let scenario = Scenario::load(&args.scenario)?
        .with_overrides(Some(args.speed), None)
        .map_err(BadInput)?;
    let seed = args.seed.unwrap_or_else(|| rand::random::<u32>() as u64);
    let drawn = training::draw(&scenario, dialect, seed).map_err(BadInput)?;
    let hidden = training::hide(&scenario, &drawn).map_err(BadInput)?;
    let faults = faults::for_steps(&hidden, dialect, Choice::Scenario).map_err(BadInput)?;
    let database = super::database(&args.db)?;
    let capacity = crate::calibrate::source_for(&hidden, &database, &args.out, args.capacity, args.probe).await?;
    let run = RunDir::create(&args.out, &format!("train-{}", hidden.name), chrono::Utc::now())?;
    let copy = run.file("run.db");
    let at = store::Where {
        db,
        schema: &args.db.schema,
        cache: &args.db.cache,
        copy: &copy,
        prepare: true,
        copy_own: false,
    };
    let (opened, target) = match store::open(at, &hidden).await {
        Ok(opened) => opened,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&run.path); // nothing ran
            return Err(e);
        }
    };
    eprintln!(
        "training on {} (seed {seed}: give --seed {seed} to face the same fault); run directory: {}",
        hidden.name,
        run.path.display()
    );
    let class = Class {
        args: &args,
        shown: scenario,
        scenario: hidden,
        faults,
        drawn,
        seed,
        capacity,
    };
    let result = with_store!(opened, store => class.run(store, &run, target).await);
    sqlite::remove_files(&copy);
    result
}

/// One training run: the hidden scenario, the fault that stands for each of its steps, and
/// what was drawn.
struct Class<'a> {
    args: &'a TrainArgs,
    /// The scenario as the trainee may read it (its `scenario.toml`): no fault in it.
    shown: Scenario,
    /// With the drawn story's faults: what runs, written as `revealed.toml` after the run.
    scenario: Scenario,
    faults: Vec<Fault>,
    drawn: Drawn,
    seed: u64,
    capacity: Source,
}

impl Class<'_> {
    fn story(&self) -> &'static Story {
        training::story(self.drawn.story).expect("drawn from the stories")
    }

    async fn run<S: Store>(&self, store: Arc<S>, run: &RunDir, target: store::Target) -> Result<ExitCode> {
        let scenario = &self.scenario;
        let capacity = crate::session::ready(&store, scenario, true, &self.capacity).await?;
        std::fs::write(run.file(SCENARIO_TOML), self.shown.to_toml_resolved(capacity))?;
        let names = self.faults.iter().map(|f| f.name.clone()).collect();
        let meta = Meta::of_run(
            scenario,
            (store.dialect(), target.url, target.schema),
            capacity,
            names,
            false,
        );
        run.write_json(META_JSON, &meta)?;

        let replay = Replay::new(scenario, store.clone(), self.faults.clone(), capacity);
        let screen = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let mut sinks: Vec<Box<dyn Sink>> = vec![
            Box::new(ResultsSink::create(run, replay.started_at())?),
            Box::new(AlertSink::new(&scenario.alerts, replay.bus())),
        ];
        if !screen {
            let progress = ProgressSink::new(replay::windows_in(scenario), scenario.run.window);
            sinks.push(Box::new(progress.hiding_faults()));
        }
        // From here nothing fails before the console is closed again (the terminal is raw).
        let title = format!("outage-sim train: {} (seed {})", scenario.name, self.seed);
        let console = Console::new(title, scenario.clock.speed, &scenario.alerts, screen)?;
        sinks.push(Box::new(console.clone()));
        let (lines, commands) = unbounded_channel();
        let done = Arc::new(AtomicBool::new(false));
        if screen {
            console.read_keys(lines, done.clone());
        } else {
            read_stdin(lines);
        }
        let culprit = self.faults.iter().find(|f| f.name == self.story().culprit).cloned();
        let trainee = Trainee {
            store: store.clone(),
            injector: replay.injector(),
            guards: replay.guards(),
            bus: replay.bus(),
            stop: replay.stopper(),
            console: console.clone(),
            culprit: Watched::new(culprit.expect("a story's culprit is one of its faults")),
            plain: !screen,
            last_window: replay::windows_in(scenario),
            blocker_shown: None,
        };
        let ending = tokio::select! {
            ending = replay.run(sinks) => ending,
            never = trainee.act_and_watch(commands, scenario.run.window) => match never {},
        };
        done.store(true, Ordering::Relaxed);
        console.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), store.close()).await;
        ending?;
        std::fs::write(run.file(REVEALED_TOML), scenario.to_toml_resolved(capacity))?;
        self.debrief(run)
    }

    /// Scores the run from its events, writes score.json and debrief.md, draws the run
    /// directory, and prints the debrief.
    fn debrief(&self, run: &RunDir) -> Result<ExitCode> {
        report::render_run(run)?;
        let story = self.story();
        let events = run.read_events()?;
        let windows = run.read_windows()?;
        let checkout: Vec<_> = windows.iter().filter(|w| w.op == crate::analysis::FOCUS_OP).collect();
        let ended = Some(score::what_ended(&events, &checkout));
        let score = score::score(&events, story, self.drawn.start, &self.scenario.name, self.seed, ended);
        let best = score::best_earlier(&self.args.out, &score);
        run.write_json(SCORE_JSON, &score)?;
        let reference = self
            .scenario
            .training
            .as_ref()
            .map(|t| t.reference.clone())
            .unwrap_or_default();
        let culprit = self.faults.iter().find(|f| f.name == story.culprit);
        let explained = culprit.map_or(String::new(), |f| f.description.clone());
        let actions: Vec<String> = events
            .iter()
            .filter(|e| e.kind == EventKind::TraineeAction)
            .map(|e| e.name.clone())
            .collect();
        let revealed = run.file(REVEALED_TOML);
        let whatif = score::whatif_said(&self.args.out, &self.scenario.name, &revealed, &actions);
        let md = score::debrief(&score, story, &reference, best.as_ref(), &explained, &whatif);
        std::fs::write(run.file(DEBRIEF_MD), &md)?;
        println!("{md}\nresults: {}", run.path.display());
        Ok(ExitCode::SUCCESS)
    }
}

/// The run's scenario with its hidden fault, written after the run: `whatif` and `run` replay it.
const REVEALED_TOML: &str = "revealed.toml";

/// Sends stdin's lines as commands until it ends (commands from a script or a test).
fn read_stdin(lines: UnboundedSender<String>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { return };
            if !line.trim().is_empty() && lines.send(line).is_err() {
                return;
            }
        }
    });
}

/// Acts on the trainee's commands and watches the database for the mitigation and the
/// recovery.
struct Trainee<S: Store> {
    store: Arc<S>,
    injector: Arc<Injector<S>>,
    guards: Arc<Guards>,
    bus: EventBus,
    stop: Arc<tokio::sync::Notify>,
    console: Console,
    culprit: Watched,
    plain: bool,
    /// The run's last window: from the one before it, nothing is detected, since the replay
    /// then rolls back what is left on its own, and that is not the trainee's mitigation.
    last_window: u64,
    /// The blocking session last printed (without a terminal).
    blocker_shown: Option<i64>,
}

impl<S: Store> Trainee<S> {
    /// Until the replay ends (it is dropped then): each command as it comes, and a look at the
    /// database twice a window, so a mitigation is found within one.
    async fn act_and_watch(mut self, mut commands: UnboundedReceiver<String>, window: Duration) -> Infallible {
        let mut ticks = tokio::time::interval(window / 2);
        let mut open = true;
        loop {
            tokio::select! {
                line = commands.recv(), if open => match line {
                    Some(line) => self.command(&line).await,
                    None => open = false,
                },
                _ = ticks.tick() => self.watch(window).await,
            }
        }
    }

    fn say(&self, line: &str) {
        self.console.with(|live| {
            let clock = live.clock.clone();
            live.say(&format!("{clock} {line}"))
        });
        if self.plain {
            crate::progress::line(&format!("train: {line}"));
        }
    }

    async fn command(&self, line: &str) {
        let command = match line.parse::<Command>() {
            Ok(c) => c,
            Err(e) => return self.say(&e),
        };
        match command {
            Command::Diagnose(cause) => {
                self.bus.emit(EventKind::TraineeDiagnosis, &cause, "");
                self.say(&format!("diagnosis recorded: {cause}"));
            }
            Command::Rollback(name) => {
                let applied = self.injector.applied().iter().any(|f| f.name == name);
                let outcome = if applied {
                    let injector = self.injector.clone();
                    tokio::spawn(async move { injector.rollback(&name).await });
                    "rolling back".to_string()
                } else {
                    "no effect: no such fault is applied".to_string()
                };
                self.bus.emit(EventKind::TraineeAction, line.trim(), &outcome);
            }
            Command::Kill(id) => {
                let outcome = match self.store.terminate(id).await {
                    Ok(true) => format!("session {id} ended"),
                    Ok(false) => format!("no effect: no session {id}"),
                    Err(e) => format!("failed: {e}"),
                };
                self.bus.emit(EventKind::TraineeAction, line.trim(), &outcome);
            }
            Command::Shed => {
                // The AppSink sheds on this event, as it does at an alert when the scenario asks.
                let detail = "the app admits only what the database served before the trouble";
                self.bus.emit(EventKind::TraineeAction, replay::SHED_COMMAND, detail);
            }
            Command::RetriesOff => {
                self.guards.retries_off();
                let detail = "no more retries: a shopper whose checkout fails leaves";
                self.bus.emit(EventKind::TraineeAction, "retries off", detail);
            }
            Command::RetryBudget(share) => {
                self.guards.budget.set(share);
                let detail = format!(
                    "retries only while under {:.0}% of the requests (over 10 s)",
                    share * 100.0
                );
                self.bus
                    .emit(EventKind::TraineeAction, &format!("retry-budget {share}"), &detail);
            }
            Command::Quit => {
                self.bus.emit(EventKind::TraineeAction, "quit", "gave up");
                self.stop.notify_one();
            }
        }
    }

    /// The session at the head of the lock waits goes on the console; without a terminal, a
    /// line when it changes (what a trainee at a terminal reads off the screen).
    fn show_blocker(&mut self, blocker: Option<store::Blocker>) {
        let now = blocker.as_ref().filter(|b| b.blocking > 0).map(|b| b.id);
        if self.plain && now != self.blocker_shown {
            match &blocker {
                Some(b) if b.blocking > 0 => self.say(&format!(
                    "session {} blocks {} sessions: {}, transaction open {:.0} s: {}",
                    b.id, b.blocking, b.state, b.age_s, b.query
                )),
                _ => self.say("no session blocks others"),
            }
        }
        self.blocker_shown = now;
        self.console.with(|live| live.blocker = blocker);
    }

    /// Shows the session holding others up, detects the mitigation, and ends the run once
    /// checkout has recovered after it.
    async fn watch(&mut self, window: Duration) {
        if let Ok(Ok(blocker)) = tokio::time::timeout(window, self.store.blocker()).await {
            self.show_blocker(blocker);
        }
        // The last window's close may reach the console after the wind-down's rollback began.
        let closed = self.console.with(|live| live.windows);
        if self.culprit.gone_at.is_none() && closed + 1 < self.last_window {
            if let Some(how) = self.culprit.look(&*self.store, &self.injector, window).await {
                self.bus
                    .emit(EventKind::MitigationDetected, &self.culprit.fault.name, &how);
                self.culprit.gone_at = Some(self.console.with(|live| live.windows));
            }
        } else if let Some(at) = self.culprit.gone_at {
            let (windows, clear) = self.console.with(|live| (live.windows, live.firing.is_empty()));
            if windows > at + 1 && clear {
                self.say("checkout has recovered: the run ends");
                self.stop.notify_one();
            }
        }
    }
}

/// The fault whose removal mitigates, and what has been seen of it.
struct Watched {
    fault: Fault,
    /// The injector applied it.
    started: bool,
    /// It was seen in the database (its index, its session).
    seen: bool,
    /// The window after which it was found gone.
    gone_at: Option<u64>,
}

impl Watched {
    fn new(fault: Fault) -> Watched {
        Watched {
            fault,
            started: false,
            seen: false,
            gone_at: None,
        }
    }

    /// Whether the fault is gone, and how: rolled back through outage-sim, or its index
    /// dropped or its session ended from outside (psql, mysql).
    async fn look<S: Store>(&mut self, store: &S, injector: &Injector<S>, window: Duration) -> Option<String> {
        let name = &self.fault.name;
        let applied = injector.applied().iter().any(|f| &f.name == name);
        self.started |= applied;
        if !self.started {
            return None;
        }
        if !applied {
            return Some("rolled back".into());
        }
        // A database that does not answer within a window (a build holding SQLite's writer)
        // tells nothing this time.
        let (present, what) = if self.fault.holds_session {
            let id = injector.held_session_id(name)?;
            let alive = tokio::time::timeout(window, store.session_alive(id)).await;
            (alive, format!("its session {id} ended"))
        } else {
            let index = faults::index_created(&self.fault.up)?;
            let exists = tokio::time::timeout(window, store.index_exists(&index)).await;
            (exists, format!("index {index} dropped"))
        };
        let present = present.ok()?.ok()?;
        self.seen |= present;
        (self.seen && !present).then(|| format!("{what} outside outage-sim"))
    }
}
