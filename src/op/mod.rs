//! Operations (Concurrent ML events): the algebra users build them with,
//! and the protocol that performs them.
//!
//! An operation is a tree: inner nodes (`wrap`, `or`, `choice`, `guard`,
//! `with_nack`) and leaves (a channel end, a timer, a signal). Performing it
//! runs the guards, flattens the leaves into one list (a tree whose type
//! fixes its leaf count tries them in place first), and commits exactly
//! one leaf through the protocol in `state`; then the winning path's wrap
//! functions run, and every losing `with_nack` branch signals its [`Nack`].
//!
//! This layer owns the algebra (`algebra`, `combinators`, `nack`, `arms`),
//! `perform` and the choice's random `order`, and the protocol beneath
//! them (`tree`, `leaf`, `state`, `oneshot`, `signal`). It imports the
//! runtime only through `runtime::context` (to park and to arm timers) and
//! the waker a blocked perform leaves; the runtime's drivers import the
//! protocol to commit performs. That pair of arrows is the one seam
//! between the two layers.

mod algebra;
pub mod arms;
mod base;
mod combinators;
pub(crate) mod leaf;
mod nack;
pub(crate) mod oneshot;
mod order;
pub(crate) mod perform;
pub(crate) mod signal;
pub(crate) mod state;
pub(crate) mod tree;

pub use algebra::{BoxOp, Op, Or, Wrap};
pub use base::{base_op, BaseOp, Completer};
pub use combinators::{always, choice, guard, never, Always, Choice, Guard, Never};
pub use nack::{with_nack, Nack, WithNack};
