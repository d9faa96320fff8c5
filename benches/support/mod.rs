//! Small pieces shared by the benchmarks `pages`, `memory` and `outbox`: the machine line
//! printed at the top, percentiles, and reading settings from the environment.
#![allow(dead_code)]

use std::time::Duration;

/// One line describing the machine: CPUs, model, kernel and load average now.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} CPU(s), {model}; Linux {}; load average {}",
        kernel.trim(),
        load_average()
    )
}

/// The 1, 5 and 15 minute load averages, as Linux prints them.
pub fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A whole number from the environment, or `default`, kept within `min..=max`.
pub fn env_number(name: &str, default: u64, min: u64, max: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
        .clamp(min, max)
}

/// The 50th, 95th and 99th percentiles and the largest of a set of timings.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Spread {
    /// The spread of `times` (nearest-rank percentiles); all zero when there are none.
    pub fn of(times: &[Duration]) -> Spread {
        let mut sorted = times.to_vec();
        sorted.sort();
        let rank = |p: usize| -> Duration {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let index = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len()) - 1;
            sorted[index]
        };
        Spread {
            p50: rank(50),
            p95: rank(95),
            p99: rank(99),
            max: sorted.last().copied().unwrap_or_default(),
        }
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// "PASS" or "MISS".
pub fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}
