//! Running checks and counting what passed.
//!
//! Each step is one command. Test steps are counted by the `test result:` lines cargo's test harness and
//! `wasm-bindgen-test-runner` print; a step that fails without printing such a line (it did not compile, a
//! lint failed) counts as one failure, and a non-test check that succeeds (fmt, clippy) as one pass.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The outcome of one step.
#[derive(Debug)]
pub struct StepResult {
    pub name: String,
    pub passed: u64,
    pub failed: u64,
    pub ok: bool,
    pub elapsed: Duration,
}

/// Totals over all steps.
#[derive(Debug, Default)]
pub struct Tally {
    pub steps: Vec<StepResult>,
}

impl Tally {
    pub fn passed(&self) -> u64 {
        self.steps.iter().map(|s| s.passed).sum()
    }

    pub fn failed(&self) -> u64 {
        self.steps.iter().map(|s| s.failed).sum()
    }

    /// Records a step that failed before its command could run (a missing tool, a failed build).
    pub fn record_failure(&mut self, name: &str, why: &str) {
        eprintln!("xtask: {name}: {why}");
        self.steps.push(StepResult {
            name: name.to_string(),
            passed: 0,
            failed: 1,
            ok: false,
            elapsed: Duration::ZERO,
        });
    }

    /// Runs `cmd` as a check (one pass or one failure).
    pub fn check(&mut self, name: &str, cmd: &mut Command) {
        self.run(name, cmd, false);
    }

    /// Runs `cmd` as a test step, counting its `test result:` lines.
    pub fn tests(&mut self, name: &str, cmd: &mut Command) {
        self.run(name, cmd, true);
    }

    fn run(&mut self, name: &str, cmd: &mut Command, counts_tests: bool) {
        eprintln!("\n==> {name}");
        let start = Instant::now();
        let child = cmd.stdout(Stdio::piped()).stdin(Stdio::null()).spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => return self.record_failure(name, &format!("cannot run {cmd:?}: {e}")),
        };
        let (mut passed, mut failed) = (0, 0);
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
                if let Some((p, f)) = parse_test_result(&line) {
                    passed += p;
                    failed += f;
                }
            }
        }
        let ok = child.wait().map(|s| s.success()).unwrap_or(false);
        if !counts_tests || (passed == 0 && failed == 0) {
            // A check, or a test step that never reached its tests.
            if ok && !counts_tests {
                passed = 1;
            } else if !ok {
                failed = failed.max(1);
            }
        } else if !ok && failed == 0 {
            failed = 1;
        }
        if counts_tests && ok && passed == 0 {
            // Running no test at all is a failure of the suite, not a success.
            eprintln!("xtask: {name} ran no test");
            failed = 1;
        }
        self.steps.push(StepResult {
            name: name.to_string(),
            passed,
            failed,
            ok: ok && failed == 0,
            elapsed: start.elapsed(),
        });
    }

    /// Prints a summary table, then the final `N passed, N failed` line.
    pub fn finish(&self) -> bool {
        eprintln!(
            "\n{:<44} {:>7} {:>7} {:>9}",
            "step", "passed", "failed", "seconds"
        );
        for s in &self.steps {
            eprintln!(
                "{:<44} {:>7} {:>7} {:>9.1}{}",
                s.name,
                s.passed,
                s.failed,
                s.elapsed.as_secs_f64(),
                if s.ok { "" } else { "  FAILED" }
            );
        }
        println!("{} passed, {} failed", self.passed(), self.failed());
        self.failed() == 0
    }
}

/// Parses `test result: ok. 12 passed; 0 failed; …` into (12, 0).
pub fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let number_before = |word: &str| -> Option<u64> {
        let idx = rest.find(word)?;
        rest.get(..idx)?
            .trim_end()
            .rsplit([' ', '.', ';'])
            .next()?
            .parse()
            .ok()
    };
    Some((number_before(" passed")?, number_before(" failed")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cargo_and_wasm_bindgen_test_summaries() {
        assert_eq!(
            parse_test_result("test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"),
            Some((12, 0))
        );
        assert_eq!(
            parse_test_result("test result: FAILED. 3 passed; 2 failed; 0 ignored"),
            Some((3, 2))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
        assert_eq!(parse_test_result("test result: garbage"), None);
    }

    #[test]
    fn a_failing_check_counts_as_one_failure() {
        let mut tally = Tally::default();
        tally.check("false", &mut Command::new("false"));
        tally.check("true", &mut Command::new("true"));
        assert_eq!((tally.passed(), tally.failed()), (1, 1));
    }

    #[test]
    fn a_test_step_that_runs_nothing_fails() {
        let mut tally = Tally::default();
        tally.tests("empty", &mut Command::new("true"));
        assert_eq!((tally.passed(), tally.failed()), (0, 1));
    }

    #[test]
    fn test_counts_are_read_from_output() {
        let mut tally = Tally::default();
        tally.tests(
            "echo",
            Command::new("echo").arg("test result: ok. 4 passed; 0 failed; 0 ignored"),
        );
        assert_eq!((tally.passed(), tally.failed()), (4, 0));
    }
}
