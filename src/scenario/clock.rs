//! The incident clock: wall-clock times of the incident day, and how they map to real seconds.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A time of day on the incident clock, in whole seconds since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u32);

impl ClockTime {
    pub const fn from_secs(secs: u32) -> Self {
        ClockTime(secs)
    }
    pub fn secs(self) -> u32 {
        self.0
    }
}

impl FromStr for ClockTime {
    type Err = String;
    /// Accepts `HH:MM` or `HH:MM:SS` (24-hour).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || format!("expected a time of day as HH:MM or HH:MM:SS, got {s:?}");
        let parts: Vec<&str> = s.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
            return Err(expected());
        }
        let nums: Vec<u32> = parts
            .iter()
            .map(|p| p.parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| expected())?;
        let (h, m, sec) = (nums[0], nums[1], nums.get(2).copied().unwrap_or(0));
        if h > 23 || m > 59 || sec > 59 {
            return Err(expected());
        }
        Ok(ClockTime(h * 3600 + m * 60 + sec))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// The incident clock of one run: which stretch of the day is replayed, and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentClock {
    /// The incident's date, `YYYY-MM-DD`, used for order timestamps.
    pub date: String,
    pub start: ClockTime,
    pub end: ClockTime,
    /// Simulated seconds per real second.
    pub speed: f64,
}

impl IncidentClock {
    /// Simulated length of the replay.
    pub fn simulated(&self) -> Duration {
        Duration::from_secs(u64::from(self.end.secs() - self.start.secs()))
    }

    /// Real length of the replay.
    pub fn real_duration(&self) -> Duration {
        Duration::from_secs_f64(self.simulated().as_secs_f64() / self.speed)
    }

    /// Real seconds since the run started at which the clock shows `t`.
    pub fn real_offset(&self, t: ClockTime) -> Duration {
        let sim = f64::from(t.secs()) - f64::from(self.start.secs());
        Duration::from_secs_f64((sim / self.speed).max(0.0))
    }

    /// Incident-clock seconds since midnight (fractional) after `real` real seconds.
    pub fn sim_secs_at(&self, real: Duration) -> f64 {
        f64::from(self.start.secs()) + real.as_secs_f64() * self.speed
    }

    /// The clock reading `HH:MM:SS` after `real` real seconds.
    pub fn at(&self, real: Duration) -> ClockTime {
        ClockTime(self.sim_secs_at(real).floor() as u32)
    }

    /// Unix seconds of midnight of the incident day (UTC).
    pub fn midnight_unix(&self) -> i64 {
        chrono::NaiveDate::parse_from_str(&self.date, "%Y-%m-%d")
            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_clock_times() {
        assert_eq!("12:45".parse::<ClockTime>().unwrap().secs(), 12 * 3600 + 45 * 60);
        assert_eq!("16:30:05".parse::<ClockTime>().unwrap().to_string(), "16:30:05");
        for bad in ["12", "24:00", "12:60", "1:00", "ab:cd", "12:00:00:00"] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn maps_clock_times_to_real_offsets_by_speed() {
        let clock = IncidentClock {
            date: "2024-06-08".into(),
            start: "12:00".parse().unwrap(),
            end: "16:30".parse().unwrap(),
            speed: 60.0,
        };
        assert_eq!(clock.real_duration(), Duration::from_secs(270));
        assert_eq!(clock.real_offset("13:00".parse().unwrap()), Duration::from_secs(60));
        assert_eq!(clock.at(Duration::from_secs(45)).to_string(), "12:45:00");
        assert_eq!(clock.midnight_unix(), 1_717_804_800);
    }
}
