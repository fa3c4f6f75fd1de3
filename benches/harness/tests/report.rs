//! The benchmark suite's command line and report: a `harness = false`
//! bench runs no tests, so its arguments, medians, ratios and target
//! verdicts are checked here, on made-up rounds.

use selvedge_harness::options::{Options, DEFAULT_ROUNDS};
use selvedge_harness::report::{
    chart_bars, median, ratio_table, spread, target_table, Row, Series, Target, TARGETS,
};

const WORKLOADS: &[&str] = &["pingpong", "ring", "select4"];

fn parse(args: &[&str]) -> Result<Options, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    Options::parse(&args, WORKLOADS)
}

#[test]
fn options_default_to_every_workload_in_five_rounds_and_quick_to_one() {
    let all = parse(&["--bench"]).unwrap();
    assert_eq!(
        (all.rounds, all.quick, all.svg.as_deref()),
        (DEFAULT_ROUNDS, false, None)
    );
    assert_eq!(DEFAULT_ROUNDS, 5);
    assert!(WORKLOADS.iter().all(|w| all.runs(w)));
    let quick = parse(&["--quick", "--bench"]).unwrap();
    assert_eq!((quick.rounds, quick.quick), (1, true));
    let both = parse(&["--quick", "--rounds", "3"]).unwrap();
    assert_eq!((both.rounds, both.quick), (3, true));
}

#[test]
fn options_name_workloads_and_flag_values_are_not_taken_for_workloads() {
    let o = parse(&["ring", "--svg", "chart.svg", "--rounds", "9", "select4"]).unwrap();
    assert_eq!(o.chosen, ["ring", "select4"]);
    assert_eq!((o.svg.as_deref(), o.rounds), (Some("chart.svg"), 9));
    assert!(o.runs("ring") && o.runs("select4") && !o.runs("pingpong"));
}

#[test]
fn bad_options_are_refused_with_what_is_wrong() {
    let error = |args: &[&str]| parse(args).unwrap_err();
    assert!(error(&["rings"]).contains("no workload \"rings\""));
    assert!(error(&["rings"]).contains("\"pingpong\", \"ring\", \"select4\""));
    assert!(error(&["--rounds"]).contains("--rounds needs a value"));
    assert!(error(&["--svg"]).contains("--svg needs a value"));
    for bad in ["0", "-1", "five"] {
        assert!(error(&["--rounds", bad]).contains(&format!("positive count, not \"{bad}\"")));
    }
    assert!(error(&["--round", "3"]).contains("no option \"--round\""));
}

#[test]
fn a_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
    assert_eq!(median(&[9.0, 1.0, 5.0]), 5.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 100.0]), 3.5);
    assert_eq!(median(&[7.0]), 7.0);
    assert!(median(&[]).is_nan());
}

#[test]
fn a_spread_is_the_median_with_the_range() {
    assert_eq!(spread(&[3.0, 1.0, 2.0], 1), "2.0 (1.0–3.0)");
    assert_eq!(spread(&[0.1234], 3), "0.123");
    assert_eq!(spread(&[], 1), "no data");
}

/// Rows for one round: `(workload, who, value, unit)`.
fn round(rows: &[(&'static str, &'static str, f64, &'static str)]) -> Vec<Row> {
    rows.iter()
        .map(|&(workload, who, value, unit)| Row {
            workload,
            who,
            value,
            unit,
        })
        .collect()
}

/// Fails, showing the table, unless it has `row` (or a part of one).
#[track_caller]
fn assert_row(table: &str, row: &str) {
    assert!(table.contains(row), "no {row:?} in\n{table}");
}

#[test]
fn rounds_gather_into_one_series_per_measure_and_ratios_pair_rounds() {
    let samples = [
        round(&[
            ("ring", "selvedge", 10.0, "ns"),
            ("ring", "tokio", 40.0, "ns"),
        ]),
        round(&[("ring", "selvedge", 30.0, "ns")]), // tokio's child failed
        round(&[
            ("ring", "tokio", 50.0, "ns"),
            ("ring", "selvedge", 20.0, "ns"),
        ]),
    ];
    let series = Series::gather(&samples);
    assert_eq!(series.len(), 2);
    let (ours, tokio) = (&series[0], &series[1]);
    assert_eq!(
        (ours.who, ours.rounds.as_slice()),
        ("selvedge", &[0, 1, 2][..])
    );
    assert_eq!(ours.values, [10.0, 30.0, 20.0]);
    assert_eq!((tokio.who, tokio.rounds.as_slice()), ("tokio", &[0, 2][..]));
    // Round 1 has no tokio number, so no ratio.
    assert_eq!(ours.ratios(tokio), [0.25, 0.4]);
}

#[test]
fn the_table_gives_the_median_of_per_round_ratios_not_the_ratio_of_medians() {
    // A slow round for both: the per-round ratios are 0.5, 0.5 and 0.4,
    // while the ratio of the medians (20 / 40) would be 0.5.
    let samples = [
        round(&[
            ("pingpong", "selvedge", 10.0, "ns"),
            ("pingpong", "tokio", 20.0, "ns"),
        ]),
        round(&[
            ("pingpong", "selvedge", 20.0, "ns"),
            ("pingpong", "tokio", 40.0, "ns"),
        ]),
        round(&[
            ("pingpong", "selvedge", 40.0, "ns"),
            ("pingpong", "tokio", 100.0, "ns"),
        ]),
    ];
    let table = ratio_table(&Series::gather(&samples));
    assert_row(
        &table,
        "| pingpong | 20.0 (10.0–40.0) ns | tokio | 40.0 (20.0–100.0) | 0.500 (0.400–0.500) |",
    );
}

#[test]
fn the_table_pairs_a_peer_with_selvedge_on_the_same_measure() {
    let samples = [round(&[
        ("timers", "selvedge: overshoot p50", 1.0, "ms"),
        ("timers", "selvedge: overshoot p99", 2.0, "ms"),
        ("timers", "tokio: overshoot p50", 4.0, "ms"),
        ("timers", "tokio: overshoot p99", 10.0, "ms"),
        ("timers", "tokio: behind plan p99", 3.0, "ms"),
    ])];
    let table = ratio_table(&Series::gather(&samples));
    assert_row(
        &table,
        "| timers | 1.0 ms | tokio: overshoot p50 | 4.0 | 0.250 |",
    );
    assert_row(
        &table,
        "| timers | 2.0 ms | tokio: overshoot p99 | 10.0 | 0.200 |",
    );
    // No selvedge number for that measure: the peer's stands alone.
    assert_row(&table, "| timers | 3.0 ms | tokio: behind plan p99 | | |");
    assert_eq!(table.lines().count(), 2 + 3, "{table}");
}

#[test]
fn the_table_shows_every_selvedge_measure_even_one_no_peer_pairs_with() {
    // select_timeout's one-channel select is the base of a target; no
    // peer pairs with it, and the table had dropped it.
    let samples = [
        round(&[
            ("select_timeout", "selvedge recv or after(1h)", 60.0, "ns"),
            (
                "select_timeout",
                "selvedge select over one channel",
                50.0,
                "ns",
            ),
            ("select_timeout", "tokio timeout(1h, recv)", 600.0, "ns"),
        ]),
        round(&[
            ("select_timeout", "selvedge recv or after(1h)", 66.0, "ns"),
            (
                "select_timeout",
                "selvedge select over one channel",
                60.0,
                "ns",
            ),
            ("select_timeout", "tokio timeout(1h, recv)", 660.0, "ns"),
        ]),
    ];
    let table = ratio_table(&Series::gather(&samples));
    assert_row(&table, "| select_timeout | 63.0 (60.0–66.0) ns | tokio timeout(1h, recv) | 630.0 (600.0–660.0) | 0.100 (0.100–0.100) |");
    assert_row(&table, "| select_timeout | 63.0 (60.0–66.0) ns | selvedge select over one channel | 55.0 (50.0–60.0) | 1.150 (1.100–1.200) |");
    assert_eq!(table.lines().count(), 2 + 2, "{table}");
}

#[test]
fn a_measure_of_its_own_unit_stands_alone() {
    let samples = [round(&[
        ("pingpong", "selvedge", 80.0, "ns/round trip"),
        (
            "pingpong",
            "corosensei resume+suspend (floor)",
            3.0,
            "ns/switch pair",
        ),
    ])];
    let table = ratio_table(&Series::gather(&samples));
    assert_row(
        &table,
        "| pingpong | 3.0 ns/switch pair | corosensei resume+suspend (floor) | | |",
    );
    assert_row(&table, "| pingpong | 80.0 ns/round trip | selvedge | | |");
}

const TEST_TARGETS: &[Target] = &[
    Target {
        what: "ping-pong <= 0.10x tokio",
        workload: "pingpong",
        who: "selvedge",
        over: "tokio",
        limit: 0.10,
        go: Some(200.0),
    },
    Target {
        what: "with timer <= 1.5x without",
        workload: "select_timeout",
        who: "selvedge with timer",
        over: "selvedge without",
        limit: 1.5,
        go: None,
    },
    Target {
        what: "not run",
        workload: "skynet",
        who: "selvedge",
        over: "tokio",
        limit: 1.0,
        go: None,
    },
];

fn judged(quick: bool) -> String {
    let samples = [
        round(&[
            ("pingpong", "selvedge", 28.0, "ns"),
            ("pingpong", "tokio", 200.0, "ns"),
            ("pingpong", "switch (floor)", 14.0, "ns"),
            ("select_timeout", "selvedge with timer", 70.0, "ns"),
            ("select_timeout", "selvedge without", 50.0, "ns"),
        ]),
        round(&[
            ("pingpong", "selvedge", 32.0, "ns"),
            ("pingpong", "tokio", 400.0, "ns"),
            ("pingpong", "switch (floor)", 16.0, "ns"),
            ("select_timeout", "selvedge with timer", 80.0, "ns"),
            ("select_timeout", "selvedge without", 50.0, "ns"),
        ]),
        round(&[
            ("pingpong", "selvedge", 31.0, "ns"),
            ("pingpong", "tokio", 400.0, "ns"),
            ("pingpong", "switch (floor)", 31.0, "ns"),
            ("select_timeout", "selvedge with timer", 72.0, "ns"),
            ("select_timeout", "selvedge without", 60.0, "ns"),
        ]),
    ];
    target_table(&Series::gather(&samples), TEST_TARGETS, quick)
}

#[test]
fn a_target_is_judged_by_its_median_ratio_and_counts_the_rounds_within_it() {
    let table = judged(false);
    // Per round 0.14, 0.08 and 0.0775 (printed 0.077: 31 / 400 is a hair
    // under 0.0775 in binary): the median 0.08 is within 0.10, and so are
    // two rounds. Beside it, the median 31 over Go's 200, and the
    // per-round ratios to the floor, 2.0, 2.0 and 1.0.
    assert_row(
        &table,
        "| ping-pong <= 0.10x tokio | 0.080 (0.077–0.140) | 2 of 3 | met | 0.155 | 2.00 (1.00–2.00) |",
    );
    // A target over selvedge's own measure: 1.4, 1.6 and 1.2 per round.
    assert_row(
        &table,
        "| with timer <= 1.5x without | 1.400 (1.200–1.600) | 2 of 3 | met |  |  |",
    );
    assert!(
        !table.contains("not run"),
        "a workload that did not run is left out: {table}"
    );
}

#[test]
fn a_quick_run_shows_the_numbers_without_a_verdict() {
    let table = judged(true);
    assert!(
        !table.contains("| met |") && !table.contains("| missed |"),
        "{table}"
    );
    assert_eq!(table.matches("not judged (quick)").count(), 2, "{table}");
}

#[test]
fn a_target_whose_peer_has_no_common_round_says_no_data() {
    let samples = [
        round(&[("pingpong", "selvedge", 28.0, "ns")]),
        round(&[("pingpong", "tokio", 300.0, "ns")]),
    ];
    let table = target_table(&Series::gather(&samples), TEST_TARGETS, false);
    assert_row(
        &table,
        "| ping-pong <= 0.10x tokio | no data | 0 of 0 | no data | 0.140 |  |",
    );
}

#[test]
fn a_target_whose_measure_is_missing_from_a_workload_that_ran_says_no_data() {
    // The ping-pong ran, but selvedge's measure under another label
    // (renamed, or its child process failed): the target shows, with no
    // data, rather than vanishing from the table.
    let samples = [round(&[
        ("pingpong", "selvedge, renamed", 19.0, "ns"),
        ("pingpong", "tokio", 300.0, "ns"),
    ])];
    let table = target_table(&Series::gather(&samples), TEST_TARGETS, false);
    assert_row(
        &table,
        "| ping-pong <= 0.10x tokio | no data | 0 of 0 | no data |  |  |",
    );
}

/// Every target names a selvedge measure over another, with a limit.
#[test]
fn the_suites_targets_are_ratios() {
    for t in TARGETS {
        assert!(t.who.starts_with("selvedge"), "{t:?}");
        assert_ne!(t.who, t.over, "{t:?}");
        assert!(t.limit > 0.0, "{t:?}");
    }
}

#[test]
fn the_chart_has_a_bar_per_peer_but_not_for_floors() {
    let samples = [round(&[
        ("pingpong", "selvedge", 80.0, "ns"),
        ("pingpong", "tokio", 320.0, "ns"),
        ("pingpong", "switch (floor)", 3.0, "ns"),
    ])];
    let bars = chart_bars(&Series::gather(&samples));
    assert_eq!(bars, [("pingpong vs tokio".to_string(), 0.25)]);
}
