//! Every operation whose leaf lends a pointer into itself to other parties
//! while it is performed (a channel's queue node and value slot, a
//! readiness wait's result slot) is `!Unpin`: its performer takes `&mut`
//! to it again while those parties may write through the pointer, which
//! the aliasing rules allow only for `!Unpin` data (Miri finds the channel
//! case; see docs/unsafe.md). This file fails to compile if one is `Unpin`.

/// Has one implementation for every type, and a second for `Unpin` types:
/// naming its function for an `Unpin` type is ambiguous, a compile error.
trait AmbiguousIfUnpin<A> {
    fn not_unpin() {}
}
impl<T: ?Sized> AmbiguousIfUnpin<()> for T {}
impl<T: ?Sized + Unpin> AmbiguousIfUnpin<u8> for T {}

macro_rules! assert_not_unpin {
    ($($t:ty),+ $(,)?) => {
        $(<$t as AmbiguousIfUnpin<_>>::not_unpin();)+
    };
}

#[test]
fn operations_that_lend_pointers_into_themselves_are_not_unpin() {
    assert_not_unpin!(
        selvedge::SendOp<'static, u8>,
        selvedge::RecvOp<'static, u8>,
        selvedge::IntoRecvOp<u8>,
        selvedge::io::Readiness<'static>,
    );
}
