//! When a busy scheduler next checks its timers and descriptors: after a
//! number of fiber runs, or once a budget of time has passed, whichever
//! comes first.
//!
//! Counting runs alone (every 61, as tokio does) lets a fiber that computes
//! for a millisecond between yields hold timers and I/O off for 61 ms. Reading
//! the clock after every run would cost fast workloads (a rendezvous takes
//! tens of nanoseconds, a clock reading about as much). So the clock is
//! read every `check_every` runs, a number each check adapts to the pace
//! of the runs since the last: as many as fit in half the budget. Fast runs
//! keep it at `POLL_INTERVAL`, where the clock is read only by the check
//! itself; slow runs bring it down to one.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Timers and descriptors are checked at least once every this many fiber
/// runs, so a busy run queue never starves I/O or deadlines.
pub(crate) const POLL_INTERVAL: u32 = 61;

/// ...and at least once every this long while fibers keep running (give or
/// take one run, which nothing can interrupt).
pub(crate) const POLL_BUDGET: Duration = Duration::from_micros(500);

/// The loop's pace of checks; see the module docs.
#[derive(Debug)]
pub(crate) struct PollPace {
    /// Runs left until the clock is next read (or, at `POLL_INTERVAL`
    /// runs since the last check, until a check is due); zero while a
    /// check is due. Counting down keeps a run's cost to one decrement
    /// and one test.
    left: Cell<u32>,
    /// Runs since the last check, up to the start of the current stretch.
    counted: Cell<u32>,
    /// Runs in the current stretch (between two readings of the clock).
    stretch: Cell<u32>,
    /// Runs between clock readings, as adapted by the last check.
    look_every: Cell<u32>,
    /// When timers and descriptors were last checked.
    last_check: Cell<Instant>,
    /// The last reading of the clock, by a check or at the end of a
    /// stretch: a time no later than now.
    last_reading: Cell<Instant>,
}

impl PollPace {
    /// A pace that reads the clock after the first run, and adapts from
    /// there.
    pub(crate) fn new() -> PollPace {
        let now = Instant::now();
        let pace = PollPace {
            left: Cell::new(0),
            counted: Cell::new(0),
            stretch: Cell::new(0),
            look_every: Cell::new(1),
            last_check: Cell::new(now),
            last_reading: Cell::new(now),
        };
        pace.start_counting();
        pace
    }

    /// Counts one fiber run, reading the clock if it is time to; true if
    /// it did (the reading is `last_reading`).
    #[inline]
    pub(crate) fn count_run(&self) -> bool {
        self.count_run_reading(Instant::now)
    }

    /// `count_run` with the clock given (tests run it on a clock of their
    /// own).
    #[inline(always)]
    fn count_run_reading(&self, clock: impl FnOnce() -> Instant) -> bool {
        let left = self.left.get();
        if left > 1 {
            self.left.set(left - 1);
            false
        } else {
            self.end_stretch(left, clock)
        }
    }

    /// The last reading of the clock: no later than now.
    pub(crate) fn last_reading(&self) -> Instant {
        self.last_reading.get()
    }

    /// Whether timers and descriptors are owed a check before the next run.
    #[inline]
    pub(crate) fn is_due(&self) -> bool {
        self.left.get() == 0
    }

    /// A stretch of runs ended: a check is due after `POLL_INTERVAL` runs,
    /// or once the budget has passed; if not, the next stretch begins.
    /// Called with `left` at one (the stretch ends with this run) or zero
    /// (a check is due already, and a run is counted inside another: a
    /// join that starts its fiber); true if it read the clock.
    #[cold]
    #[inline(never)]
    fn end_stretch(&self, left: u32, clock: impl FnOnce() -> Instant) -> bool {
        self.left.set(0); // due, unless a next stretch begins below
        let counted = self.counted.get() + self.stretch.get();
        if left == 0 || counted >= POLL_INTERVAL {
            return false;
        }
        let now = clock();
        self.last_reading.set(now);
        if now.saturating_duration_since(self.last_check.get()) < POLL_BUDGET {
            self.counted.set(counted);
            self.begin_stretch((POLL_INTERVAL - counted).min(self.look_every.get()));
        }
        true
    }

    fn begin_stretch(&self, runs: u32) {
        self.stretch.set(runs);
        self.left.set(runs);
    }

    /// Starts counting from a check, at the pace `look_every` sets.
    fn start_counting(&self) {
        self.counted.set(0);
        self.begin_stretch(self.look_every.get());
    }

    /// Timers and descriptors were checked at `now`, after an idle spell
    /// (or before the first run): the count starts again, at the pace the
    /// last busy spell set.
    pub(crate) fn restart(&self, now: Instant) {
        self.last_check.set(now);
        self.last_reading.set(now);
        self.start_counting();
    }

    /// A check came due with nothing to check (no timer, no descriptor
    /// waited on): it reads no clock, and adapts the pace as a check would,
    /// by the last reading (a time no later than now).
    pub(crate) fn nothing_to_check(&self) {
        self.checked(self.last_reading.get());
    }

    /// Timers and descriptors were checked at `now`, with fibers running
    /// since the last check: the count starts again, reading the clock as
    /// often as those runs call for.
    pub(crate) fn checked(&self, now: Instant) {
        let took = now.saturating_duration_since(self.last_check.get());
        let runs = (self.counted.get() + self.stretch.get() - self.left.get()).max(1);
        let half = POLL_BUDGET / 2;
        let every = if took >= half {
            // As many runs as fit in half the budget, at this pace.
            let fit = u128::from(runs) * half.as_nanos() / took.as_nanos();
            u32::try_from(fit).unwrap_or(u32::MAX)
        } else {
            self.look_every.get().saturating_mul(2)
        };
        self.look_every.set(every.clamp(1, POLL_INTERVAL));
        self.last_check.set(now);
        self.last_reading.set(now);
        self.start_counting();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `n` fibers of `each`, as the loop would, checking when due;
    /// returns the runs between the last two checks.
    fn runs_between_checks(pace: &PollPace, clock: &mut Instant, each: Duration) -> u32 {
        let mut between = 0;
        for _ in 0..2 {
            between = 0;
            loop {
                *clock += each;
                let now = *clock;
                pace.count_run_reading(|| now);
                between += 1;
                if pace.is_due() {
                    pace.checked(*clock);
                    break;
                }
            }
        }
        between
    }

    #[test]
    fn fast_runs_are_checked_every_poll_interval_and_slow_ones_every_budget() {
        let pace = PollPace::new();
        let mut clock = pace.last_check.get();
        for _ in 0..10 {
            runs_between_checks(&pace, &mut clock, Duration::from_nanos(50));
        }
        assert_eq!(
            pace.look_every.get(),
            POLL_INTERVAL,
            "fast runs read no clock"
        );
        assert_eq!(
            runs_between_checks(&pace, &mut clock, Duration::from_nanos(50)),
            POLL_INTERVAL
        );
        // A millisecond a run: checked after every run once adapted.
        runs_between_checks(&pace, &mut clock, Duration::from_millis(1));
        assert_eq!(
            runs_between_checks(&pace, &mut clock, Duration::from_millis(1)),
            1
        );
        // 100 µs a run: checked at the first reading past the budget,
        // which comes within half a budget more.
        let each = Duration::from_micros(100);
        runs_between_checks(&pace, &mut clock, each);
        let runs = runs_between_checks(&pace, &mut clock, each);
        let took = each * runs;
        assert!(
            took >= POLL_BUDGET && took <= POLL_BUDGET * 3 / 2,
            "{runs} runs of 100 µs between checks"
        );
        // And back to the run count once runs are fast again.
        for _ in 0..10 {
            runs_between_checks(&pace, &mut clock, Duration::from_nanos(50));
        }
        assert_eq!(pace.look_every.get(), POLL_INTERVAL);
    }
}
