//! The I/O driver: the descriptors a poller watches and the performs that
//! wait on them (`table`: one per scheduler, one for the reactor), and the
//! reactor that serves plain threads.
//!
//! It imports the operation protocol (to commit) and the poller; the
//! scheduler owns a table and dispatches its poller's events into it.

pub(crate) mod reactor;
pub(crate) mod table;
