//! `select!`: a choice whose arm bodies run in the caller's own context.
//!
//! The arms' operations go into one list (`arms::Arms`) that is performed
//! as a choice; the perform says which arm won, the macro dispatches on
//! that once, and the winning arm's body runs outside any closure, so
//! `break`, `continue`, `return` and `?` act on the caller. Arm `k` is
//! named by a type-level index (`Next` applied `k` times to `First`), which
//! the recursion below builds one arm at a time.

/// Waits for the first of several operations and runs that arm's body.
///
/// Each arm is `pattern = operation => body`. All operation expressions are
/// evaluated first, in order; then exactly one arm is chosen as by
/// [`choice`](crate::choice) (each ready arm equally likely), and its body
/// runs in the caller's context: `break`, `continue`, `return` and `?` work.
/// The arms that lose are dropped before it runs (a losing
/// [`with_nack`](crate::with_nack) arm's nack fires); temporaries made in
/// the operation expressions live until the `select!` ends. Patterns must
/// be irrefutable (bind a `Result` and match it in the body).
///
/// A last arm `default => body` makes the `select!` not block: if no other
/// arm can complete at once, the others are dropped and `body` runs (as
/// [`Op::try_perform`](crate::Op::try_perform) returning `None`; Go's
/// `default`). To wait a while instead, add an arm for
/// [`after`](crate::after).
///
/// ```
/// selvedge::run(|| {
///     let (tx, rx) = selvedge::bounded::<u32>(1);
///     let try_recv = || selvedge::select! {
///         v = rx.recv_op() => v.ok(),
///         default => None,
///     };
///     assert_eq!(try_recv(), None);
///     tx.send(7).unwrap();
///     assert_eq!(try_recv(), Some(7));
/// });
/// ```
///
/// ```
/// use std::time::Duration;
/// selvedge::run(|| {
///     let (tx, rx) = selvedge::channel::<u32>();
///     selvedge::spawn(move || { tx.send(1).unwrap(); tx.send(2).unwrap(); });
///     let mut got = Vec::new();
///     loop {
///         selvedge::select! {
///             msg = rx.recv_op() => match msg {
///                 Ok(v) => got.push(v),
///                 Err(_) => break,
///             },
///             () = selvedge::after(Duration::from_secs(5)) => panic!("timed out"),
///         }
///     }
///     assert_eq!(got, [1, 2]);
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($arms:tt)+) => {
        $crate::__select_parse!([] $($arms)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // The default arm: last, with or without a trailing comma.
    ([$($done:tt)*] default => $body:block $(,)?) => {
        $crate::__select_parse!(@default [$($done)*] $body)
    };
    ([$($done:tt)*] default => $body:expr $(,)?) => {
        $crate::__select_parse!(@default [$($done)*] $body)
    };
    // Block body, with or without a trailing comma.
    ([$($done:tt)*] $pat:pat = $op:expr => $body:block , $($rest:tt)*) => {
        $crate::__select_parse!([$($done)* ($pat, $op, $body)] $($rest)*)
    };
    ([$($done:tt)*] $pat:pat = $op:expr => $body:block $($rest:tt)*) => {
        $crate::__select_parse!([$($done)* ($pat, $op, $body)] $($rest)*)
    };
    // Expression body: a comma, or the end.
    ([$($done:tt)*] $pat:pat = $op:expr => $body:expr , $($rest:tt)*) => {
        $crate::__select_parse!([$($done)* ($pat, $op, $body)] $($rest)*)
    };
    ([$($done:tt)*] $pat:pat = $op:expr => $body:expr) => {
        $crate::__select_parse!([$($done)* ($pat, $op, $body)])
    };
    // The operations are `match`ed on, as crossbeam's `select!` does, so
    // that temporaries made in their expressions live until the end.
    //
    // One arm: its operation's own `perform`, which may be faster than a
    // choice's (a lone channel end skips the leaf list).
    ([($pat:pat, $op:expr, $body:expr)]) => {
        match $crate::Op::perform($op) {
            $pat => $body,
        }
    };
    // With a default: try the arms once, and run the default if none is
    // ready (after the arms are dropped).
    (@default [] $default:expr) => {
        $default
    };
    (@default [$(($pat:pat, $op:expr, $body:expr))+] $default:expr) => {
        match $crate::__select_arms!($($op),+) {
            mut arms => match $crate::__private::arms::try_perform(&mut arms) {
                ::core::option::Option::Some(won) => $crate::__select_dispatch!(
                    arms, won, ($crate::__private::arms::First) $(($pat, $body))+
                ),
                ::core::option::Option::None => {
                    $crate::__private::arms::discard(arms);
                    $default
                }
            },
        }
    };
    ([$(($pat:pat, $op:expr, $body:expr))+]) => {
        match $crate::__select_arms!($($op),+) {
            mut arms => {
                let won = $crate::__private::arms::perform(&mut arms);
                $crate::__select_dispatch!(
                    arms, won, ($crate::__private::arms::First) $(($pat, $body))+
                )
            }
        }
    };
}

/// The arms' operations as one list, evaluated in order.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_arms {
    ($op:expr $(, $rest:expr)*) => {
        $crate::__private::arms::Arms::new($op, $crate::__select_arms!($($rest),*))
    };
    () => {
        $crate::never::<usize>()
    };
}

/// Runs the body of the arm that won: arm `$idx` if it is that one, else
/// the next; the last arm is the only one left, so it needs no test.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_dispatch {
    ($arms:ident, $won:ident, ($idx:ty) ($pat:pat, $body:expr)) => {{
        let $pat = $crate::__private::arms::take::<$idx, _>($arms, $won.leaf);
        $body
    }};
    ($arms:ident, $won:ident, ($idx:ty) ($pat:pat, $body:expr) $($rest:tt)+) => {
        if $won.arm == $crate::__private::arms::arm::<$idx, _>(&$arms) {
            let $pat = $crate::__private::arms::take::<$idx, _>($arms, $won.leaf);
            $body
        } else {
            $crate::__select_dispatch!(
                $arms, $won, ($crate::__private::arms::Next<$idx>) $($rest)+
            )
        }
    };
}
