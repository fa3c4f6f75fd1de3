//! A pool of OS threads for blocking calls (`crate::blocking`): threads
//! start as jobs come, up to a limit, and exit after a while idle.
//!
//! Each runtime owns one, sized by `Builder::blocking_threads`; a job
//! submitted outside any runtime goes to a process-wide pool of the
//! default size.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// How many blocking calls run at once by default: enough for a server's
/// file and name lookups to overlap, few enough not to swamp the cores.
pub(crate) const DEFAULT_BLOCKING_THREADS: usize = 64;

/// How long a pool thread waits for a job before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A job: runs once on a pool thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// A pool of threads for blocking calls.
pub(crate) struct BlockingPool {
    state: Mutex<State>,
    /// Signalled when a job is queued for an idle thread.
    work: Condvar,
    max: usize,
    idle_timeout: Duration,
}

struct State {
    queue: VecDeque<Job>,
    /// Threads alive, and how many of them wait for a job.
    threads: usize,
    idle: usize,
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("BlockingPool")
            .field("max", &self.max)
            .field("threads", &state.threads)
            .field("queued", &state.queue.len())
            .finish()
    }
}

impl BlockingPool {
    /// A pool of at most `max` threads (at least one).
    pub(crate) fn new(max: usize) -> BlockingPool {
        BlockingPool::with_idle_timeout(max, IDLE_TIMEOUT)
    }

    pub(crate) fn with_idle_timeout(max: usize, idle_timeout: Duration) -> BlockingPool {
        BlockingPool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
            }),
            work: Condvar::new(),
            max: max.max(1),
            idle_timeout,
        }
    }

    /// The pool for jobs submitted outside any runtime.
    pub(crate) fn global() -> &'static Arc<BlockingPool> {
        static GLOBAL: OnceLock<Arc<BlockingPool>> = OnceLock::new();
        GLOBAL.get_or_init(|| Arc::new(BlockingPool::new(DEFAULT_BLOCKING_THREADS)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `job` on a pool thread: an idle one, a new one if the pool is
    /// below its limit, or the first to finish its job. A thread that
    /// cannot be started leaves the job queued for the running ones (or,
    /// with none running, runs it here).
    pub(crate) fn submit(self: &Arc<Self>, job: Job) {
        let mut state = self.lock();
        state.queue.push_back(job);
        if state.idle > 0 {
            drop(state);
            self.work.notify_one();
            return;
        }
        if state.threads >= self.max {
            return; // the first thread to finish takes it
        }
        state.threads += 1;
        drop(state);
        let pool = self.clone();
        let started = std::thread::Builder::new()
            .name("selvedge-blocking".into())
            .spawn(move || pool.work_loop());
        if started.is_err() {
            let mut state = self.lock();
            state.threads -= 1;
            if state.threads == 0 {
                // Nobody will take it: run it here rather than lose it.
                let job = state.queue.pop_back();
                drop(state);
                if let Some(job) = job {
                    job();
                }
            }
        }
    }

    /// A pool thread: takes jobs until none comes for the idle timeout.
    fn work_loop(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // A job catches its own panics (`crate::blocking`).
                job();
                state = self.lock();
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, self.idle_timeout)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }

    /// Threads alive now (for tests).
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[test]
    fn jobs_run_at_most_max_at_once_and_idle_threads_exit() {
        let pool = Arc::new(BlockingPool::with_idle_timeout(
            2,
            Duration::from_millis(50),
        ));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for _ in 0..6 {
            let (running, most, tx) = (running.clone(), most.clone(), tx.clone());
            pool.submit(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
                running.fetch_sub(1, Ordering::SeqCst);
                tx.send(()).unwrap();
            }));
        }
        for _ in 0..6 {
            rx.recv().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert!(pool.threads() <= 2);
        // Idle threads exit after the timeout.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while pool.threads() > 0 {
            assert!(std::time::Instant::now() < deadline, "idle threads stayed");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
