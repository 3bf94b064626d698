//! `--step`: ask before each task, as ansible-playbook does.
//!
//! The question is ansible-playbook's: `Perform task: TASK: NAME (N)o/(y)es/(c)ontinue: `
//! (`HANDLER: NAME` for handlers; `on HOST` added under the free strategies,
//! which ask per host). `y` runs the task, `c` runs it and stops asking for
//! the rest of the play (of the `serial` batch), anything else skips it.

use super::{PlayCtx, Strategy};
use crate::compile::CompiledTask;

/// Asks the question of `--step` (on a terminal).
pub trait StepPrompt: std::fmt::Debug + Send + Sync {
    /// Shows `question` and returns the line answered (empty at end of input).
    fn ask(&self, question: &str) -> std::io::Result<String>;
}

/// What an answer to the `--step` question means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepAnswer {
    /// Skip the task (the default).
    No,
    /// Run the task.
    Yes,
    /// Run the task, and every later one of the play without asking.
    Continue,
}

impl StepAnswer {
    /// An answer as ansible-playbook reads it: `y`/`yes`, `c`/`continue`
    /// (any case); anything else is no.
    pub fn parse(line: &str) -> StepAnswer {
        match line.trim().to_lowercase().as_str() {
            "y" | "yes" => StepAnswer::Yes,
            "c" | "continue" => StepAnswer::Continue,
            _ => StepAnswer::No,
        }
    }
}

/// The question for a task (on `host` under the free strategies).
pub fn question(name: &str, handler: bool, host: Option<&str>) -> String {
    let kind = if handler { "HANDLER" } else { "TASK" };
    let on = host.map(|h| format!("on {h} ")).unwrap_or_default();
    format!("Perform task: {kind}: {name} {on}(N)o/(y)es/(c)ontinue: ")
}

/// Whether to run `t` (on `host`, under a free strategy): true unless
/// `--step` is on and the answer is no.
pub(crate) fn take(ctx: &PlayCtx<'_>, t: &CompiledTask, handler: bool, host: &str) -> bool {
    ask(ctx, &t.display_name(), handler, host)
}

/// Whether to gather facts (a task as any other for `--step`).
pub(crate) fn take_gathering(ctx: &PlayCtx<'_>, host: &str) -> bool {
    ask(ctx, "Gathering Facts", false, host)
}

fn ask(ctx: &PlayCtx<'_>, name: &str, handler: bool, host: &str) -> bool {
    let Some(prompt) = &ctx.opts.step else {
        return true;
    };
    if !ctx.stepping.get() {
        return true;
    }
    let host = (ctx.strategy != Strategy::Linear).then_some(host);
    let line = prompt
        .ask(&question(name, handler, host))
        .unwrap_or_default();
    match StepAnswer::parse(&line) {
        StepAnswer::No => false,
        StepAnswer::Yes => true,
        StepAnswer::Continue => {
            ctx.stepping.set(false);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_ansible_reads_them() {
        assert_eq!(StepAnswer::parse("y\n"), StepAnswer::Yes);
        assert_eq!(StepAnswer::parse("YES"), StepAnswer::Yes);
        assert_eq!(StepAnswer::parse("c"), StepAnswer::Continue);
        assert_eq!(StepAnswer::parse("Continue\r\n"), StepAnswer::Continue);
        assert_eq!(StepAnswer::parse(""), StepAnswer::No);
        assert_eq!(StepAnswer::parse("n"), StepAnswer::No);
        assert_eq!(StepAnswer::parse("yep"), StepAnswer::No);
    }

    #[test]
    fn the_question_is_ansibles() {
        assert_eq!(
            question("r : install", false, None),
            "Perform task: TASK: r : install (N)o/(y)es/(c)ontinue: "
        );
        assert_eq!(
            question("restart", true, Some("web1")),
            "Perform task: HANDLER: restart on web1 (N)o/(y)es/(c)ontinue: "
        );
    }
}
