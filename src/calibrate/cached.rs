//! Which capacity a run takes: `--capacity`, the latest `capacity.json` measured for the same
//! scenario, database and data, or (asked for) the old closed-loop probe.

use std::path::{Path, PathBuf};

use super::host::HostLoad;
use crate::results::{CAPACITY_JSON, Capacity};

/// What a calibration holds for: the workload (the scenario's mix, cart shape, limits and the
/// SLO), the backend, the database and data it ran on, and the cores the tool and database
/// shared, and the hold's speed, window, alert rules and peak length. Scenarios that differ only
/// in their faults, or in a clock and load curve with as long a peak at the same speed, share it.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub workload: String,
    pub backend: String,
    /// The redacted `--db` URL, or for the default SQLite the cached base file it copies.
    pub db_url: String,
    pub db_schema: Option<String>,
    pub data_fingerprint: String,
    pub cores: usize,
}

impl Key {
    pub fn of(c: &Capacity) -> Key {
        Key {
            workload: c.workload_fingerprint.clone(),
            backend: c.backend.clone(),
            db_url: c.db_url.clone(),
            db_schema: c.db_schema.clone(),
            data_fingerprint: c.data_fingerprint.clone(),
            cores: c.cores,
        }
    }
}

/// Where a run's capacity comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The load is in arrivals per second: no capacity is needed.
    NotNeeded,
    /// `--capacity N`.
    Given(f64),
    /// A calibration's sustained capacity without a fault.
    Calibrated {
        per_s: f64,
        /// The knee it was held down from.
        knee_per_s: f64,
        spread: f64,
        searches: usize,
        measured_at: String,
        file: PathBuf,
    },
    /// `--probe`: the short closed-loop probe, measured before the replay.
    Probe,
}

impl Source {
    /// From a calibration (its sustained capacity without a fault), if it has one.
    pub fn calibrated(file: PathBuf, c: &Capacity) -> Option<Source> {
        let cal = c.calibrations.iter().find(|c| c.fault.is_none())?;
        Some(Source::Calibrated {
            per_s: cal.sustained_per_s?,
            knee_per_s: cal.knee_per_s,
            spread: cal.spread,
            searches: cal.knees.len(),
            measured_at: c.measured_at.clone(),
            file,
        })
    }

    /// The capacity, when it is known before the run (given or calibrated).
    pub fn per_s(&self) -> Option<f64> {
        match self {
            Source::Given(per_s) | Source::Calibrated { per_s, .. } => Some(*per_s),
            Source::NotNeeded | Source::Probe => None,
        }
    }

    /// For `meta.json`: `--capacity`, `probe`, or `calibrate:FILE`.
    pub fn label(&self) -> Option<String> {
        match self {
            Source::NotNeeded => None,
            Source::Given(_) => Some("--capacity".into()),
            Source::Calibrated { file, .. } => Some(format!("calibrate:{}", file.display())),
            Source::Probe => Some("probe".into()),
        }
    }

    /// What the run says of it.
    pub fn describe(&self) -> Option<String> {
        match self {
            Source::NotNeeded | Source::Probe => None,
            Source::Given(n) => Some(format!("capacity: {n:.0} arrivals/s from --capacity (no probe)")),
            Source::Calibrated {
                per_s,
                knee_per_s,
                spread,
                searches,
                measured_at,
                file,
            } => Some(format!(
                "capacity: {per_s:.0} arrivals/s sustained for the peak ({:.2} of the knee {knee_per_s:.0}/s, \
                 the median of {searches} searches, spread {spread:.2}{}), calibrated {} ({})",
                per_s / knee_per_s.max(1e-9),
                if *spread > super::WIDE_SPREAD {
                    ": wide, so this run's load is uncertain by as much"
                } else {
                    ""
                },
                measured_at.get(..16).unwrap_or(measured_at).replace('T', " "),
                file.display()
            )),
        }
    }
}

/// The latest `capacity.json` directly under a directory of `out` whose calibration holds for
/// `key`, has a sustained capacity without a fault and was made on a quiet machine (see [`super::host`]).
/// Unreadable files are passed over.
pub fn latest(out: &Path, key: &Key) -> Option<(PathBuf, Capacity)> {
    matching(out, key)
        .filter(|(_, c)| !c.host.is_some_and(|h| h.busy()))
        .max_by(|a, b| a.1.measured_at.cmp(&b.1.measured_at))
}

/// The latest calibration for `key` made while the machine was busy, which runs pass over.
pub fn latest_busy(out: &Path, key: &Key) -> Option<(PathBuf, HostLoad)> {
    matching(out, key)
        .filter_map(|(file, c)| Some((file, c.host.filter(HostLoad::busy)?, c.measured_at)))
        .max_by(|a, b| a.2.cmp(&b.2))
        .map(|(file, host, _)| (file, host))
}

fn matching(out: &Path, key: &Key) -> impl Iterator<Item = (PathBuf, Capacity)> {
    let entries = std::fs::read_dir(out).into_iter().flatten();
    entries.filter_map(|e| {
        let file = e.ok()?.path().join(CAPACITY_JSON);
        let c: Capacity = serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
        let sustained = c
            .calibrations
            .iter()
            .any(|c| c.fault.is_none() && c.sustained_per_s.is_some());
        (Key::of(&c) == *key && sustained).then_some((file, c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Calibration;

    fn capacity(scenario: &str, at: &str, knee: f64) -> Capacity {
        Capacity {
            tool: "outage-sim".into(),
            version: "0".into(),
            scenario: scenario.into(),
            workload_fingerprint: format!("w-{scenario}"),
            backend: "sqlite".into(),
            db_url: "sqlite:base.db".into(),
            db_schema: None,
            server_version: String::new(),
            data_fingerprint: "f".into(),
            cores: 2,
            measured_at: at.into(),
            slo_p99_ms: 250.0,
            slo_success: 0.5,
            calibrations: vec![Calibration {
                fault: None,
                knee_per_s: knee,
                spread: 1.05,
                knees: vec![knee],
                steps: vec![],
                closed_loop_per_s: vec![],
                holds: vec![],
                sustained_per_s: Some(0.9 * knee),
            }],
            host: None,
        }
    }

    #[test]
    fn the_latest_matching_calibration_is_taken_and_others_passed_over() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |dir: &str, c: &Capacity| {
            std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
            std::fs::write(
                tmp.path().join(dir).join(CAPACITY_JSON),
                serde_json::to_string(c).unwrap(),
            )
            .unwrap();
        };
        let key = Key::of(&capacity("peak", "", 0.0));
        assert_eq!(key.workload, "w-peak");
        assert_eq!(latest(tmp.path(), &key), None);
        write("a", &capacity("peak", "2026-11-26T10:00:00Z", 3000.0));
        write("b", &capacity("peak", "2026-11-26T11:00:00Z", 3100.0));
        write("c", &capacity("other", "2026-11-26T12:00:00Z", 900.0));
        let mut other_data = capacity("peak", "2026-11-26T12:00:00Z", 800.0);
        other_data.data_fingerprint = "g".into();
        write("d", &other_data);
        std::fs::create_dir_all(tmp.path().join("e")).unwrap();
        std::fs::write(tmp.path().join("e").join(CAPACITY_JSON), "{ not json").unwrap();
        // Newer, but made while other work took a core: passed over, and named as such.
        let mut busy = capacity("peak", "2026-11-26T13:00:00Z", 2000.0);
        busy.host = Some(HostLoad {
            others_cores: 1.0,
            steal_cores: 0.0,
            cores: 2,
        });
        write("f", &busy);
        let (file, found) = latest(tmp.path(), &key).unwrap();
        assert_eq!(found.calibrations[0].knee_per_s, 3100.0);
        assert!(file.ends_with("b/capacity.json"));
        let (busy_file, load) = latest_busy(tmp.path(), &key).unwrap();
        assert!(busy_file.ends_with("f/capacity.json") && load.others_cores == 1.0);
        let source = Source::calibrated(file, &found).unwrap();
        assert!(
            source
                .describe()
                .unwrap()
                .contains("capacity: 2790 arrivals/s sustained for the peak (0.90 of the knee 3100/s, the median of 1 searches, spread 1.05), calibrated 2026-11-26 11:00")
        );
        let wide = Source::Calibrated {
            per_s: 2104.0,
            knee_per_s: 2200.0,
            spread: 1.52,
            searches: 3,
            measured_at: "2026-11-27T01:50:00Z".into(),
            file: "c/capacity.json".into(),
        };
        assert!(
            wide.describe()
                .unwrap()
                .contains("spread 1.52: wide, so this run's load is uncertain")
        );
    }
}

/// A text that changes with everything in a scenario a capacity depends on besides its data.
pub fn workload_fingerprint(scenario: &crate::scenario::Scenario, slo: &super::Slo) -> String {
    use std::hash::{Hash, Hasher};
    // Bumped when the requests' SQL changes what a checkout costs the database (2: PostgreSQL
    // sends a cart as scalars; 3: SQLite interrupts a report at its deadline; 4: SQLite sends a
    // checkout as one batch; 5: SQLite checkpoints on a schedule, not after each commit), so no
    // run takes a capacity measured with other statements.
    const REQUESTS_SQL: u32 = 5;
    // The hold that gives the sustained capacity runs at the scenario's speed and window, with
    // its alert rules, for its peak's length; bumped when the holds' search changes (2: down by
    // a ratio from 0.85, then once halfway back), so no run takes a capacity found another way.
    const HOLD_SEARCH: u32 = 2;
    let shape = format!(
        "{:?} {:?} {:?} {slo:?} sql {REQUESTS_SQL} hold {HOLD_SEARCH} {} {:?} {:?} {}",
        scenario.mix,
        scenario.checkout,
        scenario.limits,
        scenario.clock.speed,
        scenario.run.window,
        scenario.alerts,
        super::hold::peak_real_secs(scenario)
    );
    let mut h = std::collections::hash_map::DefaultHasher::new();
    shape.hash(&mut h);
    format!("{:016x}", h.finish())
}
