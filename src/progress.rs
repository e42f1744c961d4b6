//! What a person watching the terminal (or reading a CI log) sees while outage-sim works:
//! progress bars on a terminal, plain lines when stderr is not one, and log messages
//! (`RUST_LOG`, default `warn`; sqlx's own slow-statement notes only at `RUST_LOG=sqlx=warn`) printed above the bars rather than through them.

use std::io::{IsTerminal, Write};
use std::sync::LazyLock;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Every bar lives here, so a line printed above them does not tear them.
static BARS: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// Whether stderr is a terminal (bars are drawn) or a file or pipe (plain lines instead).
pub fn is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar of `len` steps drawn with `template` (hidden when stderr is not a terminal).
pub fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    BARS.add(bar)
}

/// A spinner with a message.
pub fn spinner(message: String) -> ProgressBar {
    let spinner = BARS.add(ProgressBar::new_spinner());
    spinner.set_message(message);
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    spinner
}

/// One line on stderr, above any bar.
pub fn line(text: &str) {
    BARS.suspend(|| eprintln!("{text}"));
}

/// Installs the log subscriber: stderr, above the bars, filtered by `RUST_LOG` (default warn).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| AboveBars)
        .with_ansi(is_terminal())
        .with_target(false)
        .try_init();
}

struct AboveBars;

impl Write for AboveBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        BARS.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
