//! `fiber::Builder`: a fiber with a name, or a stack size of its own, in
//! `std::thread::Builder`'s shape.

use std::io;
use std::panic::Location;

use crate::runtime::context;
use crate::runtime::fiber::head::Spec;
use crate::runtime::fiber::join::JoinHandle;
use crate::runtime::fiber::packet::{packet, packet_send};
use crate::runtime::{Handle, MAX_STACK_SIZE, MIN_STACK_SIZE};

/// Configures a fiber before it is spawned: its name, which every message
/// about it uses (panics, dumps, deadlock reports, stack overflows), and
/// its stack size.
///
/// ```
/// use selvedge::fiber;
/// selvedge::run(|| {
///     let h = fiber::Builder::new()
///         .name("parser")
///         .stack_size(4 << 20)
///         .spawn(|| {
///             fn depth(n: u32) -> u32 {
///                 let pad = std::hint::black_box([n as u8; 512]);
///                 if n == 0 { pad[0] as u32 } else { 1 + depth(n - 1) }
///             }
///             depth(1000) // about 1 MiB of stack: more than the default
///         })
///         .unwrap();
///     assert_eq!(h.join().unwrap(), 1000);
/// });
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the runtime's stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the fiber. The name appears in its panic report, in dumps,
    /// deadlock reports and stack overflow messages, and is returned by
    /// [`current_name`](super::current_name) inside it.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// The fiber's stack size in bytes, instead of the runtime's
    /// (`runtime::Builder::stack_size`). Rounded up to whole pages and to
    /// at least 16 KiB. A stack of its own size is mapped for the fiber
    /// alone (with its guard page) and unmapped when it finishes, where
    /// stacks of the runtime's size are pooled.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the fiber on the calling fiber's scheduler, as
    /// [`spawn`](crate::spawn) does, and takes its stack now: where `spawn`
    /// gives a fiber its stack when it first runs, this reports a stack
    /// that cannot be had (the error names the limit), as
    /// `std::thread::Builder::spawn` reports a thread that cannot start.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a stack size above the largest the runtime
    /// accepts; `OutOfMemory` when no stack can be mapped, with a message
    /// naming the limit and the fixes.
    ///
    /// # Panics
    ///
    /// Outside a runtime, as `spawn` does.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let at = Location::caller();
        let spec = self.into_spec()?;
        let (body, view) = packet(f, Some(spec), at);
        context::spawn_with_stack(body)
            .expect("selvedge::fiber::Builder::spawn called outside a runtime: start fibers from inside selvedge::run")?;
        Ok(JoinHandle::new(view))
    }

    /// Starts the fiber on a scheduler of `handle`'s runtime, as
    /// [`Handle::spawn`] does. Its stack is taken when it first runs, on
    /// its scheduler's thread: a stack that cannot be had then makes its
    /// `join` return an error naming the limit.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a stack size above the largest the runtime
    /// accepts.
    ///
    /// # Panics
    ///
    /// When the runtime is not running, as `Handle::spawn` does.
    #[track_caller]
    pub fn spawn_on<F, T>(self, handle: &Handle, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let at = Location::caller();
        let spec = self.into_spec()?;
        Ok(handle.spawn_packet(None, packet_send(f, Some(spec), at)))
    }

    fn into_spec(self) -> io::Result<Box<Spec>> {
        let stack_size = match self.stack_size {
            Some(bytes) if bytes > MAX_STACK_SIZE => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "selvedge: fiber::Builder::stack_size must be at most {MAX_STACK_SIZE} \
                         bytes, got {bytes}"
                    ),
                ))
            }
            Some(bytes) => Some(bytes.max(MIN_STACK_SIZE)),
            None => None,
        };
        Ok(Box::new(Spec {
            name: self.name,
            stack_size,
            ..Spec::default()
        }))
    }
}
