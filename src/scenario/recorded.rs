//! Production's own traffic as a load curve: `[load] curve = "FILE.csv"` (`time,rate` rows) or
//! `requests = "FILE"` (one request timestamp a line, counted per window), stretched from the
//! file's first to its last time onto the incident clock.
//!
//! A time is seconds (any epoch, e.g. Unix time), `HH:MM[:SS]`, or RFC 3339.

use std::path::Path;

use super::clock::ClockTime;

/// What is wrong, and where: 1-based line (0: the file as a whole) and the column's name.
#[derive(Debug)]
pub struct FileError {
    pub line: usize,
    pub field: &'static str,
    pub message: String,
}

fn at(line: usize, field: &'static str, message: impl Into<String>) -> FileError {
    FileError {
        line,
        field,
        message: message.into(),
    }
}

/// Reads a `time,rate` CSV (a header line, then one row a sample, in time order).
pub fn read_curve(path: &Path) -> Result<Vec<(f64, f64)>, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_path(path)
        .map_err(|e| at(0, "(file)", format!("cannot read the curve: {e}")))?;
    let headers = reader.headers().map_err(|e| at(1, "(header)", e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(time), Some(rate)) = (column("time"), column("rate")) else {
        return Err(at(
            1,
            "(header)",
            format!(
                "expected a header naming columns time and rate, got {:?}",
                headers.iter().collect::<Vec<_>>()
            ),
        ));
    };
    let mut samples: Vec<(f64, f64)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| at(e.position().map_or(0, |p| p.line() as usize), "(row)", e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let t_text = record.get(time).unwrap_or("");
        let t = parse_time(t_text).ok_or_else(|| {
            at(
                line,
                "time",
                format!("expected seconds, HH:MM[:SS] or an RFC 3339 time, got {t_text:?}"),
            )
        })?;
        let r_text = record.get(rate).unwrap_or("");
        let r = r_text.parse::<f64>().ok().filter(|r| *r >= 0.0 && r.is_finite());
        let r = r.ok_or_else(|| at(line, "rate", format!("expected a rate >= 0, got {r_text:?}")))?;
        if let Some(&(prev, _)) = samples.last()
            && t < prev
        {
            return Err(at(
                line,
                "time",
                format!("expected rows in time order, {t_text} comes before the row above"),
            ));
        }
        samples.push((t, r));
    }
    spans_time(&samples.iter().map(|s| s.0).collect::<Vec<_>>())?;
    if samples.iter().all(|s| s.1 == 0.0) {
        return Err(at(0, "rate", "expected at least one rate > 0"));
    }
    Ok(samples)
}

/// Reads one request timestamp a line (blank lines and `#` comments skipped; any order).
pub fn read_requests(path: &Path) -> Result<Vec<f64>, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| at(0, "(file)", format!("cannot read the requests: {e}")))?;
    let mut times = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_text = line.trim();
        if line_text.is_empty() || line_text.starts_with('#') {
            continue;
        }
        let t = parse_time(line_text).ok_or_else(|| {
            at(
                i + 1,
                "time",
                format!("expected seconds, HH:MM[:SS] or an RFC 3339 time, got {line_text:?}"),
            )
        })?;
        times.push(t);
    }
    times.sort_by(f64::total_cmp);
    spans_time(&times)?;
    Ok(times)
}

fn spans_time(times: &[f64]) -> Result<(), FileError> {
    match (times.first(), times.last()) {
        (Some(first), Some(last)) if last > first => Ok(()),
        _ => Err(at(0, "time", "expected at least two different times")),
    }
}

/// Requests per second of the file's time in `bins` equal bins from the first to the last
/// timestamp, each at its bin's middle (and the end bins' also at the file's first and last).
pub fn binned(times: &[f64], bins: usize) -> Vec<(f64, f64)> {
    let (first, last) = (times[0], times[times.len() - 1]);
    let width = (last - first) / bins as f64;
    let mut counts = vec![0u64; bins];
    for t in times {
        let i = (((t - first) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let rates: Vec<f64> = counts.iter().map(|&n| n as f64 / width).collect();
    // Each bin's rate at its middle, and the first and last held to the file's own ends, so
    // the file's span maps exactly onto the clock's.
    let middles = rates
        .iter()
        .enumerate()
        .map(|(i, &r)| (first + (i as f64 + 0.5) * width, r));
    std::iter::once((first, rates[0]))
        .chain(middles)
        .chain(std::iter::once((last, rates[bins - 1])))
        .collect()
}

/// The samples stretched from the file's first to its last time onto `start..=end`, with the
/// highest value made `peak` when given.
pub fn onto_clock(
    samples: &[(f64, f64)],
    start: ClockTime,
    end: ClockTime,
    peak: Option<f64>,
) -> Vec<(ClockTime, f64)> {
    let (first, last) = (samples[0].0, samples[samples.len() - 1].0);
    let span = f64::from(end.secs() - start.secs());
    let max = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let scale = peak.map_or(1.0, |p| if max > 0.0 { p / max } else { 0.0 });
    samples
        .iter()
        .map(|&(t, v)| {
            let sim = f64::from(start.secs()) + (t - first) / (last - first) * span;
            (ClockTime::from_secs(sim.round() as u32), v * scale)
        })
        .collect()
}

/// Seconds from a number, `HH:MM[:SS]` or an RFC 3339 time.
fn parse_time(s: &str) -> Option<f64> {
    if let Ok(secs) = s.parse::<f64>() {
        return secs.is_finite().then_some(secs);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis() as f64 / 1000.0);
    }
    s.parse::<ClockTime>().ok().map(|c| f64::from(c.secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> ClockTime {
        s.parse().unwrap()
    }

    #[test]
    fn a_curve_is_stretched_onto_the_clock_and_scaled_to_its_peak() {
        let samples = [
            (1_700_000_000.0, 100.0),
            (1_700_000_600.0, 400.0),
            (1_700_001_200.0, 200.0),
        ];
        let points = onto_clock(&samples, t("12:00"), t("14:00"), Some(0.8));
        assert_eq!(points, vec![(t("12:00"), 0.2), (t("13:00"), 0.8), (t("14:00"), 0.4)]);
    }

    #[test]
    fn requests_are_counted_per_bin_as_rates() {
        let times: Vec<f64> = (0..100)
            .map(|i| f64::from(i) * 0.1)
            .chain((0..50).map(|i| 10.0 + f64::from(i) * 0.2))
            .collect();
        let rates = binned(&times, 2);
        assert_eq!(rates.len(), 4);
        assert!((rates[1].1 - 10.0).abs() < 0.3, "{rates:?}");
        assert!((rates[2].1 - 5.0).abs() < 0.3, "{rates:?}");
        assert_eq!((rates[0], rates[3].0), ((0.0, rates[1].1), 19.8));
    }

    #[test]
    fn times_may_be_seconds_clock_times_or_rfc3339() {
        assert_eq!(parse_time("12.5"), Some(12.5));
        assert_eq!(parse_time("01:00:30"), Some(3630.0));
        assert_eq!(parse_time("1970-01-01T00:01:00Z"), Some(60.0));
        assert_eq!(parse_time("noon"), None);
    }

    #[test]
    fn a_bad_row_names_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(&path, "time,rate\n0,10\n60,ten\n").unwrap();
        let e = read_curve(&path).unwrap_err();
        assert_eq!((e.line, e.field), (3, "rate"), "{e:?}");
        std::fs::write(&path, "t,r\n0,10\n").unwrap();
        assert_eq!(read_curve(&path).unwrap_err().field, "(header)");
    }
}
