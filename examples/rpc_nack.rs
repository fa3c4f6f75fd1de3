//! Step 3 of the guide (docs/guide.md): a server that abandons the
//! requests whose clients gave up, with `with_nack`, CML's signature
//! idiom.
//!
//!     cargo run --example rpc_nack
//!
//! A client sends a request and then waits for the reply or for its own
//! deadline. The request carries a *nack*: an operation that becomes
//! ready when the client's choice commits to something else (the
//! deadline). The server races its slow work against that nack, so it
//! stops working for clients that are no longer listening.

use std::time::Duration;

use selvedge::{after, channel, spawn, with_nack, Nack, Op, Sender};

struct Request {
    n: u64,
    reply: Sender<u64>,
    /// Ready once the client has given up on this request.
    gave_up: Nack,
}

fn main() {
    selvedge::run(|| {
        let (requests, incoming) = channel::<Request>();

        let server = spawn(move || {
            let mut abandoned = 0;
            for req in incoming.iter() {
                // "Work" that takes n milliseconds, unless the client
                // gives up first.
                let work = after(Duration::from_millis(req.n)).wrap(|()| true);
                let finished = work.or(req.gave_up.wrap(|()| false)).perform();
                if finished {
                    let _ = req.reply.send(req.n * 2);
                } else {
                    abandoned += 1;
                }
            }
            abandoned
        });

        // One client asks for quick work, one for slow work, both with a
        // 50 ms deadline.
        for n in [10, 500] {
            let requests = requests.clone();
            let (reply_tx, reply_rx) = channel();
            // `with_nack` builds the operation when it is performed, and
            // hands it the nack for this perform.
            let call = with_nack(move |gave_up| {
                requests
                    .send(Request {
                        n,
                        reply: reply_tx,
                        gave_up,
                    })
                    .unwrap();
                reply_rx.into_recv_op().wrap(|r| r.ok())
            });
            let answer = call
                .or(after(Duration::from_millis(50)).wrap(|()| None))
                .perform();
            match answer {
                Some(v) => println!("request {n}: answered {v}"),
                None => println!("request {n}: gave up after 50 ms"),
            }
        }
        drop(requests);
        println!("the server abandoned {} request(s)", server.join().unwrap());
    });
}
