//! Generator headroom: the real replay (arrival schedule, one tokio task per user, recorder,
//! window loop, results files) against a store that answers at once, on ONE core (a
//! current-thread runtime), so the figures are what the tool costs per arrival.
//!
//! Prints, in one run: the highest rate it sustains (every scheduled arrival sent within the
//! clock), and the schedule lag (actual start − intended start) at 250,000 arrivals/s.
//! Goals (issue "Performance"): ≥ 250,000 arrivals/s on one core, lag p99 < 1 ms.
//!
//! cargo bench --bench generator [-- --quick] [-- --at RATE]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use outage_sim::metrics::ScheduleLag;
use outage_sim::replay::{Replay, ResultsSink, Sink};
use outage_sim::results::RunDir;
use outage_sim::scenario::Scenario;
use outage_sim::store::null::NullStore;

#[allow(dead_code)]
mod common;

/// A flat `rate` for `secs` real seconds, the checkout-peak mix, 250 ms windows.
fn scenario(rate: f64, secs: u32) -> Scenario {
    let text = format!(
        r#"[clock]
start = "12:00"
end = "12:{secs:02}"
speed = 60
[load]
unit = "arrivals_per_second"
points = [{{ at = "12:00", value = {rate} }}]
[mix]
browse = 0.28
checkout = 0.70
report = 0.02
[limits]
max_in_flight = 1000000
[run]
window_ms = 250
"#
    );
    Scenario::parse(&text, Path::new("bench.toml")).expect("valid bench scenario")
}

struct Measured {
    scheduled: u64,
    sent_in_clock: u64,
    real_s: f64,
    cpu_s: f64,
    lag: ScheduleLag,
}

/// One replay at `rate` for `secs` on a current-thread runtime.
fn replay(rate: f64, secs: u32) -> Measured {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scenario = scenario(rate, secs);
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path(), "bench", chrono::Utc::now()).unwrap();
    let started = Instant::now();
    let cpu = common::cpu_secs();
    let lag = runtime.block_on(async {
        let replay = Replay::new(&scenario, Arc::new(NullStore::default()), Vec::new(), None);
        let recorder = replay.recorder();
        let sinks: Vec<Box<dyn Sink>> = vec![Box::new(ResultsSink::create(&run, replay.started_at()).unwrap())];
        replay.run(sinks).await.unwrap();
        recorder.schedule_lag_so_far()
    });
    let real_s = started.elapsed().as_secs_f64();
    let cpu_s = common::cpu_secs() - cpu;
    let rows = run.read_windows().unwrap();
    let sent_in_clock = rows.iter().map(|r| r.offered).sum();
    let scheduled = outage_sim::traffic::ArrivalSchedule::new(
        scenario.load.clone(),
        scenario.clock.clone(),
        &scenario.mix,
        scenario.run.seed,
    )
    .count() as u64;
    Measured {
        scheduled,
        sent_in_clock,
        real_s,
        cpu_s,
        lag,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let secs = if quick { 2 } else { 4 };
    // `--at RATE`: one replay at that rate only (for a profiler).
    if let Some(rate) = args
        .iter()
        .position(|a| a == "--at")
        .and_then(|i| args.get(i + 1)?.parse::<f64>().ok())
    {
        let m = replay(rate, secs);
        println!(
            "generator: {rate:.0}/s: sent {} of {}, lag p50 {:.3} p99 {:.3} ms",
            m.sent_in_clock, m.scheduled, m.lag.p50_ms, m.lag.p99_ms
        );
        return;
    }
    // The highest sustained rate: doubling, then the first that falls behind bounds it.
    let mut sustained = 0.0;
    let mut rate = 62_500.0;
    while rate <= 1_000_000.0 {
        let m = replay(rate, secs);
        let kept_up = m.sent_in_clock as f64 >= 0.99 * m.scheduled as f64;
        println!(
            "generator: {rate:>9.0}/s offered for {secs} s: sent {} of {} within the clock, wall {:.2} s, lag p99 {:.3} ms{}",
            m.sent_in_clock,
            m.scheduled,
            m.real_s,
            m.lag.p99_ms,
            if kept_up { "" } else { "  (fell behind)" }
        );
        if !kept_up {
            break;
        }
        sustained = rate;
        rate *= 2.0;
    }
    let at = replay(250_000.0, secs);
    println!("bench generator_sustained_arrivals_per_s {sustained:.0}");
    println!("bench generator_lag_at_250k_p50_ms {:.3}", at.lag.p50_ms);
    println!("bench generator_lag_at_250k_p99_ms {:.3}", at.lag.p99_ms);
    println!("bench generator_lag_at_250k_p999_ms {:.3}", at.lag.p999_ms);
    println!(
        "bench generator_at_250k_sent_fraction {:.4}",
        at.sent_in_clock as f64 / at.scheduled.max(1) as f64
    );
    // What the precise wake-ups cost at a replay's own rates, against tokio's millisecond ticks
    // (OUTAGE_SIM_PACER=tick) in the same run: CPU per 1,000 arrivals and the lag, alternated.
    let rate = 3_000.0;
    for round in 0..2 {
        for pacer in ["tick", "timerfd"] {
            // SAFETY: this benchmark has no other thread reading the environment.
            unsafe { std::env::set_var("OUTAGE_SIM_PACER", pacer) };
            let m = replay(rate, 10);
            println!(
                "generator: {pacer} at {rate:.0}/s (round {}): CPU {:.3} s per 1,000 arrivals, lag p50 {:.3} p99 {:.3} ms",
                round + 1,
                m.cpu_s / m.sent_in_clock.max(1) as f64 * 1000.0,
                m.lag.p50_ms,
                m.lag.p99_ms
            );
            if round == 1 {
                println!(
                    "bench generator_{pacer}_at_3k_cpu_s_per_1000 {:.4}",
                    m.cpu_s / m.sent_in_clock.max(1) as f64 * 1000.0
                );
                println!("bench generator_{pacer}_at_3k_lag_p99_ms {:.3}", m.lag.p99_ms);
            }
        }
    }
}
