//! with_nack: the Nack becomes ready exactly when its branch is not chosen.

use selvedge::{always, channel, never, run, spawn, with_nack, yield_now, Nack, Op};
use std::cell::RefCell;
use std::rc::Rc;

fn capture(slot: &Rc<RefCell<Option<Nack>>>) -> impl FnOnce(Nack) -> selvedge::Never<u32> {
    let slot = slot.clone();
    move |nack| {
        *slot.borrow_mut() = Some(nack);
        never()
    }
}

#[test]
fn nack_fires_when_another_branch_wins() {
    let slot = Rc::new(RefCell::new(None));
    assert_eq!(with_nack(capture(&slot)).or(always(1)).perform(), 1);
    let nack = slot
        .borrow_mut()
        .take()
        .expect("with_nack ran at perform time");
    assert!(nack.is_ready());
    nack.perform();
}

#[test]
fn nack_does_not_fire_when_its_branch_wins() {
    let slot = Rc::new(RefCell::new(None));
    let s = slot.clone();
    let v = with_nack(move |nack| {
        *s.borrow_mut() = Some(nack);
        always(5)
    })
    .or(never())
    .perform();
    assert_eq!(v, 5);
    let nack = slot.borrow_mut().take().unwrap();
    assert!(!nack.is_ready());
    assert!(nack.try_perform().is_none());
}

#[test]
fn with_nack_runs_only_when_performed() {
    let slot = Rc::new(RefCell::new(None));
    drop(with_nack(capture(&slot)));
    assert!(slot.borrow().is_none());
}

#[test]
fn nested_nacks_fire_for_the_losing_inner_branch_only() {
    let (outer, inner) = (Rc::new(RefCell::new(None)), Rc::new(RefCell::new(None)));
    let i = inner.clone();
    let o = outer.clone();
    let v = with_nack(move |nack| {
        *o.borrow_mut() = Some(nack);
        with_nack(move |n| {
            *i.borrow_mut() = Some(n);
            never()
        })
        .or(always(2))
    })
    .perform();
    assert_eq!(v, 2);
    assert!(!outer.borrow().as_ref().unwrap().is_ready());
    assert!(inner.borrow().as_ref().unwrap().is_ready());
}

#[test]
fn a_server_abandons_a_request_on_nack() {
    // The CML pattern: a client's request carries a nack; the server offers
    // the reply or, if the client chose something else, gives up.
    run(|| {
        let (req_tx, req_rx) = channel::<(u32, selvedge::Sender<u32>, Nack)>();
        let server = spawn(move || {
            let mut abandoned = 0;
            for (n, reply, nack) in &req_rx {
                let delivered = reply
                    .send_op(n * 2)
                    .wrap(|r| r.is_ok())
                    .or(nack.wrap(|()| false));
                if !delivered.perform() {
                    abandoned += 1;
                }
            }
            abandoned
        });
        // A client that takes an always-ready branch instead of the reply.
        let req = req_tx.clone();
        let v = with_nack(move |nack| {
            let (reply_tx, reply_rx) = channel();
            req.send((21, reply_tx, nack)).unwrap();
            reply_rx.into_recv_op().wrap(|r| r.unwrap())
        })
        .or(always(0).wrap(|v| {
            yield_now();
            v
        }))
        .perform();
        // Whichever branch won, a second client that waits gets its answer.
        let req = req_tx.clone();
        let w = with_nack(move |nack| {
            let (reply_tx, reply_rx) = channel();
            req.send((5, reply_tx, nack)).unwrap();
            reply_rx.into_recv_op().wrap(|r| r.unwrap())
        })
        .perform();
        assert_eq!(w, 10);
        drop(req_tx);
        let abandoned = server.join().unwrap();
        assert!(
            v == 42 && abandoned == 0 || v == 0 && abandoned == 1,
            "v={v} abandoned={abandoned}"
        );
    });
}
