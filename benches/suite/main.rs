//! The benchmark suite: each workload on selvedge and on what users would
//! pick instead, in the same run, with the selvedge/peer ratio (below 1 is
//! selvedge ahead). Absolute times on shared machines drift; ratios hold.
//!
//!     cargo bench --bench suite                       # everything
//!     cargo bench --bench suite -- ring select4       # some workloads
//!     cargo bench --bench suite -- --quick            # CI: checks it runs
//!     cargo bench --bench suite -- --rounds 9         # more samples
//!     cargo bench --bench suite -- --svg docs/benchmarks.svg
//!
//! The suite runs in rounds (five by default, one with `--quick`): each
//! round runs every chosen workload on every runtime once, and the table
//! gives each number's median across rounds, its range, and the median of
//! the per-round selvedge/peer ratios; then the targets, as ratios.

mod channels;
mod fibers;
mod floor;
mod peers;
mod timers;

use selvedge_harness::kernel;
use selvedge_harness::options::Options;
use selvedge_harness::report::{chart_bars, ratio_table, target_table, Row, Series, TARGETS};
use selvedge_harness::svg;

pub(crate) struct Suite {
    quick: bool,
    rows: Vec<Row>,
}

impl Suite {
    pub(crate) fn scale(&self, full: u64) -> u64 {
        if self.quick {
            (full / 100).max(10)
        } else {
            full
        }
    }

    pub(crate) fn add(
        &mut self,
        workload: &'static str,
        who: &'static str,
        value: f64,
        unit: &'static str,
    ) {
        println!("  {workload:<16} {who:<34} {value:>12.1} {unit}");
        self.rows.push(Row {
            workload,
            who,
            value,
            unit,
        });
    }
}

pub(crate) fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

type Workload = (&'static str, fn(&mut Suite));

const WORKLOADS: &[Workload] = &[
    ("pingpong", channels::pingpong),
    ("ring", channels::ring),
    ("select4", channels::select4),
    ("select_timeout", channels::select_timeout),
    ("buffered", channels::buffered),
    ("skynet", fibers::skynet),
    ("spawn_join", fibers::spawn_join),
    ("timers", timers::timers),
    ("parked_memory", fibers::parked_memory),
    ("xpingpong", channels::xpingpong),
    ("busy", timers::busy),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return fibers::child(&args[1..]);
    }
    let names: Vec<&str> = WORKLOADS.iter().map(|(name, _)| *name).collect();
    let options = Options::parse(&args, &names).unwrap_or_else(|e| usage_error(&e));
    let rounds = options.rounds;
    println!(
        "selvedge benchmark suite{}, {rounds} round{}",
        if options.quick {
            " (quick: checks it runs)"
        } else {
            ""
        },
        if rounds == 1 { "" } else { "s" }
    );
    let mut samples = Vec::new();
    for round in 1..=rounds {
        if rounds > 1 {
            println!("round {round} of {rounds}");
        }
        let mut suite = Suite {
            quick: options.quick,
            rows: Vec::new(),
        };
        for (name, run) in WORKLOADS {
            if options.runs(name) {
                run(&mut suite);
            }
        }
        samples.push(suite.rows);
    }
    let series = Series::gather(&samples);
    println!("\n{}", ratio_table(&series));
    println!("{}", target_table(&series, TARGETS, options.quick));
    if let Some(path) = &options.svg {
        std::fs::write(path, svg::chart(&chart_bars(&series))).unwrap();
        println!("wrote {path}");
    }
}

/// Bad arguments: says what is wrong and exits with status 2.
fn usage_error(message: &str) -> ! {
    eprintln!("suite: {message}");
    std::process::exit(2)
}
