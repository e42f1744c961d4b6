//! How busy the machine was with other work while a calibration measured. The tool shares its
//! cores with the database, so any third process takes from the capacity measured: a
//! calibration made on a busy machine is a low one, and runs must not take it.

pub use crate::results::{BUSY_SHARE, HostLoad};

/// The processes of a local database server, whose CPU is the database's, not other work.
const DATABASE_PROCESSES: [&str; 4] = ["postgres", "postmaster", "mariadbd", "mysqld"];

/// CPU counters at one instant, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Ticks {
    /// All of the machine's ticks, idle included.
    total: u64,
    busy: u64,
    steal: u64,
    own: u64,
    database: u64,
}

/// The counters now, or `None` where /proc cannot be read (not Linux).
pub fn now() -> Option<Ticks> {
    let (total, busy, steal) = machine(&std::fs::read_to_string("/proc/stat").ok()?)?;
    let own = process(&std::fs::read_to_string("/proc/self/stat").ok()?)?.1;
    let database = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter_map(|text| process(&text))
        .filter(|(comm, _)| DATABASE_PROCESSES.contains(&comm.as_str()))
        .map(|(_, ticks)| ticks)
        .sum();
    Some(Ticks {
        total,
        busy,
        steal,
        own,
        database,
    })
}

/// What others used between two readings.
pub fn between(a: &Ticks, b: &Ticks, cores: usize) -> HostLoad {
    let total = b.total.saturating_sub(a.total).max(1) as f64;
    let share = |ticks: u64| ticks as f64 / total * cores as f64;
    let ours = b.own.saturating_sub(a.own) + b.database.saturating_sub(a.database);
    HostLoad {
        others_cores: share(b.busy.saturating_sub(a.busy).saturating_sub(ours)),
        steal_cores: share(b.steal.saturating_sub(a.steal)),
        cores,
    }
}

/// /proc/stat's first line: (all ticks, busy ticks, steal ticks). Guest time is already in user.
fn machine(stat: &str) -> Option<(u64, u64, u64)> {
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = field(0) + field(1) + field(2) + field(5) + field(6);
    let total = busy + field(3) + field(4) + field(7);
    Some((total, busy, field(7)))
}

/// A /proc/PID/stat line: (command, its own and its reaped children's user + system ticks).
fn process(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the command: state is field 0; utime, stime, cutime, cstime are 11..=14.
    let ticks = (11..=14)
        .map(|i| fields.get(i)?.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some((comm, ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn others_are_the_machines_busy_time_less_the_tools_and_the_databases() {
        let cpu = |user: u64, idle: u64, steal: u64| format!("cpu  {user} 0 0 {idle} 0 0 0 {steal} 0 0\ncpu0 1 2 3\n");
        let (total, busy, steal) = machine(&cpu(100, 300, 0)).unwrap();
        assert_eq!((total, busy, steal), (400, 100, 0));
        let a = Ticks {
            total,
            busy,
            steal,
            own: 10,
            database: 20,
        };
        // 1,000 ticks on 2 cores: the tool 100, the database 300, someone else 100, steal 50.
        let (total, busy, steal) = machine(&cpu(600, 750, 50)).unwrap();
        let b = Ticks {
            total,
            busy,
            steal,
            own: 110,
            database: 320,
        };
        let load = between(&a, &b, 2);
        assert!((load.others_cores - 0.2).abs() < 1e-9, "{load:?}");
        assert!((load.steal_cores - 0.1).abs() < 1e-9, "{load:?}");
        assert!(load.busy(), "0.3 of 2 cores is above {BUSY_SHARE} of them");
        let quiet = HostLoad {
            others_cores: 0.1,
            steal_cores: 0.0,
            cores: 2,
        };
        assert!(!quiet.busy());
    }

    #[test]
    fn a_process_line_gives_its_command_and_ticks_even_with_spaces_in_the_command() {
        let line = "4242 (postgres: walwriter (x)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16";
        assert_eq!(
            process(line),
            Some(("postgres: walwriter (x)".into(), 11 + 12 + 13 + 14))
        );
        assert_eq!(process("garbage"), None);
    }

    #[test]
    fn this_machine_can_be_read() {
        if cfg!(target_os = "linux") {
            assert!(now().expect("/proc is readable").total > 0);
        }
    }
}
