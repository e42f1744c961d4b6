//! report.html in a real browser: headless Chromium loads it with no console errors and the
//! screenshot is not blank. Ignored unless asked for (`--include-ignored`, as `.ci/run` does,
//! after installing Chromium); then a missing browser is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Share of pixels that differ from the first one.
fn non_background_share(png_file: &Path) -> f64 {
    let decoder = png::Decoder::new(std::fs::File::open(png_file).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(bpp).collect();
    let first = pixels[0];
    pixels.iter().filter(|p| **p != first).count() as f64 / pixels.len() as f64
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium; .ci/run installs it and runs this)"]
fn the_report_loads_in_headless_chromium_without_console_errors() {
    let browser = chromium().expect("Chromium is not installed (apt-get install chromium)");
    // Render the committed example run into a scratch copy.
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/example");
    for f in ["scenario.toml", "meta.json", "windows.csv", "events.csv", "db.csv"] {
        std::fs::copy(example.join(f), run.join(f)).unwrap();
    }
    let plotted = Command::new(env!("CARGO_BIN_EXE_outage-sim"))
        .arg("plot")
        .arg(&run)
        .output()
        .unwrap();
    assert!(plotted.status.success(), "{}", String::from_utf8_lossy(&plotted.stderr));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    for reference in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(reference), "self-contained: found {reference}");
    }
    assert!(html.contains("<svg"), "the dashboard is inline");

    let shot = tmp.path().join("shot.png");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", tmp.path().join("profile").display()))
        .args(["--enable-logging=stderr", "--v=0", "--window-size=1600,2000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", run.join("report.html").display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(shot.exists(), "no screenshot: {log}");
    let share = non_background_share(&shot);
    assert!(share > 0.02, "the screenshot is blank ({share:.4} of pixels drawn)");
}
