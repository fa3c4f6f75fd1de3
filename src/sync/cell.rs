//! An `UnsafeCell` whose accesses loom can see: `std`'s normally, loom's
//! under `--cfg loom`, behind loom's API (as in tokio's `loom` shim): the
//! closure-taking `with`/`with_mut`, and `get_mut` for an access that a
//! guard holds open (the spin lock's). Code written against it compiles
//! either way, and the model checker flags unordered accesses.

/// `std::cell::UnsafeCell` with loom's access API.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer for reading the value.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer for writing the value.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }

    /// A pointer for writing the value, for as long as the caller holds it
    /// (loom tracks the access until it is dropped).
    #[inline(always)]
    pub(crate) fn get_mut(&self) -> MutPtr<T> {
        MutPtr(self.0.get())
    }
}

/// A pointer from `UnsafeCell::get_mut`.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct MutPtr<T>(*mut T);

#[cfg(not(loom))]
impl<T> MutPtr<T> {
    /// The value, mutably.
    ///
    /// # Safety
    ///
    /// No other reference to the value exists while the one returned does.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // loom's `MutPtr::deref`; exclusive by contract
    pub(crate) unsafe fn deref(&self) -> &mut T {
        // SAFETY: the caller's promise; the pointer is into a live cell,
        // which the holder of the pointer borrows.
        unsafe { &mut *self.0 }
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::{MutPtr, UnsafeCell};
