//! What the suite reports: the rows of all rounds gathered into one
//! series per measure, the table of medians and per-round ratios, the
//! targets judged against them, and the chart's bars.

use std::fmt::Write as _;

/// One measured number.
#[derive(Debug)]
pub struct Row {
    /// The workload, as the table names it.
    pub workload: &'static str,
    /// Who ran it ("selvedge...", or a peer).
    pub who: &'static str,
    /// The number, in `unit`.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
}

/// One measure (a workload, a runtime, a unit) in every round that
/// reported it: `values[i]` is from round `rounds[i]`.
#[derive(Debug)]
pub struct Series {
    /// The workload, as the rows name it.
    pub workload: &'static str,
    /// Who ran it.
    pub who: &'static str,
    /// The unit of its values.
    pub unit: &'static str,
    /// The rounds that reported it.
    pub rounds: Vec<usize>,
    /// Its value in each of those rounds.
    pub values: Vec<f64>,
}

impl Series {
    /// The rows of all rounds, one series per measure, in the order the
    /// measures first appeared.
    pub fn gather(samples: &[Vec<Row>]) -> Vec<Series> {
        let mut series: Vec<Series> = Vec::new();
        for (round, rows) in samples.iter().enumerate() {
            for r in rows {
                let found = series
                    .iter_mut()
                    .find(|s| (s.workload, s.who, s.unit) == (r.workload, r.who, r.unit));
                let s = match found {
                    Some(s) => s,
                    None => {
                        series.push(Series {
                            workload: r.workload,
                            who: r.who,
                            unit: r.unit,
                            rounds: Vec::new(),
                            values: Vec::new(),
                        });
                        series.last_mut().unwrap()
                    }
                };
                s.rounds.push(round);
                s.values.push(r.value);
            }
        }
        series
    }

    fn value(&self, round: usize) -> Option<f64> {
        let i = self.rounds.iter().position(|&r| r == round)?;
        Some(self.values[i])
    }

    /// `self / other` in every round that has both, so each ratio compares
    /// two runs made moments apart.
    pub fn ratios(&self, other: &Series) -> Vec<f64> {
        self.rounds
            .iter()
            .zip(&self.values)
            .filter_map(|(&round, &v)| Some(v / other.value(round)?))
            .collect()
    }
}

/// The median; the mean of the middle two for an even count; NaN for
/// none (a measure whose child process failed in every round it shares
/// with its peer).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// A median, with the range when there is more than one value.
pub fn spread(values: &[f64], digits: usize) -> String {
    if values.is_empty() {
        return "no data".to_string();
    }
    let m = median(values);
    if values.len() < 2 {
        return format!("{m:.digits$}");
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
}

/// The selvedge series to compare peer series `r` with: same workload and
/// unit, and the same measure ("tokio: overshoot p99" pairs with
/// "selvedge: overshoot p99") when the labels name one.
pub fn ours_for<'a>(series: &'a [Series], r: &Series) -> Option<&'a Series> {
    let measure = |who: &str| who.split_once(": ").map(|(_, m)| m.to_string());
    let mut same = series
        .iter()
        .filter(|o| o.workload == r.workload && o.who.starts_with("selvedge") && o.unit == r.unit);
    match measure(r.who) {
        Some(m) => same.find(|o| measure(o.who).as_deref() == Some(m.as_str())),
        None => same.next(),
    }
}

/// Markdown: every measure of every workload, as medians across rounds
/// (ranges in brackets). A peer sits beside the selvedge measure it pairs
/// with (`ours_for`), with the median of the per-round ratios; so does a
/// second selvedge measure no peer pairs with (select_timeout's select
/// over one channel), beside the workload's first. A measure with nothing
/// to compare stands alone.
pub fn ratio_table(series: &[Series]) -> String {
    let mut t = String::from(
        "| workload | selvedge | peer | peer value | selvedge/peer |\n|---|---|---|---|---|\n",
    );
    let is_ours = |s: &Series| s.who.starts_with("selvedge");
    let partner = |s: &Series| ours_for(series, s).filter(|o| !std::ptr::eq(*o, s));
    let paired_with_peer = |s: &Series| {
        series
            .iter()
            .any(|p| !is_ours(p) && partner(p).is_some_and(|o| std::ptr::eq(o, s)))
    };
    // A row for every peer and every selvedge measure no peer pairs with;
    // then a selvedge measure shown beside another needs no row alone.
    let mut rows: Vec<&Series> = series
        .iter()
        .filter(|r| !is_ours(r) || !paired_with_peer(r))
        .collect();
    let beside: Vec<&Series> = rows.iter().filter_map(|r| partner(r)).collect();
    rows.retain(|r| partner(r).is_some() || !beside.iter().any(|b| std::ptr::eq(*b, *r)));
    for r in rows {
        match partner(r) {
            Some(o) => {
                let _ = writeln!(
                    t,
                    "| {} | {} {} | {} | {} | {} |",
                    r.workload,
                    spread(&o.values, 1),
                    o.unit,
                    r.who,
                    spread(&r.values, 1),
                    spread(&o.ratios(r), 3)
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "| {} | {} {} | {} | | |",
                    r.workload,
                    spread(&r.values, 1),
                    r.unit,
                    r.who
                );
            }
        }
    }
    t
}

/// A target: the median of the per-round ratio of a selvedge measure to
/// another measure of the same workload (a peer's, usually tokio's, or one
/// of selvedge's own) is at most `limit`. Stated as a ratio, a target
/// holds on a host that runs faster or slower that day.
#[derive(Debug)]
pub struct Target {
    /// What the target says, for the table.
    pub what: &'static str,
    /// The workload it judges.
    pub workload: &'static str,
    /// The selvedge measure.
    pub who: &'static str,
    /// The measure it is divided by.
    pub over: &'static str,
    /// The most the median ratio may be.
    pub limit: f64,
    /// Go's figure for the same workload, in the selvedge measure's unit,
    /// where it was measured on the project's VM: the table shows the
    /// ratio to it beside the target.
    pub go: Option<f64>,
}

/// The single-thread targets guard the lead selvedge has (uniform choice
/// stays, corosensei is the only switch): each limit sits above the ratio
/// measured when it was set, so that a regression fails it. Go's figures
/// were measured on the project's VM with the same workloads (Go 1.19,
/// `GOMAXPROCS=1`); the floor, where the suite measures one, is shown too.
/// The suite's targets.
pub const TARGETS: &[Target] = &[
    Target {
        what: "ping-pong <= 0.20x tokio",
        workload: "pingpong",
        who: "selvedge",
        over: "tokio current_thread mpsc(1)",
        limit: 0.20,
        go: Some(218.0),
    },
    Target {
        what: "ring <= 0.60x tokio",
        workload: "ring",
        who: "selvedge, 503 fibers",
        over: "tokio current_thread, 503 tasks",
        limit: 0.60,
        go: Some(114.0),
    },
    Target {
        what: "select4 <= 0.30x tokio",
        workload: "select4",
        who: "selvedge",
        over: "tokio current_thread select!",
        limit: 0.30,
        go: Some(236.0),
    },
    Target {
        what: "select_timeout <= 1.5x a one-channel select",
        workload: "select_timeout",
        who: "selvedge recv or after(1h)",
        over: "selvedge select over one channel",
        limit: 1.5,
        go: None,
    },
    Target {
        what: "skynet-100k <= 0.5x tokio",
        workload: "skynet 100k",
        who: "selvedge",
        over: "tokio current_thread",
        limit: 0.5,
        go: None,
    },
    Target {
        what: "skynet-1M <= 0.5x tokio",
        workload: "skynet 1M",
        who: "selvedge",
        over: "tokio current_thread",
        limit: 0.5,
        go: Some(842.0),
    },
    Target {
        what: "spawn+join <= 0.25x tokio",
        workload: "spawn_join",
        who: "selvedge",
        over: "tokio current_thread",
        limit: 0.25,
        go: None,
    },
    Target {
        what: "timers 20k: wall <= 0.5x tokio",
        workload: "timers 20k",
        who: "selvedge: wall past the longest sleep",
        over: "tokio: wall past the longest sleep",
        limit: 0.5,
        go: None,
    },
    Target {
        what: "timers 100k: wall <= 0.6x tokio",
        workload: "timers 100k",
        who: "selvedge: wall past the longest sleep",
        over: "tokio: wall past the longest sleep",
        limit: 0.6,
        go: None,
    },
    Target {
        what: "timers 100k: overshoot p99 <= 0.5x tokio",
        workload: "timers 100k",
        who: "selvedge: overshoot p99",
        over: "tokio: overshoot p99",
        limit: 0.5,
        go: None,
    },
    Target {
        what: "busy: sleep p50 late <= 2x tokio",
        workload: "busy sleep p50",
        who: "selvedge",
        over: "tokio current_thread",
        limit: 2.0,
        go: None,
    },
    Target {
        what: "busy: round trip p50 <= 1.5x tokio",
        workload: "busy rtt p50",
        who: "selvedge",
        over: "tokio current_thread",
        limit: 1.5,
        go: None,
    },
    Target {
        what: "parked fiber <= 12x a tokio task",
        workload: "parked_memory",
        who: "selvedge, per parked fiber",
        over: "tokio, per parked task",
        limit: 12.0,
        go: Some(2.7),
    },
];

/// Markdown: each target of a workload that ran, judged by the median of
/// the per-round ratios, with the rounds that were within it; beside it,
/// selvedge's median over Go's figure and over the floor, where there is
/// one. Quick runs are too short to judge: they show the numbers.
pub fn target_table(series: &[Series], targets: &[Target], quick: bool) -> String {
    let mut t = String::from(
        "| target | ratio: median (range) | rounds within | status | to Go's figure | to the floor |\n\
         |---|---|---|---|---|---|\n",
    );
    let find = |workload: &str, who: &str| {
        series
            .iter()
            .find(|s| s.workload == workload && s.who == who)
    };
    let verdict = |values: &[f64], limit: f64| {
        if quick {
            "not judged (quick)"
        } else if values.is_empty() {
            "no data"
        } else if median(values) <= limit {
            "met"
        } else {
            "missed"
        }
    };
    for target in targets {
        if !series.iter().any(|s| s.workload == target.workload) {
            continue; // not chosen this run
        }
        // A measure missing from a workload that ran (a label renamed, a
        // child process that failed) shows as "no data", not as nothing.
        let measure = find(target.workload, target.who);
        let ratios = match (measure, find(target.workload, target.over)) {
            (Some(m), Some(over)) => m.ratios(over),
            _ => Vec::new(),
        };
        let within = ratios.iter().filter(|&&v| v <= target.limit).count();
        let to_go = match (measure, target.go) {
            (Some(m), Some(go)) => format!("{:.3}", median(&m.values) / go),
            _ => String::new(),
        };
        let floor = measure.and_then(|m| {
            series.iter().find(|s| {
                s.workload == target.workload && s.who.contains("(floor)") && s.unit == m.unit
            })
        });
        let to_floor = match (measure, floor) {
            (Some(m), Some(f)) => spread(&m.ratios(f), 2),
            _ => String::new(),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {within} of {} | {} | {to_go} | {to_floor} |",
            target.what,
            spread(&ratios, 3),
            ratios.len(),
            verdict(&ratios, target.limit),
        );
    }
    t
}

/// The chart: for each workload, the median of selvedge's per-round ratio
/// to each peer.
pub fn chart_bars(series: &[Series]) -> Vec<(String, f64)> {
    let mut bars = Vec::new();
    for r in series
        .iter()
        .filter(|r| !r.who.starts_with("selvedge") && !r.who.contains("floor"))
    {
        if let Some(o) = ours_for(series, r) {
            let ratios = o.ratios(r);
            if !ratios.is_empty() {
                bars.push((format!("{} vs {}", r.workload, r.who), median(&ratios)));
            }
        }
    }
    bars
}
