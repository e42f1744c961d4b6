//! The live console of `train`: one more sink of the replay, so the trainee sees the same
//! windows, samples and events the results get — checkout as sparklines, the alerts, the
//! database monitor and the session holding others up, and an event log — and types commands
//! on its input line. Fault events stay hidden: finding the fault is the exercise.

use std::collections::{BTreeMap, VecDeque};
use std::io::Stdout;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{execute, terminal};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Sparkline};
use tokio::sync::mpsc::UnboundedSender;

use crate::replay::{Sink, Window};
use crate::results::{DbSample, EventKind, EventRow};
use crate::scenario::{AlertMetric, AlertRule, Op};
use crate::store::Blocker;

/// How many windows the sparklines keep.
const HISTORY: usize = 240;
/// How many lines the event log keeps.
const LOG: usize = 200;

/// What the trainee can see of the run, as it goes.
#[derive(Debug, Default)]
pub struct Live {
    pub title: String,
    /// Incident seconds per real second, to show rates per real second.
    pub speed: f64,
    pub clock: String,
    pub ok_per_s: VecDeque<u64>,
    /// Per window, the share of checkout's shoppers done in it who could not buy, percent.
    pub lost_pct: VecDeque<u64>,
    pub p99_ms: VecDeque<u64>,
    /// The incident clock (HH:MM) of each window the sparklines keep: their time axis.
    pub clocks: VecDeque<String>,
    /// The alert thresholds on checkout: p99 above (ms), success ratio below.
    pub p99_alert: Option<f64>,
    pub success_alert: Option<f64>,
    /// Firing alerts and since when.
    pub firing: BTreeMap<String, String>,
    /// The monitor's latest values, in their units (counters as rates per second).
    pub db: BTreeMap<String, String>,
    /// Each counter's last (real seconds, value), for its rate.
    db_counters: BTreeMap<String, (f64, f64)>,
    pub blocker: Option<Blocker>,
    pub log: VecDeque<String>,
    pub input: String,
    /// Windows closed so far.
    pub windows: u64,
}

impl Live {
    fn window(&mut self, w: &Window) {
        let c = w.op(Op::Checkout);
        let real_secs = w.sim_secs / self.speed.max(1e-9);
        let per_s = |n: u64| (n as f64 / real_secs).round() as u64;
        push(&mut self.ok_per_s, per_s(c.ok), HISTORY);
        let lost = c.lost_share().unwrap_or(0.0);
        push(&mut self.lost_pct, (lost * 100.0).round() as u64, HISTORY);
        push(&mut self.p99_ms, c.p99_ms.unwrap_or(0.0).round() as u64, HISTORY);
        push(
            &mut self.clocks,
            c.clock.get(..5).unwrap_or(&c.clock).to_string(),
            HISTORY,
        );
        self.clock = c.clock.clone();
        self.windows = w.index;
    }

    fn event(&mut self, e: &EventRow) {
        let line = match e.kind {
            EventKind::AlertFired => {
                self.firing.insert(e.name.clone(), e.clock.clone());
                format!("ALERT fired: {} ({})", e.name, e.detail)
            }
            EventKind::AlertResolved => {
                self.firing.remove(&e.name);
                format!("alert resolved: {}", e.name)
            }
            EventKind::TraineeDiagnosis => format!("you: diagnose {}", e.name),
            EventKind::TraineeAction => format!("you: {} ({})", e.name, e.detail),
            EventKind::MitigationDetected => "checkout's cause is gone: watch it recover".to_string(),
            _ => return, // fault events: the trainee finds the fault
        };
        self.say(&format!("{} {line}", e.clock));
    }

    /// A monitor sample in its unit: sizes in MB, durations in s, counters as a rate (from the
    /// second sample on).
    fn sample(&mut self, s: &DbSample) {
        let (name, shown) = match s.metric.strip_suffix("_total") {
            Some(name) => {
                let last = self.db_counters.insert(s.metric.clone(), (s.t_s, s.value));
                let Some((t, v)) = last else { return };
                (name, format!("{:.0}/s", (s.value - v) / (s.t_s - t).max(1e-3)))
            }
            None if s.metric.ends_with("_bytes") => (s.metric.as_str(), format!("{:.1} MB", s.value / 1e6)),
            None if s.metric.ends_with("_s") => (s.metric.as_str(), format!("{:.1} s", s.value)),
            None => (s.metric.as_str(), format!("{:.0}", s.value)),
        };
        self.db.insert(name.to_string(), shown);
    }

    /// One line in the event log.
    pub fn say(&mut self, line: &str) {
        push(&mut self.log, line.to_string(), LOG);
    }
}

fn push<T>(queue: &mut VecDeque<T>, value: T, keep: usize) {
    if queue.len() == keep {
        queue.pop_front();
    }
    queue.push_back(value);
}

/// The live state and, on a terminal, the screen it is drawn on.
pub struct Shared {
    pub live: Live,
    screen: Option<Terminal<CrosstermBackend<Stdout>>>,
}

impl Shared {
    fn draw(&mut self) {
        if let Some(screen) = self.screen.as_mut() {
            let _ = screen.draw(|f| render(f, &self.live));
        }
    }
}

/// The console sink; clones share one state.
#[derive(Clone)]
pub struct Console(pub Arc<Mutex<Shared>>);

impl Console {
    /// A console drawn on the terminal (full screen, raw mode until dropped), or, with
    /// `screen = false`, only the live state (the train command prints lines instead).
    pub fn new(title: String, speed: f64, alerts: &[AlertRule], screen: bool) -> Result<Console> {
        let screen = if screen {
            terminal::enable_raw_mode()?;
            execute!(std::io::stdout(), terminal::EnterAlternateScreen)?;
            Some(Terminal::new(CrosstermBackend::new(std::io::stdout()))?)
        } else {
            None
        };
        let checkout = |metric: AlertMetric, above: bool| {
            alerts
                .iter()
                .find(|r| r.op == Op::Checkout && r.metric == metric && r.above == above)
                .map(|r| r.threshold)
        };
        let live = Live {
            title,
            speed,
            p99_alert: checkout(AlertMetric::P99Ms, true),
            success_alert: checkout(AlertMetric::SuccessRatio, false),
            ..Default::default()
        };
        Ok(Console(Arc::new(Mutex::new(Shared { live, screen }))))
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        let mut shared = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut shared.live);
        shared.draw();
        out
    }

    /// Leaves the full screen, if it was taken.
    pub fn close(&self) {
        let mut shared = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if shared.screen.take().is_some() {
            let _ = terminal::disable_raw_mode();
            let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen);
        }
    }

    /// Reads keys on a thread of its own until `done`: typed text edits the input line, Enter
    /// sends it as a command line, Ctrl-C sends `quit`.
    pub fn read_keys(&self, lines: UnboundedSender<String>, done: Arc<std::sync::atomic::AtomicBool>) {
        let console = self.clone();
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if !event::poll(Duration::from_millis(100)).unwrap_or(false) {
                    continue;
                }
                let Ok(Event::Key(key)) = event::read() else { continue };
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                let sent = console.with(|live| match key.code {
                    KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Some("quit".to_string()),
                    KeyCode::Char(c) => {
                        live.input.push(c);
                        None
                    }
                    KeyCode::Backspace => {
                        live.input.pop();
                        None
                    }
                    KeyCode::Esc => {
                        live.input.clear();
                        None
                    }
                    KeyCode::Enter => Some(std::mem::take(&mut live.input)),
                    _ => None,
                });
                if let Some(line) = sent
                    && lines.send(line).is_err()
                {
                    return;
                }
            }
        });
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if self.screen.take().is_some() {
            let _ = terminal::disable_raw_mode();
            let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen);
        }
    }
}

impl Sink for Console {
    fn window(&mut self, w: &Window) -> Result<()> {
        self.with(|live| live.window(w));
        Ok(())
    }
    fn event(&mut self, e: &EventRow) -> Result<()> {
        self.with(|live| live.event(e));
        Ok(())
    }
    fn db(&mut self, samples: &[DbSample]) -> Result<()> {
        self.with(|live| {
            for s in samples.iter().filter(|s| !s.metric.contains(':')) {
                live.sample(s);
            }
        });
        Ok(())
    }
}

/// The whole screen: title, three sparklines over the incident clock, alerts beside the
/// database, the latest events, the input.
fn render(f: &mut ratatui::Frame, live: &Live) {
    let db = db_lines(live);
    let middle_height = (db.len().max(live.firing.len() + 1) as u16 + 2).max(5);
    let [title, charts, middle, log, input, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(9),
        Constraint::Length(middle_height),
        Constraint::Length(9),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .areas(f.area());
    f.render_widget(
        Line::from(format!(" {}   incident clock {}", live.title, live.clock)).bold(),
        title,
    );
    let [ok, lost, p99] = Layout::horizontal([Constraint::Ratio(1, 3); 3]).areas(charts);
    let alert_below = live.success_alert.map(|t| format!("alert: success below {t}"));
    sparkline(
        f,
        ok,
        live,
        ("checkout ok/s", &live.ok_per_s, Color::LightGreen),
        (None, alert_below),
    );
    let lost_line = (
        "shoppers who could not buy %",
        &live.lost_pct,
        Color::Rgb(255, 120, 120),
    );
    sparkline(f, lost, live, lost_line, (Some(50), None));
    let p99_line = ("checkout p99 ms", &live.p99_ms, Color::LightYellow);
    let p99_alert = live
        .p99_alert
        .map(|t| (t.round() as u64, format!("alert above {t:.0} ms")));
    sparkline(
        f,
        p99,
        live,
        p99_line,
        (p99_alert.as_ref().map(|a| a.0), p99_alert.map(|a| a.1)),
    );
    let [alerts, database] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(middle);
    let firing: Vec<Line> = if live.firing.is_empty() {
        vec![Line::from("none firing").light_green()]
    } else {
        live.firing
            .iter()
            .map(|(name, since)| {
                Line::from(format!("{name} (since {since})"))
                    .fg(Color::Rgb(255, 120, 120))
                    .bold()
            })
            .collect()
    };
    f.render_widget(
        Paragraph::new(firing).block(Block::bordered().title(" alerts ")),
        alerts,
    );
    f.render_widget(
        Paragraph::new(db).block(Block::bordered().title(" database ")),
        database,
    );
    let shown = (log.height as usize).saturating_sub(2);
    let lines: Vec<Line> = live
        .log
        .iter()
        .skip(live.log.len().saturating_sub(shown))
        .map(|l| Line::from(l.as_str()))
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" latest events ")),
        log,
    );
    let help = " diagnose CAUSE · rollback FAULT · kill PID · shed · retries off · retry-budget P · quit (Enter sends; --causes lists causes) ";
    f.render_widget(
        Paragraph::new(format!("> {}", live.input)).block(Block::bordered().title(help)),
        input,
    );
}

/// A sparkline of the last windows that fit, its value now in the title (red past `alert`),
/// the incident clock of its first and last window below it.
fn sparkline(
    f: &mut ratatui::Frame,
    area: Rect,
    live: &Live,
    (name, values, color): (&str, &VecDeque<u64>, Color),
    (alert, said): (Option<u64>, Option<String>),
) {
    let width = area.width.saturating_sub(2) as usize;
    let skip = values.len().saturating_sub(width);
    let data: Vec<u64> = values.iter().skip(skip).copied().collect();
    let now = data.last().map_or("-".into(), |v| v.to_string());
    let over = matches!((data.last(), alert), (Some(v), Some(a)) if *v > a);
    let mut title = Line::from(format!(" {name}: {now} "));
    if over {
        title = title.fg(Color::Rgb(255, 120, 120)).bold();
    }
    let first = live.clocks.get(skip).map_or("", String::as_str);
    let last = live.clocks.back().map_or("", String::as_str);
    let mut block = Block::bordered()
        .title(title)
        .title_bottom(Line::from(format!(" {first} ")).left_aligned())
        .title_bottom(Line::from(format!(" {last} ")).right_aligned());
    if let Some(said) = said {
        block = block.title_bottom(Line::from(format!(" {said} ")).centered());
    }
    f.render_widget(
        Sparkline::default()
            .block(block)
            .data(&data)
            .style(Style::new().fg(color)),
        area,
    );
}

fn db_lines(live: &Live) -> Vec<Line<'_>> {
    let mut lines: Vec<Line> = live.db.iter().map(|(k, v)| Line::from(format!("{k}: {v}"))).collect();
    match &live.blocker {
        Some(b) => {
            let who = if b.blocking > 0 {
                format!("blocking {} sessions", b.blocking)
            } else {
                "oldest transaction".to_string()
            };
            lines.push(
                Line::from(format!("session {} ({who}): {}, open {:.0} s", b.id, b.state, b.age_s)).light_yellow(),
            );
            lines.push(Line::from(format!("  {}", b.query)).light_yellow());
        }
        None => lines.push(Line::from("no session holds others up")),
    }
    lines
}
