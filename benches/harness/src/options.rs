//! The suite's command line: which workloads, how many rounds, where the
//! chart goes.

/// Rounds of the whole suite by default. Each round runs every chosen
/// workload on every runtime once, so the rounds interleave the runtimes
/// and a burst of load on the host lands in one round of each, not in
/// every sample of one runtime; the table reports medians across rounds.
pub const DEFAULT_ROUNDS: usize = 5;

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub struct Options {
    /// Scaled-down workloads in one round: checks the suite runs.
    pub quick: bool,
    /// Rounds of every chosen workload.
    pub rounds: usize,
    /// Where to write the chart.
    pub svg: Option<String>,
    /// The workloads named, in the order given; none means all.
    pub chosen: Vec<String>,
}

impl Options {
    /// Reads `args` (without the program name) against the known
    /// `workloads`; the error says what is wrong with them.
    pub fn parse(args: &[String], workloads: &[&str]) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            rounds: 0,
            svg: None,
            chosen: Vec::new(),
        };
        let mut rounds = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                // `cargo bench` passes it to every bench binary.
                "--bench" => {}
                "--svg" | "--rounds" => {
                    let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
                    if arg == "--svg" {
                        options.svg = Some(value.clone());
                    } else {
                        let n = value.parse().ok().filter(|&n| n > 0);
                        let n = n.ok_or_else(|| {
                            format!("--rounds takes a positive count, not {value:?}")
                        })?;
                        rounds = Some(n);
                    }
                }
                flag if flag.starts_with("--") => {
                    return Err(format!(
                        "no option {flag:?}; the options are --quick, --rounds N and --svg FILE"
                    ));
                }
                name if workloads.contains(&name) => options.chosen.push(name.to_string()),
                unknown => {
                    return Err(format!(
                        "no workload {unknown:?}; the workloads are {workloads:?}"
                    ));
                }
            }
        }
        options.rounds = match rounds {
            Some(n) => n,
            None if options.quick => 1,
            None => DEFAULT_ROUNDS,
        };
        Ok(options)
    }

    /// True if `workload` is to run.
    pub fn runs(&self, workload: &str) -> bool {
        self.chosen.is_empty() || self.chosen.iter().any(|c| c == workload)
    }
}
