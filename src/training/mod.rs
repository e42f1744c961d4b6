//! Training mode: a hidden fault drawn from the scenario's `[training]` candidates, the
//! trainee's commands, and the score and debrief of what they did against what really
//! happened. The console that shows the trainee the symptoms is `crate::console`.

pub mod score;

use rand::{RngExt, SeedableRng};

use crate::scenario::{ClockTime, Scenario};

/// A cause a trainee may name with `diagnose`: the real ones and the wrong leads the
/// postmortem's team chased.
pub const CAUSES: &[(&str, &str)] = &[
    (
        "index-build",
        "an index being built on a hot table (DDL that blocks or slows writes)",
    ),
    (
        "lock-queue",
        "a long transaction holding up DDL, with every query queued behind the DDL",
    ),
    ("batch-job", "a batch job's writes competing with checkout"),
    (
        "load-balancer",
        "the load balancer sending traffic unevenly (the team's first false lead)",
    ),
    ("app-deploy", "a bad application deploy (the team's second false lead)"),
    ("traffic-spike", "more shoppers than the database can serve"),
];

/// A story a training run can hide: the faults, in minutes after its drawn start, and the one
/// whose removal ends it.
#[derive(Debug, Clone, Copy)]
pub struct Story {
    pub name: &'static str,
    /// The right `diagnose` answer.
    pub cause: &'static str,
    /// Backends it runs on.
    pub dialects: &'static [&'static str],
    pub steps: &'static [(&'static str, u32, Option<u32>)],
    /// The fault whose removal (a rollback, a dropped index, a killed session) mitigates.
    pub culprit: &'static str,
    /// What happened, for the reveal.
    pub told: &'static str,
}

pub const STORIES: &[Story] = &[
    Story {
        name: "reporting-index",
        cause: "index-build",
        dialects: &["sqlite", "postgres", "mysql"],
        steps: &[("reporting-index", 0, None)],
        culprit: "reporting-index",
        told: "A \"reporting\" index was added to orders at the lunch peak. Its build took the \
               table's write lock (or the CPU), and once built, every checkout paid to maintain it.",
    },
    Story {
        name: "reporting-indexes",
        cause: "index-build",
        dialects: &["sqlite", "postgres", "mysql"],
        steps: &[("reporting-indexes", 0, None)],
        culprit: "reporting-indexes",
        told: "The reporting team's seven wide indexes went onto orders at the lunch peak, built \
               one after another. Each build held the table's writes (or the CPU) while it ran, \
               and every shopper whose checkout failed tried again: up to four checkouts each, \
               for as long as they kept failing.",
    },
    Story {
        name: "long-report",
        cause: "lock-queue",
        dialects: &["postgres", "mysql"],
        steps: &[("reporting-index", 0, Some(10)), ("long-report", 5, None)],
        culprit: "long-report",
        told: "A reporting index went in at the peak; a reporting job then opened a long read \
               transaction on orders, and the index's rollback (DROP INDEX, which needs an \
               exclusive lock) queued behind that report, with every checkout queued behind the DROP.",
    },
];

/// The story called `name`.
pub fn story(name: &str) -> Option<&'static Story> {
    STORIES.iter().find(|s| s.name == name)
}

/// What `train --causes` prints.
pub fn causes_text() -> String {
    CAUSES.iter().map(|(c, what)| format!("{c:14} {what}\n")).collect()
}

/// The hidden fault of one training run.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub story: &'static str,
    pub start: ClockTime,
}

/// Refuses a `[training]` candidate that names no story outage-sim knows (the scenario keeps
/// plain names; training owns the stories).
pub fn check_candidates(scenario: &Scenario) -> Result<(), String> {
    let Some(training) = &scenario.training else {
        return Ok(());
    };
    if let Some(bad) = training.candidates.iter().find(|c| story(c).is_none()) {
        let known: Vec<&str> = STORIES.iter().map(|s| s.name).collect();
        return Err(format!(
            "{}: training.candidates: unknown story {bad:?}; expected one of: {}",
            scenario.source.display(),
            known.join(", ")
        ));
    }
    Ok(())
}

/// Draws the story (among the candidates that run on `dialect`) and its start, from `seed`:
/// the same seed gives a class the same fault.
pub fn draw(scenario: &Scenario, dialect: &str, seed: u64) -> Result<Drawn, String> {
    let training = scenario.training.as_ref().ok_or_else(|| {
        format!(
            "{}: no [training] section to draw a fault from",
            scenario.source.display()
        )
    })?;
    check_candidates(scenario)?;
    let fits: Vec<&Story> = training
        .candidates
        .iter()
        .filter_map(|c| story(c))
        .filter(|s| s.dialects.contains(&dialect))
        .collect();
    if fits.is_empty() {
        return Err(format!(
            "{}: none of training.candidates ({}) runs on {dialect}",
            scenario.source.display(),
            training.candidates.join(", ")
        ));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let story = fits[rng.random_range(0..fits.len())];
    let (lo, hi) = (training.between.0.secs() / 60, training.between.1.secs() / 60);
    let minute = rng.random_range(lo..=hi);
    Ok(Drawn {
        story: story.name,
        start: ClockTime::from_secs(minute * 60),
    })
}

/// The scenario with its own faults replaced by the drawn story's, on its clock: an edit of
/// the file's keys, so the file it writes (`revealed.toml`, after the run) replays the same
/// fault (`whatif`, `run`).
pub fn hide(scenario: &Scenario, drawn: &Drawn) -> Result<Scenario, String> {
    let story = story(drawn.story).expect("drawn from the stories");
    let end = scenario.clock.end.secs();
    let at = |minutes: u32| {
        let t = ClockTime::from_secs((drawn.start.secs() + minutes * 60).min(end - 1));
        toml::Value::String(t.to_string())
    };
    let steps = story
        .steps
        .iter()
        .map(|&(name, apply, rollback)| {
            let mut step = toml::Table::new();
            step.insert("name".into(), toml::Value::String(name.into()));
            step.insert("apply".into(), at(apply));
            if let Some(r) = rollback {
                step.insert("rollback".into(), at(r));
            }
            toml::Value::Table(step)
        })
        .collect();
    scenario.edited(|t| {
        t.insert("faults".into(), toml::Value::Array(steps));
    })
}

/// A trainee's command: typed on the console or given on stdin, one a line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Diagnose(String),
    Rollback(String),
    Kill(i64),
    /// The app admits only what the database served before the trouble.
    Shed,
    /// Neither shoppers nor the app retry a failed checkout.
    RetriesOff,
    /// The app retries only while retries are under this share of its requests.
    RetryBudget(f64),
    Quit,
}

/// The commands a trainee can give, for the help line and errors.
pub const COMMANDS: &str =
    "diagnose CAUSE, rollback FAULT, kill PID, shed, retries off, retry-budget P (0 to 1, or a percentage), quit";

/// A retry budget's share: 0.1 or 10%.
fn share(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (text, 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|v| v / scale)
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| format!("retry-budget: expected a share from 0 to 1 or a percentage (0.1, 10%), got {text:?}"))
}

impl std::str::FromStr for Command {
    type Err = String;
    fn from_str(line: &str) -> Result<Command, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let causes = || CAUSES.iter().map(|c| c.0).collect::<Vec<_>>().join(", ");
        match words[..] {
            ["diagnose", cause] if CAUSES.iter().any(|c| c.0 == cause) => Ok(Command::Diagnose(cause.into())),
            ["diagnose", cause] => Err(format!("unknown cause {cause:?}; expected one of: {}", causes())),
            ["rollback", fault] => Ok(Command::Rollback(fault.into())),
            ["kill", pid] => pid
                .parse()
                .map(Command::Kill)
                .map_err(|_| format!("kill: expected a session id (a number), got {pid:?}")),
            ["shed"] => Ok(Command::Shed),
            ["retries", "off"] => Ok(Command::RetriesOff),
            ["retry-budget", p] => share(p).map(Command::RetryBudget),
            ["quit"] | ["give", "up"] => Ok(Command::Quit),
            _ => Err(format!(
                "expected one of: {COMMANDS} (causes: {}); got {line:?}",
                causes()
            )),
        }
    }
}

#[cfg(test)]
mod tests;
