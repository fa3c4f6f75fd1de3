//! `select!`: a choice whose arm bodies run in the caller's own context.
//!
//! Each arm's operation is wrapped to store its output in a slot of its
//! own; the wrapped operations are joined with `or` and performed; then the
//! one filled slot's body runs outside any closure, so `break`, `continue`,
//! `return` and `?` act on the caller. The slots are hygienic identifiers
//! minted one per arm by the recursion below.

/// Waits for the first of several operations and runs that arm's body.
///
/// Each arm is `pattern = operation => body`. All operation expressions are
/// evaluated first, in order; then exactly one arm is chosen as by
/// [`choice`](crate::choice) (each ready arm equally likely), and its body
/// runs in the caller's context: `break`, `continue`, `return` and `?` work.
/// Patterns must be irrefutable (bind a `Result` and match it in the body).
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
    // Block body, with or without a trailing comma.
    ([$($done:tt)*] $pat:pat = $op:expr => $body:block , $($rest:tt)*) => {
        $crate::__select_parse!([$($done)* (slot, $pat, $op, $body)] $($rest)*)
    };
    ([$($done:tt)*] $pat:pat = $op:expr => $body:block $($rest:tt)*) => {
        $crate::__select_parse!([$($done)* (slot, $pat, $op, $body)] $($rest)*)
    };
    // Expression body: a comma, or the end.
    ([$($done:tt)*] $pat:pat = $op:expr => $body:expr , $($rest:tt)*) => {
        $crate::__select_parse!([$($done)* (slot, $pat, $op, $body)] $($rest)*)
    };
    ([$($done:tt)*] $pat:pat = $op:expr => $body:expr) => {
        $crate::__select_parse!([$($done)* (slot, $pat, $op, $body)])
    };
    ([$(($slot:ident, $pat:pat, $op:expr, $body:expr))+]) => {{
        $( let mut $slot = ::core::option::Option::None; )+
        $crate::__select_perform!([] $(($slot, $op))+);
        $crate::__select_dispatch!($(($slot, $pat, $body))+)
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_perform {
    ([] ($slot:ident, $op:expr) $($rest:tt)*) => {
        $crate::__select_perform!(
            [$crate::Op::wrap($op, |v| { $slot = ::core::option::Option::Some(v); })]
            $($rest)*
        )
    };
    ([$acc:expr] ($slot:ident, $op:expr) $($rest:tt)*) => {
        $crate::__select_perform!(
            [$crate::Op::or($acc, $crate::Op::wrap($op, |v| { $slot = ::core::option::Option::Some(v); }))]
            $($rest)*
        )
    };
    ([$acc:expr]) => {
        $crate::Op::perform($acc)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_dispatch {
    (($slot:ident, $pat:pat, $body:expr) $($rest:tt)*) => {
        if let ::core::option::Option::Some(value) = $slot {
            let $pat = value;
            $body
        } else {
            $crate::__select_dispatch!($($rest)*)
        }
    };
    () => {
        ::core::unreachable!("select!: the performed choice filled no arm")
    };
}
