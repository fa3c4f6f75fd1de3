//! The name of a fiber within its scheduler.

/// Identifies a fiber within its scheduler: a table index and a generation,
/// so a late wake for a finished fiber can be recognised and ignored.
/// Generations continue from one run of a scheduler to the next (its
/// `Shared` keeps the last), so a key is never reused until they wrap,
/// after 2^32 fibers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FiberKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}
