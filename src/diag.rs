//! Diagnostics that the lower layers (`http`, `auth`, `directory`) hand up: warnings, notes and
//! `-v`/`-vv` log lines. Those layers print nothing themselves: they hold a [`Log`], and what
//! it writes, and where, is decided above them — `output::Printer` is the sink the commands
//! hand down (stderr, honouring `--quiet` and `-v`), and tests and benches use
//! [`Log::silent`]. Secrets never reach a log line: callers log methods, URLs, statuses and
//! request ids only.

use std::fmt;
use std::sync::Arc;

/// Where diagnostics go.
pub trait Sink: Send + Sync {
    /// A warning (`warning: …` on stderr; not with `--quiet`).
    fn warn(&self, msg: &str);
    /// A note for the user (not with `--quiet`).
    fn note(&self, msg: &str);
    /// A log line at `-v` (level 1) or `-vv` (level 2).
    fn log(&self, level: u8, msg: &str);
    /// What the user must act on (a sign-in code): shown even with `--quiet`.
    fn prompt(&self, msg: &str);
}

/// A cheap, cloneable handle on a [`Sink`].
#[derive(Clone)]
pub struct Log(Arc<dyn Sink>);

impl Log {
    pub fn new(sink: impl Sink + 'static) -> Self {
        Log(Arc::new(sink))
    }

    /// A log that drops everything.
    pub fn silent() -> Self {
        Log::new(Silent)
    }

    pub fn warn(&self, msg: &str) {
        self.0.warn(msg);
    }

    pub fn note(&self, msg: &str) {
        self.0.note(msg);
    }

    pub fn log(&self, level: u8, msg: &str) {
        self.0.log(level, msg);
    }

    pub fn prompt(&self, msg: &str) {
        self.0.prompt(msg);
    }
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Log")
    }
}

struct Silent;

impl Sink for Silent {
    fn warn(&self, _: &str) {}
    fn note(&self, _: &str) {}
    fn log(&self, _: u8, _: &str) {}
    fn prompt(&self, _: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Sink for Arc<Recorder> {
        fn warn(&self, msg: &str) {
            self.0.lock().unwrap().push(format!("warn {msg}"));
        }
        fn note(&self, msg: &str) {
            self.0.lock().unwrap().push(format!("note {msg}"));
        }
        fn log(&self, level: u8, msg: &str) {
            self.0.lock().unwrap().push(format!("log{level} {msg}"));
        }
        fn prompt(&self, msg: &str) {
            self.0.lock().unwrap().push(format!("prompt {msg}"));
        }
    }

    #[test]
    fn a_log_hands_every_line_to_its_sink() {
        let rec = Arc::new(Recorder::default());
        let log = Log::new(rec.clone());
        log.warn("w");
        log.clone().note("n");
        log.log(2, "l");
        log.prompt("p");
        assert_eq!(
            *rec.0.lock().unwrap(),
            ["warn w", "note n", "log2 l", "prompt p"]
        );
        assert_eq!(format!("{log:?}"), "Log");
        Log::silent().warn("nothing");
    }
}
