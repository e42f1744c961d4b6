//! The headroom of a scenario's peak: the largest load scale at which every replay of an
//! ensemble still passes its alert rules. The scale grows (or shrinks) by half until the
//! verdict flips, then the bracket is bisected, within a bounded number of scales.

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// One scale of the study: an ensemble of replays at that scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    pub scale: f64,
    /// Every replay at this scale passed.
    pub passed: bool,
    /// How many of the ensemble's replays passed, of how many.
    #[serde(default)]
    pub passes: usize,
    #[serde(default)]
    pub n: usize,
    /// The first alert rule that fired, if one did, or the lock stall.
    pub fired: Option<String>,
    /// It failed because checkout stalled behind the fault's lock (not on its alert rules).
    #[serde(default)]
    pub blocked: bool,
    /// Its ensemble's directory.
    pub run_dir: String,
}

/// What a study found for one configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headroom {
    /// The highest scale that passed (`None`: even the lowest tried failed).
    pub passes_up_to: Option<f64>,
    /// The lowest scale that failed (`None`: even the highest tried passed).
    pub fails_from: Option<f64>,
    pub replays: Vec<Replay>,
}

/// Bisects the scale between the last pass and the first failure, starting at 1.0, until the
/// bracket is within `resolution` (a ratio, e.g. 1.1) or `max_scales` have been tried.
///
/// A scale holds only when every replay of its ensemble passes: at the edge one replay of a
/// scale passed where three direct runs of it failed (docs/capacity.md), and a planner needs
/// the load that holds, not one that held once.
pub async fn search(
    max_scales: usize,
    resolution: f64,
    mut replay: impl AsyncFnMut(f64) -> Result<Replay>,
) -> Result<Headroom> {
    let (mut pass, mut fail): (Option<f64>, Option<f64>) = (None, None);
    let mut replays = Vec::new();
    let mut scale: f64 = 1.0;
    while replays.len() < max_scales {
        let r = replay(scale).await?;
        if r.passed {
            pass = Some(pass.map_or(scale, |p| p.max(scale)));
        } else {
            fail = Some(fail.map_or(scale, |f| f.min(scale)));
        }
        replays.push(r);
        scale = match (pass, fail) {
            (Some(p), None) => p * 1.5,
            (None, Some(f)) => f / 1.5,
            (Some(p), Some(f)) if f / p <= resolution => break,
            (Some(p), Some(f)) => (p + f) / 2.0,
            (None, None) => unreachable!("a replay either passes or fails"),
        };
    }
    Ok(Headroom {
        passes_up_to: pass,
        fails_from: fail,
        replays,
    })
}

impl Replay {
    /// `pass`, or `fail: ` and what fired.
    pub fn verdict(&self) -> String {
        let counts = format!("{} of {} passed", self.passes, self.n);
        match (self.passed, &self.fired) {
            (true, _) => format!("holds ({counts})"),
            (false, Some(what)) => format!("fails ({counts}; {what})"),
            (false, None) => format!("fails ({counts})"),
        }
    }
}

impl Headroom {
    /// `: ` and what fired in the replays at `scale`, or nothing.
    pub fn fired_at(&self, scale: f64) -> String {
        self.replays
            .iter()
            .find(|r| r.scale == scale && !r.passed)
            .and_then(|r| r.fired.clone())
            .map_or(String::new(), |what| format!(": {what}"))
    }

    /// "5 of 5" for the replays at `scale`.
    pub fn counts_at(&self, scale: f64) -> String {
        self.replays
            .iter()
            .find(|r| r.scale == scale)
            .map_or(String::new(), |r| format!("{} of {} passed", r.passes, r.n))
    }

    /// E.g. "holds at 1.31× (3 of 3 passed); fails at 1.41× (1 of 3 passed: checkout p99 above 250 ms)".
    pub fn describe(&self) -> String {
        let fired = |scale: f64| self.fired_at(scale);
        let counts = |scale: f64| self.counts_at(scale);
        match (self.passes_up_to, self.fails_from) {
            (Some(p), Some(f)) => format!(
                "holds at {p:.2}× ({}); fails at {f:.2}× ({}{})",
                counts(p),
                counts(f),
                fired(f)
            ),
            (Some(p), None) => format!("holds at {p:.2}× ({}) at least: nothing higher was tried", counts(p)),
            (None, Some(f)) => format!("fails even at {f:.2}× ({}{})", counts(f), fired(f)),
            (None, None) => "no replay ran".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ensemble of three at `scale` of which `passes` passed; a failure fired "slow".
    fn replay(scale: f64, passes: usize) -> Result<Replay> {
        Ok(Replay {
            scale,
            passed: passes == 3,
            passes,
            n: 3,
            fired: (passes < 3).then(|| "slow".to_string()),
            blocked: false,
            run_dir: String::new(),
        })
    }

    fn at_limit(limit: f64) -> impl AsyncFnMut(f64) -> Result<Replay> {
        move |scale: f64| async move { replay(scale, if scale <= limit { 3 } else { 0 }) }
    }

    #[tokio::test]
    async fn the_search_brackets_the_limit_within_eight_scales() {
        for limit in [0.3, 0.95, 1.0, 1.35, 2.9] {
            let h = search(8, 1.1, at_limit(limit)).await.unwrap();
            let (p, f) = (h.passes_up_to.unwrap(), h.fails_from.unwrap());
            assert!(p <= limit && limit < f, "{limit}: {h:?}");
            assert!(f / p <= 1.1 || h.replays.len() >= 8, "{limit}: {h:?}");
            assert!(h.replays.len() <= 8);
        }
        let h = search(8, 1.1, at_limit(1.35)).await.unwrap();
        assert_eq!(
            h.describe(),
            "holds at 1.25× (3 of 3 passed); fails at 1.38× (0 of 3 passed: slow)"
        );
    }

    #[tokio::test]
    async fn a_scale_where_two_of_three_pass_does_not_hold() {
        let h = search(8, 1.1, async |scale: f64| {
            replay(scale, if scale <= 1.2 { 3 } else { 2 })
        })
        .await
        .unwrap();
        let tried: Vec<(f64, bool)> = h.replays.iter().map(|r| (r.scale, r.passed)).collect();
        assert_eq!(tried[..2], [(1.0, true), (1.5, false)]);
        assert!(h.fails_from.unwrap() > 1.2 && h.passes_up_to.unwrap() <= 1.2, "{h:?}");
        assert!(h.describe().contains("(2 of 3 passed: slow)"), "{}", h.describe());
    }

    #[tokio::test]
    async fn a_scenario_that_never_fails_or_always_fails_says_so() {
        let h = search(2, 1.1, at_limit(100.0)).await.unwrap();
        assert_eq!((h.passes_up_to, h.fails_from, h.replays.len()), (Some(1.5), None, 2));
        assert!(h.describe().contains("at least"));
        let h = search(3, 1.1, at_limit(0.0)).await.unwrap();
        assert_eq!(h.passes_up_to, None);
        assert!(h.describe().starts_with("fails even at"));
    }
}
