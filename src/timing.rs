//! Opt-in stage timings for benchmarks of the whole process: with `FLEEET_TIMINGS` set, each
//! [`stage`] prints its wall time and the process's peak memory so far to stderr.

use std::sync::OnceLock;
use std::time::Instant;

/// Runs `work`, the stage `name`, and reports how long it took when timings are on.
pub fn stage<T>(name: &str, work: impl FnOnce() -> T) -> T {
    if !enabled() {
        return work();
    }
    let started = Instant::now();
    let out = work();
    let peak = peak_mib().map_or(String::new(), |mib| format!(", peak {mib} MiB"));
    eprintln!(
        "timing: {name}: {:.3} s (ended at {:.3} s){peak}",
        started.elapsed().as_secs_f64(),
        since_start()
    );
    out
}

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        START.get_or_init(Instant::now);
        std::env::var_os("FLEEET_TIMINGS").is_some()
    })
}

/// When the first stage started.
static START: OnceLock<Instant> = OnceLock::new();

/// Seconds since the first stage started: with the stages' own times, where time went between
/// them.
fn since_start() -> f64 {
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// The peak resident memory of the process (Linux `VmHWM`), in MiB.
fn peak_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
