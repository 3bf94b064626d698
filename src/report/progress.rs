//! The progress display on a terminal: the current task, hosts done out of
//! the task's hosts, the time since the run started, and the host that has
//! been working longest. Lines printed through a [`ProgressWriter`] are
//! written with the display cleared, so they are never garbled.

use super::{HostResult, Recap, Reporter, RunEnd, TaskInfo};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Hosts working on the current task, with when they started.
type InFlight = Arc<Mutex<Vec<(String, Instant)>>>;

/// The progress reporter.
pub struct Progress {
    bar: ProgressBar,
    in_flight: InFlight,
}

impl Progress {
    /// A display on standard error (hidden if it is not a terminal).
    pub fn new() -> Self {
        let in_flight: InFlight = Arc::default();
        let slowest = {
            let in_flight = Arc::clone(&in_flight);
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let Ok(hosts) = in_flight.lock() else { return };
                if let Some((host, since)) = hosts.iter().min_by_key(|(_, t)| *t) {
                    let secs = since.elapsed().as_secs_f64();
                    let _ = write!(w, " · slowest: {host} ({secs:.1}s)");
                }
            }
        };
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_msg} {pos}/{len} hosts{slowest}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("slowest", slowest);
        // Hidden until the first task, and between playbooks.
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        bar.set_style(style);
        Progress { bar, in_flight }
    }

    /// A writer for lines that must not garble this display.
    pub fn writer<W: Write>(&self, out: W) -> ProgressWriter<W> {
        ProgressWriter {
            bar: Some(self.bar.clone()),
            out,
            pending: Vec::new(),
        }
    }

    fn hosts(&self) -> std::sync::MutexGuard<'_, Vec<(String, Instant)>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Reporter for Progress {
    fn play_start(&mut self, _name: &str) {}

    fn task_start(&mut self, task: &TaskInfo<'_>) {
        self.hosts().clear();
        self.bar.set_length(task.hosts as u64);
        self.bar.set_position(0);
        self.bar.set_message(task.name.to_string());
        if self.bar.is_hidden() {
            self.bar.reset();
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn host_start(&mut self, host: &str) {
        self.hosts().push((host.to_string(), Instant::now()));
    }

    fn host_done(&mut self, host: &str) {
        self.hosts().retain(|(h, _)| h != host);
        self.bar.inc(1);
    }

    fn host_result(&mut self, _result: &HostResult<'_>) {}

    fn warning(&mut self, _message: &str) {}

    fn recap(&mut self, _recap: &Recap) {
        self.hosts().clear();
        self.bar.disable_steady_tick();
        self.bar.finish_and_clear();
        self.bar.set_draw_target(ProgressDrawTarget::hidden());
    }

    fn finish(&mut self, _end: &RunEnd) -> std::io::Result<()> {
        self.bar.finish_and_clear();
        Ok(())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A writer that prints whole lines with the progress display suspended.
pub struct ProgressWriter<W: Write> {
    bar: Option<ProgressBar>,
    out: W,
    pending: Vec<u8>,
}

impl<W: Write> ProgressWriter<W> {
    /// A plain writer (no display).
    pub fn plain(out: W) -> Self {
        ProgressWriter {
            bar: None,
            out,
            pending: Vec::new(),
        }
    }

    fn write_through(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let out = &mut self.out;
        match &self.bar {
            Some(bar) => bar.suspend(|| {
                out.write_all(bytes)?;
                out.flush()
            }),
            None => out.write_all(bytes),
        }
    }
}

impl<W: Write> Write for ProgressWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bar.is_none() {
            return self.out.write(buf);
        }
        self.pending.extend_from_slice(buf);
        if let Some(last) = self.pending.iter().rposition(|b| *b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=last).collect();
            self.write_through(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.write_through(&rest)?;
        }
        self.out.flush()
    }
}

impl<W: Write> Drop for ProgressWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_pass_through_the_progress_writer() {
        let bar = ProgressBar::hidden();
        let mut w = ProgressWriter {
            bar: Some(bar),
            out: Vec::new(),
            pending: Vec::new(),
        };
        w.write_all(b"ok: [a]\nchang").unwrap();
        assert_eq!(w.out, b"ok: [a]\n");
        w.write_all(b"ed: [b]\n").unwrap();
        assert_eq!(w.out, b"ok: [a]\nchanged: [b]\n");
        w.write_all(b"tail").unwrap();
        w.flush().unwrap();
        assert_eq!(w.out, b"ok: [a]\nchanged: [b]\ntail");
    }
}
