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

/// The committed example run, plotted afresh into `tmp/run`; returns the run directory.
fn plotted_example(tmp: &Path) -> PathBuf {
    let run = tmp.join("run");
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
    run
}

/// Headless Chromium with no network at all (every host unresolvable, every proxy refused).
fn headless(tmp: &Path) -> Command {
    let mut c = Command::new(chromium().expect("Chromium is not installed (apt-get install chromium)"));
    c.args([
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
    .args(["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"])
    .arg(format!("--user-data-dir={}", tmp.join("profile").display()));
    c
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium; .ci/run installs it and runs this)"]
fn the_report_loads_in_headless_chromium_without_console_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = plotted_example(tmp.path());
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    for reference in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(reference), "self-contained: found {reference}");
    }
    assert!(html.contains("<svg"), "the dashboard is inline");

    let shot = tmp.path().join("shot.png");
    let out = headless(tmp.path())
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

/// The page's own handlers, driven by mouse events dispatched in the page once it has loaded:
/// a drag across the rate chart (a move a frame, as a hand makes them), a hover, a click on the
/// first event. What they changed is
/// written into the page, which Chromium then dumps.
const DRIVE: &str = r##"<pre id="os-test"></pre><script>
window.addEventListener("load", async function () {
  var frame = function () { return new Promise(function (r) { setTimeout(r, 50); }); };
  var out = {}, u = window.outageSim.charts[0], r = u.over.getBoundingClientRect();
  var at = function (f, dx) { return { clientX: r.left + r.width * f, clientY: r.top + r.height / 2, movementX: dx || 0, bubbles: true, button: 0, view: window }; };
  out.before = [u.scales.x.min, u.scales.x.max];
  u.over.dispatchEvent(new MouseEvent("mousedown", at(0.3)));
  await frame();
  for (var f = 0.35; f <= 0.6; f += 0.05) { u.over.dispatchEvent(new MouseEvent("mousemove", at(f, 20))); await frame(); }
  document.dispatchEvent(new MouseEvent("mouseup", at(0.6)));
  await frame();
  out.zoomed = [u.scales.x.min, u.scales.x.max];
  out.other = [window.outageSim.charts[1].scales.x.min, window.outageSim.charts[1].scales.x.max];
  u.over.dispatchEvent(new MouseEvent("mousemove", at(0.5, 5)));
  await frame();
  out.legend = Array.prototype.map.call(document.querySelectorAll("#os-rate .u-legend .u-value"), function (e) { return e.textContent; });
  document.querySelector("#os-events li").click();
  out.detail = document.getElementById("os-detail").textContent;
  out.first_event = window.outageSim.data.events[0];
  document.getElementById("os-test").textContent = JSON.stringify(out);
});
</script>"##;

#[test]
#[ignore = "needs Chromium (apt-get install chromium; .ci/run installs it and runs this)"]
fn the_reports_charts_zoom_hover_and_show_an_events_detail_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let run = plotted_example(tmp.path());
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "one self-contained file"
    );
    let page = tmp.path().join("driven.html");
    std::fs::write(&page, html.replace("</body>", &format!("{DRIVE}</body>"))).unwrap();
    let out = headless(tmp.path())
        .args(["--window-size=1600,2000", "--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"os-test\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or("");
    let got: serde_json::Value = serde_json::from_str(
        &json.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"),
    )
    .unwrap_or_else(|e| {
        panic!(
            "the page did not report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let range = |k: &str| got[k][1].as_f64().unwrap() - got[k][0].as_f64().unwrap();
    assert!(range("zoomed") < 0.5 * range("before"), "the drag zoomed in: {got}");
    assert_eq!(got["zoomed"], got["other"], "the latency chart followed: {got}");
    let legend: Vec<&str> = got["legend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        legend.len() == 4 && legend[0].contains(':'),
        "the time under the cursor: {legend:?}"
    );
    let number = |v: &&str| v.replace(',', "").parse::<f64>().is_ok();
    assert!(
        legend[1..].iter().all(number),
        "a window's values under the cursor: {legend:?}"
    );
    let first = &got["first_event"];
    let detail = got["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(first["clock"].as_str().unwrap()) && detail.contains(first["what"].as_str().unwrap()),
        "{got}"
    );
}
