//! What the app and its operators do when an alert fires, as the scenario says: shed load down
//! to what the database served before the trouble (`limits.shed_at_alert`), and roll a fault
//! back a set time after the first alert once it was sent (`rollback_after_alert`); and what a
//! trainee's `shed` asks for, the same shedding. A sink, so it reacts to the same alerts and
//! commands every other sink sees.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::{Sink, Window};
use crate::faults::Injector;
use crate::results::{EventBus, EventKind, EventRow, clock_secs};
use crate::scenario::{Op, Scenario};
use crate::store::Store;
use crate::traffic::Guards;

/// Incident seconds before an alert's condition began whose service the shedder admits.
const HEALTHY_SPAN_S: f64 = 300.0;

/// A trainee's command that sheds load (the `TraineeAction` event's name).
pub const SHED_COMMAND: &str = "shed";

pub struct AppSink<S: Store> {
    guards: Arc<Guards>,
    /// Shed at the first alert (`limits.shed_at_alert`), not done yet.
    shed_at_alert: bool,
    /// When the first alert's condition began (incident seconds), once one fired.
    trouble_began: Option<f64>,
    /// Each operation's (incident clock at the window's end, ok, real seconds) of recent windows.
    served: VecDeque<(f64, [u64; Op::ALL.len()], f64)>,
    /// The alert rules' `for`, by name: when an alert fires its condition began that long ago.
    rule_for_s: Vec<(String, f64)>,
    rollbacks: Vec<(String, Duration)>,
    injector: Arc<Injector<S>>,
    speed: f64,
    bus: EventBus,
    fault_sent: bool,
    acted: bool,
    last_end_s: f64,
    /// Rollbacks waiting for their time; a run that ends first rolls back on its own.
    pending: Vec<tokio::task::JoinHandle<()>>,
}

impl<S: Store> Drop for AppSink<S> {
    fn drop(&mut self) {
        self.pending.iter().for_each(|t| t.abort());
    }
}

impl<S: Store + 'static> AppSink<S> {
    pub fn for_scenario(scenario: &Scenario, guards: Arc<Guards>, injector: Arc<Injector<S>>, bus: EventBus) -> Self {
        let rollbacks: Vec<_> = scenario
            .faults
            .iter()
            .filter_map(|f| f.rollback_after_alert.map(|d| (f.name.clone(), d)))
            .collect();
        AppSink {
            guards,
            shed_at_alert: scenario.limits.shed_at_alert,
            trouble_began: None,
            served: VecDeque::new(),
            rule_for_s: scenario
                .alerts
                .iter()
                .map(|r| (r.name.clone(), r.for_sim_secs))
                .collect(),
            rollbacks,
            injector,
            speed: scenario.clock.speed,
            bus,
            // Shedding answers any alert; a rollback only one that came after its fault was sent.
            fault_sent: false,
            acted: false,
            last_end_s: 0.0,
            pending: Vec::new(),
        }
    }

    /// The rate of each operation served in the healthy span before `began` (incident seconds).
    fn healthy_rates(&self, began: f64) -> Option<[f64; Op::ALL.len()]> {
        let span = self
            .served
            .iter()
            .filter(|w| w.0 <= began && w.0 > began - HEALTHY_SPAN_S);
        let (ok, secs) = span.fold(([0u64; Op::ALL.len()], 0.0), |(mut ok, s), w| {
            ok.iter_mut().zip(w.1).for_each(|(a, b)| *a += b);
            (ok, s + w.2)
        });
        (secs > 0.0).then(|| ok.map(|n| n as f64 / secs))
    }

    /// Sheds to the rates served in the healthy span before `began`; `why` names what asked.
    fn shed_from(&self, began: f64, why: &str) {
        let Some(rates) = self.healthy_rates(began) else {
            let detail = "nothing shed: no window served before the trouble began";
            return self.bus.emit(EventKind::AppShed, why, detail);
        };
        let now = tokio::time::Instant::now();
        let said: Vec<String> = Op::ALL
            .iter()
            .zip(rates)
            .map(|(op, r)| {
                self.guards.shed.limit(*op, r, now);
                format!("{op} {r:.0}/s")
            })
            .collect();
        self.bus.emit(
            EventKind::AppShed,
            why,
            &format!("admitting what was served before the trouble: {}", said.join(", ")),
        );
    }
}

impl<S: Store + 'static> Sink for AppSink<S> {
    fn window(&mut self, window: &Window) -> Result<()> {
        let row = window.op(Op::Checkout);
        let end = clock_secs(&row.clock);
        let ok = Op::ALL.map(|op| window.op(op).ok);
        self.served.push_back((end, ok, row.t_s - self.last_end_s));
        self.last_end_s = row.t_s;
        // Kept: the longest `for` and the healthy span before it.
        let keep = HEALTHY_SPAN_S + self.rule_for_s.iter().map(|r| r.1).fold(0.0, f64::max) + window.sim_secs;
        while self.served.front().is_some_and(|w| w.0 < end - keep) {
            self.served.pop_front();
        }
        Ok(())
    }

    fn event(&mut self, e: &EventRow) -> Result<()> {
        match e.kind {
            EventKind::FaultApplySent => self.fault_sent = true,
            // Without an alert yet, "before the trouble" is before the command.
            EventKind::TraineeAction if e.name == SHED_COMMAND => {
                self.shed_from(self.trouble_began.unwrap_or(clock_secs(&e.clock)), SHED_COMMAND)
            }
            EventKind::AlertFired if !self.acted => {
                let rule_for = self.rule_for_s.iter().find(|r| r.0 == e.name).map_or(0.0, |r| r.1);
                let began = *self.trouble_began.get_or_insert(clock_secs(&e.clock) - rule_for);
                if std::mem::take(&mut self.shed_at_alert) {
                    self.shed_from(began, &e.name);
                }
                if self.fault_sent {
                    self.acted = true;
                    for (name, after) in self.rollbacks.drain(..) {
                        let injector = self.injector.clone();
                        let wait = after.div_f64(self.speed);
                        self.pending.push(tokio::spawn(async move {
                            tokio::time::sleep(wait).await;
                            injector.rollback(&name).await;
                        }));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
