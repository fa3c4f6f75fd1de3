//! CML's synchronous variables: [`IVar`], written once and read by all,
//! and [`MVar`], a one-place buffer.
//!
//! A user-facing layer: an `IVar` is a write-once cell beside the signal
//! of `op::signal` (the one `Condition` uses), an `MVar` a channel that
//! buffers one value. Neither touches the runtime.

mod ivar;
mod mvar;

pub use ivar::IVar;
pub use mvar::MVar;
