//! The benchmark suite's harness: its command line (`options`), what it
//! reports (`report`: medians, ratios to peers, targets) and its chart
//! (`svg`); and what the running kernel allows for fiber stacks
//! (`kernel`), which the suite and the stack tests both ask.
//!
//! A crate of its own, so that its tests run with `cargo test` without the
//! library's test build including benchmark code.

pub mod kernel;
pub mod options;
pub mod report;
pub mod svg;
