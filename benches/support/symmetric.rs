//! The minimal runtime (`minimal.rs`) on a symmetric switch of our own, as
//! a peer: a fiber that blocks switches straight to the next runnable
//! fiber (or back to `run` when there is none), with no trip through a
//! loop: one switch per block where corosensei's asymmetric
//! resume/suspend takes two. Same FIFO order, channels and matching as the
//! minimal runtime; stacks are corosensei's guarded `DefaultStack`s.
//!
//! It measures what replacing corosensei's coroutines with a switch of our
//! own would buy (docs/benchmarks.md), so x86-64 System V only, and no
//! more than the suite needs: no stack pool (ping-pong, ring and select4
//! spawn their fibers once), no unwinding through a fiber (a panic in one
//! aborts), and fibers still blocked when `run` returns are not unwound:
//! their stacks are unmapped and what their frames own is leaked.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};

use corosensei::stack::{DefaultStack, Stack};

use crate::minimal::{Fibers, STACK_SIZE, SYNCED};

// `bench_switch(save, to)`: pushes the callee-saved registers on the
// current stack, stores the stack pointer in `*save`, loads `to` (a stack
// pointer stored by an earlier switch, or built by `Sched::spawn`), pops
// that stack's registers and returns on it. `bench_trampoline` is where a
// new fiber's first switch returns to: it calls `r13(r12)`, which never
// returns.
std::arch::global_asm!(
    ".global bench_switch",
    ".balign 16",
    "bench_switch:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".global bench_trampoline",
    ".balign 16",
    "bench_trampoline:",
    "mov rdi, r12",
    "call r13",
    "ud2",
);

extern "C" {
    fn bench_switch(save: *mut usize, to: usize);
    fn bench_trampoline();
}

/// A fiber's function, until it starts.
type Body = Box<dyn FnOnce(&DirectCx)>;

/// One fiber: where its stack pointer was saved, and what it runs.
struct Record {
    sp: Cell<usize>,
    body: Cell<Option<Body>>,
    sched: *const Sched,
    me: usize,
    _stack: DefaultStack,
}

/// The fibers (boxed, so a saved stack pointer's address stays put while
/// the table grows), the run queue, and where `run` waits.
#[derive(Default)]
struct Sched {
    #[allow(clippy::vec_box)] // the boxes are the point: see above
    fibers: RefCell<Vec<Box<Record>>>,
    queue: RefCell<VecDeque<usize>>,
    main_sp: Cell<usize>,
}

/// A new fiber's first code: runs its body, then leaves for good.
extern "C" fn fiber_entry(record: *const Record) -> ! {
    // SAFETY: `spawn` passed the fiber's own boxed record, which the
    // scheduler keeps until `run` returns, and `run` does not return while
    // a fiber runs.
    let record = unsafe { &*record };
    // SAFETY: likewise for the scheduler, which lives in `run`'s frame.
    let sched = unsafe { &*record.sched };
    let body = record.body.take().expect("a fiber starts once");
    body(&DirectCx {
        me: record.me,
        sched: record.sched,
    });
    // Nobody queues a finished fiber, so this switch never comes back.
    sched.switch_away(record.me);
    unreachable!("a finished fiber was resumed")
}

impl Sched {
    fn spawn(&self, body: impl FnOnce(&DirectCx) + 'static) {
        let stack = DefaultStack::new(STACK_SIZE).expect("a fiber stack");
        let top = stack.base().get() & !15;
        // The first switch pops six registers (r13: the entry, r12: its
        // argument) and returns to the trampoline, leaving the stack
        // 16-byte aligned for its call.
        let sp = top - 72;
        let me = self.fibers.borrow().len();
        let record = Box::new(Record {
            sp: Cell::new(sp),
            body: Cell::new(Some(Box::new(body))),
            sched: self,
            me,
            _stack: stack,
        });
        let frame: [usize; 7] = [
            0,                                      // r15
            0,                                      // r14
            fiber_entry as *const () as usize,      // r13
            std::ptr::from_ref(&*record) as usize,  // r12
            0,                                      // rbx
            0,                                      // rbp
            bench_trampoline as *const () as usize, // return address
        ];
        // SAFETY: `sp..top` lies in the stack's mapped, writable top, which
        // nothing else uses yet, and `sp` is 8-byte aligned.
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), sp as *mut usize, 7) };
        self.fibers.borrow_mut().push(record);
        self.queue.borrow_mut().push_back(me);
    }

    fn saved_sp(&self, fiber: usize) -> usize {
        self.fibers.borrow()[fiber].sp.get()
    }

    /// Suspends fiber `me`: switches straight to the next runnable fiber,
    /// or back to `run` if there is none.
    fn switch_away(&self, me: usize) {
        let next = self.queue.borrow_mut().pop_front();
        let to = match next {
            Some(fiber) => self.saved_sp(fiber),
            None => self.main_sp.get(),
        };
        let save = self.fibers.borrow()[me].sp.as_ptr();
        // SAFETY: `to` was saved by the switch that suspended that fiber
        // (or `run`), or built by `spawn`, and is resumed once: a fiber is
        // queued only while it waits, and leaves the queue here. `save` is
        // in `me`'s boxed record, which outlives the switch. No `RefCell`
        // borrow is held across it.
        unsafe { bench_switch(save, to) };
    }

    /// Runs queued fibers until none is runnable: each switch back here
    /// means the queue ran dry.
    fn run(&self) {
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(fiber) = next else { break };
            let to = self.saved_sp(fiber);
            // SAFETY: as in `switch_away`; `main_sp` lives in `self`,
            // which outlives every fiber's run.
            unsafe { bench_switch(self.main_sp.as_ptr(), to) };
        }
    }
}

/// What a fiber body gets: its index and its scheduler.
pub(crate) struct DirectCx {
    me: usize,
    sched: *const Sched,
}

impl DirectCx {
    fn sched(&self) -> &Sched {
        // SAFETY: the scheduler lives in `run`'s frame, which outlives
        // every fiber body (and so every `DirectCx`).
        unsafe { &*self.sched }
    }
}

impl Fibers for DirectCx {
    fn run(main: impl FnOnce(&DirectCx) + 'static) {
        let sched = Sched::default();
        sched.spawn(main);
        sched.run();
        // Fibers still blocked are dropped here without unwinding: their
        // stacks are unmapped; what their frames own leaks (see above).
        // Nothing reaches into those stacks any more: their waiters are
        // queued in channels only those frames held.
    }

    fn spawn(&self, body: impl FnOnce(&DirectCx) + 'static) {
        self.sched().spawn(body);
    }

    fn me(&self) -> usize {
        self.me
    }

    fn wait(&self, state: &AtomicU8) {
        while state.load(Ordering::Acquire) != SYNCED {
            self.sched().switch_away(self.me);
        }
    }

    fn ready(&self, fiber: usize) {
        self.sched().queue.borrow_mut().push_back(fiber);
    }
}
