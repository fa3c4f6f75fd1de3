//! How a fiber is kept and run: its packet (closure and join state, and
//! the handle on it), its slot in the scheduler's table, and the coroutine
//! and pooled stack it runs on.
//!
//! These are mechanisms: they import the operation protocol (a join is a
//! one-shot) and `current`, never the scheduler or its policy, which
//! drive them.

pub(crate) mod block_cache;
pub(crate) mod coroutine;
pub(crate) mod guard;
pub(crate) mod head;
pub(crate) mod join;
pub(crate) mod overflow;
pub(crate) mod packet;
pub(crate) mod slot;
pub(crate) mod stack;
pub(crate) mod stack_pool;
pub(crate) mod table;
