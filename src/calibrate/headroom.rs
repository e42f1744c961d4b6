//! The headroom of a scenario's peak: the largest load scale at which a replay still passes its
//! alert rules, twice in a row. The scale grows (or shrinks) by half until the verdict flips,
//! then the bracket is bisected, within a bounded number of replays.

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// One replay of the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    pub scale: f64,
    pub passed: bool,
    /// The first alert rule that fired, if one did, or the lock stall.
    pub fired: Option<String>,
    /// It failed because checkout stalled behind the fault's lock (not on its alert rules).
    #[serde(default)]
    pub blocked: bool,
    /// Its run directory.
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
/// bracket is within `resolution` (a ratio, e.g. 1.1) or `max_replays` have run.
///
/// A scale holds only when its replay passes twice in a row: at the edge one replay of a scale
/// passed where three direct runs of it failed (docs/capacity.md), and a planner needs the load
/// that holds, not one that held once. A failure counts at once. So a scale is tried only while
/// two replays are left, enough to confirm a pass.
pub async fn search(
    max_replays: usize,
    resolution: f64,
    mut replay: impl AsyncFnMut(f64) -> Result<Replay>,
) -> Result<Headroom> {
    let (mut pass, mut fail): (Option<f64>, Option<f64>) = (None, None);
    let mut replays = Vec::new();
    let mut scale: f64 = 1.0;
    while replays.len() + 2 <= max_replays {
        let mut r = replay(scale).await?;
        if r.passed {
            replays.push(r);
            r = replay(scale).await?;
        }
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
        match (self.passed, &self.fired) {
            (true, _) => "pass".into(),
            (false, Some(what)) => format!("fail: {what}"),
            (false, None) => "fail".into(),
        }
    }
}

impl Headroom {
    /// `: ` and what fired in the replay at `scale`, or nothing.
    pub fn fired_at(&self, scale: f64) -> String {
        self.replays
            .iter()
            .find(|r| r.scale == scale && !r.passed)
            .and_then(|r| r.fired.clone())
            .map_or(String::new(), |what| format!(": {what}"))
    }

    /// E.g. "holds up to 1.31× (fails at 1.41×: checkout p99 above 250 ms)".
    pub fn describe(&self) -> String {
        let fired = |scale: f64| self.fired_at(scale);
        match (self.passes_up_to, self.fails_from) {
            (Some(p), Some(f)) => format!("holds up to {p:.2}× (fails at {f:.2}×{})", fired(f)),
            (Some(p), None) => format!("holds up to {p:.2}× at least (no replay failed)"),
            (None, Some(f)) => format!("fails even at {f:.2}×{}", fired(f)),
            (None, None) => "no replay ran".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replay at `scale` with its verdict; a failure fired "slow".
    fn replay(scale: f64, passed: bool) -> Result<Replay> {
        Ok(Replay {
            scale,
            passed,
            fired: (!passed).then(|| "slow".to_string()),
            blocked: false,
            run_dir: String::new(),
        })
    }

    fn at_limit(limit: f64) -> impl AsyncFnMut(f64) -> Result<Replay> {
        move |scale: f64| async move { replay(scale, scale <= limit) }
    }

    #[tokio::test]
    async fn the_search_brackets_the_limit_within_eight_replays() {
        for limit in [0.3, 0.95, 1.0, 1.35, 2.9] {
            let h = search(8, 1.1, at_limit(limit)).await.unwrap();
            let (p, f) = (h.passes_up_to.unwrap(), h.fails_from.unwrap());
            assert!(p <= limit && limit < f, "{limit}: {h:?}");
            assert!(f / p <= 1.1 || h.replays.len() + 1 >= 8, "{limit}: {h:?}");
            assert!(h.replays.len() <= 8);
        }
        let h = search(8, 1.1, at_limit(1.35)).await.unwrap();
        assert!(
            h.describe().starts_with("holds up to 1.25× (fails at 1.38×"),
            "{}",
            h.describe()
        );
        assert!(h.describe().ends_with(": slow)"), "{}", h.describe());
    }

    #[tokio::test]
    async fn a_scale_that_passes_once_and_then_fails_does_not_hold() {
        // The edge is at 1.2, but the first replay above it passes by luck.
        let mut lucky = true;
        let h = search(8, 1.1, async |scale: f64| {
            replay(scale, scale <= 1.2 || std::mem::take(&mut lucky))
        })
        .await
        .unwrap();
        let tried: Vec<(f64, bool)> = h.replays.iter().map(|r| (r.scale, r.passed)).collect();
        assert_eq!(
            tried,
            [
                (1.0, true),
                (1.0, true),
                (1.5, true),
                (1.5, false),
                (1.25, false),
                (1.125, true),
                (1.125, true)
            ]
        );
        assert_eq!((h.passes_up_to, h.fails_from), (Some(1.125), Some(1.25)));
    }

    #[tokio::test]
    async fn a_scenario_that_never_fails_or_always_fails_says_so() {
        // Each scale that holds takes two replays: 1.0 and 1.5 in four.
        let h = search(4, 1.1, at_limit(100.0)).await.unwrap();
        assert_eq!((h.passes_up_to, h.fails_from, h.replays.len()), (Some(1.5), None, 4));
        assert!(h.describe().contains("at least"));
        let h = search(3, 1.1, at_limit(0.0)).await.unwrap();
        assert_eq!(h.passes_up_to, None);
        assert!(h.describe().starts_with("fails even at"));
    }
}
