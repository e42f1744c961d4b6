//! `latency.hlog`: one HdrHistogram per window and operation (tag = the operation), in the
//! standard interval-log format that HdrHistogram's Java tools write and read (`StartTime` and
//! `BaseTime` headers, timestamps in seconds since the run started, V2 + DEFLATE histograms in
//! base64). Values are microseconds from each attempt's intended start, as in `windows.csv`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

pub const LATENCY_HLOG: &str = "latency.hlog";

/// The legend line the Java `HistogramLogWriter` writes after its headers.
const LEGEND: &str = "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

/// Appends interval histograms to a log, flushed after each window.
pub struct HlogWriter {
    path: PathBuf,
    file: BufWriter<File>,
    serializer: V2DeflateSerializer,
}

impl HlogWriter {
    /// Creates the log with its headers; `start` is when the run's clock started.
    pub fn create(path: &Path, start: SystemTime) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut log = HlogWriter {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            serializer: V2DeflateSerializer::new(),
        };
        let version = concat!("[Logged with outage-sim ", env!("CARGO_PKG_VERSION"), "]");
        let headers = IntervalLogWriterBuilder::new()
            .add_comment(version)
            .add_comment("[Histogram log format version 1.3]")
            .add_comment("[Values in microseconds; one histogram per window and operation, tagged by operation]")
            .with_start_time(start)
            .with_base_time(start)
            .begin_log_with(&mut log.file, &mut log.serializer)
            .map(drop);
        headers
            .and_then(|()| writeln!(log.file, "{LEGEND}"))
            .and_then(|()| log.file.flush())
            .with_context(|| format!("cannot write {}", log.path.display()))?;
        Ok(log)
    }

    /// Appends one window: a histogram per `(tag, histogram)`, from `start` (since the run
    /// started) for `length`. Empty histograms are written too, so every window has every tag.
    pub fn append<'h>(
        &mut self,
        start: Duration,
        length: Duration,
        histograms: impl IntoIterator<Item = (&'h str, &'h Histogram<u64>)>,
    ) -> Result<()> {
        let path = self.path.display().to_string();
        // A builder with no headers writes nothing: it only lends the writer for these lines.
        let mut log = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.file, &mut self.serializer)
            .with_context(|| format!("cannot write {path}"))?;
        for (tag, h) in histograms {
            let tag = Tag::new(tag).ok_or_else(|| anyhow!("{tag:?} is not a valid hlog tag"))?;
            log.write_histogram(h, start, length, Some(tag))
                .map_err(|e| anyhow!("cannot write {path}: {e}"))?;
        }
        self.file.flush().with_context(|| format!("cannot write {path}"))
    }
}

/// One interval histogram read back from a log.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Seconds since the log's start (its `BaseTime`, else `StartTime`, else absolute).
    pub start_s: f64,
    pub length_s: f64,
    pub tag: Option<String>,
    pub histogram: Histogram<u64>,
}

/// An interval log read as text: each interval is decoded only when asked for, so reading a
/// long run holds its compressed lines (about 100 bytes a window and operation), never every
/// histogram at once (about 190 kB each).
pub struct Log {
    path: PathBuf,
    /// The interval lines, in order (headers, comments and the legend left out).
    lines: Vec<String>,
}

impl Log {
    pub fn open(path: &Path) -> Result<Log> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let lines: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('"'))
            .map(str::to_string)
            .collect();
        if lines.is_empty() {
            bail!("{}: no interval histograms", path.display());
        }
        Ok(Log {
            path: path.to_path_buf(),
            lines,
        })
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Interval `i` (from 0), decoded; an error names the file and the interval.
    pub fn get(&self, i: usize) -> Result<Interval> {
        let where_ = || format!("{}: interval {}", self.path.display(), i + 1);
        let line = format!("{}\n", self.lines[i]);
        let entry = IntervalLogIterator::new(line.as_bytes())
            .next()
            .ok_or_else(|| anyhow!("{}: not an interval line", where_()))?
            .map_err(|e| anyhow!("{}: not an interval line ({e:?})", where_()))?;
        let LogEntry::Interval(h) = entry else {
            bail!("{}: not an interval line", where_());
        };
        let encoded = base64_decode(h.encoded_histogram()).with_context(|| format!("{}: bad base64", where_()))?;
        let histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut encoded.as_slice())
            .map_err(|e| anyhow!("{}: {e:?}", where_()))?;
        Ok(Interval {
            start_s: h.start_timestamp().as_secs_f64(),
            length_s: h.duration().as_secs_f64(),
            tag: h.tag().map(|t| t.as_str().to_string()),
            histogram,
        })
    }
}

/// Every interval histogram of a log, decoded (for short logs and tests; see [`Log`]).
pub fn read(path: &Path) -> Result<Vec<Interval>> {
    let log = Log::open(path)?;
    (0..log.len()).map(|i| log.get(i)).collect()
}

fn base64_decode(text: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::latency_histogram;

    #[test]
    fn windows_written_are_read_back_with_their_tags_times_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LATENCY_HLOG);
        let mut log = HlogWriter::create(&path, SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)).unwrap();
        let mut checkout = latency_histogram();
        for us in 1..=1000 {
            checkout.record(us * 100).unwrap();
        }
        let empty = latency_histogram();
        let w = Duration::from_millis(250);
        log.append(Duration::ZERO, w, [("checkout", &checkout), ("browse", &empty)])
            .unwrap();
        log.append(w, w, [("checkout", &empty), ("browse", &checkout)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("#[StartTime: 1700000000.000"), "{text}");
        assert!(text.contains("#[BaseTime: 1700000000.000"), "{text}");
        let read = read(&path).unwrap();
        assert_eq!(read.len(), 4);
        assert_eq!(read[0].tag.as_deref(), Some("checkout"));
        assert_eq!(read[0].histogram, checkout);
        assert_eq!(read[3].histogram.len(), 1000);
        assert_eq!((read[2].start_s, read[2].length_s), (0.25, 0.25));
        assert!(read[1].histogram.is_empty());
    }
}
