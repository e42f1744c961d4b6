//! Waiting for an arrival's intended start. tokio's timers tick in whole milliseconds and round
//! a deadline up to the next tick, so a user woke 0–1 ms late (aimed half a tick early, ±0.5 ms).
//! A timerfd wakes the runtime's reactor within microseconds of its deadline, on the same thread.
//! The engine's unit tests run on tokio's paused clock, which only tokio's timers follow: there,
//! and wherever a timerfd cannot be made, the engine paces by ticks.

use std::time::Duration;

use tokio::time::Instant;

/// Half of tokio's timer resolution.
const HALF_TICK: Duration = Duration::from_micros(500);

/// A timerfd wait shorter than this is not taken: the arrival starts at once, at most this
/// early (latency then counts from the real start). Each wait costs three system calls (arm,
/// poll, read) and a park of the runtime; at 250,000 arrivals/s, 4 µs apart, a wait for every
/// arrival took 2.4 s of system time in a 4 s run on this kind of VM, and the schedule fell
/// 2–66 ms behind at p99 (11 runs). At 50–400 µs, p99 was 0.08–0.47 ms (one run each).
const MIN_WAIT: Duration = Duration::from_micros(100);

pub enum Pacer {
    /// tokio's millisecond timer, aimed half a tick early.
    Tick,
    #[cfg(target_os = "linux")]
    Precise(tokio::io::unix::AsyncFd<timerfd::TimerFd>),
}

impl Pacer {
    /// A timerfd on the current runtime's reactor, or ticks: in unit tests, without a timerfd,
    /// or asked for with OUTAGE_SIM_PACER=tick (the benchmarks' baseline).
    pub fn new() -> Pacer {
        #[cfg(all(target_os = "linux", not(test)))]
        if std::env::var("OUTAGE_SIM_PACER").as_deref() != Ok("tick")
            && let Some(fd) = timer()
        {
            return Pacer::Precise(fd);
        }
        Pacer::Tick
    }

    /// When to wake for a start intended at `intended`: the tick's rounding up is centred on it.
    pub fn aim(&self, intended: Instant) -> Instant {
        match self {
            Pacer::Tick => intended.checked_sub(HALF_TICK).unwrap_or(intended),
            #[cfg(target_os = "linux")]
            Pacer::Precise(_) => intended,
        }
    }

    /// Sleeps until `wake`. With a timerfd it never wakes before it, but returns at once when
    /// `wake` is less than [`MIN_WAIT`] away.
    pub async fn sleep_until(&mut self, wake: Instant) {
        match self {
            Pacer::Tick => tokio::time::sleep_until(wake).await,
            #[cfg(target_os = "linux")]
            Pacer::Precise(fd) => {
                let left = wake.saturating_duration_since(Instant::now());
                if left < MIN_WAIT {
                    return;
                }
                fd.get_mut()
                    .set_state(timerfd::TimerState::Oneshot(left), timerfd::SetTimeFlags::Default);
                loop {
                    let Ok(mut ready) = fd.readable().await else {
                        // The reactor is gone (the runtime is shutting down): ticks will do.
                        return tokio::time::sleep_until(wake).await;
                    };
                    if ready.get_inner().read() > 0 {
                        return;
                    }
                    ready.clear_ready();
                }
            }
        }
    }
}

/// A timerfd registered with the current runtime's reactor (its runtimes all enable I/O).
#[cfg(target_os = "linux")]
fn timer() -> Option<tokio::io::unix::AsyncFd<timerfd::TimerFd>> {
    let fd = timerfd::TimerFd::new_custom(timerfd::ClockId::Monotonic, true, true).ok()?;
    let interest = tokio::io::Interest::READABLE;
    // SAFETY: the TimerFd owns its descriptor, open until the AsyncFd drops it.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, interest) }.ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_timerfd_never_wakes_before_its_deadline() {
        let mut pacer = Pacer::Precise(timer().expect("a timerfd"));
        for micros in [300, 1_700] {
            let wake = Instant::now() + Duration::from_micros(micros);
            assert_eq!(pacer.aim(wake), wake);
            pacer.sleep_until(wake).await;
            assert!(Instant::now() >= wake, "woke before {micros} µs");
        }
    }

    #[tokio::test]
    async fn a_wait_shorter_than_min_wait_is_not_taken() {
        let mut pacer = Pacer::Precise(timer().expect("a timerfd"));
        // Armed for an hour, then abandoned: a short wait that took the timer would re-arm it.
        let hour = pacer.sleep_until(Instant::now() + Duration::from_secs(3600));
        assert!(tokio::time::timeout(Duration::from_millis(1), hour).await.is_err());
        pacer.sleep_until(Instant::now() + MIN_WAIT / 2).await;
        let Pacer::Precise(fd) = &pacer else { unreachable!() };
        let state = fd.get_ref().get_state();
        assert!(matches!(state, timerfd::TimerState::Oneshot(left) if left > Duration::from_secs(3000)));
    }

    #[test]
    fn ticks_aim_half_a_tick_early() {
        let now = Instant::now() + Duration::from_secs(1);
        assert_eq!(Pacer::Tick.aim(now), now - HALF_TICK);
    }
}
