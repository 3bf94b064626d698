//! Speculative probes: the read-only probes of a loop's items, sent to a
//! host together (one round trip) before the items run.
//!
//! [`discover`] runs an item's task without touching any host: the first
//! script it would run is recorded (with the connection and the become
//! user it would run on) and the run stops there. The executor hands the
//! recorded probes that are read-only ([`tend_modules::Exec::read_only`]) to
//! the connection ([`super::Connection::prefetch`]), which runs them at once
//! and keeps their answers. When an item then runs the same script, the
//! kept answer is its answer; anything else the host is asked (a change
//! being applied) drops every kept answer, since what it changes may be
//! what a later probe read. So a loop whose items change nothing costs one
//! round trip, and one that changes things costs what it did without.

use super::BecomeSpec;
use std::cell::RefCell;
use tend_modules::Exec;

/// A script an item would run first.
#[derive(Debug, Clone)]
pub struct Speculated {
    /// Which connection it would run on ([`connection_id`]).
    pub connection: usize,
    /// The script (environment and deadline applied).
    pub request: Exec,
    /// The become it would run under.
    pub escalation: Option<BecomeSpec>,
}

tokio::task_local! {
    static FIRST: RefCell<Option<Speculated>>;
}

/// An identity for a connection object, to match what [`discover`]
/// recorded with the connection asked to prefetch it.
pub fn connection_id<T: ?Sized>(conn: &T) -> usize {
    std::ptr::from_ref(conn).cast::<()>() as usize
}

/// Runs `fut` with every host request refused, and returns the first
/// request it made (the rest of its output is meaningless).
pub async fn discover<F: std::future::Future>(fut: F) -> Option<Speculated> {
    FIRST
        .scope(RefCell::new(None), async move {
            fut.await;
            FIRST.with(|f| f.borrow_mut().take())
        })
        .await
}

/// Inside [`discover`]: records the request (the first one only) and says
/// it must not run. Outside: false.
pub fn intercept(connection: usize, request: &Exec, escalation: Option<&BecomeSpec>) -> bool {
    FIRST
        .try_with(|f| {
            let mut first = f.borrow_mut();
            if first.is_none() {
                *first = Some(Speculated {
                    connection,
                    request: request.clone(),
                    escalation: escalation.cloned(),
                });
            }
        })
        .is_ok()
}

/// Answers kept for requests expected next, in order.
#[derive(Debug, Default)]
pub struct Prefetched {
    answers: std::collections::VecDeque<(Exec, Option<BecomeSpec>, tend_modules::ExecOutput)>,
}

impl Prefetched {
    /// Keeps `answers` (replacing what was kept).
    pub fn keep(&mut self, answers: Vec<(Exec, Option<BecomeSpec>, tend_modules::ExecOutput)>) {
        self.answers = answers.into();
    }

    /// The kept answer when `request` is the next one expected; otherwise
    /// drops them all (the host may be about to change).
    pub fn take(
        &mut self,
        request: &Exec,
        escalation: Option<&BecomeSpec>,
    ) -> Option<tend_modules::ExecOutput> {
        let matches = self.answers.front().is_some_and(|(r, e, _)| {
            r.script == request.script
                && r.stdin == request.stdin
                && r.lingering == request.lingering
                && e.as_ref() == escalation
        });
        if matches {
            self.answers.pop_front().map(|(_, _, out)| out)
        } else {
            self.answers.clear();
            None
        }
    }

    /// Drops every kept answer.
    pub fn clear(&mut self) {
        self.answers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tend_modules::ExecOutput;

    fn out(s: &str) -> ExecOutput {
        ExecOutput {
            status: 0,
            stdout: s.as_bytes().to_vec(),
            stderr: Vec::new(),
        }
    }

    #[test]
    fn answers_are_taken_in_order_and_a_surprise_drops_them_all() {
        let mut p = Prefetched::default();
        let probe = |n: u8| Exec::script(format!("probe {n}")).read_only();
        p.keep(vec![
            (probe(1), None, out("one")),
            (probe(2), None, out("two")),
            (probe(3), None, out("three")),
        ]);
        assert_eq!(p.take(&probe(1), None), Some(out("one")));
        assert_eq!(p.take(&probe(2), None), Some(out("two")));
        // An apply: not expected, so probe 3's answer may be stale.
        assert_eq!(p.take(&Exec::script("write"), None), None);
        assert_eq!(p.take(&probe(3), None), None);
        // The same script as another user is another request.
        p.keep(vec![(probe(1), None, out("one"))]);
        let root = BecomeSpec {
            method: "sudo".into(),
            user: "root".into(),
            flags: None,
            password: None,
        };
        assert_eq!(p.take(&probe(1), Some(&root)), None);
        assert_eq!(p.take(&probe(1), None), None);
    }

    #[test]
    fn discovery_records_the_first_request_and_nothing_runs() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let seen = rt.block_on(discover(async {
            assert!(intercept(7, &Exec::script("first"), None));
            assert!(intercept(7, &Exec::script("second"), None));
        }));
        let seen = seen.expect("recorded");
        assert_eq!(
            (seen.connection, seen.request.script.as_str()),
            (7, "first")
        );
        assert!(!intercept(7, &Exec::script("outside"), None));
    }
}
