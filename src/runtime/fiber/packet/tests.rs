use super::*;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

fn message(e: Box<dyn std::any::Any + Send>) -> String {
    *e.downcast::<String>().expect("a String payload")
}

/// The result, if it is in and was not taken yet.
fn take<T>(view: &mut JoinView<T>) -> Option<std::thread::Result<T>> {
    // SAFETY: the view is its packet's only reader in these tests.
    unsafe { crate::op::oneshot::OneshotRecv::new(view.join()) }.take()
}

#[test]
fn a_packet_delivers_its_result_and_its_block_serves_the_next_packet() {
    let (body, mut h) = packet(|| 5u64, None, Location::caller());
    let first = h.head;
    body.enter(Start::Run);
    assert!(h.join().is_put());
    assert_eq!(take(&mut h).unwrap().unwrap(), 5);
    drop(h);
    let (body, mut h) = packet(|| 6u64, None, Location::caller());
    assert_eq!(h.head, first, "the freed block is reused");
    drop(body); // never started: the joiner learns why
    assert!(message(take(&mut h).unwrap().unwrap_err()).contains("torn down"));
}

#[test]
fn a_detached_fiber_drops_its_result_and_frees_its_packet() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (body, h) = packet(move || Counted(d), None, Location::caller());
    let block = h.head;
    drop(h);
    body.enter(Start::Run);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the result was dropped");
    let (body, h) = packet(move || Counted(drops), None, Location::caller());
    assert_eq!(h.head, block, "the packet was freed");
    drop((body, h));
}
