//! Model checks of selvedge's lock-free protocols with loom. The tests live
//! in `tests/`, one file per protocol; build with `RUSTFLAGS="--cfg loom"`.
//! See `docs/loom.md`.

#![cfg(loom)]

/// Runs `f` under loom with a preemption bound (default 3, or
/// `LOOM_MAX_PREEMPTIONS` when set).
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    model_bounded(None, f);
}

/// Like [`model`], with an explicit preemption bound that overrides
/// `LOOM_MAX_PREEMPTIONS` (for models whose state space explodes above it).
pub fn model_bounded<F: Fn() + Sync + Send + 'static>(bound: Option<usize>, f: F) {
    let mut builder = loom::model::Builder::new();
    if bound.is_some() {
        builder.preemption_bound = bound;
    }
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    // A party that meets a CLAIMED state spins (loom: yields) until its
    // holder finishes; each yield is a branch, so allow many.
    builder.max_branches = 100_000;
    builder.check(f);
}
